// The model's userdata (components/render/host-prepare.ts), run for real: a stack's userdata is applied to fake
// machines (test/fake-host.ts) as cloud-init would apply it (write_files, then the postruncmd entries after
// Juju's own commands), and each machine must end up prepared for its own group only: exactly that group's
// files (hostFiles), exactly its devices and their companions bound now, exactly its commands run; nothing
// changed on a machine of no group, in a container, or on a machine with the devices of two groups. The
// mixed stack (three groups) and the one-group stacks go through the same script.
import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { requireSiteConfig } from "../config/parse";
import type { Binding, HostGroup } from "../config/types";
import { INITRAMFS_MODULES_PATH, MODPROBE_CONF_PATH, hostFiles } from "../render/host/files";
import { renderHostFilesText, renderModelConfig, renderUserdata, userdataParts, type WriteFileEntry } from "../render/host/userdata";
import { jujuUserdataProblems } from "../domain/juju";
import { PREPARE_SCRIPT_PATH, prepareUserdataParts } from "../render/host/prepare";
import { fakeHost, snapshot, type FakeFunction, type FakeHost, type FakeHostOptions, type RunResult } from "./fake-host";
import { editStack, expectGolden, loadStack } from "./helpers";

const MIXED = loadStack("mixed").groups;

/** The mixed stack with other bindings, so every binding is run from the prepare script. */
const ROTATED = requireSiteConfig(
  editStack("mixed", (raw) => {
    const groups = raw.hostGroups as { host: { binding: Binding } }[];
    groups[0]!.host.binding = "rc-local";
    groups[1]!.host.binding = "modprobe";
  }),
).groups;

const groupNamed = (groups: readonly HostGroup[], name: string): HostGroup => {
  const g = groups.find((x) => x.name === name);
  assert.ok(g, `group ${name}`);
  return g;
};

/** The distribution's own file the userdata appends to (initramfs-tools ships it with comments). */
const DISTRO_FILES: Readonly<Record<string, string>> = { [INITRAMFS_MODULES_PATH]: "# List of modules that you want to include in your initramfs.\n" };

interface Userdata {
  write_files: WriteFileEntry[];
  postruncmd: string[];
}

const parseUserdata = (text: string) => parse(text, { version: "1.1" }) as Userdata;

/** write_files as cloud-init applies it, into the fake root: content decoded, written or appended ("ab"
 * or "wb"), then the permissions set (cloudinit/config/cc_write_files.py write_files, util.write_file). */
function applyWriteFiles(dest: string, files: readonly WriteFileEntry[]): void {
  for (const f of files) {
    const file = path.join(dest, f.path);
    const content = f.encoding === "b64" ? Buffer.from(f.content, "base64") : Buffer.from(f.content, "utf8");
    mkdirSync(path.dirname(file), { recursive: true });
    if (f.append) appendFileSync(file, content);
    else writeFileSync(file, content);
    chmodSync(file, parseInt(f.permissions, 8));
  }
}

/** What changed between two snapshots: each added or changed path with its new value, removed paths as
 * "(removed)". Directories are left out when `files` (mkdir -p of a file's directory is no change of note). */
function changes(before: Map<string, string>, after: Map<string, string>, files = false): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [p, v] of after) if (before.get(p) !== v && !(files && v.startsWith("dir "))) out[p] = v;
  for (const p of before.keys()) if (!after.has(p)) out[p] = "(removed)";
  return out;
}

interface Outcome {
  readonly host: FakeHost;
  readonly run: RunResult;
  /** Changes to the fake sysfs by the prepare script. */
  readonly sysfs: Record<string, string>;
  /** Changes to the fake root's files by the prepare script (after write_files). */
  readonly files: Record<string, string>;
  /** Whether the script left both trees exactly as write_files left them, directories included. */
  readonly unchanged: boolean;
}

/**
 * Provisions a fake machine with the userdata of `groups`: write_files into its root, then each postruncmd
 * entry (for several groups: the prepare script the userdata wrote, run from the fake root). Returns what
 * the commands changed.
 */
