// tools/import-maas/propose.ts over a mixed set of fixture machines: the groups proposed, each decision's
// reason, and each refusal with its message.
import assert from "node:assert/strict";
import { test } from "node:test";
import { proposeSite, type Proposal } from "../../tools/import-maas/propose";
import { fixtureHardware } from "../maas-fixtures";

const all = fixtureHardware();
const site: Proposal = proposeSite(all, { ids: ["8086:1592"], scope: { pool: "gpu-compute" } });
const group = (name: string) => {
  const g = site.groups.find((x) => x.name === name);
  if (!g) throw new Error(`no group ${name}: ${site.groups.map((x) => x.name).join(", ")}`);
  return g;
};

test("one group per kind of host: same functions at the same addresses, same IOMMU vendor", () => {
  assert.deepEqual(
    site.groups.map((g) => [g.name, g.tag, g.application, g.iommu, g.hosts.map((h) => h.hostname)]),
    [
      ["p5000", "pci-pass-p5000", "nova-compute-p5000", "intel", ["gpu-p5000-01", "gpu-p5000-02"]],
      // gpu-p5000-03's second card is at 0000:af:00.0: another kind.
      ["p5000-v2", "pci-pass-p5000-v2", "nova-compute-p5000-v2", "intel", ["gpu-p5000-03"]],
      ["tu104gl", "pci-pass-tu104gl", "nova-compute-tu104gl", "amd", ["gpu-rtx5000-01"]],
      ["a100", "pci-pass-a100", "nova-compute-a100", "intel", ["gpu-a100-01"]],
      ["e810c", "pci-pass-e810c", "nova-compute-e810c", "amd", ["nic-e810-01"]],
      ["v100", "pci-pass-v100", "nova-compute-v100", "intel", ["gpu-old-01"]],
    ],
  );
  assert.deepEqual(site.leftOut, [
    { systemId: "c0nsm1", hostname: "desk-01", reason: "every selected device refused (0000:01:00.0)" },
    { systemId: "c0nsm2", hostname: "desk-02", reason: "every selected device refused (0000:01:00.0)" },
    { systemId: "t4sw01", hostname: "gpu-t4-01", reason: "every selected device refused (0000:5f:00.0)" },
  ]);
});

test("devices: alias per vendor:product, addresses, companions from the IOMMU group, NUMA node per address", () => {
  const [p5000] = group("p5000").devices;
  assert.deepEqual(
    { ...p5000, reasons: undefined },
    {
      alias: "p5000",
      vendorId: "10de",
      productId: "1bb0",
      description: "NVIDIA Corporation GP104GL [Quadro P5000]",
      addresses: ["0000:3b:00.0", "0000:d8:00.0"],
      companions: ["10de:10f0"],
      numaNodes: { "0000:3b:00.0": 0, "0000:d8:00.0": 1 },
      reasons: undefined,
    },
  );
  assert.deepEqual(p5000!.reasons, [
    "on NUMA nodes 0 (0000:3b:00.0), 1 (0000:d8:00.0): with numaPolicy required a guest takes devices of its own node only",
    "companions: the other functions of its IOMMU group, bound to vfio-pci with it (0000:3b:00.1 10de:10f0 Audio device; 0000:d8:00.1 10de:10f0 Audio device)",
  ]);
  // The alias is the site's: the moved card's group has the same one.
  assert.equal(group("p5000-v2").devices[0]!.alias, "p5000");
  assert.deepEqual(group("p5000-v2").devices[0]!.addresses, ["0000:3b:00.0", "0000:af:00.0"]);

  const [turing] = group("tu104gl").devices;
  assert.deepEqual([turing!.addresses, turing!.companions, turing!.deviceType], [["0000:41:00.0"], ["10de:10f8", "10de:1ad8", "10de:1ad9"], undefined]);
});

