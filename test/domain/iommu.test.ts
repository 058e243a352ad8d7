// domain/iommu.ts: the kernel's viability rule for an IOMMU group, and which value of a kernel parameter
// given several times wins.
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkGroup, describeMember, driverKeepsGroupViable, effectiveParam } from "../../domain/iommu";
import { hostCritical, iommuGroupOf } from "../../domain/maas-hardware";
import { fixtureHardware, machineNamed } from "../maas-fixtures";

const all = fixtureHardware();

test("drivers that keep a group viable: none, vfio-pci and its variants, pci-stub, the PCIe port driver", () => {
  for (const d of [undefined, "vfio-pci", "pci-stub", "pcieport", "mlx5_vfio_pci", "nvgrace_gpu_vfio_pci", "xe-vfio-pci"]) assert.equal(driverKeepsGroupViable(d), true, String(d));
  for (const d of ["snd_hda_intel", "xhci_hcd", "nvidia-gpu", "igb", "nvme", "nouveau", "vfio_iommu_type1x"]) assert.equal(driverKeepsGroupViable(d), false, d);
});

test("a Turing card with its USB controller left out: the exact message", () => {
  const m = machineNamed(all, "gpu-rtx5000-01");
  const members = iommuGroupOf(m, 27);
  const gpu = members[0]!;
  const findings = checkGroup({
    group: 27,
    device: gpu,
    deviceNoun: "GPU",
    members,
    claimed: new Set(["0000:41:00.0", "0000:41:00.1", "0000:41:00.3"]),
    critical: hostCritical(m),
  });
  assert.deepEqual(findings.map((f) => [f.kind, f.message]), [
    ["shares", "0000:41:00.2 (10de:1ad8, USB controller, driver xhci_hcd) shares IOMMU group 27 with the GPU at 0000:41:00.0"],
  ]);
  assert.equal(describeMember(members[3]!), "0000:41:00.3 (10de:1ad9, Serial bus controller, driver nvidia-gpu)");
  // Every function claimed: viable.
  assert.deepEqual(checkGroup({ group: 27, device: gpu, deviceNoun: "GPU", members, claimed: new Set(members.map((f) => f.address)), critical: [] }), []);
});

test("bridges that only route pass, as the kernel lets them; a NIC of another slot does not", () => {
  const m = machineNamed(all, "desk-01");
  const members = iommuGroupOf(m, 2);
  const findings = checkGroup({ group: 2, device: members[2]!, deviceNoun: "GPU", members, claimed: new Set(["0000:01:00.0", "0000:01:00.1"]), critical: hostCritical(m) });
  assert.deepEqual(findings.map((f) => f.message), [
    "0000:02:00.0 (8086:1521, Ethernet controller, driver igb) shares IOMMU group 2 with the GPU at 0000:01:00.0",
    "0000:02:00.1 (8086:1521, Ethernet controller, driver igb) shares IOMMU group 2 with the GPU at 0000:01:00.0",
  ]);
});

test("a host-critical function in the group is refused whatever its driver, even when claimed", () => {
  const m = machineNamed(all, "gpu-t4-01");
  const members = iommuGroupOf(m, 71);
  const t4 = members.find((f) => f.productId === "1eb8")!;
  const findings = checkGroup({ group: 71, device: t4, deviceNoun: "GPU", members, claimed: new Set(members.map((f) => f.address)), critical: hostCritical(m) });
  assert.deepEqual(findings.map((f) => [f.kind, f.message]), [
    [
      "host-critical",
      "0000:60:00.0 (8086:0a54, Non-Volatile memory controller, driver nvme), the controller of the machine's boot disk nvme0n1, shares IOMMU group 71 " +
        "with the GPU at 0000:5f:00.0: the host cannot give it up, so the GPU cannot be passed through (move the card to a slot with its own group)",
    ],
  ]);
});

test("a function without a driver keeps the group viable, with a warning", () => {
  const members = [
    { address: "0000:41:00.0", vendorId: "10de", productId: "1eb0", driver: "nouveau", label: "display controller" },
    { address: "0000:42:00.0", vendorId: "1b21", productId: "2142", label: "ASM2142 USB 3.1 Host Controller" },
  ];
  const findings = checkGroup({ group: 9, device: members[0]!, deviceNoun: "GPU", members, claimed: new Set(["0000:41:00.0"]), critical: [] });
  assert.deepEqual(findings.map((f) => [f.kind, f.message]), [
    [
      "unbound",
      "0000:42:00.0 (1b21:2142, ASM2142 USB 3.1 Host Controller, no driver) shares IOMMU group 9 with the GPU at 0000:41:00.0: it had no driver " +
        "while commissioning, which keeps the group viable; a driver the deployed host loads for it would not",
    ],
  ]);
});

test("a kernel parameter given several times: the last one counts; - and _ are one", () => {
  assert.equal(effectiveParam("intel_iommu=on iommu=pt intel_iommu=off", "intel_iommu"), "off");
  assert.equal(effectiveParam("vfio-pci.ids=10de:1bb0 vfio_pci.ids=10de:1eb8", "vfio-pci.ids"), "10de:1eb8");
  assert.equal(effectiveParam("quiet", "intel_iommu"), undefined);
  assert.equal(effectiveParam("nomodeset quiet", "quiet"), "");
});
