// The host-vm harness: takes a site (SiteConfig), the machines to boot (QEMU devices, IOMMU) and what
// each must look like after its reboot, and proves it on booted machines:
//   render     the userdata (renderSite) as cloud-init receives it from Juju (asCloudInitSeesIt), the MAAS
//              tag's kernel options (renderSite's kernelOptions), the files the userdata writes (hostFiles)
//   container  the same userdata run by cloud-init in a systemd-nspawn container on the image's root fs:
//              nothing fails, nothing changes but the (inert) files written
//   per machine:
//   boot 1     the deployed machine's first boot, kernel options on its command line, cloud-init running
//              the userdata from a NoCloud seed on the disk
//   grub.cfg   the command line and initramfs update-grub and update-initramfs -u left in the image
//   boot 2     the reboot with exactly those, then what the machine reports from inside: on a site with
//              several host groups, its own group's files and options, and none that only other groups have
// Each check that fails is a Failure naming its phase; the result lists them all with each phase's time.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, lstatSync } from "node:fs";
import * as path from "node:path";
import type { SiteConfig } from "../../config/types";
import { hostFiles, type HostFile } from "../../render/host/files";
import { userdataParts } from "../../render/host/userdata";
import { asCloudInitSeesIt } from "../juju-userdata-merge";
import { renderSite } from "../../render/site";
import { boot, copyFromImage, readFromImage, run, writeIntoImage, type Iommu } from "./guest";
import { CACHE_DIR, type Image } from "./image";

/** What one machine must look like after its reboot. Addresses are DDDD:BB:SS.F as lspci -D prints them. */
export interface MachineExpectations {
  /** Functions that must use vfio-pci. */
  readonly vfio: readonly string[];
  /** Functions that must keep their own driver (address -> driver). */
  readonly keep: Readonly<Record<string, string>>;
  /** Kernel modules that must not be loaded. */
  readonly notLoaded: readonly string[];
  /** Sets of functions that share one IOMMU group (proves the machine really has the situation tested). */
  readonly sameGroup: readonly (readonly string[])[];
  /** Kernel modules the initramfs rebuilt in the guest must hold. */
  readonly initramfsModules: readonly string[];
  /** What the userdata's commands must have said on the first boot: patterns /var/log/cloud-init-output.log
   * must match (cloud-init's `output` setting tees the final stage's runcmd there). */
  readonly cloudInitOutput?: readonly RegExp[];
}

/** One machine of a case: a QEMU machine the userdata is run on, then rebooted. */
export interface Machine {
  /** Names the machine in phase names and file names. */
  readonly name: string;
  readonly iommu: Iommu;
  /** `-device` values of its PCI devices (the boot disk is added by the harness at 00:02.0). */
  readonly devices: readonly string[];
  /** `-netdev` values its devices refer to. */
  readonly netdevs: readonly string[];
  /** The host group this machine is a host of (hostGroups[].name): it is deployed with that group's tag's
   * kernel options and must end up with that group's files. The site's first group when absent. */
  readonly group?: string;
  /** The MAAS kernel options this machine is deployed with (its tags' kernel_opts), when they are not its
   * group's tag's, e.g. a machine of no group (none). */
  readonly kernelOptions?: string;
  /** The files the userdata must leave on this machine, when they are not its group's (hostFiles). */
  readonly files?: readonly HostFile[];
  readonly expect: MachineExpectations;
}

export interface HostVmCase {
  readonly name: string;
  /** The validated site; everything the machines get and must show is rendered from it. */
  readonly site: SiteConfig;
  readonly machines: readonly Machine[];
  /** Also run the userdata in a container (cheap; once per distinct userdata is enough). */
  readonly container: boolean;
  /** Breaks the rendered userdata on purpose (negative cases). The expectations stay those of the site. */
  readonly breakUserdata?: (userdata: string) => string;
  /** Patterns the container run's output must match (what the shipped scripts say there). */
  readonly containerOutput?: readonly RegExp[];
}