test("SR-IOV capable devices are type-PF, with why; enabled VFs are said", () => {
  const [a100] = group("a100").devices;
  assert.equal(a100!.deviceType, "type-PF");
  assert.equal(a100!.totalVfs, 16);
  assert.deepEqual(a100!.numaNodes, { "0000:17:00.0": 0, "0000:ca:00.0": 1 });
  assert.ok(a100!.reasons.some((r) => r.startsWith("10de:20b5 can do SR-IOV (sriov_totalvfs 16 on gpu-a100-01): libvirt reports such a device")), a100!.reasons.join("\n"));
  const [e810] = group("e810c").devices;
  assert.deepEqual([e810!.deviceType, e810!.totalVfs, e810!.addresses, e810!.companions], ["type-PF", 256, ["0000:41:00.0"], []]);
  assert.match(e810!.reasons.at(-1)!, /VFs were enabled while commissioning \(nic-e810-01 0000:41:00\.0 had 4\): unbinding the PF's driver to hand it to vfio-pci removes them\.$/);
});

test("selection: by device scoped to the pool where no other machine has the ids, else by system ID", () => {
  assert.deepEqual(group("tu104gl").selection, {
    selectByDevice: true,
    pool: "gpu-compute",
    reason: "selectByDevice: no other machine read here has 10de:1eb0; scoped to pool gpu-compute, the machines read, so a machine elsewhere in MAAS with the same card is not tagged",
  });
  assert.deepEqual(group("p5000").selection, { machines: ["4y3h7a", "4y3h7b"], reason: "machines by system ID: gpu-p5000-03 has 10de:1bb0 too but is not of this kind" });
  assert.deepEqual(group("v100").selection, {
    machines: ["m2old5"],
    reason: "machines by system ID: MAAS has no node devices for gpu-old-01 (commissioned before 3.0), so selectByDevice would not find it",
  });
  const unscoped = proposeSite(all.filter((m) => m.hostname === "gpu-rtx5000-01"));
  assert.match((unscoped.groups[0]!.selection as { reason: string }).reason, /nothing scopes it \(no --pool, --zone\): it tags every machine in MAAS that has these devices/);
});

test("blacklist: GPU drivers the hosts do not keep; never a companion's, a NIC's or a passthrough driver", () => {
  assert.deepEqual(group("p5000").blacklistDrivers, ["nouveau"]);
  assert.deepEqual(group("tu104gl").blacklistDrivers, ["nouveau"]);
  assert.deepEqual(group("a100").blacklistDrivers, []);
  assert.deepEqual(group("e810c").blacklistDrivers, []);
  assert.deepEqual(group("tu104gl").reasons, [
    "tu104gl: 1 host: gpu-rtx5000-01 (q7ntur)",
    "host.iommu amd: the hosts' CPUs are AMD's (its IOMMU is on by default)",
    "blacklistDrivers: nouveau, bound to the group's GPUs while commissioning and used by nothing the hosts keep",
    "companion driver snd_hda_intel not blacklisted: the prepare script rebinds the companions to vfio-pci, and the host may use snd_hda_intel for its own devices",
    "companion driver xhci_hcd not blacklisted: the prepare script rebinds the companions to vfio-pci, and the host may use xhci_hcd for its own devices",
    "companion driver nvidia-gpu not blacklisted: the prepare script rebinds the companions to vfio-pci, and the host may use nvidia-gpu for its own devices",
    "gpu-rtx5000-01: left out: 0000:c4:00.0 (1a03:2000, display controller, driver ast), the machine's console (ASPEED BMC graphics)",
  ]);
  assert.ok(group("a100").reasons.includes(
    "0000:17:00.0 (10de:20b5) had no driver while gpu-a100-01 was commissioned: nothing to blacklist for it from MAAS's data (add the driver the deployed OS installs, e.g. nvidia)",
  ));
  assert.ok(group("e810c").reasons.includes("not blacklisted: ice (Ethernet controller at 0000:41:00.0): only GPU drivers are; the device is unbound and handed to vfio-pci"));
  // A GPU driver that also drives a device the host keeps is not blacklisted.
  const shared = proposeSite(
    fixtureHardware((d) => {
      d.resources.get("q7ntur").resources.pci.devices.find((x: any) => x.pci_address === "0000:c4:00.0").driver = "nouveau";
    }, ["q7ntur"]),
  );
  assert.deepEqual(shared.groups[0]!.blacklistDrivers, []);
  assert.ok(shared.groups[0]!.reasons.includes("not blacklisted: nouveau also drives 0000:c4:00.0 (1a03:2000, display controller, driver nouveau) on gpu-rtx5000-01, which the host keeps"));
});

test("refusals: a NIC in the GPU's group, the boot NIC in it, the root disk's controller in it", () => {
  assert.deepEqual(
    site.refusals.map((r) => [r.hostname, r.address, r.kind, r.messages]),
    [
      [
        "desk-01",
        "0000:01:00.0",
        "not-viable",
        [
          "0000:02:00.0 (8086:1521, Ethernet controller, driver igb) shares IOMMU group 2 with the GPU at 0000:01:00.0",
          "0000:02:00.1 (8086:1521, Ethernet controller, driver igb) shares IOMMU group 2 with the GPU at 0000:01:00.0",
        ],
      ],
      [
        "desk-02",
        "0000:01:00.0",
        "host-critical",
        [
          `0000:02:00.0 (8086:1521, Ethernet controller, driver igb), the machine's boot interface enp2s0f0 (MAC ${all.find((m) => m.hostname === "desk-02")!.bootInterface!.mac}), ` +
            "shares IOMMU group 2 with the GPU at 0000:01:00.0: the host cannot give it up, so the GPU cannot be passed through (move the card to a slot with its own group)",
          "0000:02:00.1 (8086:1521, Ethernet controller, driver igb) shares IOMMU group 2 with the GPU at 0000:01:00.0",
        ],
      ],
      [
        "gpu-t4-01",
        "0000:5f:00.0",
        "host-critical",
        [
          "0000:60:00.0 (8086:0a54, Non-Volatile memory controller, driver nvme), the controller of the machine's boot disk nvme0n1, shares IOMMU group 71 with the GPU " +
            "at 0000:5f:00.0: the host cannot give it up, so the GPU cannot be passed through (move the card to a slot with its own group)",
        ],
      ],
    ],
  );
});

test("the console is never proposed, even asked for by id; a VF is refused; the boot NIC's own id is refused", () => {
  const asked = proposeSite(all.filter((m) => m.hostname === "gpu-p5000-01"), { gpus: false, ids: ["1a03:2000", "8086:1572"] });
  // The other X710 port is the machine's to give (its own group): proposed.
  assert.deepEqual(asked.groups.map((g) => g.devices.map((d) => d.addresses)), [[["0000:18:00.1"]]]);
  assert.deepEqual(asked.refusals.map((r) => [r.address, r.kind, r.messages[0]!.replace(/\(MAC [^)]*\)/, "(MAC)")]), [
    ["0000:03:00.0", "console", "0000:03:00.0 (1a03:2000, display controller, driver ast) is the machine's console (ASPEED BMC graphics): never passed through"],
    ["0000:18:00.0", "host-critical", "0000:18:00.0 (8086:1572, Ethernet controller, driver i40e) is the machine's boot interface enp24s0f0 (MAC): never passed through"],
  ]);
  const vf = proposeSite(all.filter((m) => m.hostname === "nic-e810-01"), { gpus: false, ids: ["8086:1889"] });
  assert.deepEqual(vf.refusals.map((r) => r.kind), ["virtual-function", "virtual-function", "virtual-function", "virtual-function"]);
  assert.match(vf.refusals[0]!.messages[0]!, /^0000:41:01\.0 \(8086:1889, Ethernet controller, driver iavf\) is a virtual function of 0000:41:00\.0: /);
});

