import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { importHosts, type HostCapture, type SiteImport } from "../tools/import-lspci/hosts";
import { importLspci, parseClassOption, parseIdOption, type Selection } from "../tools/import-lspci/import";
import { modelName } from "../tools/lib/names";
import { parseLspci, type LspciParse, type PciFunction } from "../tools/import-lspci/lspci";
import { renderProposal, renderSnippet } from "../tools/import-lspci/proposal";
import { parseSiteConfig } from "../config/parse";
import { formatProblems } from "../config/problems";
import { flavorGroups } from "../domain/nova-pci";
import { JUJU_APPLICATION_NAME } from "../domain/juju";
import { ROOT, editStack, expectGolden, rawStack } from "./helpers";

const FIXTURES = path.join(ROOT, "test", "fixtures", "lspci");
const fixture = (name: string): string => readFileSync(path.join(FIXTURES, name), "utf8");
const select = (s: Partial<Selection>): Selection => ({ classes: [], ids: [], ...s });

/** Every fixture with the selections worth a golden snippet. */
const CASES: { golden: string; file: string; args: string[]; selection?: Selection }[] = [
  { golden: "lspci-runbook.yaml", file: "runbook-nn.txt", args: [] },
  { golden: "lspci-nvidia-multi-gpu.yaml", file: "nvidia-multi-gpu-nnk.txt", args: [] },
  { golden: "lspci-nvidia-p5000-by-id.yaml", file: "nvidia-multi-gpu-nnk.txt", args: ["--id", "10de:1bb0"], selection: select({ ids: ["10de:1bb0"] }) },
  { golden: "lspci-amd-gpu.yaml", file: "amd-gpu-nnk.txt", args: [] },
  { golden: "lspci-intel-nic-class02.yaml", file: "intel-nic-nnk.txt", args: ["--class", "02"], selection: select({ classes: ["02"] }) },
  { golden: "lspci-intel-nic-e810.yaml", file: "intel-nic-nnk.txt", args: ["--id", "8086:1592"], selection: select({ ids: ["8086:1592"] }) },
  { golden: "lspci-tesla-domain.yaml", file: "tesla-domain-Dnnk.txt", args: [] },
  { golden: "lspci-intel-e810-sriov.yaml", file: "intel-e810-sriov-nnvvv.txt", args: ["--class", "02"], selection: select({ classes: ["02"] }) },
  { golden: "lspci-intel-e810-not-root.yaml", file: "intel-e810-user-nnkvvv.txt", args: ["--id", "8086:1592"], selection: select({ ids: ["8086:1592"] }) },
  { golden: "lspci-quadro-p5000-vvv.yaml", file: "quadro-p5000-nnkvvv.txt", args: [] },
];

// -nn and -nnk cannot show capabilities: the importer says so, because an SR-IOV device needs type-PF.
const SRIOV_UNKNOWN =
  "SR-IOV capability not known: the input has no `Capabilities` lines (use `sudo lspci -nnkvvv`); a device that can do SR-IOV needs deviceType: type-PF";