export interface Failure {
  readonly phase: string;
  readonly message: string;
}

export interface PhaseTime {
  readonly phase: string;
  readonly ms: number;
}

export interface CaseResult {
  readonly failures: Failure[];
  readonly times: PhaseTime[];
  /** Where the case's disks, consoles and reports are. */
  readonly dir: string;
}

/** Guest time bounds. Measured on 2 cores: a first boot with update-initramfs about 90 s, a reboot about
 * 40 s; the bounds leave room for a loaded CI machine. */
const BOOT1_TIMEOUT_MS = 15 * 60_000;
const BOOT2_TIMEOUT_MS = 10 * 60_000;
const CONTAINER_TIMEOUT_MS = 5 * 60_000;

const PROBE_PATH = "/usr/local/sbin/host-vm-probe";
const PROBE_UNIT = "host-vm-probe.service";
const PROBE_FILES = "/usr/local/etc/host-vm-probe.files";
const SEED_DIR = "/var/lib/cloud/seed/nocloud";

/**
 * The probe's unit: after cloud-init's final stage (which is itself after multi-user.target) on every
 * boot. DefaultDependencies=no, because a unit a target wants is otherwise ordered before that target,
 * and cloud-final.service is ordered after multi-user.target: a cycle systemd breaks by dropping a job.
 */
const PROBE_UNIT_TEXT = `[Unit]
Description=host-vm test probe: report to the second serial port, then power off
DefaultDependencies=no
After=cloud-final.service multi-user.target

[Service]
Type=oneshot
ExecStart=${PROBE_PATH}

[Install]
WantedBy=multi-user.target
`;

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
const slug = (s: string) => s.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "").toLowerCase();

/** The probe's report: its sections by name. */
export type Report = ReadonlyMap<string, string>;

export function parseReport(text: string): Report {
  const sections = new Map<string, string>();
  const parts = text.replace(/\r/g, "").split(/^@@host-vm@@ /m).slice(1);
  for (const part of parts) {
    const nl = part.indexOf("\n");
    const name = nl === -1 ? part : part.slice(0, nl);
    sections.set(name.trim(), nl === -1 ? "" : part.slice(nl + 1).replace(/\n+$/, ""));
  }
  return sections;
}

