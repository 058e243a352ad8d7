// What `npm run verify -- STACK --hosts` prints from the hosts' reports (hosts.ts): a summary per group, the report
// host by host, the same as JSON, and the exit code.
import type { HostReport, Verdict } from "./hosts";

/** `a100: 6/8 ready, 1 needs reboot, 1 broken: 0000:31:00.0 on nouveau`: a group's hosts by verdict, with the first
 * reason of each broken or unknown host (distinct ones, in host order). Hosts with no devices are not counted. */
export function groupSummary(group: string, reports: readonly HostReport[]): string {
  const counted = reports.filter((r) => r.verdict !== "no devices");
  const n = (v: Verdict) => reports.filter((r) => r.verdict === v).length;
  const why = (v: Verdict) => [...new Set(reports.filter((r) => r.verdict === v).map((r) => r.reasons[0] ?? ""))].filter((x) => x !== "").join("; ");
  const parts = [`${n("ready")}/${counted.length} ready`];
  for (const v of ["needs reboot", "needs redeploy", "broken", "unknown"] as const) {
    if (n(v) === 0) continue;
    const reasons = v === "broken" || v === "unknown" ? why(v) : "";
    parts.push(`${n(v)} ${v}${reasons ? `: ${reasons}` : ""}`);
  }
  const other = n("no devices");
  return `${group}: ${parts.join(", ")}${other > 0 ? ` (${other} other unit${other > 1 ? "s" : ""} without ${group}'s devices, not counted)` : ""}`;
}

const LABEL: Record<Verdict, string> = {
  ready: "ready",
  "needs reboot": "NEEDS REBOOT",
  "needs redeploy": "NEEDS REDEPLOY",
  broken: "BROKEN",
  "no devices": "no devices",
  unknown: "UNKNOWN",
};
const WIDTH = Math.max(...Object.values(LABEL).map((l) => l.length)) + 1;

/** The report, host by host: the verdict, the host (and its hostname), the first reason, then the other reasons
 * and the notes indented. */
export function hostsReport(reports: readonly HostReport[]): string {
  const indent = " ".repeat(WIDTH + 2);
  return reports
    .map((r) => {
      const name = r.facts?.hostname && r.facts.hostname !== r.host ? `${r.host} (${r.facts.hostname})` : r.host;
      const [first, ...rest] = r.reasons;
      return [`${LABEL[r.verdict].padEnd(WIDTH)} ${name}${first ? `: ${first}` : ""}`, ...[...rest, ...r.notes].map((d) => `${indent}${d}`)].join("\n");
    })
    .join("\n")
    .concat("\n");
}

/** The JSON form: one object per host. */
export function hostsJson(reports: readonly HostReport[]): string {
  return `${JSON.stringify(reports, null, 2)}\n`;
}

/** Exit code of `verify --hosts`: 3 when a host could not be judged, 1 when one is not ready, else 0 (hosts with no
 * devices are not the group's). */
export function hostsExitCode(reports: readonly HostReport[]): 0 | 1 | 3 {
  if (reports.some((r) => r.verdict === "unknown")) return 3;
  return reports.every((r) => r.verdict === "ready" || r.verdict === "no devices") ? 0 : 1;
}
