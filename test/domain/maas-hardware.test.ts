// domain/maas-hardware.ts over the fixtures (test/fixtures/maas, README there): each kind of host parsed
// into the model, the documents' problems named with their key paths.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { consoleFunctions, hostCritical, iommuGroupOf, machineHardware } from "../../domain/maas-hardware";
import { parseMachineResources, parseMachines, parseNodeDevices, resourcesFromScriptResults } from "../../domain/maas-api";
import { fixtureDocuments, fixtureHardware, MAAS_FIXTURES, machineNamed } from "../maas-fixtures";

const all = fixtureHardware();
const brief = (ms: typeof all, hostname: string, group: number) =>
  iommuGroupOf(machineNamed(ms, hostname), group).map((f) => `${f.address} ${f.vendorId}:${f.productId} ${f.label} ${f.driver ?? "-"}`);

test("every fixture machine parses; the documents agree with one another", () => {
  assert.deepEqual(all.map((m) => m.hostname), [
    "gpu-p5000-01", "gpu-p5000-02", "gpu-p5000-03", "gpu-rtx5000-01", "gpu-a100-01", "nic-e810-01", "gpu-old-01", "desk-01", "desk-02", "gpu-t4-01",
  ]);
  for (const m of all.filter((x) => x.hostname !== "gpu-old-01")) assert.deepEqual(m.notes, [], m.hostname);
});

test("a Turing GPU: VGA, HDMI audio, USB-C xHCI and UCSI in one IOMMU group, on an AMD host", () => {
  const m = machineNamed(all, "gpu-rtx5000-01");
  assert.equal(m.iommuVendor, "amd");
  assert.equal(m.iommu, "known");
  assert.deepEqual(brief(all, "gpu-rtx5000-01", 27), [
    "0000:41:00.0 10de:1eb0 display controller nouveau",
    "0000:41:00.1 10de:10f8 Audio device snd_hda_intel",
    "0000:41:00.2 10de:1ad8 USB controller xhci_hcd",
    "0000:41:00.3 10de:1ad9 Serial bus controller nvidia-gpu",
  ]);
  assert.deepEqual(m.bootInterface, { name: "enp193s0f0", mac: m.bootInterface!.mac, address: "0000:c1:00.0" });
  assert.deepEqual(m.bootDisk, { name: "nvme0n1", address: "0000:81:00.0" });
  assert.equal(m.pool, "gpu-compute");
  assert.equal(m.zone, "az2");
  assert.deepEqual(m.tags, ["gpu-commissioning"]);
  assert.equal(m.hasNodeDevices, true);
  assert.deepEqual(consoleFunctions(m).map((c) => c.fn.address), ["0000:c4:00.0"]);
});

test("a GPU viable with its audio companion: one group per card, NUMA node per card", () => {
  assert.deepEqual(brief(all, "gpu-p5000-01", 40), ["0000:3b:00.0 10de:1bb0 display controller nouveau", "0000:3b:00.1 10de:10f0 Audio device snd_hda_intel"]);
  const m = machineNamed(all, "gpu-p5000-01");
  assert.deepEqual(m.functions.filter((f) => f.vendorId === "10de").map((f) => [f.address, f.numaNode, f.iommuGroup]), [
    ["0000:3b:00.0", 0, 40], ["0000:3b:00.1", 0, 40], ["0000:d8:00.0", 1, 120], ["0000:d8:00.1", 1, 120],
  ]);
  // The card moved to another slot on gpu-p5000-03.
  assert.deepEqual(machineNamed(all, "gpu-p5000-03").functions.filter((f) => f.productId === "1bb0").map((f) => f.address), ["0000:3b:00.0", "0000:af:00.0"]);
});