/** Drivers in use by PCI address, from `lspci -nnk -D`. */
export function driversInUse(lspci: string): Map<string, string> {
  const drivers = new Map<string, string>();
  let current: string | undefined;
  for (const line of lspci.split("\n")) {
    const dev = /^([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) /.exec(line);
    if (dev) {
      current = dev[1]!;
      drivers.set(current, "");
      continue;
    }
    const drv = /^\s+Kernel driver in use: (\S+)/.exec(line);
    if (drv && current) drivers.set(current, drv[1]!);
  }
  return drivers;
}

/** The first menu entry's `linux` and `initrd` lines of a grub.cfg made by grub-mkconfig (10_linux). */
export function firstGrubEntry(grubCfg: string): { kernel: string; args: string; initrd: string } {
  const entry = grubCfg.split(/^menuentry /m)[1];
  if (entry === undefined) throw new Error("grub.cfg has no menuentry");
  const linux = /^\s*linux\s+(\S+)\s*(.*)$/m.exec(entry);
  const initrd = /^\s*initrd\s+(\S+)\s*$/m.exec(entry);
  if (!linux || !initrd) throw new Error("grub.cfg's first menuentry has no linux or initrd line");
  return { kernel: linux[1]!, args: linux[2]!.trim(), initrd: initrd[1]! };
}

/**
 * /etc/default/grub as curtin leaves it on a MAAS deployment: GRUB_CMDLINE_LINUX_DEFAULT replaced by the
 * deployment environment's console= options and everything MAAS put after its "---" separator, which
 * is where MAAS puts the tags' kernel_opts (canonical/curtin curtin/commands/install_grub.py
 * get_carryover_params and replace_grub_cmdline_linux_default; canonical/maas
 * src/provisioningserver/kernel_opts.py compose_kernel_command_line).
 */
export function curtinDefaultGrub(debianDefault: string, carried: string): string {
  const line = `GRUB_CMDLINE_LINUX_DEFAULT="${carried}"`;
  const re = /^GRUB_CMDLINE_LINUX_DEFAULT=.*$/m;
  return re.test(debianDefault) ? debianDefault.replace(re, line) : `${debianDefault}${line}\n`;
}

/** The console the test reads: both boots print the kernel's and systemd's messages on the first serial port. */
const CONSOLE = "console=ttyS0";

interface Rendered {
  /** The userdata as cloud-init receives it from Juju. */
  readonly cloudConfig: string;
  /** The kernel_opts of each group's MAAS tag, by group name ("" for a site's one unnamed group). */
  readonly kernelOptions: ReadonlyMap<string, string>;
  /** The files each group's hosts get, by group name likewise. */
  readonly files: ReadonlyMap<string, readonly HostFile[]>;
  /** What cloud-init's write_files writes on every machine of the model, containers included. */
  readonly written: readonly HostFile[];
}

/** What a machine gets and must show: its group's tag's kernel options and its group's files. */
interface MachineRendered {
  readonly cloudConfig: string;
  readonly kernelOptions: string;
  readonly files: readonly HostFile[];
  /** What only the site's other groups have: none of it may reach this machine. */
  readonly foreign: ForeignToGroup;
}

/** What the other host groups of a site would put on a machine and its own group does not: the paths of
 * their files that are neither its group's files nor written by write_files on every machine (a file at a
 * path both groups write is checked by its content), and their tags' kernel options that its tag lacks.
 * Empty for a machine of a site's only group. */
export interface ForeignToGroup {
  /** Path -> the other groups that write it. */
  readonly files: ReadonlyMap<string, readonly string[]>;
  /** Option -> the other groups whose tag has it. */
  readonly kernelOptions: ReadonlyMap<string, readonly string[]>;
}

/** What the groups other than `group` (every group when undefined: a machine of no group) have and the
 * machine (its files and kernel options) does not. */
function foreignTo(rendered: Rendered, group: string | undefined, files: readonly HostFile[], kernelOptions: string): ForeignToGroup {
  const own = new Set([...files, ...rendered.written].map((f) => f.path));
  const ownOptions = new Set(kernelOptions.split(/\s+/));
  const foreignFiles = new Map<string, string[]>();
  const foreignOptions = new Map<string, string[]>();
  const add = (m: Map<string, string[]>, key: string, other: string) => m.set(key, [...(m.get(key) ?? []), other]);
  for (const [other, otherFiles] of rendered.files) {
    if (other === group) continue;
    for (const f of otherFiles) if (!own.has(f.path)) add(foreignFiles, f.path, other);
    for (const opt of (rendered.kernelOptions.get(other) ?? "").split(/\s+/).filter(Boolean)) if (!ownOptions.has(opt)) add(foreignOptions, opt, other);
  }
  return { files: foreignFiles, kernelOptions: foreignOptions };
}

/** What a machine of a case must not get from the other groups of its site (exported so a test can
 * prove that a mixed-group case has something to tell apart). */
export function foreignToMachine(c: HostVmCase, m: Machine): ForeignToGroup {
  return forMachine(render(c), c, m).foreign;
}

function render(c: HostVmCase): Rendered {
  const artifacts = renderSite(c.site);
  const userdata = c.breakUserdata ? c.breakUserdata(artifacts.userdata) : artifacts.userdata;
  return {
    cloudConfig: asCloudInitSeesIt(userdata),
    kernelOptions: new Map(artifacts.groups.map((g) => [g.group.name ?? "", g.kernelOptions])),
    files: new Map(c.site.groups.map((g) => [g.name ?? "", hostFiles(g)])),
    written: userdataParts(c.site.groups).files,
  };
}

function forMachine(rendered: Rendered, c: HostVmCase, m: Machine): MachineRendered {
  const group = m.group ?? c.site.groups[0]!.name ?? "";
  const kernelOptions = m.kernelOptions ?? rendered.kernelOptions.get(group);
  const groupFiles = rendered.files.get(group);
  // On a site with several groups write_files writes what lets a machine prepare itself (the prepare
  // script): it is on every machine, beside its group's files. With one group it writes just those.
  const files = m.files ?? (groupFiles && [...groupFiles, ...rendered.written.filter((w) => !groupFiles.some((f) => f.path === w.path))]);
  if (kernelOptions === undefined || files === undefined) throw new Error(`machine ${m.name}: no host group ${group}`);
  // A machine whose files are given is not taken for a host of its group (e.g. a machine of no group).
  const foreign = foreignTo(rendered, m.files === undefined ? group : undefined, files, kernelOptions);
  return { cloudConfig: rendered.cloudConfig, kernelOptions, files, foreign };
}

class Recorder {
  readonly failures: Failure[] = [];
  readonly times: PhaseTime[] = [];
  constructor(private readonly log: (line: string) => void) {}

  fail(phase: string, message: string): void {
    this.failures.push({ phase, message });
    this.log(`FAIL ${phase}: ${message}`);
  }

  /** Runs a phase, timing it; a thrown error becomes the phase's failure and returns undefined. */
  async phase<T>(phase: string, fn: () => Promise<T>): Promise<T | undefined> {
    const start = Date.now();
    this.log(`${phase} ...`);
    try {
      return await fn();
    } catch (e) {
      this.fail(phase, e instanceof Error ? e.message : String(e));
      return undefined;
    } finally {
      const ms = Date.now() - start;
      this.times.push({ phase, ms });
      this.log(`${phase}: ${(ms / 1000).toFixed(1)} s`);
    }
  }
}

/** Unmounts what an interrupted earlier run left mounted under `dir` (the container's overlays), so the
 * directory can be removed without reaching into the image's root fs through them. */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[1] ?? "")
    .filter((m) => m.startsWith(`${dir}/`));
  for (const m of mounts.reverse()) await run("umount", ["-l", m], { timeoutMs: 30_000 });
}