test("groups not known (IOMMU off while commissioning): the slot's functions as companions, said so", () => {
  const off = proposeSite(
    fixtureHardware((d) => {
      for (const dev of d.resources.get("q7ntur").resources.pci.devices) dev.iommu_group = 0;
    }, ["q7ntur"]),
  );
  const [dev] = off.groups[0]!.devices;
  assert.deepEqual(dev!.companions, ["10de:10f8", "10de:1ad8", "10de:1ad9"]);
  assert.ok(dev!.reasons.includes(
    "IOMMU group of 0000:41:00.0 on gpu-rtx5000-01 not known (the IOMMU was off while it was commissioned): its slot's other functions are taken as companions; commission it again with the IOMMU on to check the group",
  ));
});

test("the same machines in another order give the same groups", () => {
  const reversed = proposeSite([...all].reverse(), { ids: ["8086:1592"], scope: { pool: "gpu-compute" } });
  const key = (p: Proposal) => p.groups.map((g) => JSON.stringify({ ...g, hosts: [...g.hosts].sort((a, b) => a.systemId.localeCompare(b.systemId)) })).sort();
  assert.deepEqual(key(reversed).length, key(site).length);
  assert.deepEqual(new Set(reversed.groups.map((g) => g.devices.map((d) => d.alias).join())), new Set(site.groups.map((g) => g.devices.map((d) => d.alias).join())));
});
