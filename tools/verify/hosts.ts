// What `npm run verify -- STACK --hosts` concludes about each host: the host probe's output (render/host/probe.ts)
// against what a host of its group must show (hostExpectations), a verdict with its reasons, a summary per group,
// and the same as JSON. Pure: running the probe (through Juju, or reading saved outputs) is the CLI's.
//
// Which drivers may share a passed-through group is the kernel's rule in domain/iommu.ts.
//
// The verdicts, strongest first (the first that applies wins; docs/verify-hosts.md says what to do for each):
//   unknown         the probe could not tell: no output from the unit (down, timed out), the probe failed or was
//                   cut short, a marker or an output format this verify does not read, cloud-init still running;
//   no devices      a unit of an application the bundle overlay does not add (it may run compute hosts of no
//                   group) on a machine with none of the group's devices anywhere: not a host of the group, not
//                   counted;
//   broken          the hardware is not what the group configures (a configured address missing or holding
//                   another vendor:product, or on an application the overlay adds, none of the devices at all);
//   needs redeploy  no marker (prepared by a userdata older than the marker, or by none: the machine predates the
//                   model's userdata), or a marker of another render: this render's preparation never ran here;
//   broken          the prepare script of this render found no group, several, or another group, or a command of
//                   it failed; or a reboot cannot help: a kernel option neither on the command line nor in grub's
//                   default entry (or on the command line but gone from grub), a vfio module missing from the
//                   initramfs, a file it wrote missing or changed, the binding unit not enabled, a function of a
//                   device's IOMMU group that is no configured id on a driver vfio does not allow;
//   needs reboot    the host runs what it was prepared with but not yet booted with it: a kernel option in grub's
//                   default entry not on the command line, or the initramfs rebuilt after this boot; the device
//                   findings below wait for the reboot and are only noted;
//   broken          a configured device or a function of its IOMMU group with a configured id (a companion) not
//                   on vfio-pci, or in no IOMMU group;
//   ready           none of the above.
// Everything else the probe saw (cloud-init errors, the prepare script's warnings, a package asking for a reboot,
// the initramfs's contents unknown) is a note: it does not decide.
import { CLOUD_INIT_OUTPUT_LOG, GRUB_CFG_PATH } from "../../render/host/probe";
import { parseProbe, type ProbeOutput, type ProbedFunction } from "../../render/host/probe-output";
import type { HostExpectations } from "../../render/host/expectations";
import type { UnitExecResult } from "../../domain/juju-exec";
import { driverKeepsGroupViable, effectiveParam } from "../../domain/iommu";

export const VERDICTS = ["ready", "needs reboot", "needs redeploy", "broken", "no devices", "unknown"] as const;
export type Verdict = (typeof VERDICTS)[number];

/** What the probe saw, for the JSON form and the report's detail lines. */
export interface HostFacts {
  readonly hostname?: string;
  readonly kernel?: string;
  /** This boot's start, UTC (ISO 8601). */
  readonly booted?: string;
  /** The group's kernel options missing from /proc/cmdline. */
  readonly missingOptions: readonly string[];
  readonly functions: ReadonlyArray<{
    readonly address: string;
    readonly of: string;
    readonly role: "device" | "companion" | "other";
    readonly id?: string;
    readonly driver?: string;
    readonly iommuGroup?: string;
    readonly present: boolean;
  }>;
  readonly modules: {
    readonly loaded: readonly string[];
    readonly builtin: readonly string[];
    /** The vfio modules in the running kernel's initramfs; undefined when its contents are unknown. */
    readonly initramfs?: readonly string[];
  };
  readonly marker: {
    /** current: prepared by this render; other render; not prepared: the script found no group or several;
     * absent: no marker; unreadable: a marker this verify cannot read. */
    readonly state: "current" | "other render" | "not prepared" | "absent" | "unreadable";
    readonly expectedRender: string;
    readonly render?: string;
    readonly group?: string;
    readonly result?: string;
    readonly failed?: string;
    readonly time?: string;
  };
  readonly cloudInit: { readonly state: string; readonly errors: readonly string[] };
  readonly rebootPending: readonly string[];
}

