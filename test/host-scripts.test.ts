// The binding scripts, run for real under sh against a fake sysfs tree (SYSFS_ROOT). The tree mirrors
// sysfs where the scripts look: bus/pci/devices/ADDR -> devices/..., a `driver` symlink to
// bus/pci/drivers/NAME (with its `unbind` file), vendor/device/driver_override files, an iommu_group
// symlink to kernel/iommu_groups/N whose devices/ holds links to its members, and bus/pci/drivers_probe.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { requireSiteConfig, type Binding, type SiteConfig } from "../components/config";
import { bindingScript } from "../components/render/host";
import { editStack } from "./helpers";

interface FakeFunction {
  readonly address: string;
  /** vendor:product, e.g. 10de:1bb0 */
  readonly id: string;
  /** The driver bound now, if any. */
  readonly driver?: string;
  readonly group: number;
}

interface FakeHost {
  readonly root: string;
  readonly bin: string;
  readonly log: string;
  read(rel: string): string;
  exists(rel: string): boolean;
  run(script: string): { status: number | null; stdout: string; stderr: string };
  cleanup(): void;
}

interface FakeHostOptions {
  /** systemd-detect-virt --container says yes. */
  readonly container?: boolean;
  /** bus/pci/drivers/vfio-pci exists (the default). */
  readonly vfioLoaded?: boolean;
}

/** The driver_override content of an untouched device. */
const NO_OVERRIDE = "(null)\n";

/**
 * Builds a fake sysfs with the given functions, plus a bin/ directory that stands in for the host's
 * tools: systemd-detect-virt (a container or not) and modprobe (records its arguments in `log`).
 */
