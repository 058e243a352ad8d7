// tools/check-maas/check.ts: a site's groups held against the fixture machines as MAAS shows them after the
// stack ran (its tag on the machines): in sync, and drifted (a card moved to another slot and the machine
// commissioned again, a companion missing, another tag's kernel options, two groups' tags).
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkMaas, effectiveKernelOptions, exitCode, report, type CheckGroup, type CheckInput } from "../../tools/check-maas/check";
import { fixtureHardware } from "../maas-fixtures";

const OURS = "intel_iommu=on iommu=pt modprobe.blacklist=nouveau vfio-pci.ids=10de:1bb0,10de:10f0";
const p5000 = (machines: string[], companions = ["10de:10f0"]): CheckGroup => ({
  name: "p5000",
  tag: "pci-pass-p5000",
  kernelOptions: OURS,
  iommu: "intel",
  selection: { machines },
  devices: [{ alias: "p5000", vendorId: "10de", productId: "1bb0", addresses: ["0000:3b:00.0", "0000:d8:00.0"], companions }],
});
const TAGS = [
  { name: "gpu-commissioning", kernel_opts: "intel_iommu=on" },
  { name: "pci-pass-p5000", kernel_opts: OURS },
];

/** The fixture machines with extra tags (as MAAS shows them once the stack's tag step ran). */
function tagged(tags: Record<string, string[]>, edit?: Parameters<typeof fixtureHardware>[0]) {
  return fixtureHardware((d) => {
    for (const m of d.machines) m.tag_names = [...m.tag_names, ...(tags[m.system_id] ?? [])];
    edit?.(d);
  });
}

const input = (groups: CheckGroup[], machines = tagged({ "4y3h7a": ["pci-pass-p5000"], "4y3h7b": ["pci-pass-p5000"] }), tags = TAGS): CheckInput => ({ groups, machines, tags });

test("in sync: both hosts hold the configured GPUs and companions, the tags' options agree", () => {
  const findings = checkMaas(input([p5000(["4y3h7a", "4y3h7b"])]));
  assert.deepEqual(findings, [
    { object: "machine gpu-p5000-01 (4y3h7a) in group p5000", status: "in sync", details: [] },
    { object: "machine gpu-p5000-02 (4y3h7b) in group p5000", status: "in sync", details: [] },
  ]);
  assert.equal(exitCode(findings), 0);
  assert.equal(report(findings), "in sync      machine gpu-p5000-01 (4y3h7a) in group p5000\nin sync      machine gpu-p5000-02 (4y3h7b) in group p5000\n");
});

test("drift: a machine commissioned again with its second card moved to another slot", () => {
  const machines = tagged({ "4y3h7a": ["pci-pass-p5000"], "4y3h7b": ["pci-pass-p5000"], fk8ctd: ["pci-pass-p5000"] });
  const findings = checkMaas(input([p5000(["4y3h7a", "4y3h7b", "fk8ctd"])], machines));
  assert.deepEqual(findings.find((f) => f.object.includes("fk8ctd")), {
    object: "machine gpu-p5000-03 (fk8ctd) in group p5000",
    status: "drift",
    details: ["0000:d8:00.0: no PCI function there, expected 10de:1bb0 (10de:1bb0 is at 0000:af:00.0: moved to another slot?)"],
  });
  assert.equal(findings.filter((f) => f.status === "in sync").length, 2);
  assert.equal(exitCode(findings), 1);
});

test("drift: a companion missing from the config makes the group not viable", () => {
  const findings = checkMaas(input([p5000(["4y3h7a"], [])], tagged({ "4y3h7a": ["pci-pass-p5000"] })));
  assert.deepEqual(findings[0]!.details, [
    "0000:3b:00.1 (10de:10f0, Audio device, driver snd_hda_intel) shares IOMMU group 40 with the GPU at 0000:3b:00.0 (add 10de:10f0 to the companions of 10de:1bb0)",
    "0000:d8:00.1 (10de:10f0, Audio device, driver snd_hda_intel) shares IOMMU group 120 with the GPU at 0000:d8:00.0 (add 10de:10f0 to the companions of 10de:1bb0)",
  ]);
});

test("drift: another tag's kernel options contradict ours, in tag-name order", () => {
  const tags = [...TAGS, { name: "zz-legacy", kernel_opts: "intel_iommu=off" }, { name: "aa-vfio", kernel_opts: "vfio-pci.ids=10de:1eb8" }];
  const machines = tagged({ "4y3h7a": ["pci-pass-p5000", "zz-legacy", "aa-vfio"] });
  assert.equal(
    effectiveKernelOptions(machines[0]!.tags, tags, "console=ttyS0").cmdline,
    `console=ttyS0 vfio-pci.ids=10de:1eb8 intel_iommu=on ${OURS} intel_iommu=off`,
  );
  const findings = checkMaas(input([p5000(["4y3h7a"])], machines, tags));
  assert.deepEqual(findings[0]!.details, [
    "intel_iommu=off from tag zz-legacy wins on the kernel command line (the last one counts): the IOMMU will be off and no device can be passed through",
    "vfio-pci.ids is given 2 times (tag aa-vfio: 10de:1eb8; tag pci-pass-p5000: 10de:1bb0,10de:10f0): the kernel keeps only the last one, tag pci-pass-p5000's",
  ]);
});

