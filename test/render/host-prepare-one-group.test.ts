// The model's userdata for a site with one group (top-level host and devices), which goes through the same
// prepare script (render/host/prepare.ts), run for real on fake machines (test/fake-host.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, rmSync } from "node:fs";
import * as path from "node:path";
import { renderUserdata } from "../../render/host/userdata";
import { PREPARE_SCRIPT_PATH } from "../../render/host/prepare";
import { type FakeFunction } from "../fake-host";
import { loadStack } from "../helpers";
import { HOST_NIC, VFIO, expectedFiles, override, parseUserdata, withFakeHostFor, withProvisioned, written } from "./prepare-helpers";

// ---------------------------------------------------------------------------------------------------
// A site with one group (top-level host and devices) goes through the same script

const DEV = loadStack("dev").groups;
// The runbook's host as MAAS deploys it: the P5000s blacklisted (no driver), their HDMI audio functions taken by
// snd_hda_intel on this first boot, each pair in one IOMMU group.
const P5000_HOST: FakeFunction[] = [
  HOST_NIC,
  { address: "0000:83:00.0", id: "10de:1bb0", group: 30 },
  { address: "0000:83:00.1", id: "10de:10f0", driver: "snd_hda_intel", group: 30 },
  { address: "0000:84:00.0", id: "10de:1bb0", group: 31 },
  { address: "0000:84:00.1", id: "10de:10f0", driver: "snd_hda_intel", group: 31 },
];

test("dev (one group, modprobe): the GPUs and their HDMI audio, which snd_hda_intel took at boot, are on vfio-pci before any reboot", () => {
  withProvisioned(DEV, P5000_HOST, {}, (o) => {
    assert.equal(o.run.stderr, "");
    assert.equal(o.run.status, 0);
    assert.deepEqual(o.files, expectedFiles(DEV[0]!));
    assert.deepEqual(o.sysfs, {
      [override("0000:83:00.0")]: VFIO,
      [override("0000:83:00.1")]: VFIO,
      [override("0000:84:00.0")]: VFIO,
      [override("0000:84:00.1")]: VFIO,
      "bus/pci/drivers/snd_hda_intel/unbind": written("0000:84:00.1\n"),
      "bus/pci/drivers_probe": written("0000:84:00.1\n"),
    });
    assert.match(o.run.stdout, /^pci-passthrough-prepare: 0000:83:00.0 holds 10de:1bb0, a device of host group pci-pass$/m);
    assert.match(o.run.stdout, /^pci-passthrough-prepare: 0000:83:00.1 handed to vfio-pci \(driver before: snd_hda_intel\)$/m);
    assert.deepEqual(o.host.calls(), ["update-initramfs -u", "update-grub"]);
    assert.match(o.run.stdout, /^pci-passthrough-prepare: host group pci-pass: prepared$/m);
  });
});

test("dev (one group): another device at the configured address is no GPU host: nothing written, nothing run (the address alone decided before)", () => {
  withProvisioned(DEV, [HOST_NIC, { address: "0000:83:00.0", id: "8086:1593", driver: "ice", group: 7 }], {}, (o) => {
    assert.equal(o.run.status, 0, o.run.stderr);
    assert.equal(
      o.run.stdout,
      "pci-passthrough-prepare: no device of host group pci-pass at its addresses: this machine is in no group, nothing to prepare\n" +
        "pci-passthrough-prepare: recorded in /var/lib/pci-passthrough/prepared: no-group\n",
    );
    assert.ok(o.unchanged);
    assert.deepEqual(o.host.calls(), []);
  });
});

test("lab (one group, machines listed): only a listed machine with the devices is prepared", () => {
  const lab = loadStack("lab").groups;
  const rtx: FakeFunction[] = [HOST_NIC, { address: "0000:41:00.0", id: "10de:2230", group: 12 }, { address: "0000:41:00.1", id: "10de:1aef", driver: "snd_hda_intel", group: 12 }];
  withProvisioned(lab, rtx, { systemId: "4y3h7n" }, (o) => {
    assert.equal(o.run.status, 0, o.run.stderr);
    assert.deepEqual(o.files, expectedFiles(lab[0]!));
    assert.equal(o.sysfs[override("0000:41:00.1")], VFIO);
    assert.deepEqual(o.host.calls(), ["systemctl enable pci-passthrough-bind.service", "update-initramfs -u", "update-grub"]);
  });
  withProvisioned(lab, rtx, { systemId: "other1" }, (o) => {
    assert.equal(o.run.status, 0, o.run.stderr);
    assert.match(o.run.stdout, /\(system ID other1\) is not one of host group gpu-lab's machines: not in gpu-lab$/m);
    assert.ok(o.unchanged);
  });
});

test("a function that cannot be handed to vfio-pci is said, the rest still runs, and the script exits 1", () => {
  withFakeHostFor(DEV, P5000_HOST, {}, (host) => {
    // The first GPU's driver_override cannot be written (a directory here: even root cannot write it).
    const file = path.join(host.root, "devices/pci0000:00/0000:83:00.0/driver_override");
    rmSync(file);
    mkdirSync(file);
    const again = host.runFile(path.join(host.dest, PREPARE_SCRIPT_PATH));
    assert.equal(again.status, 1);
    assert.deepEqual(host.calls(), ["update-initramfs -u", "update-grub"]);
    assert.equal(host.read("bus/pci/devices/0000:84:00.1/driver_override"), "vfio-pci\n");
    assert.match(again.stdout, /^pci-passthrough-prepare: WARNING: cannot write driver_override of 0000:83:00.0$/m);
    assert.match(again.stdout, /^pci-passthrough-prepare: WARNING: not handed to vfio-pci: 0000:83:00.0$/m);
    // The shell says why (the kernel's refusal), then the script says what failed.
    assert.match(again.stderr, /cannot create .*0000:83:00\.0\/driver_override: Is a directory\n/);
    assert.match(again.stderr, /\npci-passthrough-prepare: ERROR: host group pci-pass: failed: \[bind_now 0000:83:00.0 10de:1bb0 0000:84:00.0 10de:1bb0\]\n$/);
  });
});

test("under Juju's `set -xe` (older 2.9 runs postruncmd so), a failing step skips nothing: the script tries every step, then fails", () => {
  const userdata = parseUserdata(renderUserdata(DEV));
  withFakeHostFor(DEV, P5000_HOST, { failing: ["update-initramfs"] }, (host) => {
    // cloud-init's runcmd script as Juju 2.9 writes it: its own `set -xe`, then the postruncmd entries.
    const runcmd = ["set -xe", ...userdata.postruncmd.map((c) => `${host.dest}${c}`), "echo after-postruncmd"].join("\n");
    const r = host.run(runcmd);
    assert.equal(r.status, 1);
    assert.deepEqual(host.calls(), ["update-initramfs -u", "update-grub"]);
    assert.equal(r.stderr.split("\n").filter((l) => l.startsWith("pci-passthrough-prepare")).join("\n"), "pci-passthrough-prepare: ERROR: host group pci-pass: failed: [update-initramfs -u]");
    assert.ok(!r.stdout.includes("after-postruncmd"));
  });
});