function fakeHost(functions: readonly FakeFunction[], opts: FakeHostOptions = {}): FakeHost {
  const root = mkdtempSync(path.join(tmpdir(), "fake-sysfs-"));
  const sys = path.join(root, "sys");
  const bin = path.join(root, "bin");
  const log = path.join(root, "calls.log");
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
  mkdirSync(bin);
  const stub = (name: string, body: string) => {
    writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(path.join(bin, name), 0o755);
  };
  stub("systemd-detect-virt", opts.container ? "echo lxc; exit 0" : "echo none; exit 1");
  stub("modprobe", `echo "modprobe $*" >> '${log}'`);
  return {
    root: sys,
    bin,
    log,
    read: (rel) => readFileSync(path.join(sys, rel), "utf8"),
    exists: (rel) => existsSync(path.join(sys, rel)),
    run: (script) => {
      const file = path.join(root, "script.sh");
      writeFileSync(file, script);
      const r = spawnSync("sh", [file], {
        env: { ...process.env, SYSFS_ROOT: sys, PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` },
        encoding: "utf8",
      });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** Runs `fn` on a fresh fake host and removes it afterwards. */
function withFakeHost(functions: readonly FakeFunction[], opts: FakeHostOptions, fn: (host: FakeHost) => void): void {
  const host = fakeHost(functions, opts);
  try {
    fn(host);
  } finally {
    host.cleanup();
  }
}

const devWith = (binding: Binding): SiteConfig => requireSiteConfig(editStack("dev", (raw) => (raw.host.binding = binding)));
const labWith = (binding: Binding): SiteConfig => requireSiteConfig(editStack("lab", (raw) => (raw.host.binding = binding)));
const scriptOf = (site: SiteConfig): string => {
  const script = bindingScript(site.groups[0]!);
  assert.ok(script !== undefined, "a binding script");
  return script;
};

const BOUND = ["driver-override", "rc-local"] as const;

// lab: rtx 10de:2230 at 41:00.0 and c1:00.0 (absent here) with its HDMI audio companion 10de:1aef, which
// shares the IOMMU group with a root port; nic 8086:1592 at 21:00.0, bound to no driver.
const LAB_HOST: readonly FakeFunction[] = [
  { address: "0000:40:01.1", id: "1022:1483", driver: "pcieport", group: 12 },
  { address: "0000:41:00.0", id: "10de:2230", driver: "nouveau", group: 12 },
  { address: "0000:41:00.1", id: "10de:1aef", driver: "snd_hda_intel", group: 12 },
  { address: "0000:21:00.0", id: "8086:1592", group: 5 },
];

for (const binding of BOUND) {
  test(`${binding}: binds the present device (bound to nouveau) to vfio-pci, skips the absent one, exits 0`, () => {
    // dev: 0000:83:00.0 and 0000:84:00.0 configured; only 83:00.0 is on this machine.
    withFakeHost([{ address: "0000:83:00.0", id: "10de:1bb0", driver: "nouveau", group: 30 }], {}, (host) => {
      const r = host.run(scriptOf(devWith(binding)));
      assert.equal(r.stderr, "");
      assert.equal(r.status, 0);
      assert.equal(host.read("bus/pci/devices/0000:83:00.0/driver_override"), "vfio-pci\n");
      assert.equal(host.read("bus/pci/drivers/nouveau/unbind"), "0000:83:00.0\n");
      assert.equal(host.read("bus/pci/drivers_probe"), "0000:83:00.0\n");
      assert.equal(host.exists("bus/pci/devices/0000:84:00.0"), false);
      assert.equal(existsSync(host.log), false, "vfio-pci is loaded: no modprobe");
      assert.equal(
        r.stdout,
        [
          "pci-passthrough-bind: 0000:83:00.0 handed to vfio-pci (driver before: nouveau)",
          "pci-passthrough-bind: 0000:84:00.0 is not present on this machine, skipped",
          "",
        ].join("\n"),
      );
    });
  });

  test(`${binding}: binds configured ids sharing the device's IOMMU group, leaves the rest of the group alone`, () => {
    withFakeHost(LAB_HOST, {}, (host) => {
      const r = host.run(scriptOf(labWith(binding)));
      assert.equal(r.stderr, "");
      assert.equal(r.status, 0);
      assert.equal(host.read("bus/pci/devices/0000:41:00.0/driver_override"), "vfio-pci\n");
      assert.equal(host.read("bus/pci/devices/0000:41:00.1/driver_override"), "vfio-pci\n");
      assert.equal(host.read("bus/pci/devices/0000:21:00.0/driver_override"), "vfio-pci\n");
      assert.equal(host.read("bus/pci/devices/0000:40:01.1/driver_override"), NO_OVERRIDE);
      assert.equal(host.read("bus/pci/drivers/nouveau/unbind"), "0000:41:00.0\n");
      assert.equal(host.read("bus/pci/drivers/snd_hda_intel/unbind"), "0000:41:00.1\n");
      assert.equal(host.read("bus/pci/drivers/pcieport/unbind"), "");
      // drivers_probe keeps the last write: the NIC, probed last.
      assert.equal(host.read("bus/pci/drivers_probe"), "0000:21:00.0\n");
      assert.equal(
        r.stdout,
        [
          "pci-passthrough-bind: 0000:41:00.0 handed to vfio-pci (driver before: nouveau)",
          "pci-passthrough-bind: 0000:40:01.1 (1022:1483) shares the IOMMU group of 0000:41:00.0 but is not a configured id, left alone",
          "pci-passthrough-bind: 0000:41:00.1 handed to vfio-pci (driver before: snd_hda_intel)",
          "pci-passthrough-bind: 0000:c1:00.0 is not present on this machine, skipped",
          "pci-passthrough-bind: 0000:21:00.0 handed to vfio-pci (driver before: none)",
          "",
        ].join("\n"),
      );
    });
  });

  test(`${binding}: leaves a device already on vfio-pci alone`, () => {
    withFakeHost([{ address: "0000:83:00.0", id: "10de:1bb0", driver: "vfio-pci", group: 30 }], {}, (host) => {
      const r = host.run(scriptOf(devWith(binding)));
      assert.equal(r.status, 0);
      assert.equal(host.read("bus/pci/devices/0000:83:00.0/driver_override"), NO_OVERRIDE);
      assert.equal(host.read("bus/pci/drivers_probe"), "");
      assert.match(r.stdout, /^pci-passthrough-bind: 0000:83:00.0 already uses vfio-pci$/m);
    });
  });

  test(`${binding}: does nothing in a container`, () => {
    withFakeHost([{ address: "0000:83:00.0", id: "10de:1bb0", driver: "nouveau", group: 30 }], { container: true }, (host) => {
      const r = host.run(scriptOf(devWith(binding)));
      assert.equal(r.status, 0);
      assert.equal(r.stdout, "pci-passthrough-bind: running in a container, nothing to bind\n");
      assert.equal(host.read("bus/pci/devices/0000:83:00.0/driver_override"), NO_OVERRIDE);
      assert.equal(host.read("bus/pci/drivers/nouveau/unbind"), "");
    });
  });

  test(`${binding}: loads vfio-pci when it is not loaded yet`, () => {
    withFakeHost([{ address: "0000:83:00.0", id: "10de:1bb0", driver: "nouveau", group: 30 }], { vfioLoaded: false }, (host) => {
      const r = host.run(scriptOf(devWith(binding)));
      assert.equal(r.status, 0);
      assert.equal(readFileSync(host.log, "utf8"), "modprobe vfio-pci\n");
      assert.equal(host.read("bus/pci/devices/0000:83:00.0/driver_override"), "vfio-pci\n");
    });
  });

  test(`${binding}: a machine without any configured device is left untouched, exit 0`, () => {
    withFakeHost([{ address: "0000:00:02.0", id: "8086:3e92", driver: "i915", group: 1 }], {}, (host) => {
      const r = host.run(scriptOf(devWith(binding)));
      assert.equal(r.status, 0);
      assert.equal(host.read("bus/pci/devices/0000:00:02.0/driver_override"), NO_OVERRIDE);
      assert.equal(host.read("bus/pci/drivers_probe"), "");
    });
  });
}
