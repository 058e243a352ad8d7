// `npm run verify -- <stack> --hosts [--from DIR] [--json]`: what each GPU host runs, against what the stack declares.
// The host probe (render/host/probe.ts, out/<stack>/host-probe.sh) runs on every unit of every group's nova-compute
// application through Juju, one call per application, where the steps run (here, or on the jump host: the same
// runner as verify's other reads); or, with --from DIR, each DIR/<unit or host name>.txt is a probe's saved output
// (`sudo sh host-probe.sh > HOST.txt` on a host). hosts.ts judges each host, hosts-report.ts prints the verdicts.
// Exit 0 when every host is ready, 1 otherwise, 3 when a host or Juju could not be read (2, config errors, is
// main.ts's).
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import type { SiteConfig } from "../../config/types";
import { parseJujuExec, type UnitExecResult } from "../../domain/juju-exec";
import type { HostExpectations } from "../../render/host/expectations";
import { parseProbe } from "../../render/host/probe-output";
import { HOST_READS, hostReadCommand } from "../../render/steps/host-reads";
import { secretsStdin } from "../../render/steps/script";
import { runnerWhere, stepInputs } from "../../render/steps/ssh";
import { renderSite } from "../../render/site";
import { parseReads } from "./compare";
import { analyseOutput, analyseProbe, analyseUnits, groupOfProbe, type HostReport } from "./hosts";
import { groupSummary, hostsExitCode, hostsJson, hostsReport } from "./hosts-report";

export interface HostsOptions {
  /** Read saved probe outputs from this directory instead of running the probe through Juju. */
  readonly from?: string;
  readonly json: boolean;
  /** The runner's SSH key, when there is a runner (verify's --identity or runner.privateKey): { PCIPT_SSH_KEY }. */
  readonly sshKey: Record<string, string>;
  /** The environment the read runs with (tests put the fakes on PATH). */
  readonly env?: NodeJS.ProcessEnv;
}

export interface HostsResult {
  readonly reports: HostReport[];
  /** What kept hosts from being read at all (Juju unreachable, an application not deployed); each a line. */
  readonly problems: string[];
  /** 0 every host ready, 1 otherwise, 3 something could not be read. */
  readonly code: 0 | 1 | 3;
}

const lastLine = (text: string): string =>
  text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .pop() ?? "";

/** A unit's report from its group(s): with one group on the application, that group's; with several, the one the
 * probe's marker or devices name (hosts.ts groupOfProbe), else the first. */
function analyseApplication(expects: readonly HostExpectations[], results: readonly UnitExecResult[], units: readonly string[]): HostReport[] {
  const [first] = expects;
  if (first === undefined) return [];
  if (expects.length === 1) return analyseUnits(first, results, units);
  const answered = new Set(results.map((r) => r.unit));
  return [
    ...results.flatMap((r) => {
      const parsed = r.code === 0 ? parseProbe(r.stdout) : undefined;
      const expect = (parsed?.ok ? groupOfProbe(expects, parsed.probe) : undefined) ?? first;
      return analyseUnits(expect, [r], []);
    }),
    ...analyseUnits(first, [], units.filter((u) => !answered.has(u))),
  ];
}

/** The probe through Juju: one read script on the steps' runner, then each application's units judged. */
export function hostsFromJuju(site: SiteConfig, opts: Pick<HostsOptions, "sshKey" | "env">): HostsResult {
  const a = renderSite(site);
  const expects = a.groups.map((g) => g.expectations);
  const apps = [...new Set(expects.map((e) => e.application))];
  const spec = hostReadCommand(site.juju, apps, a.probe);
  const inputs = stepInputs(spec, site.runner ? { ...site.runner, privateKey: undefined } : undefined);
  const r = spawnSync("/bin/sh", ["-c", inputs.create], {
    env: { ...(opts.env ?? process.env), ...inputs.environment },
    input: site.runner ? secretsStdin(opts.sshKey) : "",
    encoding: "utf8",
    maxBuffer: 256 << 20,
  });
  const where = runnerWhere(site.runner);
  if (r.status !== 0 || r.error) {
    return { reports: [], problems: [`juju on ${where}: ${lastLine(r.stderr || r.error?.message || `exit ${r.status}`)}`], code: 3 };
  }
  const reads = parseReads(r.stdout);
  const status = reads.get(HOST_READS.status);
  if (status === undefined || status.rc !== 0) {
    return { reports: [], problems: [`juju status on ${where} failed: ${lastLine(status?.err ?? "no answer")}`], code: 3 };
  }
  let applications: Record<string, { units?: Record<string, unknown> }>;
  try {
    applications = (JSON.parse(status.out) as { applications?: typeof applications }).applications ?? {};
  } catch (e) {
    return { reports: [], problems: [`juju status printed no JSON: ${(e as Error).message}`], code: 3 };
  }
  const reports: HostReport[] = [];
  const problems: string[] = [];
  for (const app of apps) {
    const mine = expects.filter((e) => e.application === app);
    const units = Object.keys(applications[app]?.units ?? {}).sort();
    if (applications[app] === undefined) {
      problems.push(`${app} (host group ${mine.map((e) => e.group).join(", ")}) is not deployed in model ${site.juju.model}: no host to probe`);
      continue;
    }
    const exec = reads.get(HOST_READS.exec(app));
    if (exec === undefined) continue;
    // Juju 3 after a unit timed out: nothing printed, each unit asked alone (render/steps/host-reads.ts).
    const alone = units.map((u) => reads.get(HOST_READS.unit(u))).filter((x) => x !== undefined);
    const outputs = exec.out.trim() === "" && alone.length > 0 ? alone : [exec];
    const results: UnitExecResult[] = [];
    for (const o of outputs) {
      const parsed = parseJujuExec(site.juju.version, o.out);
      if (parsed.ok) results.push(...parsed.units);
      else problems.push(`${app}: ${parsed.problem}`);
    }
    if (results.length === 0 && exec.rc !== 0) problems.push(`juju ${site.juju.version === "2.9" ? "run" : "exec"} on ${app} failed: ${lastLine(exec.err ?? "")}`);
    reports.push(...analyseApplication(mine, results, units));
  }
  return { reports, problems, code: problems.length > 0 ? 3 : hostsExitCode(reports) };
}