test("SR-IOV: the A100 and the E810 are PFs with their sriov_totalvfs, the E810's enabled VFs are VFs", () => {
  const a100 = machineNamed(all, "gpu-a100-01").functions.filter((f) => f.productId === "20b5");
  assert.deepEqual(a100.map((f) => [f.address, f.driver, f.sriov, f.numaNode]), [
    ["0000:17:00.0", undefined, { totalVfs: 16, currentVfs: 0 }, 0],
    ["0000:ca:00.0", undefined, { totalVfs: 16, currentVfs: 0 }, 1],
  ]);
  const e810 = machineNamed(all, "nic-e810-01");
  const pf = e810.functions.find((f) => f.address === "0000:41:00.0")!;
  assert.deepEqual([pf.role, pf.label, pf.driver, pf.sriov], ["network", "Ethernet controller", "ice", { totalVfs: 256, currentVfs: 4 }]);
  const vfs = e810.functions.filter((f) => f.physfn !== undefined);
  assert.deepEqual(vfs.map((f) => [f.address, f.productId, f.driver, f.physfn, f.iommuGroup, f.sriov]), [
    ["0000:41:01.0", "1889", "iavf", "0000:41:00.0", 60, undefined],
    ["0000:41:01.1", "1889", "iavf", "0000:41:00.0", 61, undefined],
    ["0000:41:01.2", "1889", "iavf", "0000:41:00.0", 62, undefined],
    ["0000:41:01.3", "1889", "iavf", "0000:41:00.0", 63, undefined],
  ]);
});

test("a consumer board: the GPU, its audio and an I350 behind the CPU's PEG ports share group 2; the iGPU is the console", () => {
  assert.deepEqual(brief(all, "desk-01", 2), [
    "0000:00:01.0 8086:1901 PCI bridge pcieport",
    "0000:00:01.1 8086:1905 PCI bridge pcieport",
    "0000:01:00.0 10de:1b06 display controller nouveau",
    "0000:01:00.1 10de:10ef Audio device snd_hda_intel",
    "0000:02:00.0 8086:1521 Ethernet controller igb",
    "0000:02:00.1 8086:1521 Ethernet controller igb",
  ]);
  assert.deepEqual(consoleFunctions(machineNamed(all, "desk-01")).map((c) => c.what), ["the machine's console (the CPU's integrated graphics)"]);
  // desk-02 boots from the I350.
  assert.equal(machineNamed(all, "desk-02").bootInterface!.address, "0000:02:00.0");
});

test("host-critical functions: boot NIC, the boot disk's controller (NVMe behind the T4's switch), the console", () => {
  const m = machineNamed(all, "gpu-t4-01");
  assert.deepEqual(hostCritical(m).map((c) => [c.address, c.what.replace(/\(MAC [^)]*\)/, "(MAC)")]), [
    ["0000:18:00.0", "the machine's boot interface enp24s0f0 (MAC)"],
    ["0000:60:00.0", "the controller of the machine's boot disk nvme0n1"],
    ["0000:03:00.0", "the machine's console (ASPEED BMC graphics)"],
  ]);
  assert.ok(iommuGroupOf(m, 71).some((f) => f.address === "0000:60:00.0"));
});

test("a machine commissioned before MAAS 3.0: no node devices, no IOMMU groups, a SATA boot disk without an address", () => {
  const m = machineNamed(all, "gpu-old-01");
  assert.equal(m.hasNodeDevices, false);
  assert.equal(m.iommu, "not-reported");
  assert.ok(m.functions.every((f) => f.iommuGroup === undefined));
  assert.deepEqual(m.bootDisk, { name: "sda" });
  assert.deepEqual(m.notes, [
    "the commissioning data has no IOMMU groups (machine-resources without resources_pci_iommu: commissioned before MAAS 3.0); commission again to know them",
    "boot disk sda: its controller's PCI address is not known (LXD reports one for NVMe and virtio disks, not for SATA/SAS disks)",
  ]);
});

test("IOMMU off while commissioning: every function in group 0 means no groups are known", () => {
  const [m] = fixtureHardware((d) => {
    for (const dev of d.resources.get("4y3h7a").resources.pci.devices) dev.iommu_group = 0;
  }, ["4y3h7a"]);
  assert.equal(m!.iommu, "iommu-off");
  assert.ok(m!.functions.every((f) => f.iommuGroup === undefined));
  assert.match(m!.notes[0]!, /^every PCI function reports IOMMU group 0: the IOMMU was off while commissioning/);
});

