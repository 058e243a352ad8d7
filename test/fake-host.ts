// A fake machine for running the shipped host scripts for real under sh: a fake sysfs tree (SYSFS_ROOT),
// a fake root file system (DESTDIR) and stand-ins for the host's commands on PATH. The tree mirrors sysfs
// where the scripts look: bus/pci/devices/ADDR -> devices/..., a `driver` symlink to bus/pci/drivers/NAME
// (with its `unbind` file), vendor/device/driver_override files, an iommu_group symlink to
// kernel/iommu_groups/N whose devices/ holds links to its members, and bus/pci/drivers_probe; and
// cloud-init's data directory (CLOUD_DATA) with the machine's instance-id.
// Shared by test/render/host-binding.test.ts (the binding scripts) and test/render/host-prepare*.test.ts (the
// script that prepares a machine for its host group).
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

export interface FakeFunction {
  readonly address: string;
  /** vendor:product, e.g. 10de:1bb0 */
  readonly id: string;
  /** The driver bound now, if any. */
  readonly driver?: string;
  readonly group: number;
}

export interface FakeHostOptions {
  /** systemd-detect-virt --container says yes. */
  readonly container?: boolean;
  /** bus/pci/drivers/vfio-pci exists (the default). */
  readonly vfioLoaded?: boolean;
  /** Files of the fake root file system before the run, by path (`/etc/initramfs-tools/modules`). */
  readonly files?: Readonly<Record<string, string>>;
  /** Stand-in commands that exit 1 (after recording their call). */
  readonly failing?: readonly string[];
  /** The machine's MAAS system ID: cloud-init's instance-id (CLOUD_DATA/instance-id); none when absent. */
  readonly systemId?: string;
}

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface FakeHost {
  /** The fake sysfs (SYSFS_ROOT). */
  readonly root: string;
  /** The fake root file system (DESTDIR). */
  readonly dest: string;
  readonly bin: string;
  /** Where the stand-in commands record their calls, one `name args` line each. */
  readonly log: string;
  /** A file of the fake sysfs, by its path under it. */
  read(rel: string): string;
  exists(rel: string): boolean;
  /** Runs script text under sh. */
  run(script: string): RunResult;
  /** Runs an executable file (its own shebang). */
  runFile(file: string): RunResult;
  /** The recorded calls of the stand-in commands, in order. */
  calls(): string[];
  cleanup(): void;
}

/** The driver_override content of an untouched device. */
export const NO_OVERRIDE = "(null)\n";

/** The commands the host scripts run, each recording its call (`systemctl enable UNIT` only links the unit for
 * the next boots: nothing runs). */
const STAND_INS: Readonly<Record<string, string>> = {
  modprobe: "",
  "update-initramfs": "",
  "update-grub": "",
  systemctl: "",
};

/**
 * Builds a fake sysfs with the given functions, an empty fake root (plus `opts.files`), and a bin/
 * directory that stands in for the host's tools: systemd-detect-virt (a container or not) and the
 * commands of STAND_INS.
 */
export function fakeHost(functions: readonly FakeFunction[], opts: FakeHostOptions = {}): FakeHost {
  const base = mkdtempSync(path.join(tmpdir(), "fake-host-"));
  const sys = path.join(base, "sys");
  const dest = path.join(base, "root");
  const bin = path.join(base, "bin");
  const log = path.join(base, "calls.log");
  const pci = path.join(sys, "bus", "pci");
  mkdirSync(path.join(pci, "devices"), { recursive: true });
  writeFileSync(path.join(pci, "drivers_probe"), "");
  if (opts.vfioLoaded ?? true) mkdirSync(path.join(pci, "drivers", "vfio-pci"), { recursive: true });
  for (const f of functions) {
    const dir = path.join(sys, "devices", "pci0000:00", f.address);
    mkdirSync(dir, { recursive: true });
    const [vendor, device] = f.id.split(":");
    writeFileSync(path.join(dir, "vendor"), `0x${vendor}\n`);
    writeFileSync(path.join(dir, "device"), `0x${device}\n`);
    writeFileSync(path.join(dir, "driver_override"), NO_OVERRIDE);
    symlinkSync(dir, path.join(pci, "devices", f.address));
    if (f.driver) {
      const driverDir = path.join(pci, "drivers", f.driver);
      mkdirSync(driverDir, { recursive: true });
      if (!existsSync(path.join(driverDir, "unbind"))) writeFileSync(path.join(driverDir, "unbind"), "");
      symlinkSync(driverDir, path.join(dir, "driver"));
    }
    const group = path.join(sys, "kernel", "iommu_groups", String(f.group));
    mkdirSync(path.join(group, "devices"), { recursive: true });
    symlinkSync(dir, path.join(group, "devices", f.address));
    symlinkSync(group, path.join(dir, "iommu_group"));
  }
  mkdirSync(dest);
  for (const [file, content] of Object.entries(opts.files ?? {})) {
    mkdirSync(path.dirname(path.join(dest, file)), { recursive: true });
    writeFileSync(path.join(dest, file), content);
  }
  mkdirSync(bin);
  const stub = (name: string, body: string) => {
    writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(path.join(bin, name), 0o755);
  };
  stub("systemd-detect-virt", opts.container ? "echo lxc; exit 0" : "echo none; exit 1");
  for (const [name, body] of Object.entries(STAND_INS)) {
    const fails = opts.failing?.includes(name) ? "exit 1" : "";
    stub(name, [`echo "${name}\${*:+ $*}" >> '${log}'`, fails, body].filter(Boolean).join("\n"));
  }
  // cloud-init's data directory: the instance-id, never the test machine's own.
  const cloud = path.join(base, "cloud");
  mkdirSync(cloud);
  if (opts.systemId !== undefined) writeFileSync(path.join(cloud, "instance-id"), `${opts.systemId}\n`);
  const env = { ...process.env, SYSFS_ROOT: sys, DESTDIR: dest, CLOUD_DATA: cloud, PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` };
  const spawn = (cmd: string, args: string[]): RunResult => {
    const r = spawnSync(cmd, args, { env, encoding: "utf8" });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  return {
    root: sys,
    dest,
    bin,
    log,
    read: (rel) => readFileSync(path.join(sys, rel), "utf8"),
    exists: (rel) => existsSync(path.join(sys, rel)),
    run: (script) => {
      const file = path.join(base, "script.sh");
      writeFileSync(file, script);
      return spawn("sh", [file]);
    },
    runFile: (file) => spawn(file, []),
    calls: () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : []),
    cleanup: () => rmSync(base, { recursive: true, force: true }),
  };
}

/** Runs `fn` on a fresh fake host and removes it afterwards. */
export function withFakeHost(functions: readonly FakeFunction[], opts: FakeHostOptions, fn: (host: FakeHost) => void): void {
  const host = fakeHost(functions, opts);
  try {
    fn(host);
  } finally {
    host.cleanup();
  }
}

/** Everything under a directory, symlinks not followed: each path with its kind, mode and content (or
 * link target), to compare a tree before and after a run. */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const relPath = path.posix.join(rel, name);
      const full = path.join(dir, relPath);
      const st = lstatSync(full);
      const mode = (st.mode & 0o7777).toString(8).padStart(4, "0");
      if (st.isSymbolicLink()) out.set(relPath, `link -> ${readlinkSync(full)}`);
      else if (st.isDirectory()) {
        out.set(relPath, `dir ${mode}`);
        walk(relPath);
      } else out.set(relPath, `file ${mode} ${readFileSync(full, "utf8")}`);
    }
  };
  walk("");
  return out;
}
