// `npm run import-lspci` on one host's capture: the devices, companions, device types and blacklist it proposes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { importLspci } from "../../tools/import-lspci/import";
import { parseLspci, type LspciParse, type PciFunction } from "../../tools/import-lspci/lspci";
import { renderSnippet } from "../../tools/import-lspci/proposal";
import { rawStack } from "../helpers";
import { SRIOV_UNKNOWN, fixture, select } from "./lspci-helpers";

test("the runbook's own two lines yield exactly the runbook's devices", () => {
  const r = importLspci(fixture("runbook-nn.txt"));
  assert.deepEqual(
    r.devices.map(({ alias, vendorId, productId, addresses, companions }) => ({ alias, vendorId, productId, addresses, companions })),
    [{ alias: "gpu", vendorId: "10de", productId: "1bb0", addresses: ["0000:83:00.0", "0000:84:00.0"], companions: [] }],
  );
  // -nn shows no kernel modules: nothing to blacklist, and the snippet says how to get them.
  assert.deepEqual(r.blacklistDrivers, []);
  assert.equal(r.iommu, undefined);
  assert.deepEqual(r.warnings, [
    "no drivers to blacklist: the input has no `Kernel driver in use` / `Kernel modules` lines (use `lspci -nnk`)",
    SRIOV_UNKNOWN,
  ]);
  assert.equal(r.skippedLines, 0);
});

test("the runbook's host with -nnk reproduces Pulumi.dev.yaml's devices and blacklist", () => {
  const r = importLspci(fixture("nvidia-multi-gpu-nnk.txt"), select({ ids: ["10de:1bb0"] }));
  const dev = rawStack("dev") as { devices: unknown[]; host: { blacklistDrivers: string[] } };
  const [d] = r.devices;
  assert.equal(r.devices.length, 1);
  // The same device, with the HDMI audio companion the dev stack adds to the runbook.
  assert.deepEqual({ alias: d!.alias, vendorId: d!.vendorId, productId: d!.productId, addresses: d!.addresses, companions: d!.companions }, dev.devices[0]);
  // The runbook: "Determine which driver we are blacklisting ... 'Kernel modules.' In our case nvidiafb and nouveau."
  assert.deepEqual(r.blacklistDrivers, dev.host.blacklistDrivers);
  assert.equal(r.iommu, "intel");
  assert.deepEqual(r.warnings, [
    "0000:83:00.1 NVIDIA Corporation GP104 High Definition Audio Controller [10de:10f0] shares slot 0000:83:00 with 0000:83:00.0: likely in its IOMMU group, suggested as a companion (check /sys/bus/pci/devices/0000:83:00.0/iommu_group/devices)",
    "0000:84:00.1 NVIDIA Corporation GP104 High Definition Audio Controller [10de:10f0] shares slot 0000:84:00 with 0000:84:00.0: likely in its IOMMU group, suggested as a companion (check /sys/bus/pci/devices/0000:84:00.0/iommu_group/devices)",
    SRIOV_UNKNOWN,
    "blacklisting nouveau also keeps it off 0000:03:00.0 NVIDIA Corporation GP102 [GeForce GTX 1080 Ti] [10de:1b06], which is not selected",
  ]);
});

test("multi-GPU NVIDIA host: one group per model, aliases by product, BMC graphics left out, vfio-pci never blacklisted", () => {
  const r = importLspci(fixture("nvidia-multi-gpu-nnk.txt"));
  assert.deepEqual(
    r.devices.map((d) => [d.alias, `${d.vendorId}:${d.productId}`, d.addresses, d.companions]),
    [
      ["gpu-1b06", "10de:1b06", ["0000:02:00.0", "0000:03:00.0"], ["10de:10ef"]],
      ["gpu-1bb0", "10de:1bb0", ["0000:83:00.0", "0000:84:00.0"], ["10de:10f0"]],
    ],
  );
  // 02:00.0 is already on vfio-pci: its driver in use is not a driver to blacklist.
  assert.deepEqual(r.blacklistDrivers, ["nvidiafb", "nouveau"]);
  assert.equal(
    r.warnings[0],
    "left out 0000:08:00.0 ASPEED Technology, Inc. ASPEED Graphics Family [1a03:2000]: ASPEED BMC graphics is the host's own console (select it with --id 1a03:2000 if you mean it)",
  );
  assert.equal(r.warnings.filter((w) => w.includes("suggested as a companion")).length, 4);
});