/** One host's verdict. */
export interface HostReport {
  /** The unit (through Juju) or the saved output's name (--from). */
  readonly host: string;
  readonly group: string;
  readonly application: string;
  readonly verdict: Verdict;
  /** Why, most important first: for `broken` what is wrong, for `needs reboot` what waits for it. */
  readonly reasons: readonly string[];
  /** Everything else worth knowing. */
  readonly notes: readonly string[];
  readonly facts?: HostFacts;
}

/** The order in which the kinds of finding decide (see the head of this file). */
type Kind = "unknown" | "no devices" | "hardware" | "redeploy" | "prepare" | "lasting" | "pending" | "device" | "note";
const DECIDES: ReadonlyArray<[Kind, Verdict]> = [
  ["unknown", "unknown"],
  ["no devices", "no devices"],
  ["hardware", "broken"],
  ["redeploy", "needs redeploy"],
  ["prepare", "broken"],
  ["lasting", "broken"],
  ["pending", "needs reboot"],
  ["device", "broken"],
];

interface Finding {
  readonly kind: Kind;
  readonly text: string;
}

const onWhat = (f: ProbedFunction): string => (f.driver === undefined ? `${f.address} has no driver` : `${f.address} on ${f.driver}`);
const list = (items: readonly string[]): string => items.join(", ");
const iso = (epoch: number): string => new Date(epoch * 1000).toISOString().replace(/\.000Z$/, "Z");

/** The kernel options of grub.cfg's default entry (its first linux line, the kernel image left out). */
function grubDefaultOptions(probe: ProbeOutput): string[] | undefined {
  const first = probe.grubLinux[0];
  return first === undefined ? undefined : first.split(/\s+/).filter((w) => w !== "").slice(1);
}

/** The group's devices as the probe found them: hardware findings, and whether the machine has any of them. */
function hardware(expect: HostExpectations, probe: ProbeOutput, add: (kind: Kind, text: string) => void): void {
  const deviceIds = new Set(expect.devices.map((d) => d.id));
  const configured = new Set(expect.devices.map((d) => d.address));
  const elsewhere = probe.found.filter((f) => f.id !== undefined && deviceIds.has(f.id) && !configured.has(f.address));
  let held = 0;
  const wrong: string[] = [];
  for (const d of expect.devices) {
    const f = probe.functions.find((x) => x.address === d.address && x.of === d.address);
    if (f === undefined) add("unknown", `the probe did not report ${d.address}: it was rendered for another site`);
    else if (!f.present) wrong.push(`${d.address} is missing`);
    else if (f.id !== d.id) wrong.push(`${d.address} holds ${f.id ?? "an unreadable id"}, not ${d.id}`);
    else held++;
  }
  const moved = elsewhere.map((f) => `${f.id} at ${f.address}`);
  if (held === 0 && elsewhere.length === 0) {
    const none = `holds none of ${expect.group}'s devices (${list([...deviceIds])})`;
    if (expect.sharedApplication) add("no devices", none);
    else add("hardware", `${none}: not a host of group ${expect.group} (${wrong.join("; ")})`);
    return;
  }
  for (const w of wrong) add("hardware", moved.length > 0 ? `${w} (the host has ${list(moved)})` : w);
  if (wrong.length === 0 && moved.length > 0) add("note", `also ${list(moved)}, not configured: it stays with its driver`);
}

