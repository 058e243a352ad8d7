// The binding scripts, run for real under sh against a fake sysfs tree (SYSFS_ROOT, test/fake-host.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { requireSiteConfig } from "../../config/parse";
import type { Binding, SiteConfig } from "../../config/types";
import { bindingScript } from "../../render/host/binding";
import { NO_OVERRIDE, withFakeHost, type FakeFunction } from "../fake-host";
import { editStack } from "../helpers";

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

  test(`${binding}: another device at a configured address (a machine that is no GPU host) keeps its driver`, () => {
    // The model's userdata reaches every machine: this one has an E810 where lab's RTX would be.
    withFakeHost([{ address: "0000:41:00.0", id: "8086:1593", driver: "ice", group: 7 }], {}, (host) => {
      const r = host.run(scriptOf(labWith(binding)));
      assert.equal(r.stderr, "");
      assert.equal(r.status, 0);
      assert.equal(host.read("bus/pci/devices/0000:41:00.0/driver_override"), NO_OVERRIDE);
      assert.equal(host.read("bus/pci/drivers/ice/unbind"), "");
      assert.equal(host.read("bus/pci/drivers_probe"), "");
      assert.match(r.stdout, /^pci-passthrough-bind: 0000:41:00\.0 holds 8086:1593, not the configured 10de:2230: left alone$/m);
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