function provision(groups: readonly HostGroup[], functions: readonly FakeFunction[], opts: FakeHostOptions = {}): Outcome {
  const userdata = parseUserdata(renderUserdata(groups));
  const host = fakeHost(functions, { files: DISTRO_FILES, ...opts });
  applyWriteFiles(host.dest, userdata.write_files);
  const sysBefore = snapshot(host.root);
  const rootBefore = snapshot(host.dest);
  assert.deepEqual(userdata.postruncmd, [PREPARE_SCRIPT_PATH], "postruncmd runs the script write_files wrote");
  const run = host.runFile(path.join(host.dest, PREPARE_SCRIPT_PATH));
  const sysAfter = snapshot(host.root);
  const rootAfter = snapshot(host.dest);
  return {
    host,
    run,
    sysfs: changes(sysBefore, sysAfter),
    files: changes(rootBefore, rootAfter, true),
    unchanged: Object.keys(changes(sysBefore, sysAfter)).length === 0 && Object.keys(changes(rootBefore, rootAfter)).length === 0,
  };
}

/** A fake machine with the userdata's files written (write_files) and nothing run yet. */
function withFakeHostFor(groups: readonly HostGroup[], functions: readonly FakeFunction[], opts: FakeHostOptions, fn: (host: FakeHost) => void): void {
  const host = fakeHost(functions, { files: DISTRO_FILES, ...opts });
  try {
    applyWriteFiles(host.dest, parseUserdata(renderUserdata(groups)).write_files);
    fn(host);
  } finally {
    host.cleanup();
  }
}

/** Runs `fn` on a provisioned machine and removes it afterwards. */
function withProvisioned(groups: readonly HostGroup[], functions: readonly FakeFunction[], opts: FakeHostOptions, fn: (o: Outcome) => void): void {
  const o = provision(groups, functions, opts);
  try {
    fn(o);
  } finally {
    o.host.cleanup();
  }
}

/** The files a machine of `group` must have gained: hostFiles(group), as written (appended to the
 * distribution's file where hostFiles says append), each with its mode, as the snapshot shows them. */
function expectedFiles(group: HostGroup): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of hostFiles(group)) {
    const before = f.append ? (DISTRO_FILES[f.path] ?? "") : "";
    out[f.path.slice(1)] = `file ${f.permissions} ${before}${f.content}`;
  }
  return out;
}

const override = (address: string) => `devices/pci0000:00/${address}/driver_override`;
const VFIO = "file 0644 vfio-pci\n";
const written = (s: string) => `file 0644 ${s}`;

// The machines. Each has a device of its own (the host's igb NIC) that no group passes through.
const HOST_NIC: FakeFunction = { address: "0000:01:00.0", id: "8086:1521", driver: "igb", group: 3 };
const A100_HOST: FakeFunction[] = [
  HOST_NIC,
  // Blacklisted by the MAAS tag's kernel options: no driver at first boot.
  { address: "0000:17:00.0", id: "10de:20b5", group: 20 },
  { address: "0000:31:00.0", id: "10de:20b5", group: 21 },
];
// The same first slot as the A100 hosts, another vendor:product.
const L40S_HOST: FakeFunction[] = [
  HOST_NIC,
  { address: "0000:17:00.0", id: "10de:26b9", driver: "nouveau", group: 20 },
  { address: "0000:ca:00.0", id: "10de:26b9", driver: "nouveau", group: 40 },
];
// Both ports of the ConnectX-6 Dx, each its own IOMMU group: only the configured one is passed through.
const NIC_HOST: FakeFunction[] = [
  HOST_NIC,
  { address: "0000:b1:00.0", id: "15b3:101d", driver: "mlx5_core", group: 50 },
  { address: "0000:b1:00.1", id: "15b3:101d", driver: "mlx5_core", group: 51 },
];
// One of the machines the nic group's tag lists (Pulumi.mixed.yaml).
const NIC_MACHINE = "n7xk2p";
// The groups' first slot holds another GPU (an A10): the address alone would have taken it for a GPU host.
const NO_GROUP_HOST: FakeFunction[] = [HOST_NIC, { address: "0000:17:00.0", id: "10de:2236", driver: "nvidia", group: 20 }];