/** Runs a case; never throws for a failing check (see CaseResult.failures). */
export async function runCase(c: HostVmCase, image: Image, log: (line: string) => void): Promise<CaseResult> {
  const dir = path.join(CACHE_DIR, "runs", slug(c.name));
  await unmountUnder(dir);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const rec = new Recorder((l) => log(`[${c.name}] ${l}`));
  const rendered = await rec.phase("render", async () => render(c));
  if (rendered) {
    writeFileSync(path.join(dir, "user-data"), rendered.cloudConfig);
    if (c.container) await rec.phase("container", () => containerRun(c, rendered, image, path.join(dir, "container"), rec));
    for (const m of c.machines) await machineRun(c, m, rendered, image, path.join(dir, slug(m.name)), rec);
  }
  return { failures: rec.failures, times: rec.times, dir };
}

async function machineRun(c: HostVmCase, m: Machine, rendered: Rendered, image: Image, dir: string, rec: Recorder): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const r = forMachine(rendered, c, m);
  const disk = path.join(dir, "disk.img");
  const p = (phase: string) => `${m.name}: ${phase}`;

  const prepared = await rec.phase(p("disk"), async () => {
    const cp = await run("cp", ["--sparse=always", image.disk, disk], { timeoutMs: 120_000 });
    if (cp.status !== 0) throw new Error(`cp: ${cp.output}`);
    const debianGrub = readFileSync(path.join(image.rootfs, "etc/default/grub"), "utf8");
    await writeIntoImage(
      disk,
      dir,
      [
        { path: `${SEED_DIR}/meta-data`, content: `instance-id: ${slug(`${c.name}-${m.name}`)}\nlocal-hostname: host-vm\n`, mode: 0o644 },
        { path: `${SEED_DIR}/user-data`, content: r.cloudConfig, mode: 0o644 },
        { path: "/etc/default/grub", content: curtinDefaultGrub(debianGrub, `${CONSOLE} ${r.kernelOptions}`), mode: 0o644 },
        { path: PROBE_PATH, content: readFileSync(path.join(__dirname, "probe.sh"), "utf8"), mode: 0o755 },
        { path: `/etc/systemd/system/${PROBE_UNIT}`, content: PROBE_UNIT_TEXT, mode: 0o644 },
        { path: PROBE_FILES, content: [...r.files.map((f) => f.path), ...r.foreign.files.keys()].map((f) => `${f}\n`).join(""), mode: 0o644 },
      ],
      [{ path: `/etc/systemd/system/multi-user.target.wants/${PROBE_UNIT}`, target: `/etc/systemd/system/${PROBE_UNIT}` }],
    );
    return true;
  });
  if (!prepared) return;

  // Boot 1: the deployed machine's first boot, with the MAAS tag's options on its command line.
  const first = await bootAndReport(rec, p("boot 1"), {
    disk,
    kernel: image.kernel,
    initrd: image.initrd,
    cmdline: `root=/dev/vda ro ${CONSOLE} ${r.kernelOptions}`,
    iommu: m.iommu,
    devices: m.devices,
    netdevs: m.netdevs,
    consoleLog: path.join(dir, "boot1-console.log"),
    probeLog: path.join(dir, "boot1-report.txt"),
    timeoutMs: BOOT1_TIMEOUT_MS,
  });
  if (!first) return;
  checkCloudInit(rec, p("boot 1: cloud-init"), first);
  checkFailedUnits(rec, p("boot 1: systemd"), first);
  checkCloudInitOutput(rec, p("boot 1: cloud-init output"), first, m.expect);
  // The userdata binds the devices at once too (postruncmd), before any reboot.
  checkDrivers(rec, p("boot 1: drivers"), first, m.expect);

  // What the host reboots with: update-grub's command line and update-initramfs's initramfs.
  const next = await rec.phase(p("grub.cfg"), async () => {
    const entry = firstGrubEntry(await readFromImage(disk, dir, "/boot/grub/grub.cfg"));
    const kernel = path.join(dir, "boot2-kernel");
    const initrd = path.join(dir, "boot2-initrd");
    await copyFromImage(disk, dir, entry.kernel, kernel);
    await copyFromImage(disk, dir, entry.initrd, initrd);
    const baseInitrd = readFileSync(image.initrd);
    if (sha256(readFileSync(initrd)) === sha256(baseInitrd)) throw new Error(`${entry.initrd} is the image's own initramfs: update-initramfs -u did not rebuild it`);
    return { kernel, initrd, cmdline: entry.args };
  });
  if (!next) return;

  const second = await bootAndReport(rec, p("boot 2"), {
    disk,
    ...next,
    iommu: m.iommu,
    devices: m.devices,
    netdevs: m.netdevs,
    consoleLog: path.join(dir, "boot2-console.log"),
    probeLog: path.join(dir, "boot2-report.txt"),
    timeoutMs: BOOT2_TIMEOUT_MS,
  });
  if (!second) return;
  checkAfterReboot(rec, (phase) => p(`boot 2: ${phase}`), second, m.expect, r);
  // Disk images are large: keep them only when something failed, for a look with debugfs.
  if (!rec.failures.some((f) => f.phase.startsWith(`${m.name}:`))) rmSync(disk, { force: true });
}