test("AMD GPU host: amd iommu from the host bridge, HDMI audio companion, amdgpu blacklisted", () => {
  const r = importLspci(fixture("amd-gpu-nnk.txt"));
  assert.deepEqual(
    r.devices.map((d) => [d.alias, `${d.vendorId}:${d.productId}`, d.addresses, d.companions]),
    [["gpu", "1002:73a3", ["0000:03:00.0", "0000:23:00.0"], ["1002:ab28"]]],
  );
  assert.deepEqual(r.blacklistDrivers, ["amdgpu"]);
  assert.equal(r.iommu, "amd");
});

test("Intel NIC host: class 02 groups every NIC, drivers are not blacklisted (runbook: GPUs only)", () => {
  const all = importLspci(fixture("intel-nic-nnk.txt"), select({ classes: ["02"] }));
  assert.deepEqual(
    all.devices.map((d) => [d.alias, d.addresses.length]),
    [["nic-1521", 2], ["nic-1572", 4], ["nic-1592", 2]],
  );
  assert.deepEqual(all.blacklistDrivers, []);
  assert.deepEqual(
    all.warnings.map((w) => w.slice(0, w.indexOf(")") + 1)),
    [
      "not blacklisted: igb (Ethernet controller at 0000:18:00.0)",
      "not blacklisted: i40e (Ethernet controller at 0000:3b:00.0)",
      "not blacklisted: ice (Ethernet controller at 0000:5e:00.0)",
      "SR-IOV capability not known: the input has no `Capabilities` lines (use `sudo lspci -nnkvvv`)",
    ],
  );
  // Without -vvv nothing says the E810 can do SR-IOV: no deviceType is proposed (see the -nnvvv test).
  assert.ok(all.devices.every((d) => d.deviceType === undefined));
  const e810 = importLspci(fixture("intel-nic-nnk.txt"), select({ ids: ["8086:1592"] }));
  assert.deepEqual(e810.devices.map((d) => [d.alias, d.addresses, d.companions]), [["nic", ["0000:5e:00.0", "0000:5e:00.1"], []]]);
  // Default selection (display controllers): only the iDRAC's Matrox, which is left out.
  assert.deepEqual(importLspci(fixture("intel-nic-nnk.txt")).devices, []);
});

test("-D output: domain-qualified addresses, 3D controllers are class 03, the proprietary driver's modules", () => {
  const r = importLspci(fixture("tesla-domain-Dnnk.txt"));
  assert.deepEqual(r.devices.map((d) => [d.alias, d.productId, d.addresses]), [["gpu", "1eb8", ["0000:3b:00.0", "0000:d8:00.0"]]]);
  assert.deepEqual(r.blacklistDrivers, ["nvidiafb", "nouveau", "nvidia_drm", "nvidia"]);
  // --class 0300 is a 4-digit class: the T4 is 0302 and does not match.
  assert.deepEqual(importLspci(fixture("tesla-domain-Dnnk.txt"), select({ classes: ["0300"] })).devices, []);
  // --id selects what a class selection leaves out, even BMC graphics.
  assert.deepEqual(importLspci(fixture("tesla-domain-Dnnk.txt"), select({ ids: ["102b:0536"] })).devices.map((d) => d.addresses), [["0000:03:00.0"]]);
});

/** A function without what only -v shows, to compare captures taken with and without it. */
const withoutCapabilities = ({ capabilities: _c, sriov: _s, ...f }: PciFunction) => f;