test("mixed: the userdata is what Juju accepts: write_files with the one script, postruncmd running it", () => {
  const text = renderUserdata(MIXED);
  assert.match(text, /^# Juju model cloudinit-userdata, generated by pci-passthrough \(host groups: a100, l40s, nic\)\.\n/);
  const value = parseUserdata(text);
  assert.deepEqual(Object.keys(value), ["write_files", "postruncmd"]);
  assert.deepEqual(jujuUserdataProblems(value), []);
  assert.deepEqual(
    value.write_files.map((f) => ({ ...f, content: undefined })),
    [{ path: PREPARE_SCRIPT_PATH, owner: "root:root", permissions: "0755", encoding: "b64", content: undefined }],
  );
  assert.deepEqual(value.postruncmd, [PREPARE_SCRIPT_PATH]);
  const script = Buffer.from(value.write_files[0]!.content, "base64").toString("utf8");
  assert.equal(script, userdataParts(MIXED).files[0]!.content);
  assert.match(script, /^#!\/bin\/sh\n/);
});

test("mixed: model config and host files match the golden files", () => {
  expectGolden("mixed-model-config.yaml", renderModelConfig(renderUserdata(MIXED)));
  expectGolden("mixed-host-files.txt", renderHostFilesText(MIXED));
});

test("mixed, A100 host (modprobe binding): its group's files, both GPUs bound now, initramfs, grub", () => {
  withProvisioned(MIXED, A100_HOST, {}, (o) => {
    assert.equal(o.run.stderr, "");
    assert.equal(o.run.status, 0);
    assert.deepEqual(o.files, expectedFiles(groupNamed(MIXED, "a100")));
    assert.match(o.files[MODPROBE_CONF_PATH.slice(1)] ?? "", /^options vfio-pci ids=10de:20b5$/m);
    // vfio-pci is loaded (no modprobe); the GPUs have no driver (blacklisted): overridden and probed.
    assert.deepEqual(o.sysfs, {
      [override("0000:17:00.0")]: VFIO,
      [override("0000:31:00.0")]: VFIO,
      "bus/pci/drivers_probe": written("0000:31:00.0\n"),
    });
    assert.deepEqual(o.host.calls(), ["update-initramfs -u", "update-grub"]);
    assert.match(o.run.stdout, /^pci-passthrough-prepare: 0000:17:00.0 holds 10de:20b5, a device of host group a100$/m);
    assert.match(o.run.stdout, /^pci-passthrough-prepare: host group a100: prepared\n$/m);
  });
});

test("mixed, L40S host at the A100's slot (driver-override): its files, its two GPUs bound by the unit, nothing else", () => {
  withProvisioned(MIXED, L40S_HOST, {}, (o) => {
    assert.equal(o.run.stderr, "");
    assert.equal(o.run.status, 0);
    assert.deepEqual(o.files, expectedFiles(groupNamed(MIXED, "l40s")));
    assert.equal(o.files[MODPROBE_CONF_PATH.slice(1)], written("# Generated by pci-passthrough (binding: driver-override): keep these drivers from loading.\nblacklist nouveau\n"));
    // The unit is enabled for the next boots; the prepare script binds now.
    assert.deepEqual(o.sysfs, {
      [override("0000:17:00.0")]: VFIO,
      [override("0000:ca:00.0")]: VFIO,
      "bus/pci/drivers/nouveau/unbind": written("0000:ca:00.0\n"),
      "bus/pci/drivers_probe": written("0000:ca:00.0\n"),
    });
    assert.deepEqual(o.host.calls(), ["systemctl enable pci-passthrough-bind.service", "update-initramfs -u", "update-grub"]);
    assert.match(o.run.stdout, /^pci-passthrough-prepare: 0000:17:00.0 holds 10de:26b9, a device of host group l40s$/m);
    assert.match(o.run.stdout, /^pci-passthrough-prepare: 0000:17:00.0 handed to vfio-pci \(driver before: nouveau\)$/m);
  });
});

test("mixed, L40S host with a GPU in its second slot only: still the L40S group", () => {
  withProvisioned(MIXED, [HOST_NIC, L40S_HOST[2]!], {}, (o) => {
    assert.equal(o.run.status, 0, o.run.stderr);
    assert.deepEqual(o.files, expectedFiles(groupNamed(MIXED, "l40s")));
    assert.deepEqual(o.sysfs, {
      [override("0000:ca:00.0")]: VFIO,
      "bus/pci/drivers/nouveau/unbind": written("0000:ca:00.0\n"),
      "bus/pci/drivers_probe": written("0000:ca:00.0\n"),
    });
  });
});

test("mixed, NIC host: its files, only the configured port bound, the other port keeps mlx5_core", () => {
  withProvisioned(MIXED, NIC_HOST, { systemId: NIC_MACHINE }, (o) => {
    assert.equal(o.run.stderr, "");
    assert.equal(o.run.status, 0);
    assert.deepEqual(o.files, expectedFiles(groupNamed(MIXED, "nic")));
    assert.equal(o.files[MODPROBE_CONF_PATH.slice(1)], undefined, "nothing blacklisted: mlx5_core runs the host's own ports");
    assert.deepEqual(o.sysfs, {
      [override("0000:b1:00.0")]: VFIO,
      "bus/pci/drivers/mlx5_core/unbind": written("0000:b1:00.0\n"),
      "bus/pci/drivers_probe": written("0000:b1:00.0\n"),
    });
    assert.deepEqual(o.host.calls(), ["systemctl enable pci-passthrough-bind.service", "update-initramfs -u", "update-grub"]);
  });
});

test("mixed, a machine of no group (another GPU at the groups' slot): nothing changes, nothing runs, exit 0", () => {
  withProvisioned(MIXED, NO_GROUP_HOST, {}, (o) => {
    assert.equal(o.run.stderr, "");
    assert.equal(o.run.status, 0);
    assert.equal(
      o.run.stdout,
      "pci-passthrough-prepare: no device of host groups a100, l40s, nic at their addresses: this machine is in no group, nothing to prepare\n",
    );
    assert.ok(o.unchanged);
    assert.deepEqual(o.host.calls(), []);
  });
});

test("mixed, a container that sees an L40S host's devices: nothing changes, nothing runs, exit 0", () => {
  withProvisioned(MIXED, L40S_HOST, { container: true }, (o) => {
    assert.equal(o.run.stderr, "");
    assert.equal(o.run.status, 0);
    assert.equal(o.run.stdout, "pci-passthrough-prepare: running in a container, nothing to prepare\n");
    assert.ok(o.unchanged);
    assert.deepEqual(o.host.calls(), []);
  });
});

test("mixed, a machine with the devices of two groups: an error naming both, nothing changed, exit 1", () => {
  // The first is one of the nic group's listed machines and has an A100 too.
  const cases: [string, FakeFunction[]][] = [
    ["a100 nic", [A100_HOST[1]!, NIC_HOST[1]!]],
    ["a100 l40s", [A100_HOST[1]!, L40S_HOST[2]!]],
  ];
  for (const [both, functions] of cases) {
    withProvisioned(MIXED, functions, { systemId: NIC_MACHINE }, (o) => {
      assert.equal(o.run.status, 1);
      assert.equal(
        o.run.stderr,
        `pci-passthrough-prepare: ERROR: this machine has devices of several host groups (${both}); the groups' MAAS tags must give a machine one group only. Nothing changed.\n`,
      );
      assert.ok(o.unchanged, both);
      assert.deepEqual(o.host.calls(), [], both);
    });
  }
});

// The nic group's tag lists its machines: a machine with its NIC that is not one of them is not in it,
// whether it is a GPU host of another group or a machine of no group (a controller with the same card).
test("mixed, A100 host that also has the nic group's card but is not one of its machines: prepared as a100, the card keeps mlx5_core", () => {
  withProvisioned(MIXED, [...A100_HOST, NIC_HOST[1]!], { systemId: "a1b2c3" }, (o) => {
    assert.equal(o.run.stderr, "");
    assert.equal(o.run.status, 0);
    assert.match(o.run.stdout, /^pci-passthrough-prepare: but this machine \(system ID a1b2c3\) is not one of host group nic's machines: not in nic$/m);
    assert.match(o.run.stdout, /^pci-passthrough-prepare: host group a100: prepared$/m);
    assert.deepEqual(o.files, expectedFiles(groupNamed(MIXED, "a100")));
    assert.equal(o.sysfs[override("0000:b1:00.0")], undefined, "the card stays with mlx5_core");
  });
});

test("mixed, a machine of no group with the nic group's card (not listed, or no instance-id): nothing changes, exit 0", () => {
  for (const systemId of ["ctl001", undefined]) {
    withProvisioned(MIXED, [HOST_NIC, NIC_HOST[1]!, NIC_HOST[2]!], { systemId }, (o) => {
      assert.equal(o.run.stderr, "");
      assert.equal(o.run.status, 0);
      assert.match(o.run.stdout, new RegExp(`\\(system ID ${systemId ?? "unknown"}\\) is not one of host group nic's machines`));
      assert.match(o.run.stdout, /this machine is in no group, nothing to prepare\n$/);
      assert.ok(o.unchanged, String(systemId));
      assert.deepEqual(o.host.calls(), []);
    });
  }
});

test("mixed: run again by hand, the script appends nothing twice and leaves the files as they were", () => {
  withProvisioned(MIXED, A100_HOST, {}, (o) => {
    assert.equal(o.run.status, 0);
    const once = snapshot(o.host.dest);
    const again = o.host.runFile(path.join(o.host.dest, PREPARE_SCRIPT_PATH));
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /already has what this appends/);
    assert.deepEqual(changes(once, snapshot(o.host.dest)), {});
  });
});

test("mixed: a failing command is said, the next still runs, and the script exits 1", () => {
  withProvisioned(MIXED, L40S_HOST, { failing: ["update-initramfs"] }, (o) => {
    assert.equal(o.run.status, 1);
    assert.deepEqual(o.host.calls(), ["systemctl enable pci-passthrough-bind.service", "update-initramfs -u", "update-grub"]);
    assert.match(o.run.stdout, /^pci-passthrough-prepare: WARNING: update-initramfs -u failed$/m);
    assert.equal(o.run.stderr, "pci-passthrough-prepare: ERROR: host group l40s: failed: [update-initramfs -u]\n");
    assert.deepEqual(o.files, expectedFiles(groupNamed(MIXED, "l40s")));
  });
});

test("mixed with rc-local on the A100s: /etc/rc.local installed for the next boots, both GPUs bound now", () => {
  withProvisioned(ROTATED, A100_HOST, {}, (o) => {
    assert.equal(o.run.stderr, "");
    assert.equal(o.run.status, 0);
    assert.deepEqual(o.files, expectedFiles(groupNamed(ROTATED, "a100")));
    assert.equal(o.files["etc/rc.local"]?.slice(0, 20), "file 0755 #!/bin/sh\n");
    assert.deepEqual(o.sysfs, {
      [override("0000:17:00.0")]: VFIO,
      [override("0000:31:00.0")]: VFIO,
      "bus/pci/drivers_probe": written("0000:31:00.0\n"),
    });
    assert.deepEqual(o.host.calls(), ["update-initramfs -u", "update-grub"]);
  });
});

test("mixed with modprobe on the L40S hosts: the L40S ids for vfio-pci, and the GPUs taken from nouveau now", () => {
  withProvisioned(ROTATED, L40S_HOST, {}, (o) => {
    assert.equal(o.run.status, 0, o.run.stderr);
    assert.deepEqual(o.files, expectedFiles(groupNamed(ROTATED, "l40s")));
    assert.match(o.files[MODPROBE_CONF_PATH.slice(1)] ?? "", /^options vfio-pci ids=10de:26b9$/m);
    // vfio-pci's ids= takes no device that has a driver: the prepare script rebinds them, whatever the binding.
    assert.deepEqual(o.sysfs, {
      [override("0000:17:00.0")]: VFIO,
      [override("0000:ca:00.0")]: VFIO,
      "bus/pci/drivers/nouveau/unbind": written("0000:ca:00.0\n"),
      "bus/pci/drivers_probe": written("0000:ca:00.0\n"),
    });
    assert.deepEqual(o.host.calls(), ["update-initramfs -u", "update-grub"]);
  });
});

test("the prepare script refuses a file it could not embed verbatim", () => {
  const group = MIXED[0]!;
  const withFile = (content: string) => () =>
    prepareUserdataParts([
      { group, files: [{ path: "/etc/x", content, permissions: "0644", script: false, append: false }], actions: [] },
      { group: MIXED[1]!, files: [], actions: [] },
    ]);
  assert.throws(withFile("a\nPCI_PASSTHROUGH_EOF\nb\n"), /\/etc\/x: content holds the line PCI_PASSTHROUGH_EOF/);
  assert.throws(withFile("no newline at the end"), /\/etc\/x: content must end with a newline/);
  assert.doesNotThrow(withFile("a PCI_PASSTHROUGH_EOF inside a line is text\n"));
});

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
    assert.equal(o.run.stdout, "pci-passthrough-prepare: no device of host group pci-pass at its addresses: this machine is in no group, nothing to prepare\n");
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