async function bootAndReport(rec: Recorder, phase: string, b: Parameters<typeof boot>[0]): Promise<Report | undefined> {
  return rec.phase(phase, async () => {
    const q = await boot(b);
    const tail = existsSync(b.consoleLog) ? readFileSync(b.consoleLog, "utf8").replace(/\r/g, "").split("\n").slice(-15).join("\n") : "";
    if (q.timedOut) throw new Error(`the guest did not power off within ${b.timeoutMs / 1000} s (console: ${b.consoleLog}):\n${tail}`);
    if (q.status !== 0) throw new Error(`qemu exited ${q.status}: ${q.output.trim()}`);
    const report = parseReport(existsSync(b.probeLog) ? readFileSync(b.probeLog, "utf8") : "");
    if (!report.has("end")) throw new Error(`the guest powered off without the probe's full report (console: ${b.consoleLog}):\n${tail}`);
    return report;
  });
}

function checkCloudInit(rec: Recorder, phase: string, report: Report): void {
  const raw = report.get("cloud_init_result") ?? "";
  let errors: unknown;
  try {
    errors = (JSON.parse(raw) as { v1: { errors: unknown } }).v1.errors;
  } catch {
    rec.fail(phase, `no cloud-init result: ${raw}`);
    return;
  }
  if (!Array.isArray(errors) || errors.length > 0) rec.fail(phase, `cloud-init reported errors: ${JSON.stringify(errors)}`);
}