test("real captures from this machine (a KVM guest): -nnk, -Dnnvk and -nnkvvv (root or not) read the same functions", () => {
  // Captured with pciutils 3.9 (Debian 12) on the same VM: `lspci -nnk`, `lspci -Dnnvk`, and `lspci -nnkvvv`
  // as root and as the user nobody (who gets `Capabilities: <access denied>`).
  const k = parseLspci(fixture("virtio-vm-nnk.txt"));
  const v = parseLspci(fixture("virtio-vm-Dnnvk.txt"));
  const vvv = parseLspci(fixture("virtio-vm-nnkvvv.txt"));
  const user = parseLspci(fixture("virtio-vm-user-nnkvvv.txt"));
  for (const other of [v, vvv, user]) assert.deepEqual(other.functions.map(withoutCapabilities), k.functions);
  assert.deepEqual([k.skippedLines, v.skippedLines, vvv.skippedLines, user.skippedLines], [0, 0, 0, 0]);
  // The host bridge has no capability list (Status: Cap-); the virtio functions have one and no SR-IOV.
  const caps = (p: LspciParse) => p.functions.map((f) => [f.capabilities ?? null, f.sriov ?? null]);
  assert.deepEqual(caps(k), Array(6).fill([null, null]));
  assert.deepEqual(caps(v), [[null, null], ...Array(5).fill(["read", null])]);
  assert.deepEqual(caps(vvv), caps(v));
  assert.deepEqual(caps(user), [[null, null], ...Array(5).fill(["denied", null])]);
  assert.deepEqual(
    k.functions.map((f) => [f.address, f.classCode, `${f.vendorId}:${f.productId}`, f.driver ?? null]),
    [
      ["0000:00:00.0", "0600", "8086:0d57", null],
      ["0000:00:01.0", "ffff", "1af4:1045", "virtio-pci"],
      ["0000:00:02.0", "0180", "1af4:1042", "virtio-pci"],
      ["0000:00:03.0", "0200", "1af4:1041", "virtio-pci"],
      ["0000:00:04.0", "ffff", "1af4:1053", "virtio-pci"],
      ["0000:00:05.0", "ffff", "1af4:1044", "virtio-pci"],
    ],
  );
  const nic = importLspci(fixture("virtio-vm-Dnnvk.txt"), select({ classes: ["02"] }));
  assert.deepEqual(nic.devices.map((d) => [d.alias, d.vendorId, d.productId, d.addresses, d.deviceType]), [["nic", "1af4", "1041", ["0000:00:03.0"], undefined]]);
  assert.deepEqual(nic.blacklistDrivers, []);
  assert.equal(nic.iommu, "intel");
  // Its capabilities were read and have no SR-IOV: nothing to say about SR-IOV.
  const sriovWarnings = (file: string) => importLspci(fixture(file), select({ classes: ["02"] })).warnings.filter((w) => w.includes("SR-IOV"));
  assert.deepEqual(sriovWarnings("virtio-vm-Dnnvk.txt"), []);
  assert.deepEqual(sriovWarnings("virtio-vm-nnkvvv.txt"), []);
  // Read as a user: the same device, and the warning that SR-IOV could not be checked.
  assert.deepEqual(sriovWarnings("virtio-vm-user-nnkvvv.txt"), [
    '0000:00:03.0: SR-IOV capability could not be read (lspci printed "Capabilities: <access denied>"): run it as root (sudo lspci -nnkvvv); a device that can do SR-IOV needs deviceType: type-PF',
  ]);
  // No display controller in a headless guest: nothing matches by default.
  assert.deepEqual(importLspci(fixture("virtio-vm-nnk.txt")).devices, []);
});

