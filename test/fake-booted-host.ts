// A fake GPU host through its life, for running the host probe (render/host/probe.ts) against it: deployed by
// MAAS (its tag's kernel options on the first boot's command line and, through curtin, in /etc/default/grub),
// prepared by the model's userdata (the real prepare script, run as postruncmd runs it), rebooted, and changed
// behind our back (an initramfs rebuilt, a driver taking a companion). Built on test/fake-host.ts (the fake sysfs
// and root), with what the probe reads besides: a fake /proc (PROC_ROOT: cmdline, stat's btime, osrelease,
// hostname, modules), grub.cfg, the initramfs, cloud-init's status files; and stand-ins that do what the real
// tools do to those files: update-grub sources /etc/default/grub and /etc/default/grub.d/*.cfg as grub-mkconfig
// does and writes grub.cfg's entries (grub 10_linux: the normal entry with GRUB_CMDLINE_LINUX and
// GRUB_CMDLINE_LINUX_DEFAULT, the recovery entry with GRUB_CMDLINE_LINUX only); update-initramfs -u builds the
// running kernel's initramfs with the modules /etc/initramfs-tools/modules lists; lsinitramfs lists it;
// systemctl enable links a unit into the .wants/ directory of its WantedBy= target.
// Time is a virtual clock (epoch seconds), so "rebuilt after this boot" is decided by the test, not by the speed
// of the machine running it. The kernel's part (which driver takes a function) is the test's to say, but for
// one rule: a function whose driver_override the prepare script set to vfio-pci is on vfio-pci after its probe.
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import * as path from "node:path";
import type { HostGroup } from "../config/types";
import { INITRAMFS_MODULES_PATH } from "../render/host/files";
import { userdataParts } from "../render/host/userdata";
import { PREPARE_SCRIPT_PATH } from "../render/host/prepare";
import { shellQuote } from "../render/shell";
import {
  MARKER_PATH,
  WRITE_MARKER,
  WRITE_MARKER_FUNCTION,
  type MarkerResult,
} from "../render/host/marker";
import { CLOUD_INIT_OUTPUT_LOG, CLOUD_INIT_RESULT_PATH, CLOUD_INIT_STATUS_PATH, GRUB_CFG_PATH, initramfsPath } from "../render/host/probe";
import { fakeHost, NO_OVERRIDE, type FakeFunction, type FakeHost, type RunResult } from "./fake-host";

export const KERNEL = "6.8.0-45-generic";
/** The virtual time the machine is first booted at (2024-06-03T06:40:00Z). */
export const DEPLOYED_AT = 1_717_396_800;
const ROOT_ARGS = "root=UUID=4f0c9b1e-2a7d-4c55-9d0e-3b7f1c2d8e6a ro";
/** Modules every fake initramfs holds (a few of MODULES=most's), none of them vfio. */
const BASE_INITRAMFS = ["kernel/drivers/ata/ahci.ko.zst", "kernel/drivers/nvme/host/nvme.ko.zst", "kernel/drivers/gpu/drm/nouveau/nouveau.ko.zst"];
/** Where the stand-in update-initramfs puts a module /etc/initramfs-tools/modules lists (as the kernel ships
 * them: vfio_pci's file is vfio-pci.ko). */
const MODULE_FILES: Readonly<Record<string, string>> = {
  vfio: "kernel/drivers/vfio/vfio.ko.zst",
  vfio_iommu_type1: "kernel/drivers/vfio/vfio_iommu_type1.ko.zst",
  vfio_pci: "kernel/drivers/vfio/pci/vfio-pci.ko.zst",
};
/** What vfio-pci in use pulls into /proc/modules. */
const VFIO_LOADED = ["vfio_pci", "vfio_pci_core", "vfio_iommu_type1", "vfio"];

export interface BootedFunction extends FakeFunction {
  /** sysfs class, e.g. 0x030000 (a VGA controller), 0x060400 (a PCI bridge). */
  readonly class?: string;
}