/** The saved outputs of DIR (each NAME.txt a probe's output on host NAME), each judged against the group its marker
 * or its devices name. */
export function hostsFromDir(site: SiteConfig, dir: string): HostsResult {
  const expects = renderSite(site).groups.map((g) => g.expectations);
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((f) => f.endsWith(".txt"))
      .sort();
  } catch (e) {
    return { reports: [], problems: [`--from ${dir}: ${(e as Error).message}`], code: 3 };
  }
  if (names.length === 0) return { reports: [], problems: [`--from ${dir}: no NAME.txt file (the probe's output of host NAME: sudo sh host-probe.sh > NAME.txt)`], code: 3 };
  const reports = names.map((file): HostReport => {
    const host = file.slice(0, -".txt".length);
    const text = readFileSync(path.join(dir, file), "utf8");
    const parsed = parseProbe(text);
    const expect = (parsed.ok ? groupOfProbe(expects, parsed.probe) : undefined) ?? (expects.length === 1 ? expects[0] : undefined);
    if (expect !== undefined) return parsed.ok ? analyseProbe(expect, host, parsed.probe) : analyseOutput(expect, host, text);
    // No group to judge it against (a site with several groups): what can still be said.
    const none = (verdict: HostReport["verdict"], reason: string): HostReport => ({ host, group: "", application: "", verdict, reasons: [reason], notes: [] });
    if (!parsed.ok) return none("unknown", parsed.problem);
    const probe = parsed.probe;
    if (!probe.complete) return none("unknown", "the probe's output ends early (no end=ok): it was cut short");
    if (probe.container) return none("no devices", "runs in a container: not a GPU host");
    const groups = expects.map((e) => `${e.group}: ${e.devices.map((d) => `${d.id} at ${d.address}`).join(", ")}`);
    const marker = probe.marker?.result === "no-group" ? "the prepare script found this machine in no host group" : "no marker names a host group";
    return none("broken", `${marker}, and it holds no group's device at the group's addresses (${groups.join("; ")})`);
  });
  return { reports, problems: [], code: hostsExitCode(reports) };
}

const CLOSING: Record<0 | 1 | 3, string> = {
  0: "every host is ready",
  1: "what to do for each verdict: docs/verify-hosts.md",
  3: "some hosts could not be judged (UNKNOWN, or Juju could not be read): nothing is known about them; what to do: docs/verify-hosts.md",
};

/** The report as printed: the hosts group by group, the groups' summary lines, a closing line. */
export function hostsText(site: SiteConfig, result: HostsResult): string {
  const groups = renderSite(site).groups.map((g) => g.expectations.group);
  const order = [...groups, ""];
  const sections = order
    .map((g) => ({ g, reports: result.reports.filter((r) => r.group === g) }))
    .filter((s) => s.reports.length > 0)
    .map((s) => `${s.g === "" ? "in no host group" : `host group ${s.g} (${s.reports[0]!.application})`}:\n${hostsReport(s.reports)}`);
  const summaries = groups.map((g) => groupSummary(g, result.reports.filter((r) => r.group === g)));
  const ready = result.reports.filter((r) => r.verdict === "ready").length;
  return [
    ...result.problems.map((p) => `UNREACHABLE ${p}`),
    ...(result.problems.length > 0 ? [""] : []),
    ...sections.map((s) => `${s}`),
    ...summaries,
    "",
    `${ready} of ${result.reports.filter((r) => r.verdict !== "no devices").length} hosts ready: ${CLOSING[result.code]}`,
    "",
  ].join("\n");
}

/** Runs the host check as the CLI does; returns its exit code. */
export function hostsMain(site: SiteConfig, stack: string, opts: HostsOptions, write: (text: string) => void = (t) => process.stdout.write(t)): 0 | 1 | 3 {
  if (!opts.json) {
    const how = opts.from !== undefined ? `the probe's saved outputs in ${opts.from}` : `the probe through juju on ${runnerWhere(site.runner)}, one call per application`;
    write(`Verifying the hosts of stack ${stack}: ${how}, read-only\n\n`);
  }
  const result = opts.from !== undefined ? hostsFromDir(site, opts.from) : hostsFromJuju(site, opts);
  if (opts.json) {
    for (const p of result.problems) process.stderr.write(`verify: ${p}\n`);
    write(hostsJson(result.reports));
  } else {
    write(hostsText(site, result));
  }
  return result.code;
}
