// What `npm run verify` compares: the live objects, as the read script (components/render/commands.ts
// liveReadCommand) and `openstack flavor show` print them, against the render of the stack. Pure: the CLI
// in scripts/verify.ts runs the commands.
import { createTwoFilesPatch } from "diff";
import type { SiteConfig } from "../../components/config";
import { parseTagComment, READ_MARK, READS } from "../../components/render/commands";
import type { FlavorSpec } from "../../components/render/nova";
import type { GroupArtifacts, SiteArtifacts } from "../../components/render/site";

export type Status = "in sync" | "drift" | "unreachable";

/** One object's verdict, with what differs (or why it could not be read). */
export interface Finding {
  readonly object: string;
  readonly status: Status;
  readonly details: readonly string[];
}

/** A command's result: its exit code and what it printed. */
export interface Read {
  readonly rc: number;
  readonly out: string;
}

/** Splits the read script's output into its sections, by name. */
export function parseReads(output: string): Map<string, Read> {
  const reads = new Map<string, Read>();
  let current: { name: string; rc: number; lines: string[] } | undefined;
  const close = () => current && reads.set(current.name, { rc: current.rc, out: current.lines.join("\n") });
  for (const line of output.split("\n")) {
    const m = line.startsWith(`${READ_MARK} `) ? /^(.*) (\d+)$/.exec(line.slice(READ_MARK.length + 1)) : null;
    if (m) {
      close();
      current = { name: m[1]!, rc: Number(m[2]), lines: [] };
    } else current?.lines.push(line);
  }
  close();
  // Each section ends with the newline the script printed after the output.
  for (const [k, v] of reads) reads.set(k, { ...v, out: v.out.replace(/\n$/, "") });
  return reads;
}

/** For reads where no output means "missing": every failure is a failure to read. */
const NEVER = /(?!)/;

const quoteValue = (s: string) => (s === "" ? "(unset)" : JSON.stringify(s));
const trimEnd = (s: string) => s.replace(/\n+$/, "");

/** A finding from a failed read: `missing` when the output says the object is not there, else unreachable. */
function failed(object: string, read: Read | undefined, missing: RegExp): Finding {
  if (read === undefined) return { object, status: "unreachable", details: ["the read script did not get this far"] };
  const first = read.out.split("\n").find((l) => l.trim() !== "") ?? `exit ${read.rc}`;
  if (missing.test(read.out)) return { object, status: "drift", details: ["missing"] };
  return { object, status: "unreachable", details: [first.trim()] };
}

const verdict = (object: string, details: string[]): Finding => ({ object, status: details.length > 0 ? "drift" : "in sync", details });

const ids = (json: string): string[] => (JSON.parse(json) as Array<{ system_id: string }>).map((m) => m.system_id).sort();

function setDiff(live: readonly string[], want: readonly string[]): string[] {
  const missing = want.filter((x) => !live.includes(x));
  const extra = live.filter((x) => !want.includes(x));
  return [...(missing.length > 0 ? [`not tagged: ${missing.join(" ")}`] : []), ...(extra.length > 0 ? [`tagged but not selected: ${extra.join(" ")}`] : [])];
}

/** A group's MAAS tag and its machines. */
function compareTag(g: GroupArtifacts, reads: Map<string, Read>): Finding[] {
  const out: Finding[] = [];
  const m = g.group.maas;
  const tagName = `MAAS tag ${m.tag}`;
  const tag = reads.get(READS.tag(m.tag));
  if (tag?.rc !== 0) return [failed(tagName, tag, /\b404\b|No Tag matches/)];
  const live = JSON.parse(tag.out) as { comment?: string; kernel_opts?: string; definition?: string };
  const details: string[] = [];
  const comment = parseTagComment(live.comment ?? "");
  if (comment.comment !== m.comment) details.push(`comment is ${quoteValue(comment.comment)}, want ${quoteValue(m.comment)}`);
  if ((live.kernel_opts ?? "") !== g.kernelOptions) details.push(`kernel_opts is ${quoteValue(live.kernel_opts ?? "")}, want ${quoteValue(g.kernelOptions)}`);
  if (m.definition !== undefined && live.definition !== m.definition) {
    details.push(`definition is ${quoteValue(live.definition ?? "")}, want ${quoteValue(m.definition)}`);
  }
  out.push(verdict(tagName, details));
  // A definition's machines are MAAS's to keep; machines and selectByDevice are the steps'.
  if (m.definition === undefined) {
    const object = `${tagName} machines`;
    const machines = reads.get(READS.tagMachines(m.tag));
    const selected = m.selectByDevice ? reads.get(READS.selected(m.tag)) : { rc: 0, out: (m.machines ?? []).join(" ") };
    if (machines?.rc !== 0) out.push(failed(object, machines, NEVER));
    else if (selected?.rc !== 0) out.push(failed(`${object} (selection by device)`, selected, NEVER));
    else out.push(verdict(object, setDiff(ids(machines.out), selected.out.split(/\s+/).filter((x) => x !== "").sort())));
  }
  return out;
}