test("drift: a machine with two groups' tags; a tagged machine outside the selection; an unknown system ID", () => {
  const t4: CheckGroup = {
    name: "t4",
    tag: "pci-pass-t4",
    kernelOptions: "intel_iommu=on",
    iommu: "intel",
    selection: { machines: ["t4sw01", "nosuch"] },
    devices: [{ alias: "t4", vendorId: "10de", productId: "1eb8", addresses: ["0000:5f:00.0"], companions: [] }],
  };
  const machines = tagged({ "4y3h7a": ["pci-pass-p5000", "pci-pass-t4"], "4y3h7b": ["pci-pass-p5000"], t4sw01: ["pci-pass-t4"] });
  const findings = checkMaas(input([p5000(["4y3h7a", "4y3h7b"]), t4], machines));
  const by = (o: string) => findings.find((f) => f.object === o)?.details;
  assert.deepEqual(by("machine gpu-p5000-01 (4y3h7a) in group p5000"), ["also carries pci-pass-t4 (group t4): a machine is in one group (check the other tag's selection or definition)"]);
  assert.deepEqual(by("machine gpu-p5000-01 (4y3h7a) in group t4"), [
    "tagged pci-pass-t4 but not in the group's selection: its next deployment gets the group's kernel options",
  ]);
  assert.deepEqual(by("machine nosuch in group t4"), ["MAAS does not know it (tag update-nodes ignores unknown system IDs): check maas.machines"]);
  // The T4's group holds the root disk's NVMe.
  assert.match(by("machine gpu-t4-01 (t4sw01) in group t4")![0]!, /^0000:60:00\.0 \(8086:0a54, Non-Volatile memory controller, driver nvme\), the controller of the machine's boot disk nvme0n1, shares IOMMU group 71/);
});

test("selectByDevice scoped to a pool takes the machines with the devices there; two groups' selections on one machine", () => {
  const byDevice = (name: string, productId: string, pool?: string): CheckGroup => ({
    name,
    tag: `pci-pass-${name}`,
    kernelOptions: "",
    iommu: "amd",
    selection: { selectByDevice: true, ...(pool ? { pool } : {}) },
    devices: [{ alias: name, vendorId: "10de", productId, addresses: ["0000:41:00.0"], companions: ["10de:10f8", "10de:1ad8", "10de:1ad9"] }],
  });
  const machines = tagged({ q7ntur: ["pci-pass-rtx", "pci-pass-audio"] });
  const findings = checkMaas({ groups: [byDevice("rtx", "1eb0", "gpu-compute"), byDevice("audio", "10f8")], machines, tags: [] });
  assert.deepEqual(findings.at(-1), { object: "machine gpu-rtx5000-01 (q7ntur)", status: "drift", details: ["taken by the selections of rtx and audio: a machine is in one group"] });
  assert.equal(checkMaas({ groups: [byDevice("rtx", "1eb0", "lab")], machines, tags: [] })[0]!.details[0], "its selection takes no machine MAAS knows");
});

test("the NUMA policy: a100:2 with numaPolicy required needs two A100s on one node", () => {
  const a100 = (numaPolicy: "required" | "preferred"): CheckGroup => ({
    name: "a100",
    tag: "pci-pass-a100",
    kernelOptions: "intel_iommu=on",
    iommu: "intel",
    selection: { machines: ["a1rdx9"] },
    devices: [{ alias: "a100", vendorId: "10de", productId: "20b5", addresses: ["0000:17:00.0", "0000:ca:00.0"], companions: [], numaPolicy }],
    requests: { a100: 2 },
  });
  const machines = tagged({ a1rdx9: ["pci-pass-a100"] });
  assert.deepEqual(checkMaas({ groups: [a100("required")], machines, tags: [] })[0]!.details, [
    "numaPolicy required: a flavor asks for a100:2, which needs 2 on one NUMA node; this host has 1 on node 0 (0000:17:00.0), 1 on node 1 (0000:ca:00.0)",
  ]);
  assert.equal(checkMaas({ groups: [a100("preferred")], machines, tags: [] })[0]!.status, "in sync");
});

test("a machine commissioned before 3.0: groups not checked, said; exit codes 3 and 2", () => {
  const old: CheckGroup = {
    name: "v100",
    tag: "pci-pass-v100",
    kernelOptions: "",
    iommu: "intel",
    selection: { selectByDevice: true },
    devices: [{ alias: "v100", vendorId: "10de", productId: "1db4", addresses: ["0000:3b:00.0"], companions: [] }],
  };
  const findings = checkMaas({ groups: [old], machines: tagged({ m2old5: ["pci-pass-v100"] }), tags: [], unreadable: [{ systemId: "q7ntur", why: "maas node-devices read q7ntur: exit 2" }] });
  assert.deepEqual(findings, [
    { object: "machine q7ntur", status: "unreachable", details: ["maas node-devices read q7ntur: exit 2"] },
    {
      object: "machine gpu-old-01 (m2old5) in group v100",
      status: "in sync",
      details: [
        "note: MAAS has no node devices for it (commissioned before 3.0): selectByDevice does not find it; commission it again",
        "note: IOMMU groups not known (the commissioning data has none, as before MAAS 3.0): companions and group viability not checked",
      ],
    },
  ]);
  assert.equal(exitCode(findings), 3);
  assert.equal(exitCode([...findings, { object: "site", status: "config error", details: [] }]), 2);
});