test("node devices that disagree with the commissioning data become notes", () => {
  const [m] = fixtureHardware((d) => {
    const devs = d.nodeDevices.get("q7ntur");
    devs.find((x: any) => x.pci_address === "0000:41:00.0").product_id = "1e30";
    devs.find((x: any) => x.physical_interface !== null && x.pci_address === "0000:c1:00.0").pci_address = "0000:c1:00.1";
  }, ["q7ntur"]);
  assert.ok(m!.notes.includes("node device 0000:41:00.0 is 10de:1e30 but the commissioning data has 10de:1eb0 there"), m!.notes.join("\n"));
  assert.ok(m!.notes.some((n) => /^boot interface enp193s0f0: its MAC is on 0000:c1:00.0 but MAAS's node devices put it on 0000:c1:00.1$/.test(n)), m!.notes.join("\n"));
});

test("the script-results answer carries the same document, base64 in stdout", () => {
  const answer = JSON.parse(readFileSync(join(MAAS_FIXTURES, "q7ntur.script-results.json"), "utf8"));
  const doc = resourcesFromScriptResults(answer, "q7ntur.script-results.json");
  assert.ok(doc.ok);
  assert.deepEqual(doc.value, JSON.parse(readFileSync(join(MAAS_FIXTURES, "q7ntur.json"), "utf8")));
  const without = structuredClone(answer);
  delete without.results[0].stdout;
  delete without.results[0].output;
  assert.deepEqual(resourcesFromScriptResults(without, "r.json"), { ok: false, problems: ["r.json: 50-maas-01-commissioning has no output: read it with include_output=true"] });
  const other = structuredClone(answer);
  other.results[0].name = "maas-lshw";
  assert.deepEqual(resourcesFromScriptResults(other, "r.json"), {
    ok: false,
    problems: ["r.json: no 50-maas-01-commissioning result in the Commissioning script set (filters=50-maas-01-commissioning)"],
  });
});

test("malformed documents: every problem with its source and key path", () => {
  const d = fixtureDocuments();
  d.machines[1].boot_interface.mac_address = 42;
  delete d.machines[2].zone;
  const r = parseMachines(d.machines, "dump/machines.json");
  assert.ok(!r.ok);
  assert.equal(r.problems.length, 2);
  assert.match(r.problems[0]!, /^dump\/machines\.json: \[1\]\.boot_interface\.mac_address: /);
  assert.match(r.problems[1]!, /^dump\/machines\.json: \[2\]\.zone: /);
  const res = d.resources.get("q7ntur");
  res.resources.pci.devices[4].pci_address = "41:00.0";
  res.resources.pci.devices[5].vendor_id = "NVIDIA";
  const p = parseMachineResources(res, "dump/q7ntur.json");
  assert.ok(!p.ok);
  assert.deepEqual(p.problems, [
    "dump/q7ntur.json: resources.pci.devices[4].pci_address: expected a PCI address DDDD:BB:SS.F",
    "dump/q7ntur.json: resources.pci.devices[5].vendor_id: expected 4 hex digits",
  ]);
  const n = parseNodeDevices([{ ...d.nodeDevices.get("q7ntur")[0], bus_name: "SCSI" }], "nd.json");
  assert.ok(!n.ok);
  assert.match(n.problems[0]!, /^nd\.json: \[0\]\.bus_name: /);
});

test("machineHardware takes the documents as parsed", () => {
  const d = fixtureDocuments();
  const machines = parseMachines(d.machines);
  const res = parseMachineResources(d.resources.get("e8nic4"), "e8nic4.json");
  assert.ok(machines.ok && res.ok);
  const m = machineHardware(machines.value.find((x) => x.system_id === "e8nic4")!, res.value);
  // Without node devices the boot interface is still found by its MAC.
  assert.equal(m.bootInterface!.address, "0000:c1:00.0");
  assert.equal(m.hasNodeDevices, false);
});
