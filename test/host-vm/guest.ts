// Tools of the host-vm test: child processes with a time bound, reading and writing files inside an
// ext4 disk image with debugfs (no mounting), and QEMU machines with an emulated IOMMU (TCG: KVM is not
// usable on the machines this runs on, issue #13).
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";

export interface RunResult {
  /** Exit status; null when killed. */
  readonly status: number | null;
  /** stdout and stderr, interleaved as they came. */
  readonly output: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly ms: number;
}

/** Children still running: ended when the test process exits early, so no guest outlives the suite. */
const running = new Set<ChildProcess>();
const killAll = () => {
  for (const child of running) child.kill("SIGKILL");
};
process.on("exit", killAll);
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(code);
  });
}

/**
 * Runs a command to its end or until timeoutMs, never throwing on a non-zero exit. At the timeout it gets
 * SIGTERM (systemd-nspawn then stops its container), and SIGKILL 10 s later.
 */
export function run(cmd: string, args: readonly string[], opts: { timeoutMs: number; cwd?: string }): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
    running.add(child);
    let output = "";
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString();
      output += b.toString();
    });
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
      output += b.toString();
    });
    let kill: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGTERM");
      kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
    }, opts.timeoutMs);
    const done = () => {
      clearTimeout(timer);
      clearTimeout(kill);
      running.delete(child);
    };
    child.on("error", (e) => {
      done();
      reject(e);
    });
    child.on("close", (status) => {
      done();
      resolve({ status, output, stdout, stderr, timedOut, ms: Date.now() - started });
    });
  });
}

/** A file to put into the disk image. */
export interface GuestFile {
  readonly path: string;
  readonly content: string;
  /** Octal permission bits, e.g. 0o755. */
  readonly mode: number;
}

/** debugfs prints its banner on stderr; any other stderr line is an error it did not exit on. */
function debugfsErrors(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.trim() !== "" && !/^debugfs \d/.test(l));
}

/** Runs debugfs commands on an image; throws on any error it reports (it exits 0 regardless). */
async function debugfs(image: string, workDir: string, cmds: readonly string[], write: boolean): Promise<string> {
  const script = path.join(workDir, "debugfs.cmds");
  writeFileSync(script, `${cmds.join("\n")}\n`);
  const r = await run("debugfs", [...(write ? ["-w"] : []), "-f", script, image], { timeoutMs: 60_000 });
  const errors = debugfsErrors(r.stderr);
  if (r.status !== 0 || errors.length > 0) throw new Error(`debugfs ${cmds.join("; ")} on ${image}:\n${errors.join("\n") || r.output}`);
  return r.stdout;
}

/** True when the path exists in the image. */
async function existsInImage(image: string, file: string): Promise<boolean> {
  const r = await run("debugfs", ["-R", `stat ${file}`, image], { timeoutMs: 60_000 });
  return debugfsErrors(r.stderr).length === 0;
}

/**
 * Writes files (root:root, the given mode; an existing file is replaced) and symlinks into an ext4 image
 * with `debugfs -w`. Their directories must exist in the image.
 */
export async function writeIntoImage(
  image: string,
  workDir: string,
  files: readonly GuestFile[],
  symlinks: readonly { path: string; target: string }[] = [],
): Promise<void> {
  for (const [i, f] of files.entries()) {
    const local = path.join(workDir, `guest-file-${i}`);
    writeFileSync(local, f.content);
    const cmds = (await existsInImage(image, f.path)) ? [`rm ${f.path}`] : [];
    cmds.push(`write ${local} ${f.path}`, `sif ${f.path} mode 0${(0o100000 | f.mode).toString(8)}`, `sif ${f.path} uid 0`, `sif ${f.path} gid 0`);
    await debugfs(image, workDir, cmds, true);
  }
  for (const s of symlinks) await debugfs(image, workDir, [`symlink ${s.path} ${s.target}`], true);
}

/** Copies a file out of an ext4 image to `dest` (`debugfs dump`); throws when it is missing. */
export async function copyFromImage(image: string, workDir: string, file: string, dest: string): Promise<void> {
  if (!(await existsInImage(image, file))) throw new Error(`${file} is not in the image`);
  await debugfs(image, workDir, [`dump ${file} ${dest}`], false);
}

/** A text file's content from an ext4 image. */
export async function readFromImage(image: string, workDir: string, file: string): Promise<string> {
  const dest = path.join(workDir, `from-image-${path.basename(file)}`);
  await copyFromImage(image, workDir, file, dest);
  return readFileSync(dest, "utf8");
}

export type Iommu = "intel" | "amd";

/** QEMU's emulated IOMMU for each vendor. It must come before the other PCI devices. Intel's needs the
 * split irqchip for interrupt remapping; AMD's takes the same (measured: AMD-Vi "Interrupt remapping
 * enabled" and populated groups under TCG). */
const IOMMU_DEVICE: Readonly<Record<Iommu, string>> = {
  intel: "intel-iommu,intremap=on",
  amd: "amd-iommu,intremap=on",
};

export interface Boot {
  readonly disk: string;
  readonly kernel: string;
  readonly initrd: string;
  readonly cmdline: string;
  readonly iommu: Iommu;
  /** `-device` values of the machine's own PCI devices (the disk is added by this module). */
  readonly devices: readonly string[];
  /** `-netdev` values the devices refer to. */
  readonly netdevs: readonly string[];
  /** Serial port 0 (the kernel's and systemd's console) and 1 (the probe's report). */
  readonly consoleLog: string;
  readonly probeLog: string;
  readonly timeoutMs: number;
}

/** vCPUs per machine (HOST_VM_SMP overrides, for measuring). */
export const VCPUS = Number(process.env.HOST_VM_SMP ?? "1");

/** The QEMU arguments of one boot: q35 with the IOMMU, TCG on 2 vCPUs, no default devices, the kernel
 * booted directly, the guest powering itself off (-no-reboot makes a reboot or panic end QEMU too). */
export function qemuArgs(b: Boot): string[] {
  return [
    "-nodefaults",
    "-no-reboot",
    "-display", "none",
    "-machine", "q35,kernel-irqchip=split",
    "-accel", "tcg,thread=multi",
    "-smp", String(VCPUS),
    "-m", "2048",
    "-device", IOMMU_DEVICE[b.iommu],
    "-kernel", b.kernel,
    "-initrd", b.initrd,
    "-append", b.cmdline,
    "-drive", `file=${b.disk},format=raw,if=none,id=disk0`,
    "-device", "virtio-blk-pci,drive=disk0,bus=pcie.0,addr=02.0",
    ...b.netdevs.flatMap((n) => ["-netdev", n]),
    ...b.devices.flatMap((d) => ["-device", d]),
    "-serial", `file:${b.consoleLog}`,
    "-serial", `file:${b.probeLog}`,
    "-monitor", "none",
  ];
}

export function boot(b: Boot): Promise<RunResult> {
  return run("qemu-system-x86_64", qemuArgs(b), { timeoutMs: b.timeoutMs });
}