/** The marker: whether this render's preparation ran here, for this group, and how it went. */
function prepared(expect: HostExpectations, probe: ProbeOutput, add: (kind: Kind, text: string) => void): HostFacts["marker"] {
  const base = { expectedRender: expect.render };
  if (probe.markerText === undefined) {
    if (probe.cloudInit.state === "running") add("unknown", "cloud-init has not finished (the prepare script runs at its end): probe again later");
    else if (probe.prepareScript) add("redeploy", "no marker: prepared by a userdata older than the marker, or the prepare script did not finish");
    else add("redeploy", "not prepared: no prepare script, no marker (the machine was provisioned before the model had this userdata)");
    return { ...base, state: "absent" };
  }
  const m = probe.marker;
  if (m === undefined) {
    add("unknown", `cannot read the marker: ${probe.markerProblem ?? "unreadable"}`);
    return { ...base, state: "unreadable" };
  }
  const facts = { ...base, render: m.render, group: m.group, result: m.result, failed: m.failed, time: m.time };
  const when = m.time ? ` (${m.time})` : "";
  if (m.result === "no-group") {
    add("prepare", `the prepare script found this machine in no host group${when}: not prepared (maas.machines without its system ID?)`);
    return { ...facts, state: "not prepared" };
  }
  if (m.result === "several-groups") {
    add("prepare", `the prepare script found devices of several host groups (${m.group})${when}: not prepared`);
    return { ...facts, state: "not prepared" };
  }
  if (m.group !== expect.group) {
    add("prepare", `prepared for host group ${m.group}${when}, but it runs ${expect.application} (host group ${expect.group})`);
  } else if (m.render !== expect.render) {
    add("redeploy", `prepared by another render of the userdata${when} (its ${m.render || "(none)"}, this render's ${expect.render})`);
    if (m.result === "failed") add("note", `that preparation failed: ${m.failed}`);
    return { ...facts, state: "other render" };
  } else if (m.result === "failed") {
    add("prepare", `the prepare script failed${when}: ${m.failed}`);
  }
  return { ...facts, state: m.render === expect.render ? "current" : "other render" };
}

/** The kernel options: on the command line now, and in grub's default entry for the next boot. */
/** True when the kernel, booted with these words, ends with `opt` in effect: for `key=value`, the last value given
 * for the key (`-` and `_` alike: domain/iommu.ts effectiveParam), so a later `intel_iommu=off` or a second
 * `vfio-pci.ids` overrides ours; a bare flag is in effect when present. */
function inEffect(words: readonly string[] | undefined, opt: string): boolean {
  if (words === undefined) return false;
  const eq = opt.indexOf("=");
  const key = eq < 0 ? opt : opt.slice(0, eq);
  const value = effectiveParam(words.join(" "), key);
  return eq < 0 ? value !== undefined : value === opt.slice(eq + 1);
}

function kernelOptions(expect: HostExpectations, probe: ProbeOutput, add: (kind: Kind, text: string) => void): string[] {
  const grub = grubDefaultOptions(probe);
  const missing: string[] = [];
  for (const opt of expect.kernelOptions) {
    const inGrub = inEffect(grub, opt);
    if (inEffect(probe.cmdline, opt)) {
      if (!inGrub) add("lasting", `${opt} is on the command line but not in ${GRUB_CFG_PATH}'s default entry: the next boot drops it`);
      continue;
    }
    missing.push(opt);
    if (inGrub) add("pending", `${opt} is in ${GRUB_CFG_PATH}, not yet on the command line`);
    else add("lasting", `${opt} is neither on the command line nor in ${GRUB_CFG_PATH}'s default entry${probe.grubCfg ? "" : ` (no ${GRUB_CFG_PATH})`}`);
  }
  return missing;
}

/** The running kernel's initramfs: rebuilt since the boot, and holding vfio. */
function initramfs(expect: HostExpectations, probe: ProbeOutput, add: (kind: Kind, text: string) => void): void {
  const i = probe.initramfs;
  const name = i.path ?? "the initramfs";
  if (!i.present) {
    add("note", `no initramfs for the running kernel (${name})`);
    return;
  }
  if (i.mtime !== undefined && probe.booted !== undefined && i.mtime > probe.booted) {
    add("pending", `${name} was rebuilt after this boot (${iso(i.mtime)}, booted ${iso(probe.booted)})`);
  }
  if (i.list !== "ok") {
    add("note", i.list === "unknown" ? `what ${name} holds is unknown (no lsinitramfs)` : `lsinitramfs could not list ${name}`);
    return;
  }
  const missing = expect.vfioModules.filter((m) => !i.modules.includes(m) && !probe.builtin.includes(m));
  if (missing.length === 0) return;
  const conf = expect.files.find((f) => f.lines !== undefined);
  const listed = conf === undefined ? [] : (probe.lines.get(conf.path) ?? []).map((l) => l.trim());
  const unlisted = missing.filter((m) => !listed.includes(m));
  const hint =
    conf === undefined
      ? ""
      : unlisted.length > 0
        ? `; ${conf.path} does not list ${list(unlisted)}`
        : `; ${conf.path} lists ${missing.length > 1 ? "them" : "it"}: update-initramfs -u, then reboot`;
  add("lasting", `${list(missing)} not in ${name}: the devices are bound late at boot, after their drivers may have taken them${hint}`);
}

