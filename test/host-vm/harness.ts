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
//   verify --hosts  after each boot (and after a change made in the guest), the project's host probe run in the
//              guest as juju exec runs it, judged by verify through the juju fake (hosts.ts)
// Each check that fails is a Failure naming its phase; the result lists them all with each phase's time.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, lstatSync } from "node:fs";
import * as path from "node:path";
import { asCloudInitSeesIt } from "../juju-userdata-merge";
import { boot, copyFromImage, readFromImage, run, writeIntoImage } from "./guest";
import { CACHE_DIR, type Image } from "./image";
import type { CaseResult, HostVmCase, Machine, Rendered } from "./types";
import { curtinDefaultGrub, firstGrubEntry, parseReport, type Report } from "./report";
import { forMachine, render } from "./render";
import { Recorder, checkAfterReboot, checkCloudInit, checkCloudInitOutput, checkDrivers, checkFailedUnits } from "./checks";
import { CHANGE_SCRIPT_PATH, EXEC_COMMAND_PATH, checkVerdict, execCommand, unitOf, verifyGuest } from "./hosts";

const CONSOLE = "console=ttyS0";
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
        // verify --hosts: the command juju exec would send the unit, and a change to make after boot 2 (hosts.ts).
        ...(m.expect.hosts ? [{ path: EXEC_COMMAND_PATH, content: execCommand(c.site), mode: 0o644 }] : []),
        ...(m.expect.hosts?.change ? [{ path: CHANGE_SCRIPT_PATH, content: m.expect.hosts.change.script, mode: 0o644 }] : []),
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
  const hosts = m.expect.hosts;
  const unit = unitOf(c.site, m.group);
  if (hosts) await rec.phase(p("boot 1: verify --hosts"), async () => checkVerdict(rec, p("boot 1: verify --hosts"), verifyGuest(c.site, c.site, unit, first, "exec"), hosts.boot1));

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
  if (hosts) {
    const v = (phase: string, site: typeof c.site, name: string, want: Parameters<typeof checkVerdict>[3]) =>
      rec.phase(p(`boot 2: ${phase}`), async () => checkVerdict(rec, p(`boot 2: ${phase}`), verifyGuest(site, c.site, unit, second, name), want));
    await v("verify --hosts", c.site, "exec", hosts.boot2);
    if (hosts.laterSite) await v("verify --hosts, a later render", hosts.laterSite.site, "exec", hosts.laterSite.expect);
    if (hosts.change) await v(`verify --hosts, ${hosts.change.what}`, c.site, "exec_after_change", hosts.change.expect);
  }
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