export interface BootedHostOptions {
  /** The kernel options MAAS deployed it with (its tags' kernel_opts): on the first boot's command line, and in
   * /etc/default/grub (curtin). */
  readonly maasKernelOptions?: string;
  readonly hostname?: string;
  /** cloud-init's instance-id: the MAAS system ID (groups whose tag lists its machines). */
  readonly systemId?: string;
  /** lsinitramfs is installed (default true). */
  readonly lsinitramfs?: boolean;
  /** An LXD container (systemd-detect-virt --container says so). */
  readonly container?: boolean;
}

export interface PrepareOptions {
  /** The marker the prepare script wrote: removed when false (a prepare script from before the marker);
   * `render` replaces the hash it wrote (a render that differs in nothing the probe sees). */
  readonly marker?: false | { readonly render?: string };
  /** Groups whose userdata prepares the machine, when not the site's (an older render). */
  readonly groups?: readonly HostGroup[];
}

/** A fake host; `now` is its virtual clock. */
export class BootedHost {
  readonly host: FakeHost;
  readonly proc: string;
  readonly bin: string;
  now = DEPLOYED_AT;
  private booted = DEPLOYED_AT;
  private cmdline: string;
  private readonly base: string;

  constructor(
    readonly groups: readonly HostGroup[],
    functions: readonly BootedFunction[],
    private readonly opts: BootedHostOptions = {},
  ) {
    this.host = fakeHost(functions, {
      files: { [INITRAMFS_MODULES_PATH]: "# List of modules that you want to include in your initramfs.\n" },
      systemId: opts.systemId,
      container: opts.container,
    });
    this.base = path.dirname(this.host.root);
    for (const f of functions) if (f.class) writeFileSync(this.sysPath(f.address, "class"), `${f.class}\n`);
    this.proc = path.join(this.base, "proc");
    this.bin = path.join(this.base, "booted-bin");
    mkdirSync(path.join(this.proc, "sys", "kernel"), { recursive: true });
    writeFileSync(path.join(this.proc, "sys", "kernel", "osrelease"), `${KERNEL}\n`);
    writeFileSync(path.join(this.proc, "sys", "kernel", "hostname"), `${opts.hostname ?? "gpu-host-1"}\n`);
    this.standIns();
    const maas = opts.maasKernelOptions ?? "";
    // curtin replaces GRUB_CMDLINE_LINUX_DEFAULT with what MAAS put after "---" (test/host-vm/harness.ts curtinDefaultGrub).
    this.write("/etc/default/grub", `GRUB_DEFAULT=0\nGRUB_TIMEOUT=0\nGRUB_CMDLINE_LINUX_DEFAULT="console=ttyS0 ${maas}"\nGRUB_CMDLINE_LINUX=""\n`);
    this.write(`/lib/modules/${KERNEL}/modules.builtin`, "kernel/drivers/ata/libata.ko\nkernel/drivers/pci/pcie/portdrv.ko\n");
    this.write(initramfsPath(KERNEL), this.initramfsListing([]), DEPLOYED_AT - 86_400);
    const grub = this.run("update-grub");
    if (grub.status !== 0) throw new Error(`update-grub: ${grub.stderr}`);
    this.cmdline = `BOOT_IMAGE=/boot/vmlinuz-${KERNEL} ${ROOT_ARGS} console=ttyS0 ${maas}`.trim();
    this.write(CLOUD_INIT_STATUS_PATH, '{\n "v1": {\n  "datasource": null,\n  "stage": "modules-final"\n }\n}\n');
    this.syncProc();
  }

  get dest(): string {
    return this.host.dest;
  }