function checkFailedUnits(rec: Recorder, phase: string, report: Report): void {
  const failed = (report.get("failed_units") ?? "").trim();
  if (failed !== "") rec.fail(phase, `failed units:\n${failed}\n${report.get("failed_units_status") ?? ""}`);
}

/** What the userdata's commands said, as cloud-init's output log holds it. */
function checkCloudInitOutput(rec: Recorder, phase: string, report: Report, expect: MachineExpectations): void {
  const log = report.get("cloud_init_output") ?? "";
  const unmatched = (expect.cloudInitOutput ?? []).filter((re) => !re.test(log));
  if (unmatched.length > 0) rec.fail(phase, `/var/log/cloud-init-output.log does not match ${unmatched.map(String).join(", ")}; its end:\n${log.split("\n").slice(-30).join("\n")}`);
}

/** The devices on vfio-pci and the others on their own drivers, as `lspci -nnk` shows them. */
function checkDrivers(rec: Recorder, phase: string, report: Report, expect: MachineExpectations): void {
  const drivers = driversInUse(report.get("lspci") ?? "");
  const wanted: [string, string][] = [...expect.vfio.map((a): [string, string] => [a, "vfio-pci"]), ...Object.entries(expect.keep)];
  const wrong = wanted.filter(([addr, driver]) => drivers.get(addr) !== driver).map(([addr, driver]) => `${addr} uses ${drivers.get(addr) || "no driver"}, expected ${driver}`);
  if (wrong.length > 0) rec.fail(phase, `${wrong.join("; ")}\n${report.get("lspci")}`);
}

/** Module names as modprobe compares them: - and _ alike (vfio_pci is the file vfio-pci.ko on Linux 6.1). */
const moduleName = (s: string) => s.replace(/-/g, "_");