/** Runs the CLI the way `npm run import-lspci` does (tsx), from the repository root. */
function cli(args: string[], input?: string) {
  const r = spawnSync(process.execPath, ["--import", "tsx", "tools/import-lspci/main.ts", ...args], {
    cwd: ROOT,
    input: input ?? "",
    encoding: "utf8",
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

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

test("parseLspci: the SR-IOV capability in -v and -vv form, Total VFs only from inside it", () => {
  const text = [
    // -v: no version in the brackets, no detail lines.
    "01:00.0 Ethernet controller [0200]: Mellanox Technologies MT28800 Family [ConnectX-5 Ex] [15b3:1019]",
    "\tCapabilities: [60] Express Endpoint, MSI 00",
    "\tCapabilities: [180] Single Root I/O Virtualization (SR-IOV)",
    "",
    // A capability with a similar name is not SR-IOV; a stray Total VFs line outside SR-IOV is ignored.
    "02:00.0 Ethernet controller [0200]: Vendor NIC [1111:2222]",
    "\tCapabilities: [1a0 v1] Multi-Root I/O Virtualization <?>",
    "\t\tInitial VFs: 8, Total VFs: 8, Number of VFs: 0, Function Dependency Link: 00",
    "",
    "03:00.0 Ethernet controller [0200]: Vendor NIC [1111:3333]",
    "\tCapabilities: [160 v1] Single Root I/O Virtualization (SR-IOV)",
    "\t\tIOVCap:\tMigration-, Interrupt Message Number: 000",
    "\t\tInitial VFs: 64, Total VFs: 64, Number of VFs: 4, Function Dependency Link: 00",
    "",
    "\tCapabilities: [160 v1] Single Root I/O Virtualization (SR-IOV)",
  ].join("\n");
  const { functions, skippedLines } = parseLspci(text);
  assert.deepEqual(functions.map((f) => [f.address, f.capabilities, f.sriov]), [
    ["0000:01:00.0", "read", {}],
    ["0000:02:00.0", "read", undefined],
    ["0000:03:00.0", "read", { totalVfs: 64 }],
  ]);
  // The capability line after a blank line belongs to no device.
  assert.equal(skippedLines, 1);
  // -v without a Total VFs count: still type-PF, the comment just has no count.
  const r = importLspci(text, select({ classes: ["02"] }));
  assert.deepEqual(r.devices.map((d) => [d.alias, d.deviceType ?? null, d.totalVfs ?? null]), [
    ["nic-1019", "type-PF", null],
    ["nic-2222", null, null],
    ["nic-3333", "type-PF", 64],
  ]);
  assert.match(renderSnippet(r), /# SR-IOV capable \(lspci: "Single Root I\/O Virtualization \(SR-IOV\)"\): libvirt/);
});

test("parseLspci reads -nn, -nnk and -D lines with their suffixes and detail lines", () => {
  const text = [
    "$ lspci -nnk -s 83:00",
    "0000:83:00.0 VGA compatible controller [0300]: NVIDIA Corporation GP104GL [Quadro P5000] [10de:1BB0] (rev a1) (prog-if 00 [VGA controller])\r",
    "\tDeviceName: Onboard IGD",
    "\tSubsystem: NVIDIA Corporation GP104GL [Quadro P5000] [10de:11b2]",
    "\tKernel driver in use: nouveau",
    "\tKernel modules: nvidiafb, nouveau",
    "\tFlags: bus master, fast devsel, latency 0, IRQ 94",
    "83:00.1 Audio device [0403]: NVIDIA Corporation GP104 High Definition Audio Controller [10de:10f0] (rev a1)",
    "",
    "\tKernel driver in use: orphan",
  ].join("\n");
  const { functions, skippedLines } = parseLspci(text);
  assert.deepEqual(functions, [
    {
      address: "0000:83:00.0",
      slot: "0000:83:00",
      classCode: "0300",
      className: "VGA compatible controller",
      vendorId: "10de",
      productId: "1bb0",
      description: "NVIDIA Corporation GP104GL [Quadro P5000]",
      modules: ["nvidiafb", "nouveau"],
      subsystem: "NVIDIA Corporation GP104GL [Quadro P5000] [10de:11b2]",
      driver: "nouveau",
    },
    {
      address: "0000:83:00.1",
      slot: "0000:83:00",
      classCode: "0403",
      className: "Audio device",
      vendorId: "10de",
      productId: "10f0",
      description: "NVIDIA Corporation GP104 High Definition Audio Controller",
      modules: [],
    },
  ]);
  // The shell prompt and the detail line after a blank line belong to no device.
  assert.equal(skippedLines, 2);
});

test("lines that are not lspci -nn output are skipped, never fatal", () => {
  const notNn = "83:00.0 VGA compatible controller: NVIDIA Corporation GP104GL [Quadro P5000] (rev a1)\n";
  assert.deepEqual(parseLspci(notNn), { functions: [], skippedLines: 1 });
  const bad = [
    "83:00 VGA compatible controller [0300]: NVIDIA Corporation Device [10de:1bb0]", // no function
    "83:00.8 VGA compatible controller [0300]: NVIDIA Corporation Device [10de:1bb0]", // function > 7
    "83:00.0 VGA compatible controller [0300]: NVIDIA Corporation Device [10de:1bb]", // short id
    "83:00.0 VGA compatible controller [0300]: NVIDIA Corporation Device [10de:1bb0] trailing words",
    "x".repeat(100_000),
    "\u0000\u0001\uFFFD[10de:1bb0]",
  ].join("\n");
  assert.deepEqual(parseLspci(bad), { functions: [], skippedLines: 6 });
});

test("truncated captures never crash and only ever yield devices of the full capture", () => {
  const full = fixture("nvidia-multi-gpu-nnk.txt");
  const known = new Set(parseLspci(full).functions.map((f) => f.address));
  for (let cut = 0; cut <= full.length; cut += 7) {
    const part = full.slice(0, cut);
    const r = importLspci(part);
    for (const d of r.devices) for (const a of d.addresses) assert.ok(known.has(a), `${a} at cut ${cut}`);
    assert.doesNotThrow(() => renderSnippet(r));
  }
  // Arbitrary bytes, decoded as the CLI decodes them.
  let seed = 42;
  const bytes = Buffer.from(Array.from({ length: 20_000 }, () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) >> 16 & 0xff));
  assert.deepEqual(importLspci(bytes.toString("utf8")).devices, []);
});

test("alias suggestions satisfy the alias rule and stay unique", () => {
  const text = [
    "01:00.0 VGA compatible controller [0300]: Vendor A [1111:2222]",
    "02:00.0 VGA compatible controller [0300]: Vendor B [3333:2222]",
    "03:00.0 Ethernet controller [0200]: NIC [8086:1592] (rev 02)",
    "04:00.0 Non-Volatile memory controller [0108]: Samsung Electronics Co Ltd NVMe SSD Controller PM9A1/PM9A3/980PRO [144d:a80a] (prog-if 02 [NVM Express])",
    "05:00.0 Processing accelerators [1200]: Accel [1d0f:8061]",
  ].join("\n");
  const r = importLspci(text, select({ classes: ["03", "02", "01", "12"] }));
  assert.deepEqual(r.devices.map((d) => d.alias), ["gpu-1111-2222", "gpu-3333-2222", "nic", "nvme", "accel"]);
});

test("--class and --id values are checked", () => {
  assert.equal(parseClassOption("03"), "03");
  assert.equal(parseClassOption("0C03"), "0c03");
  assert.equal(parseClassOption("3"), undefined);
  assert.equal(parseClassOption("030"), undefined);
  assert.equal(parseClassOption("030000"), undefined);
  assert.equal(parseIdOption("10DE:1BB0"), "10de:1bb0");
  assert.equal(parseIdOption("10de"), undefined);
  assert.equal(parseIdOption("10de:1bb0:00"), undefined);
});

for (const c of CASES) {
  test(`golden snippet ${c.golden}, and it validates with the dev stack`, () => {
    const snippet = renderSnippet(importLspci(fixture(c.file), c.selection), `test/fixtures/lspci/${c.file}`);
    expectGolden(c.golden, snippet);
    const doc = parseYaml(snippet) as Record<string, any>;
    const devices = doc["pci-passthrough:devices"] as { alias: string; vendorId: unknown }[];
    // Quoted: YAML must not turn 8086 or 1002 into numbers.
    for (const d of devices) assert.equal(typeof d.vendorId, "string");
    const raw = editStack("dev", (s) => {
      s.devices = devices;
      Object.assign(s.host, doc["pci-passthrough:host"]);
      s.flavors[0].pci = { [devices[0]!.alias]: 1 };
    });
    const parsed = parseSiteConfig(raw);
    assert.ok(parsed.ok, parsed.ok ? "" : formatProblems(parsed.problems));
  });
}

test("CLI: file argument and stdin (absent or -) print the same snippet", () => {
  const fromFile = cli(["test/fixtures/lspci/runbook-nn.txt"]);
  assert.equal(fromFile.status, 0, fromFile.stderr);
  expectGolden("lspci-runbook.yaml", fromFile.stdout);
  assert.equal(fromFile.stderr, "import-lspci: 2 warning(s), see the comments at the top of the output\n");
  const text = fixture("runbook-nn.txt");
  const expected = fromFile.stdout.replace("From test/fixtures/lspci/runbook-nn.txt", "From stdin");
  assert.equal(cli([], text).stdout, expected);
  assert.equal(cli(["-"], text).stdout, expected);
});

test("CLI: options select, skipped lines are reported", () => {
  for (const c of CASES.filter((x) => x.args.length > 0)) {
    const r = cli([...c.args, `test/fixtures/lspci/${c.file}`]);
    assert.equal(r.status, 0, r.stderr);
    expectGolden(c.golden, r.stdout);
  }
  const r = cli(["--class", "03", "--id", "8086:1592"], `$ lspci -nn\n${fixture("intel-nic-nnk.txt")}`);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual((parseYaml(r.stdout) as Record<string, { alias: string }[]>)["pci-passthrough:devices"]!.map((d) => d.alias), ["nic"]);
  assert.match(r.stderr, /^import-lspci: skipped 1 line that was not `lspci -nn` output$/m);
});

test("CLI: bad options, unreadable files and empty selections exit 2 with one clear message", () => {
  const cases: [string[], string | undefined, string][] = [
    [["--class", "3"], "", 'import-lspci: --class "3" is not a PCI class (2 or 4 hex digits, e.g. 03 or 0300)'],
    [["--id", "10de"], "", 'import-lspci: --id "10de" is not a vendor:product id (VVVV:PPPP, e.g. 10de:1bb0)'],
    [["--vendor", "10de"], "", "import-lspci: Unknown option '--vendor'"],
    [["test/fixtures/lspci/missing.txt"], "", "import-lspci: cannot read test/fixtures/lspci/missing.txt: ENOENT"],
    [["--id", "10de:ffff", "test/fixtures/lspci/runbook-nn.txt"], undefined, "import-lspci: no PCI function matched id 10de:ffff in test/fixtures/lspci/runbook-nn.txt\n"],
    [[], "garbage\nmore garbage\n", "import-lspci: no PCI function matched class 03 in stdin; 2 lines that were not `lspci -nn` output (the [vvvv:pppp] ids are needed)\n"],
  ];
  for (const [args, input, message] of cases) {
    const r = cli(args, input);
    assert.equal(r.status, 2, args.join(" "));
    assert.equal(r.stdout, "", args.join(" "));
    assert.ok(r.stderr.startsWith(message), `${args.join(" ")}: ${r.stderr}`);
  }
  // Only the nothing-matched case explains itself without the usage text; bad options show it.
  assert.match(cli(["--class", "3"]).stderr, /\nusage: npm run import-lspci -- /);
});

// ---------------------------------------------------------------------------------------------------
// Several hosts (issue 14): test/fixtures/lspci-site holds one capture per host of a mixed site, in the
// layouts of the captures above: two A100 PCIe 80GB hosts on Ice Lake-SP (00:00.0 is the "Memory Map/VT-d"
// system peripheral there, as in the Ice Lake topologies posted to linux-pci and kvm), one taken with
// `sudo lspci -nnkv` on a fresh host, one with `lspci -nnk` after the NVIDIA driver was installed; an L40S
// host on AMD EPYC with its first GPU at the same slot, 17:00.0; a Dell host with a ConnectX-6 Dx (the
// capability list after a ConnectX capture posted to the kvm list, 2025). Names and ids from pci.ids. Its own
// folder: a site is a set of captures, and other suites read test/fixtures/lspci file by file.

const SITE = "test/fixtures/lspci-site";
const capture = (name: string, text?: string): HostCapture => ({ source: `${SITE}/${name}`, text: text ?? readFileSync(path.join(ROOT, SITE, name), "utf8") });
const THREE_KINDS = ["a100-r01-nnkv.txt", "a100-r02-nnk.txt", "l40s-r03-nnkv.txt", "cx6-r04-nnkv.txt"];
const GPUS_AND_CX6 = select({ classes: ["03"], ids: ["15b3:101d"] });

/** A capture with only the functions (and their detail lines) whose address `keep` accepts. */
function functionsOf(text: string, keep: (address: string) => boolean): string {
  let kept = false;
  return text
    .split("\n")
    .filter((line) => {
      if (/^[0-9a-f]/.test(line)) kept = keep(line.slice(0, line.indexOf(" ")));
      return kept;
    })
    .join("\n");
}

const at = (...prefixes: string[]) => (address: string) => prefixes.some((p) => address.startsWith(p));
const not = (f: (a: string) => boolean) => (a: string) => !f(a);
const siteFile = (name: string) => readFileSync(path.join(ROOT, SITE, name), "utf8");
/** The second A100 host's capture on an AMD board: its bus 00 replaced by the L40S host's. */
const a100OnAmd = () => `${functionsOf(siteFile("l40s-r03-nnkv.txt"), at("00:"))}\n${functionsOf(siteFile("a100-r02-nnk.txt"), not(at("00:")))}`;

/** What a test needs to see of a kind. */
const kindSummary = (s: SiteImport) =>
  s.kinds.map((k) => ({
    name: k.name,
    hosts: k.sources.map((x) => path.basename(x)),
    iommu: k.iommu ?? null,
    devices: k.devices.map((d) => [d.alias, `${d.vendorId}:${d.productId}`, d.addresses, d.companions, d.deviceType ?? null]),
    blacklist: k.blacklistDrivers,
    shared: k.sharedIds,
  }));

/** The raw mixed stack with the snippet's host groups, and one flavor per alias asking for one device. */
function mixedWith(snippet: string, edit: (groups: any[]) => void = () => {}): Record<string, unknown> {
  const groups = (parseYaml(snippet) as Record<string, any[]>)["pci-passthrough:hostGroups"]!;
  edit(groups);
  const aliases = [...new Set(groups.flatMap((g) => g.devices.map((d: { alias: string }) => d.alias)))];
  return editStack("mixed", (s) => {
    s.hostGroups = groups;
    s.flavors = aliases.map((a) => ({ name: `t1.${a}`, ram: 8192, vcpus: 4, disk: 40, pci: { [a]: 1 } }));
  });
}

test("Ice Lake-SP and later: Intel's 00:00.0 is a system peripheral (0880), not a host bridge, and still says intel", () => {
  assert.equal(importLspci(siteFile("a100-r01-nnkv.txt")).iommu, "intel");
  assert.equal(importLspci(siteFile("cx6-r04-nnkv.txt"), select({ classes: ["02"] })).iommu, "intel");
  // Only 00:00.0 counts among system peripherals: the Xeon E5's 00:05.0 VT-d function does not decide it.
  const amdBridge = "00:00.0 Host bridge [0600]: Advanced Micro Devices, Inc. [AMD] Starship/Matisse Root Complex [1022:1480]";
  const intelPeripheral = "00:05.0 System peripheral [0880]: Intel Corporation Xeon E7 v4/Xeon E5 v4/Xeon E3 v4/Xeon D Map/VTd_Misc/System Management [8086:6f28] (rev 01)";
  const gpu = "17:00.0 3D controller [0302]: NVIDIA Corporation GA100 [A100 PCIe 80GB] [10de:20b5] (rev a1)";
  assert.equal(importLspci([amdBridge, intelPeripheral, gpu].join("\n")).iommu, "amd");
  assert.equal(importLspci([intelPeripheral, gpu].join("\n")).iommu, undefined);
});

test("modelName: the marketing name's model word, else the chip's, else none", () => {
  const cases: [string, string | undefined][] = [
    ["NVIDIA Corporation GA100 [A100 PCIe 80GB]", "a100"],
    ["NVIDIA Corporation AD102GL [L40S]", "l40s"],
    ["Mellanox Technologies MT2892 Family [ConnectX-6 Dx]", "connectx6"],
    ["NVIDIA Corporation GP104GL [Quadro P5000]", "p5000"],
    ["NVIDIA Corporation TU104GL [Tesla T4]", "t4"],
    ["Advanced Micro Devices, Inc. [AMD/ATI] Navi 21 GL-XL [Radeon PRO W6800]", "w6800"],
    // No model word in the bracket: the chip before it.
    ["NVIDIA Corporation GP102 [GeForce GTX 1080 Ti]", "gp102"],
    ["Intel Corporation Ethernet Controller E810-C for QSFP", "e810c"],
    ["Intel Corporation I350 Gigabit Network Connection", "i350"],
    // Names pci.ids does not know yet ("Device 26b9"), or without any model word.
    ["NVIDIA Corporation Device", undefined],
    ["Red Hat, Inc. Virtio 1.0 network device", undefined],
  ];
  for (const [description, name] of cases) assert.equal(modelName(description), name, description);
});

test("several hosts of three kinds: one group per kind, named after its model, selectByDevice where its devices are its own", () => {
  const site = importHosts(THREE_KINDS.map((f) => capture(f)), GPUS_AND_CX6);
  assert.deepEqual(kindSummary(site), [
    {
      name: "a100",
      hosts: ["a100-r01-nnkv.txt", "a100-r02-nnk.txt"],
      iommu: "intel",
      devices: [["a100", "10de:20b5", ["0000:17:00.0", "0000:31:00.0"], [], "type-PF"]],
      // Both hosts' drivers: the fresh host's Ubuntu modules, and the NVIDIA driver of the other.
      blacklist: ["nvidiafb", "nouveau", "nvidia_drm", "nvidia"],
      shared: [],
    },
    {
      name: "l40s",
      hosts: ["l40s-r03-nnkv.txt"],
      iommu: "amd",
      devices: [["l40s", "10de:26b9", ["0000:17:00.0", "0000:ca:00.0"], [], "type-PF"]],
      blacklist: ["nvidiafb", "nouveau"],
      shared: [],
    },
    {
      name: "connectx6",
      hosts: ["cx6-r04-nnkv.txt"],
      iommu: "intel",
      devices: [["connectx6", "15b3:101d", ["0000:b1:00.0", "0000:b1:00.1"], [], "type-PF"]],
      blacklist: [],
      shared: [],
    },
  ]);
  assert.deepEqual(site.warnings, []);
  // The -nnk capture cannot show SR-IOV: its warning gives way to where the answer came from.
  const a100 = site.kinds[0]!;
  assert.ok(!a100.warnings.some((w) => w.includes("SR-IOV capability not known")));
  assert.ok(a100.warnings.includes(`${SITE}/a100-r02-nnk.txt: its capture does not show the SR-IOV capability: taken from ${SITE}/a100-r01-nnkv.txt`));
  assert.deepEqual(site.skipped.map((s) => s.lines), [0, 0, 0, 0]);
});

test("golden hostGroups snippet of three kinds; it validates in the mixed stack, each alias's flavor fits its own group", () => {
  const site = importHosts(THREE_KINDS.map((f) => capture(f)), GPUS_AND_CX6);
  const snippet = renderProposal(site, { pool: "openstack" });
  expectGolden("lspci-site-three-kinds.yaml", snippet);
  // Without a scope the groups that select by device say what is missing, and the config refuses them.
  const unscoped = renderProposal(site);
  assert.match(unscoped, /among this cloud's machines: add pool: \(its MAAS resource pool\) and\/or zone:, or run again with --pool \/ --zone\./);
  const refused = parseSiteConfig(mixedWith(unscoped));
  assert.ok(!refused.ok);
  assert.deepEqual(
    refused.problems.map((p) => p.path),
    [0, 1, 2].map((i) => `pci-passthrough:hostGroups[${i}].maas.selectByDevice`),
  );
  assert.ok(refused.problems.every((p) => p.message.startsWith("selection by device must be scoped")));
  const parsed = parseSiteConfig(mixedWith(snippet));
  assert.ok(parsed.ok, parsed.ok ? "" : formatProblems(parsed.problems));
  const { groups, flavors } = parsed.config;
  assert.deepEqual(
    groups.map((g) => [g.name, g.maas.tag, g.maas.selectByDevice, g.application, g.host.iommu]),
    [
      ["a100", "pci-pass-a100", true, "nova-compute-a100", "intel"],
      ["l40s", "pci-pass-l40s", true, "nova-compute-l40s", "amd"],
      ["connectx6", "pci-pass-connectx6", true, "nova-compute-connectx6", "intel"],
    ],
  );
  assert.deepEqual(flavors.map((f) => [f.name, flavorGroups(groups, f).map((g) => g.name)]), [
    ["t1.a100", ["a100"]],
    ["t1.l40s", ["l40s"]],
    ["t1.connectx6", ["connectx6"]],
  ]);
});

test("hosts of one kind: today's devices and host snippet, saying which hosts agreed; it validates with the dev stack", () => {
  const site = importHosts(["a100-r01-nnkv.txt", "a100-r02-nnk.txt"].map((f) => capture(f)));
  assert.equal(site.kinds.length, 1);
  // One kind keeps today's class-based alias: no other kind to tell it from.
  assert.deepEqual(kindSummary(site)[0]!.devices, [["gpu", "10de:20b5", ["0000:17:00.0", "0000:31:00.0"], [], "type-PF"]]);
  const snippet = renderProposal(site);
  expectGolden("lspci-site-one-kind.yaml", snippet);
  assert.match(snippet, /^# 2 hosts agreed: the same selected functions at the same addresses, the same IOMMU vendor \(test\/fixtures\/lspci-site\/a100-r01-nnkv\.txt, test\/fixtures\/lspci-site\/a100-r02-nnk\.txt\)\.$/m);
  const doc = parseYaml(snippet) as Record<string, any>;
  const raw = editStack("dev", (s) => {
    s.devices = doc["pci-passthrough:devices"];
    Object.assign(s.host, doc["pci-passthrough:host"]);
    s.flavors[0].pci = { gpu: 1 };
  });
  const parsed = parseSiteConfig(raw);
  assert.ok(parsed.ok, parsed.ok ? "" : formatProblems(parsed.problems));
});

test("the same devices on Intel and on AMD are two kinds: named by IOMMU, and they must list their machines", () => {
  const site = importHosts([capture("a100-r01-nnkv.txt"), capture("a100-amd.txt", a100OnAmd())]);
  assert.deepEqual(
    kindSummary(site).map((k) => [k.name, k.hosts, k.iommu, k.shared]),
    [
      ["a100-intel", ["a100-r01-nnkv.txt"], "intel", [{ id: "10de:20b5", kinds: ["a100-amd"] }]],
      ["a100-amd", ["a100-amd.txt"], "amd", [{ id: "10de:20b5", kinds: ["a100-intel"] }]],
    ],
  );
  // The vendor:product in both kinds has one alias, one device_type (from the capture that showed SR-IOV).
  assert.deepEqual(site.kinds.map((k) => k.devices.map((d) => [d.alias, d.deviceType ?? null])), [[["a100", "type-PF"]], [["a100", "type-PF"]]]);
  const snippet = renderProposal(site);
  assert.match(snippet, /# machines: \[\.\.\.\]: list these hosts' MAAS system IDs \(maas PROFILE machines read\)\. No selectByDevice: 10de:20b5 is also in a100-amd,/);
  // What the comment asks for is exactly what is missing: nothing else is wrong with the groups.
  const refused = parseSiteConfig(mixedWith(snippet));
  assert.ok(!refused.ok);
  assert.deepEqual(formatProblems(refused.problems).split("\n"), [
    "pci-passthrough:hostGroups[0].maas: the tag selects no machine: give machines (system IDs), definition (an lshw XPath) or selectByDevice: true",
    "pci-passthrough:hostGroups[1].maas: the tag selects no machine: give machines (system IDs), definition (an lshw XPath) or selectByDevice: true",
  ]);
  const listed = parseSiteConfig(mixedWith(snippet, (groups) => groups.forEach((g, i) => (g.maas.machines = [`host${i}`]))));
  assert.ok(listed.ok, listed.ok ? "" : formatProblems(listed.problems));
  assert.deepEqual(listed.config.groups.map((g) => [g.name, g.application, g.host.iommu]), [
    ["a100-intel", "nova-compute-a100-intel", "intel"],
    ["a100-amd", "nova-compute-a100-amd", "amd"],
  ]);
});

test("a host with one card fewer is another kind (other addresses): a100 and a100-v2", () => {
  const oneCard = functionsOf(siteFile("a100-r02-nnk.txt"), not(at("30:", "31:")));
  const site = importHosts([capture("a100-r01-nnkv.txt"), capture("a100-one-card.txt", oneCard), capture("l40s-r03-nnkv.txt")]);
  assert.deepEqual(
    site.kinds.map((k) => [k.name, k.devices.map((d) => [d.alias, d.addresses]), k.sharedIds.map((x) => x.kinds)]),
    [
      ["a100", [["a100", ["0000:17:00.0", "0000:31:00.0"]]], [["a100-v2"]]],
      ["a100-v2", [["a100", ["0000:17:00.0"]]], [["a100"]]],
      ["l40s", [["l40s", ["0000:17:00.0", "0000:ca:00.0"]]], []],
    ],
  );
  const parsed = parseSiteConfig(mixedWith(renderProposal(site, { zone: "az1" }), (groups) => groups.slice(0, 2).forEach((g, i) => (g.maas.machines = [`host${i}`]))));
  assert.ok(parsed.ok, parsed.ok ? "" : formatProblems(parsed.problems));
  // A flavor for two A100s fits only the hosts that have two.
  assert.deepEqual(flavorGroups(parsed.config.groups, { pci: { a100: 2 } }).map((g) => g.name), ["a100"]);
});

test("a capture without the host bridge joins the kind with its devices, or is left out when two kinds have them", () => {
  const gpusOnly = functionsOf(siteFile("a100-r02-nnk.txt"), at("17:", "31:"));
  assert.equal(importLspci(gpusOnly).iommu, undefined);
  const joined = importHosts([capture("a100-r01-nnkv.txt"), capture("gpus-only.txt", gpusOnly), capture("l40s-r03-nnkv.txt")]);
  assert.deepEqual(kindSummary(joined).map((k) => [k.name, k.hosts, k.iommu]), [
    ["a100", ["a100-r01-nnkv.txt", "gpus-only.txt"], "intel"],
    ["l40s", ["l40s-r03-nnkv.txt"], "amd"],
  ]);
  assert.equal(
    joined.kinds[0]!.warnings[0],
    `${SITE}/gpus-only.txt: IOMMU vendor not known (the capture shows no host bridge on bus 00): taken as intel, as ${SITE}/a100-r01-nnkv.txt, which have the same devices`,
  );
  const ambiguous = importHosts([capture("a100-r01-nnkv.txt"), capture("a100-amd.txt", a100OnAmd()), capture("gpus-only.txt", gpusOnly)]);
  assert.deepEqual(kindSummary(ambiguous).map((k) => k.hosts), [["a100-r01-nnkv.txt"], ["a100-amd.txt"]]);
  assert.deepEqual(ambiguous.warnings, [
    `${SITE}/gpus-only.txt: left out of every group: the same devices as hosts with intel (${SITE}/a100-r01-nnkv.txt) and amd (${SITE}/a100-amd.txt) IOMMUs, ` +
      "and the capture shows no host bridge to tell which (capture the whole `lspci -nnk`)",
  ]);
  // Alone, such hosts are a kind of their own, whose group must be told its IOMMU vendor.
  const alone = importHosts([capture("gpus-only.txt", gpusOnly), capture("l40s-r03-nnkv.txt")]);
  assert.deepEqual(kindSummary(alone).map((k) => [k.name, k.iommu]), [["a100", null], ["l40s", "amd"]]);
  assert.match(renderProposal(alone), /\n {4}host:\n {6}# Set iommu: intel or amd: no capture of these hosts shows the host bridge\.\n {6}blacklistDrivers:/);
});

test("a host with no selected device is left out with its own warnings; none at all leaves no kind", () => {
  const site = importHosts(THREE_KINDS.map((f) => capture(f)));
  assert.deepEqual(site.kinds.map((k) => k.name), ["a100", "l40s"]);
  assert.deepEqual(site.warnings, [
    `${SITE}/cx6-r04-nnkv.txt: left out of every group: no PCI function matched class 03`,
    `${SITE}/cx6-r04-nnkv.txt: left out 0000:03:00.0 Matrox Electronics Systems Ltd. Integrated Matrox G200eW3 Graphics Controller [102b:0536]: Matrox BMC graphics is the host's own console (select it with --id 102b:0536 if you mean it)`,
  ]);
  assert.deepEqual(importHosts([capture("cx6-r04-nnkv.txt"), capture("garbage.txt", "not lspci\n")]).kinds, []);
});

test("hosts of one kind that disagree on companions or on SR-IOV: the group takes the union, with a warning", () => {
  // The runbook's host, and one whose capture lacks the P5000s' HDMI audio functions.
  const full = fixture("nvidia-multi-gpu-nnk.txt");
  const noAudio = functionsOf(full, not(at("83:00.1", "84:00.1")));
  const p5000 = importHosts([capture("full.txt", full), capture("no-audio.txt", noAudio)], select({ ids: ["10de:1bb0"] }));
  assert.equal(p5000.kinds.length, 1);
  assert.deepEqual(p5000.kinds[0]!.devices.map((d) => d.companions), [["10de:10f0"]]);
  assert.equal(
    p5000.kinds[0]!.warnings[0],
    `10de:10f0: next to 10de:1bb0 on ${SITE}/full.txt but not on ${SITE}/no-audio.txt: a companion for the whole group (vfio-pci.ids matches nothing on a host without it)`,
  );
  // An A100 host whose capability list was read and shows no SR-IOV (disabled in its firmware).
  const noSriov = siteFile("a100-r01-nnkv.txt").replace(/^\tCapabilities: \[bcc\] Single Root.*\n/gm, "");
  const sriov = importHosts([capture("a100-r01-nnkv.txt"), capture("no-sriov.txt", noSriov)]);
  assert.deepEqual(sriov.kinds.map((k) => k.devices.map((d) => d.deviceType)), [["type-PF"]]);
  assert.deepEqual(sriov.warnings, [
    `10de:20b5: SR-IOV capable on ${SITE}/a100-r01-nnkv.txt but not on ${SITE}/no-sriov.txt (whose capability lists were read): proposed as type-PF, ` +
      "since an alias has one device_type across the cloud; Nova records the others' as type-PCI, which this alias never matches (check SR-IOV in their firmware settings)",
  ]);
});

test("names without a model word: class-based aliases, group names whose every part holds a letter (Juju application names)", () => {
  // Two virtio NICs pci.ids names without a model: both "nic", told apart by product id.
  const host = (product: string, name: string) =>
    [
      "00:00.0 Host bridge [0600]: Intel Corporation 440FX - 82441FX PMC [Natoma] [8086:1237] (rev 02)",
      `00:03.0 Ethernet controller [0200]: Red Hat, Inc. ${name} [1af4:${product}]`,
    ].join("\n");
  const site = importHosts([capture("vm1.txt", host("1000", "Virtio network device")), capture("vm2.txt", host("1041", "Virtio 1.0 network device"))], select({ classes: ["02"] }));
  assert.deepEqual(site.kinds.map((k) => [k.name, k.devices[0]!.alias]), [
    ["nic1000", "nic-1000"],
    ["nic1041", "nic-1041"],
  ]);
  for (const k of site.kinds) assert.match(`nova-compute-${k.name}`, JUJU_APPLICATION_NAME);
  const parsed = parseSiteConfig(mixedWith(renderProposal(site, { pool: "openstack" })));
  assert.ok(parsed.ok, parsed.ok ? "" : formatProblems(parsed.problems));
});

test("CLI: several FILEs print the snippet of their kinds, and say on stderr what they found", () => {
  const r = cli(["--class", "03", "--id", "15b3:101d", "--pool", "openstack", ...THREE_KINDS.map((f) => `${SITE}/${f}`)]);
  assert.equal(r.status, 0, r.stderr);
  expectGolden("lspci-site-three-kinds.yaml", r.stdout);
  assert.match(cli(["--pool=bad/pool", `${SITE}/a100-r01-nnkv.txt`]).stderr, /^import-lspci: --pool "bad\/pool" is not a MAAS resource pool name\n/);
  assert.equal(
    r.stderr,
    ["import-lspci: 5 warning(s), see the comments in the output", "import-lspci: 4 of 4 hosts, 3 kinds of host: a100 (2), l40s (1), connectx6 (1)", ""].join("\n"),
  );
  const one = cli([`${SITE}/a100-r01-nnkv.txt`, `${SITE}/a100-r02-nnk.txt`]);
  assert.equal(one.status, 0, one.stderr);
  expectGolden("lspci-site-one-kind.yaml", one.stdout);
  assert.match(one.stderr, /^import-lspci: 2 of 2 hosts agreed: one kind of host, no host groups needed$/m);
  // stdin is one of the hosts when given as -.
  const stdin = cli(["-", `${SITE}/a100-r02-nnk.txt`], siteFile("a100-r01-nnkv.txt"));
  assert.equal(stdin.stdout, one.stdout.replaceAll(`${SITE}/a100-r01-nnkv.txt`, "stdin"));
  // Groups that must list their machines are named on stderr too.
  const shared = cli([`${SITE}/a100-r01-nnkv.txt`, `${SITE}/l40s-r03-nnkv.txt`, "-"], functionsOf(siteFile("a100-r02-nnk.txt"), not(at("30:", "31:"))));
  assert.equal(shared.status, 0, shared.stderr);
  assert.match(shared.stderr, /^import-lspci: group a100: list its machines \(see the comment under its maas\)\nimport-lspci: group a100-v2: list its machines/m);
});

test("CLI: several FILEs: an unreadable one, stdin twice, or nothing matched anywhere exit 2 naming the problem", () => {
  const cases: [string[], string | undefined, string][] = [
    [[`${SITE}/a100-r01-nnkv.txt`, `${SITE}/missing.txt`], "", `import-lspci: cannot read ${SITE}/missing.txt: ENOENT`],
    [["-", `${SITE}/a100-r01-nnkv.txt`, "-"], "", "import-lspci: - (stdin) can be given once: it is one host's capture\n"],
    [
      [`${SITE}/cx6-r04-nnkv.txt`, "-"],
      "garbage\n",
      `import-lspci: stdin: skipped 1 line that was not \`lspci -nn\` output\nimport-lspci: warning: ${SITE}/cx6-r04-nnkv.txt: left out of every group: no PCI function matched class 03\n`,
    ],
  ];
  for (const [args, input, message] of cases) {
    const r = cli(args, input);
    assert.equal(r.status, 2, args.join(" "));
    assert.equal(r.stdout, "", args.join(" "));
    assert.ok(r.stderr.startsWith(message), `${args.join(" ")}: ${r.stderr}`);
  }
  assert.match(cli([`${SITE}/cx6-r04-nnkv.txt`, "-"], "garbage\n").stderr, /\nimport-lspci: no PCI function matched class 03 in any of the 2 hosts\n$/);
});