/** The files the prepare script wrote and the links its commands made, as it left them. */
function files(expect: HostExpectations, probe: ProbeOutput, add: (kind: Kind, text: string) => void): void {
  for (const want of expect.files) {
    const got = probe.files.find((f) => f.path === want.path);
    if (got === undefined) add("note", `the probe did not report ${want.path}`);
    else if (!got.present) add("lasting", `${want.path} is missing`);
    else if (want.lines !== undefined) {
      const have = (probe.lines.get(want.path) ?? []).map((l) => l.trim());
      const gone = want.lines.filter((l) => !have.includes(l.trim()));
      if (gone.length > 0) add("lasting", `${want.path} does not list ${list(gone)}: the next initramfs is built without ${gone.length > 1 ? "them" : "it"}`);
    } else {
      if (got.sha256 !== want.sha256) add("lasting", `${want.path} differs from what the prepare script wrote`);
      if (got.mode !== undefined && got.mode !== want.mode) add("lasting", `${want.path} has mode ${got.mode.toString(8)}, not ${want.mode.toString(8)}`);
    }
  }
  for (const link of expect.links) {
    if (probe.links.get(link) !== true) add("lasting", `${link.slice(link.lastIndexOf("/") + 1)} is not enabled (no ${link}): the devices stay with their drivers at the next boot`);
  }
}

/** The configured devices and every function of their IOMMU groups. */
function functions(expect: HostExpectations, probe: ProbeOutput, add: (kind: Kind, text: string) => void): HostFacts["functions"] {
  const ids = new Set(expect.vfioIds);
  const devices = new Map(expect.devices.map((d) => [d.address, d.id]));
  const seen = new Set<string>();
  const out: Array<HostFacts["functions"][number]> = [];
  for (const f of probe.functions) {
    const of = f.of ?? f.address;
    // A configured device is judged as itself, not as a member of another device's IOMMU group.
    if (!devices.has(of) || seen.has(f.address) || (devices.has(f.address) && f.address !== of)) continue;
    seen.add(f.address);
    const role = f.address === of ? "device" : f.id !== undefined && ids.has(f.id) ? "companion" : "other";
    out.push({ address: f.address, of, role, present: f.present, id: f.id, driver: f.driver, iommuGroup: f.iommuGroup });
    if (!f.present || (role === "device" && f.id !== devices.get(of))) continue;
    if (role === "other") {
      if (!driverKeepsGroupViable(f.driver)) {
        add("lasting", `${f.address} (${f.id}) shares the IOMMU group of ${of} and is on ${f.driver}: QEMU refuses the group; list ${f.id} as a companion`);
      }
      continue;
    }
    if (f.iommuGroup === undefined) add("device", `${f.address} is in no IOMMU group (the IOMMU is off)`);
    else if (f.driver !== "vfio-pci") add("device", onWhat(f));
  }
  return out;
}

/** The group a probe's output is of, when nothing else says (a saved output, --from): the one its marker names,
 * else the first whose vendor:product it holds at one of the group's addresses; undefined for none. */
export function groupOfProbe(all: readonly HostExpectations[], probe: ProbeOutput): HostExpectations | undefined {
  const named = probe.marker === undefined ? undefined : all.find((e) => e.group === probe.marker!.group);
  if (named) return named;
  const holds = (e: HostExpectations) => e.devices.some((d) => probe.functions.some((f) => f.address === d.address && f.of === d.address && f.present && f.id === d.id));
  return all.find(holds);
}