function checkAfterReboot(rec: Recorder, p: (phase: string) => string, report: Report, expect: MachineExpectations, r: MachineRendered): void {
  checkCloudInit(rec, p("cloud-init"), report);
  checkFailedUnits(rec, p("systemd"), report);

  checkDrivers(rec, p("drivers"), report, expect);

  const loaded = new Set((report.get("modules") ?? "").split("\n").map(moduleName));
  const present = expect.notLoaded.filter((mod) => loaded.has(moduleName(mod)));
  if (present.length > 0) rec.fail(p("blacklist"), `loaded although blacklisted: ${present.join(", ")}`);

  const cmdline = (report.get("cmdline") ?? "").trim().split(/\s+/);
  const counts = r.kernelOptions.split(/\s+/).filter(Boolean).map((opt) => `${opt} x${cmdline.filter((w) => w === opt).length}`);
  if (counts.some((c) => !c.endsWith(" x1"))) rec.fail(p("kernel command line"), `each MAAS tag option must be there exactly once: ${counts.join(", ")}\n/proc/cmdline: ${cmdline.join(" ")}`);
  const foreignOptions = [...r.foreign.kernelOptions].filter(([opt]) => cmdline.includes(opt));
  if (foreignOptions.length > 0) rec.fail(p("kernel command line"), `options of other host groups' tags: ${foreignOptions.map(([opt, groups]) => `${opt} (${groups.join(", ")})`).join(", ")}\n/proc/cmdline: ${cmdline.join(" ")}`);

  const groups = new Map<string, string>();
  for (const line of (report.get("iommu_groups") ?? "").split("\n")) {
    const [group, , addr] = line.split("/");
    if (group && addr) groups.set(addr, group);
  }
  if (groups.size === 0) rec.fail(p("iommu groups"), `/sys/kernel/iommu_groups is empty\n${report.get("iommu_dmesg")}`);
  for (const set of expect.sameGroup) {
    const ids = new Set(set.map((a) => groups.get(a)));
    if (ids.size !== 1 || ids.has(undefined)) rec.fail(p("iommu groups"), `${set.join(", ")} are not in one IOMMU group: ${set.map((a) => `${a} in ${groups.get(a) ?? "none"}`).join(", ")}`);
  }

  const initramfs = new Set((report.get("initramfs") ?? "").split("\n").map((f) => moduleName(path.basename(f).replace(/\.ko(\.\w+)?$/, ""))));
  const missing = expect.initramfsModules.filter((mod) => !initramfs.has(moduleName(mod)));
  if (missing.length > 0) rec.fail(p("initramfs"), `the initramfs it booted lacks ${missing.join(", ")}`);

  for (const f of r.files) {
    const got = report.get(`file ${f.path}`);
    if (got === undefined || got === "missing") {
      rec.fail(p("files"), `${f.path} is missing`);
      continue;
    }
    const [stat = "", b64 = ""] = got.split("\n");
    const content = Buffer.from(b64, "base64").toString("utf8");
    const [mode] = stat.split(" ");
    if (`0${mode}` !== f.permissions) rec.fail(p("files"), `${f.path} has mode 0${mode}, the render says ${f.permissions}`);
    const ok = f.append ? content.endsWith(f.content) : content === f.content;
    if (!ok) rec.fail(p("files"), `${f.path} ${f.append ? "does not end with" : "differs from"} what the render says:\n${content}`);
  }
  for (const [file, groups] of r.foreign.files) {
    const got = report.get(`file ${file}`);
    if (got !== "missing") rec.fail(p("files"), `${file} is there, but only host group ${groups.join(", ")} writes it:\n${got ?? "(not reported)"}`);
  }
}

/** cloud-init's own records (instance data, semaphores of the modules that ran): not changes to the
 * machine, and they differ with the keys a userdata has. */
const CLOUD_INIT_STATE = "/var/lib/cloud/";

/** Every path under an overlay's upper directory (files, symlinks, whiteouts), as paths in the container,
 * but cloud-init's own records. */
function changedPaths(upper: string): Set<string> {
  const out = new Set<string>();
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      const relPath = `${rel}/${name}`;
      if (lstatSync(full).isDirectory()) walk(full, relPath);
      else if (!relPath.startsWith(CLOUD_INIT_STATE)) out.add(relPath);
    }
  };
  walk(upper, "");
  return out;
}

/** cloud-init's stages as systemd would run them on boot, inside `systemd-nspawn` (the container's PID 1
 * is this shell, not systemd: the guards under test ask `systemd-detect-virt --container`, which
 * answers from nspawn's $container and /run/host/container-manager). */
const CLOUD_INIT_STAGES = "cloud-init init --local && cloud-init init && cloud-init modules --mode=config && cloud-init modules --mode=final";

/**
 * Runs cloud-init in a container on an overlay of the image's root fs, with `seed` as its userdata and
 * /sys/bus/pci/devices replaced by a directory holding the machines' device addresses (an LXD container
 * sees the host's devices, read-only: only the container check may keep the userdata's commands off).
 * Then runs every executable the userdata wrote, as rc-local.service would on the container's next boot.
 * Returns the paths the run changed and cloud-init's result.
 */