// intel-e810-sriov-nnvvv.txt, intel-e810-user-nnkvvv.txt and quadro-p5000-nnkvvv.txt follow the -vvv layout of
// pciutils 3.9 line by line (ls-caps.c, ls-ecaps.c cap_sriov; the virtio-vm-*nnkvvv.txt captures of this
// machine, root and not): the E810 block after a published capture of an E810 (intel-wired-lan, 2022) with
// the E810-C-Q2's ids and its 128 VFs per PF, the P5000 and its HDMI audio after a Pascal GPU's capture.
test("SR-IOV NIC from `lspci -nnvvv`: both PFs show the capability, the device is proposed as type-PF, and why", () => {
  const text = fixture("intel-e810-sriov-nnvvv.txt");
  const { functions, skippedLines } = parseLspci(text);
  assert.equal(skippedLines, 0);
  assert.deepEqual(
    functions.map((f) => [f.address, `${f.vendorId}:${f.productId}`, f.capabilities, f.sriov]),
    [
      ["0000:5e:00.0", "8086:1592", "read", { totalVfs: 128 }],
      ["0000:5e:00.1", "8086:1592", "read", { totalVfs: 128 }],
    ],
  );
  const r = importLspci(text, select({ classes: ["02"] }));
  assert.deepEqual(
    r.devices.map(({ alias, addresses, deviceType, totalVfs }) => ({ alias, addresses, deviceType, totalVfs })),
    [{ alias: "nic", addresses: ["0000:5e:00.0", "0000:5e:00.1"], deviceType: "type-PF", totalVfs: 128 }],
  );
  // The capability list was read: no warning about SR-IOV; -nnvvv without -k has no driver to mention.
  assert.deepEqual(r.warnings, []);
  const snippet = renderSnippet(r);
  const device = (parseYaml(snippet) as Record<string, Array<Record<string, unknown>>>)["pci-passthrough:devices"]![0]!;
  assert.equal(device.deviceType, "type-PF");
  // The comment right above deviceType gives the reason with its sources.
  const lines = snippet.split("\n");
  const at = lines.indexOf("    deviceType: type-PF");
  const why = lines.slice(0, at).reverse().findIndex((l) => !l.startsWith("    # "));
  const comment = lines.slice(at - why, at).join(" ");
  assert.match(comment, /Single Root I\/O Virtualization \(SR-IOV\)", Total VFs: 128/);
  assert.match(comment, /sriov_totalvfs > 0 .* type-PF \(nova\/virt\/libvirt.* PciDeviceStats drops PFs .*nova\/pci\/stats\.py/);
});

test("GPU without SR-IOV from `lspci -nnkvvv`: capabilities read, no deviceType, the same device as -nnk shows", () => {
  const r = importLspci(fixture("quadro-p5000-nnkvvv.txt"));
  assert.deepEqual(
    r.devices.map(({ alias, vendorId, productId, addresses, companions, deviceType }) => ({ alias, vendorId, productId, addresses, companions, deviceType })),
    [{ alias: "gpu", vendorId: "10de", productId: "1bb0", addresses: ["0000:83:00.0"], companions: ["10de:10f0"], deviceType: undefined }],
  );
  assert.deepEqual(r.blacklistDrivers, ["nvidiafb", "nouveau"]);
  assert.deepEqual(r.warnings, [
    "0000:83:00.1 NVIDIA Corporation GP104 High Definition Audio Controller [10de:10f0] shares slot 0000:83:00 with 0000:83:00.0: likely in its IOMMU group, suggested as a companion (check /sys/bus/pci/devices/0000:83:00.0/iommu_group/devices)",
  ]);
  const vvv = parseLspci(fixture("quadro-p5000-nnkvvv.txt")).functions;
  assert.deepEqual(vvv.map((f) => [f.capabilities, f.sriov]), [["read", undefined], ["read", undefined]]);
  // The same two functions of the runbook's host, read from its -nnk capture.
  const nnk = parseLspci(fixture("nvidia-multi-gpu-nnk.txt")).functions.filter((f) => f.slot === "0000:83:00");
  assert.deepEqual(vvv.map(withoutCapabilities), nnk);
});

test("`lspci -nnkvvv` as a user: `Capabilities: <access denied>` gives a warning to run it as root, no deviceType", () => {
  const r = importLspci(fixture("intel-e810-user-nnkvvv.txt"), select({ ids: ["8086:1592"] }));
  assert.deepEqual(parseLspci(fixture("intel-e810-user-nnkvvv.txt")).functions.map((f) => f.capabilities), ["denied", "denied"]);
  assert.equal(r.devices[0]!.deviceType, undefined);
  assert.deepEqual(r.warnings, [
    '0000:5e:00.0, 0000:5e:00.1: SR-IOV capability could not be read (lspci printed "Capabilities: <access denied>"): run it as root (sudo lspci -nnkvvv); a device that can do SR-IOV needs deviceType: type-PF',
    "not blacklisted: ice (Ethernet controller at 0000:5e:00.0): the runbook blacklists GPU drivers only; other devices are unbound and handed to vfio-pci",
  ]);
});