/** Judges one host's probe output against its group's expectations. */
export function analyseProbe(expect: HostExpectations, host: string, probe: ProbeOutput): HostReport {
  const findings: Finding[] = [];
  const add = (kind: Kind, text: string) => findings.push({ kind, text });
  const who = { host, group: expect.group, application: expect.application };
  if (!probe.complete) add("unknown", "the probe's output ends early (no end=ok): it was cut short");
  if (probe.container) {
    add(expect.sharedApplication ? "no devices" : "hardware", "runs in a container: not a GPU host");
    return decide(who, findings);
  }
  hardware(expect, probe, add);
  const marker = prepared(expect, probe, add);
  const missingOptions = kernelOptions(expect, probe, add);
  initramfs(expect, probe, add);
  files(expect, probe, add);
  const fns = functions(expect, probe, add);
  if (probe.cloudInit.errors.length > 0) add("note", `cloud-init reported errors at this boot: ${probe.cloudInit.errors.join("; ")}`);
  if (probe.cloudInit.problem !== undefined) add("note", `cloud-init: ${probe.cloudInit.problem}`);
  for (const l of probe.prepareLog.filter((x) => /: (WARNING|ERROR):/.test(x))) add("note", `${CLOUD_INIT_OUTPUT_LOG}: ${l}`);
  if (probe.rebootRequired) add("note", "a package asks for a reboot (/run/reboot-required)");
  const loaded = probe.modules;
  if (!loaded.includes("vfio_pci") && !probe.builtin.includes("vfio_pci") && !probe.vfioPciDriver) add("note", "vfio_pci is not loaded");
  const facts: HostFacts = {
    hostname: probe.hostname,
    kernel: probe.kernel,
    booted: probe.booted === undefined ? undefined : iso(probe.booted),
    missingOptions,
    functions: fns,
    modules: { loaded, builtin: probe.builtin, initramfs: probe.initramfs.list === "ok" ? probe.initramfs.modules : undefined },
    marker,
    cloudInit: { state: probe.cloudInit.state, errors: probe.cloudInit.errors },
    rebootPending: findings.filter((f) => f.kind === "pending").map((f) => f.text),
  };
  return decide(who, findings, facts);
}

function decide(who: Pick<HostReport, "host" | "group" | "application">, findings: readonly Finding[], facts?: HostFacts): HostReport {
  const [kind, verdict]: [Kind | undefined, Verdict] = DECIDES.find(([k]) => findings.some((f) => f.kind === k)) ?? [undefined, "ready"];
  const reasons = findings.filter((f) => f.kind === kind).map((f) => f.text);
  // Until the reboot, the devices' drivers say nothing yet: noted, they do not decide.
  const notes = findings
    .filter((f) => f.kind !== kind)
    .map((f) => (verdict === "needs reboot" && f.kind === "device" ? `${f.text} (until the reboot)` : f.text));
  return { ...who, verdict, reasons, notes, ...(facts ? { facts } : {}) };
}

/** Judges a probe's raw output; output that is not the probe's (or of another format) is `unknown`. */
export function analyseOutput(expect: HostExpectations, host: string, output: string): HostReport {
  const parsed = parseProbe(output);
  if (parsed.ok) return analyseProbe(expect, host, parsed.probe);
  return { host, group: expect.group, application: expect.application, verdict: "unknown", reasons: [parsed.problem], notes: [] };
}

const lastLine = (text: string): string | undefined =>
  text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .pop();

/**
 * Judges the units of one application from what `juju exec` (3) or `juju run` (2.9) returned for it
 * (domain/juju-exec.ts parseJujuExec): a unit whose probe did not exit 0 is `unknown` with what it said; a unit of
 * `units` (the application's units, from juju status) with no result at all is `unknown` (down, or timed out).
 */
export function analyseUnits(expect: HostExpectations, results: readonly UnitExecResult[], units: readonly string[] = []): HostReport[] {
  const reports = results.map((r): HostReport => {
    if (r.code === 0) return analyseOutput(expect, r.unit, r.stdout);
    const said = lastLine(r.stderr) ?? r.message ?? lastLine(r.stdout);
    const how = r.code === undefined ? `Juju ran no probe (task ${r.status ?? "failed"})` : `the probe exited ${r.code}`;
    return { host: r.unit, group: expect.group, application: expect.application, verdict: "unknown", reasons: [said ? `${how}: ${said}` : how], notes: [] };
  });
  const answered = new Set(results.map((r) => r.unit));
  for (const unit of units.filter((u) => !answered.has(u))) {
    reports.push({ host: unit, group: expect.group, application: expect.application, verdict: "unknown", reasons: ["no result from Juju (the unit is down, or did not answer in time)"], notes: [] });
  }
  return reports;
}