async function containerCloudInit(
  image: Image,
  dir: string,
  seed: string,
  addresses: readonly string[],
  executables: readonly string[],
): Promise<{ changed: Set<string>; errors: unknown; output: string }> {
  const upper = path.join(dir, "upper");
  const work = path.join(dir, "work");
  const root = path.join(dir, "root");
  const pci = path.join(dir, "pci-devices");
  for (const d of [upper, work, root, pci]) mkdirSync(d, { recursive: true });
  for (const a of addresses) mkdirSync(path.join(pci, a), { recursive: true });
  const mount = await run("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${image.rootfs},upperdir=${upper},workdir=${work}`, root], { timeoutMs: 30_000 });
  if (mount.status !== 0) throw new Error(`mount overlay: ${mount.output}`);
  try {
    writeFileSync(path.join(root, SEED_DIR, "meta-data"), "instance-id: host-vm-container\nlocal-hostname: host-vm\n");
    writeFileSync(path.join(root, SEED_DIR, "user-data"), seed);
    const script = [CLOUD_INIT_STAGES, ...executables.map((e) => `${e}`)].join(" && ");
    const r = await run(
      "systemd-nspawn",
      ["--quiet", "--register=no", "--keep-unit", "--pipe", "-D", root, `--bind-ro=${pci}:/sys/bus/pci/devices`, "sh", "-c", script],
      { timeoutMs: CONTAINER_TIMEOUT_MS },
    );
    if (r.timedOut) throw new Error(`the container did not finish within ${CONTAINER_TIMEOUT_MS / 1000} s:\n${r.output.slice(-3000)}`);
    if (r.status !== 0) throw new Error(`the container's run exited ${r.status}:\n${r.output.slice(-3000)}`);
    const result = JSON.parse(readFileSync(path.join(root, "var/lib/cloud/data/result.json"), "utf8")) as { v1: { errors: unknown } };
    return { changed: changedPaths(upper), errors: result.v1.errors, output: r.output };
  } finally {
    await run("umount", [root], { timeoutMs: 30_000 });
  }
}

/**
 * The container phase: the userdata must fail nothing, and change nothing but the files it writes
 * (cloud-init's write_files cannot be made conditional; in a container they are inert). What cloud-init
 * itself records is told apart by a baseline run of the same container with Juju's own commands only.
 */
async function containerRun(c: HostVmCase, r: Rendered, image: Image, dir: string, rec: Recorder): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  const addresses = [...new Set(c.machines.flatMap((m) => [...m.expect.vfio, ...Object.keys(m.expect.keep)]))];
  const executables = r.written.filter((f) => f.permissions === "0755").map((f) => f.path);
  const baseline = await containerCloudInit(image, path.join(dir, "baseline"), asCloudInitSeesIt("{}"), addresses, []);
  const actual = await containerCloudInit(image, path.join(dir, "userdata"), r.cloudConfig, addresses, executables);
  writeFileSync(path.join(dir, "output.txt"), actual.output);
  if (!Array.isArray(actual.errors) || actual.errors.length > 0) rec.fail("container", `cloud-init reported errors: ${JSON.stringify(actual.errors)}`);
  const written = new Set(r.written.map((f) => f.path));
  const extra = [...actual.changed].filter((f) => !baseline.changed.has(f) && !written.has(f)).sort();
  const lacking = [...baseline.changed].filter((f) => !actual.changed.has(f)).sort();
  const notWritten = [...written].filter((f) => !actual.changed.has(f)).sort();
  if (extra.length > 0) rec.fail("container", `the userdata changed more than the files it writes: ${extra.join(", ")}`);
  if (lacking.length > 0) rec.fail("container", `paths a plain cloud-init run changes that this one did not: ${lacking.join(", ")}`);
  if (notWritten.length > 0) rec.fail("container", `files the render says are written but were not: ${notWritten.join(", ")}`);
  const unsaid = (c.containerOutput ?? []).filter((re) => !re.test(actual.output));
  if (unsaid.length > 0) rec.fail("container", `the run's output does not match ${unsaid.map(String).join(", ")}:\n${actual.output.slice(-3000)}`);
}