  /** The environment the scripts run with: the fake trees and the stand-ins first on PATH. */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      SYSFS_ROOT: this.host.root,
      DESTDIR: this.host.dest,
      PROC_ROOT: this.proc,
      CLOUD_DATA: path.join(this.base, "cloud"),
      PATH: `${this.bin}:${this.host.bin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
      ...extra,
    };
  }

  /** Runs a command line under sh in the machine's environment. */
  run(command: string, extra: Record<string, string> = {}): RunResult {
    const r = spawnSync("sh", ["-c", command], { env: this.env(extra), encoding: "utf8" });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** Runs script text (the probe) under sh; without lsinitramfs, with a PATH that has only the tools the probe
   * uses (the machine running the tests may have initramfs-tools). */
  runScript(script: string, extra: Record<string, string> = {}): RunResult {
    const file = path.join(this.base, "probe.sh");
    writeFileSync(file, script);
    const env = this.opts.lsinitramfs === false ? this.env({ PATH: `${this.bin}:${this.host.bin}:${this.probeTools()}`, ...extra }) : this.env(extra);
    const r = spawnSync("/bin/sh", [file], { env, encoding: "utf8" });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /**
   * cloud-init's first boot: write_files puts the prepare script in place, postruncmd runs it (its output to
   * cloud-init-output.log; it writes the marker at its end), then cloud-init's result.
   * Two minutes after the boot.
   */
  prepare(opts: PrepareOptions = {}): RunResult {
    const groups = opts.groups ?? this.groups;
    this.now = this.booted + 120;
    const script = userdataParts(groups).files.find((f) => f.path === PREPARE_SCRIPT_PATH)!;
    this.write(PREPARE_SCRIPT_PATH, script.content);
    chmodSync(this.file(PREPARE_SCRIPT_PATH), 0o755);
    const before = this.initramfsMtime();
    const r = this.run(shellQuote(this.file(PREPARE_SCRIPT_PATH)), { FAKE_NOW: String(this.now) });
    this.append(CLOUD_INIT_OUTPUT_LOG, r.stdout + r.stderr);
    if (this.initramfsMtime() !== before) utimesSync(this.file(initramfsPath(KERNEL)), this.now, this.now);
    // The kernel: driver_override vfio-pci, then drivers_probe, puts the function on vfio-pci.
    for (const a of this.addresses()) if (readFileSync(this.sysPath(a, "driver_override"), "utf8") === "vfio-pci\n") this.setDriver(a, "vfio-pci");
    // The prepare script writes the marker itself (write_marker); a script from before the marker wrote none.
    if (opts.marker === false) rmSync(this.file(MARKER_PATH), { force: true });
    else if (opts.marker?.render !== undefined) {
      const m = readFileSync(this.file(MARKER_PATH), "utf8");
      this.write(MARKER_PATH, m.replace(/^render=.*$/m, `render=${opts.marker.render}`));
    }
    this.cloudInitDone(r.status === 0 ? [] : ["('scripts_user', RuntimeError('Runparts: 1 failures (runcmd) in 1 attempted commands'))"]);
    return r;
  }

  /** cloud-init's first boot on a machine the model's userdata never reached: it ends, nothing of ours ran. */
  finishCloudInit(): void {
    this.now = this.booted + 120;
    this.cloudInitDone([]);
  }

  /** The marker, written by the real write_marker function, dated by the virtual clock. */
  writeMarker(result: MarkerResult, group: string, render: string, failed: string): RunResult {
    const r = this.run(`log() { printf 'pci-passthrough-prepare: %s\\n' "$*"; }\n${WRITE_MARKER_FUNCTION}\n${[WRITE_MARKER, result, group, render, failed].map(shellQuote).join(" ")}`, {
      FAKE_NOW: String(this.now),
    });
    if (r.status !== 0 || !existsSync(this.file(MARKER_PATH))) throw new Error(`write_marker: ${r.stdout}${r.stderr}`);
    return r;
  }

  /**
   * A reboot, ten minutes later: the command line of grub.cfg's default entry, /run emptied and cloud-init done
   * again (no errors), driver_override reset, and the drivers the test says (others keep theirs: a prepared
   * host's kernel binds its devices to vfio-pci again).
   */
  reboot(drivers: Readonly<Record<string, string | undefined>> = {}): void {
    this.now += 600;
    this.booted = this.now;
    const entry = /^\s*linux\s+(\S+)\s*(.*)$/m.exec(readFileSync(this.file(GRUB_CFG_PATH), "utf8"));
    if (!entry) throw new Error("grub.cfg has no linux line");
    this.cmdline = `BOOT_IMAGE=${entry[1]} ${entry[2]!.trim()}`;
    rmSync(path.join(this.dest, "run"), { recursive: true, force: true });
    this.cloudInitDone([]);
    for (const a of this.addresses()) writeFileSync(this.sysPath(a, "driver_override"), NO_OVERRIDE);
    for (const [a, d] of Object.entries(drivers)) this.setDriver(a, d);
    this.syncProc();
  }

  /** A command run later, `after` seconds after the boot (e.g. update-initramfs -u by an upgrade): the
   * initramfs it rebuilds is dated then. */
  later(command: string, after = 3600): RunResult {
    this.now = this.booted + after;
    const before = this.initramfsMtime();
    const r = this.run(command);
    if (this.initramfsMtime() !== before) utimesSync(this.file(initramfsPath(KERNEL)), this.now, this.now);
    return r;
  }

  /** Binds a function to a driver (or none), as the kernel would. */
  setDriver(address: string, driver: string | undefined): void {
    const link = this.sysPath(address, "driver");
    if (existsSync(link) || this.isLink(link)) unlinkSync(link);
    if (driver !== undefined) {
      const dir = path.join(this.host.root, "bus", "pci", "drivers", driver);
      mkdirSync(dir, { recursive: true });
      if (!existsSync(path.join(dir, "unbind"))) writeFileSync(path.join(dir, "unbind"), "");
      symlinkSync(dir, link);
    }
    this.syncProc();
  }

  /** A file of the fake root, by its absolute path on the machine. */
  file(p: string): string {
    return path.join(this.dest, p);
  }

  write(p: string, content: string, mtime?: number): void {
    mkdirSync(path.dirname(this.file(p)), { recursive: true });
    writeFileSync(this.file(p), content);
    if (mtime !== undefined) utimesSync(this.file(p), mtime, mtime);
  }

  cleanup(): void {
    this.host.cleanup();
  }

  /** A directory with the tools the probe runs, linked from this machine's, and nothing else. */
  private probeTools(): string {
    const dir = path.join(this.base, "probe-tools");
    if (existsSync(dir)) return dir;
    mkdirSync(dir);
    for (const tool of ["cat", "cut", "grep", "readlink", "sed", "sha256sum", "stat", "tail"]) {
      const found = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
      if (found === "") throw new Error(`${tool} not found`);
      symlinkSync(found, path.join(dir, tool));
    }
    return dir;
  }

  private append(p: string, content: string): void {
    const old = existsSync(this.file(p)) ? readFileSync(this.file(p), "utf8") : "";
    this.write(p, old + content);
  }

  private cloudInitDone(errors: readonly string[]): void {
    this.write(CLOUD_INIT_STATUS_PATH, '{\n "v1": {\n  "datasource": "DataSourceMAAS [http://10.0.0.2:5248/MAAS/metadata/]",\n  "stage": null\n }\n}\n');
    this.write(CLOUD_INIT_RESULT_PATH, `${JSON.stringify({ v1: { datasource: "DataSourceMAAS [http://10.0.0.2:5248/MAAS/metadata/]", errors } }, null, 1)}\n`);
  }

  private addresses(): string[] {
    return readdirSync(path.join(this.host.root, "bus", "pci", "devices"));
  }

  private sysPath(address: string, name: string): string {
    return path.join(this.host.root, "devices", "pci0000:00", address, name);
  }

  private isLink(p: string): boolean {
    try {
      readlinkSync(p);
      return true;
    } catch {
      return false;
    }
  }

  private initramfsMtime(): number | undefined {
    const f = this.file(initramfsPath(KERNEL));
    return existsSync(f) ? statSync(f).mtimeMs : undefined;
  }

  private initramfsListing(modules: readonly string[]): string {
    const files = [...BASE_INITRAMFS, ...modules.map((m) => MODULE_FILES[m] ?? `kernel/extra/${m}.ko.zst`)];
    return files.map((f) => `usr/lib/modules/${KERNEL}/${f}\n`).join("");
  }

  /** /proc: this boot's command line and start, and the modules of the drivers in use. */
  private syncProc(): void {
    writeFileSync(path.join(this.proc, "cmdline"), `${this.cmdline}\n`);
    writeFileSync(path.join(this.proc, "stat"), `cpu  4705 356 584 3699176 23060 0 277 0 0 0\nbtime ${this.booted}\nprocesses 3414\n`);
    const drivers = new Set<string>();
    for (const a of this.addresses()) {
      const link = this.sysPath(a, "driver");
      if (this.isLink(link)) drivers.add(path.basename(readlinkSync(link)));
    }
    const modules = [...drivers].flatMap((d) => (d === "vfio-pci" ? VFIO_LOADED : [d.replace(/-/g, "_")]));
    writeFileSync(path.join(this.proc, "modules"), [...new Set(modules)].map((m) => `${m} 86016 0 - Live 0x0000000000000000\n`).join(""));
  }

  /** The stand-ins for the host's tools that change what the probe reads (see the head of this file). */
  private standIns(): void {
    mkdirSync(this.bin);
    const stub = (name: string, body: string) => {
      writeFileSync(path.join(this.bin, name), `#!/bin/sh\n${body}\n`);
      chmodSync(path.join(this.bin, name), 0o755);
    };
    const listing = (m: string) => `usr/lib/modules/$K/${MODULE_FILES[m] ?? `kernel/extra/${m}.ko.zst`}`;
    stub(
      "update-grub",
      `echo "update-grub" >> '${this.host.log}'
GRUB_CMDLINE_LINUX="" GRUB_CMDLINE_LINUX_DEFAULT=""
. "$DESTDIR/etc/default/grub"
for f in "$DESTDIR"/etc/default/grub.d/*.cfg; do
    [ -e "$f" ] && . "$f"
done
K=$(cat "$PROC_ROOT/sys/kernel/osrelease")
mkdir -p "$DESTDIR/boot/grub"
cat > "$DESTDIR${GRUB_CFG_PATH}" <<EOF
menuentry 'Ubuntu' --class ubuntu {
	linux	/boot/vmlinuz-$K ${ROOT_ARGS} $GRUB_CMDLINE_LINUX $GRUB_CMDLINE_LINUX_DEFAULT
	initrd	/boot/initrd.img-$K
}
submenu 'Advanced options for Ubuntu' {
	menuentry 'Ubuntu, with Linux $K (recovery mode)' {
		linux	/boot/vmlinuz-$K ${ROOT_ARGS} recovery nomodeset dis_ucode_ldr $GRUB_CMDLINE_LINUX
		initrd	/boot/initrd.img-$K
	}
}
EOF`,
    );
    stub(
      "update-initramfs",
      `echo "update-initramfs $*" >> '${this.host.log}'
K=$(cat "$PROC_ROOT/sys/kernel/osrelease")
{
${BASE_INITRAMFS.map((f) => `    echo "usr/lib/modules/$K/${f}"`).join("\n")}
    grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$DESTDIR${INITRAMFS_MODULES_PATH}" | while read -r m _; do
        case "$m" in
${Object.keys(MODULE_FILES)
  .map((m) => `            ${m}) echo "${listing(m)}" ;;`)
  .join("\n")}
            *) echo "usr/lib/modules/$K/kernel/extra/$m.ko.zst" ;;
        esac
    done
} > "$DESTDIR/boot/initrd.img-$K"`,
    );
    if (this.opts.lsinitramfs ?? true) stub("lsinitramfs", 'cat "$1"');
    // date, at the virtual clock when FAKE_NOW is set (GNU date -d @EPOCH).
    const date = spawnSync("sh", ["-c", "command -v date"], { encoding: "utf8" }).stdout.trim();
    stub("date", `if [ -n "\${FAKE_NOW:-}" ]; then exec ${date} -d "@$FAKE_NOW" "$@"; fi\nexec ${date} "$@"`);
    stub(
      "systemctl",
      `echo "systemctl $*" >> '${this.host.log}'
[ "$1" = enable ] || exit 0
unit="/etc/systemd/system/$2"
for target in $(sed -n 's/^WantedBy=//p' "$DESTDIR$unit"); do
    mkdir -p "$DESTDIR/etc/systemd/system/$target.wants"
    ln -sf "$unit" "$DESTDIR/etc/systemd/system/$target.wants/$2"
done`,
    );
  }
}

/** Runs `fn` on a fresh booted host and removes it afterwards. */
export function withBootedHost<T>(groups: readonly HostGroup[], functions: readonly BootedFunction[], opts: BootedHostOptions, fn: (h: BootedHost) => T): T {
  const h = new BootedHost(groups, functions, opts);
  try {
    return fn(h);
  } finally {
    h.cleanup();
  }
}