/** Each group's MAAS tag and its machines, the model's userdata and each charm option. */
export function compareJuju(site: SiteConfig, a: SiteArtifacts, reads: Map<string, Read>): Finding[] {
  const out: Finding[] = [];
  for (const g of a.groups) out.push(...compareTag(g, reads));

  const modelName = `Juju model ${site.juju.model} cloudinit-userdata`;
  const userdata = reads.get(READS.userdata);
  if (userdata?.rc !== 0) out.push(failed(modelName, userdata, /model .*not found/));
  else if (trimEnd(userdata.out) === trimEnd(a.userdata)) out.push(verdict(modelName, []));
  else {
    const patch = createTwoFilesPatch("rendered", "live", `${trimEnd(a.userdata)}\n`, `${trimEnd(userdata.out)}\n`, "", "", { context: 2 });
    out.push(verdict(modelName, ["differs from the render:", ...patch.split("\n").slice(1).map((l) => l.replace(/\t$/, "")).filter((l) => l !== "")]));
  }

  for (const [app, options] of Object.entries(a.charmOptions)) {
    const details: string[] = [];
    let unreachable: Finding | undefined;
    for (const [option, want] of Object.entries(options)) {
      const read = reads.get(READS.option(app, option));
      if (read?.rc !== 0) {
        // `juju config APP KEY` fails for a key the application has no value for: unset.
        if (read && /key .* not found/.test(read.out)) details.push(`${option} is unset, want ${quoteValue(want)}`);
        else if (read && /application .* not found/.test(read.out)) details.push("the application is not deployed");
        else unreachable ??= failed(app, read, NEVER);
      } else if (trimEnd(read.out) !== want) details.push(`${option} is ${quoteValue(trimEnd(read.out))}, want ${quoteValue(want)}`);
    }
    out.push(unreachable ?? verdict(`${app} options`, [...new Set(details)]));
  }
  return out;
}

/** What `openstack flavor show -f json` gives: properties as a mapping, or as `k='v', ...` from older
 * clients. */
export function flavorProperties(shown: { properties?: unknown }): Record<string, string> {
  const p = shown.properties;
  if (p && typeof p === "object" && !Array.isArray(p)) return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, String(v)]));
  if (typeof p !== "string" || p === "") return {};
  return Object.fromEntries(
    [...p.matchAll(/([^,=\s]+)='((?:[^'\\]|\\.)*)'/g)].map((m) => [m[1]!, m[2]!.replace(/\\(.)/g, "$1")]),
  );
}

/** One flavor: size and extra specs, against `openstack flavor show` (exit code and output). */
export function compareFlavor(f: FlavorSpec, read: Read): Finding {
  const object = `flavor ${f.name}`;
  if (read.rc !== 0) return failed(object, read, /No Flavor found|No flavor with a name or ID/i);
  const shown = JSON.parse(read.out) as { ram: number; vcpus: number; disk: number; properties?: unknown };
  const details: string[] = [];
  for (const k of ["ram", "vcpus", "disk"] as const) if (Number(shown[k]) !== f[k]) details.push(`${k} is ${shown[k]}, want ${f[k]}`);
  const live = flavorProperties(shown);
  for (const [k, v] of Object.entries(f.extraSpecs)) {
    if (!(k in live)) details.push(`extra spec ${k} is missing, want ${quoteValue(v)}`);
    else if (live[k] !== v) details.push(`extra spec ${k} is ${quoteValue(live[k]!)}, want ${quoteValue(v)}`);
  }
  for (const k of Object.keys(live)) if (!(k in f.extraSpecs)) details.push(`extra spec ${k}=${quoteValue(live[k]!)} is not in the render`);
  return verdict(object, details);
}

/** Exit code of `verify`: 3 when anything could not be read (the picture is incomplete), else 1 on drift. */
export function exitCode(findings: readonly Finding[]): 0 | 1 | 3 {
  if (findings.some((f) => f.status === "unreachable")) return 3;
  return findings.some((f) => f.status === "drift") ? 1 : 0;
}

/** The report, object by object. */
export function report(findings: readonly Finding[]): string {
  const label: Record<Status, string> = { "in sync": "in sync    ", drift: "DRIFT      ", unreachable: "UNREACHABLE" };
  return findings.map((f) => [`${label[f.status]} ${f.object}`, ...f.details.map((d) => `              ${d}`)].join("\n")).join("\n") + "\n";
}
