// The rules across keys (config/rules/): devices, flavors and the release, and aliases told apart by what they
// match, as Nova does.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { P, accepted, refused, type Raw } from "./helpers";

describe("cross-field rules", () => {
  test("device rules still run on the devices that parsed when another device is invalid", () => {
    refused(
      (r) => {
        r.devices.push({ alias: "gpu", vendorId: "10de", productId: "1bb1", addresses: ["0000:83:00.0"], deviceType: "type-PF" });
        r.devices.push({ alias: "x", vendorId: "zz", productId: "1bb0", addresses: ["0000:85:00.0"] });
      },
      [
        `${P}:devices[2].vendorId: "zz" is not 4 hex digits`,
        `${P}:devices[1].addresses[0]: address 0000:83:00.0 is already listed at ${P}:devices[0].addresses[0]`,
        `${P}:devices[1].deviceType: alias "gpu" has deviceType "type-PF" here but "unset" at devices[0]; entries sharing an alias must agree`,
      ],
    );
  });

  const second = (d: Raw) => (r: Raw) => r.devices.push({ alias: "gpu", vendorId: "10de", productId: "1b06", addresses: ["0000:03:00.0"], ...d });

  test("an address appears once across devices", () => {
    accepted(second({}));
    refused(second({ addresses: ["83:00.0"] }), [`${P}:devices[1].addresses[0]: address 0000:83:00.0 is already listed at ${P}:devices[0].addresses[0]`]);
    refused((r) => (r.devices[0].addresses = ["0000:83:00.0", "83:00.0"]), [`${P}:devices[0].addresses[1]: address 0000:83:00.0 is already listed at ${P}:devices[0].addresses[0]`]);
  });

  test("entries sharing an alias agree on deviceType and numaPolicy", () => {
    accepted((r) => {
      Object.assign(r.devices[0], { deviceType: "type-PCI", numaPolicy: "preferred" });
      second({ deviceType: "type-PCI", numaPolicy: "preferred" })(r);
    });
    refused(
      (r) => {
        r.devices[0].deviceType = "type-PCI";
        second({ numaPolicy: "preferred" })(r);
      },
      [
        `${P}:devices[1].deviceType: alias "gpu" has deviceType "unset" here but "type-PCI" at devices[0]; entries sharing an alias must agree`,
        `${P}:devices[1].numaPolicy: alias "gpu" has numaPolicy "preferred" here but "unset" at devices[0]; entries sharing an alias must agree`,
      ],
    );
  });

  test("every flavor alias exists in devices", () => {
    refused(
      (r) => (r.flavors[0].pci = { gpu: 1, nic: 1 }),
      [`${P}:flavors[0].pci.nic: alias "nic" is not defined in devices (known: gpu)`],
    );
    refused((r) => (r.flavors[0].pci = { "gpu.a": 1 }), [`${P}:flavors[0].pci["gpu.a"]: alias "gpu.a" is not defined in devices (known: gpu)`]);
  });

  test("a flavor never asks more devices than a host has, counting every entry of the alias", () => {
    accepted((r) => (r.flavors[0].pci.gpu = 2));
    refused((r) => (r.flavors[0].pci.gpu = 3), [`${P}:flavors[0].pci.gpu: asks for 3 "gpu" devices but a GPU host has 2`]);
    // A second entry with the same alias adds its addresses: 2 + 1.
    accepted((r) => {
      second({})(r);
      r.flavors[0].pci.gpu = 3;
    });
    refused(
      (r) => {
        second({})(r);
        r.flavors[0].pci.gpu = "4";
      },
      [`${P}:flavors[0].pci.gpu: asks for 4 "gpu" devices but a GPU host has 3`],
    );
  });

  test("xvpvnc is refused from ussuri on and accepted on train", () => {
    assert.equal(accepted((r) => Object.assign(r.openstack, { release: "train", consoleAccessProtocol: "xvpvnc" })).openstack.consoleAccessProtocol, "xvpvnc");
    refused(
      (r) => Object.assign(r.openstack, { release: "ussuri", consoleAccessProtocol: "xvpvnc" }),
      [`${P}:openstack.consoleAccessProtocol: xvpvnc was removed in ussuri and does not work on ussuri; use spice or novnc`],
    );
    refused(
      (r) => (r.openstack.consoleAccessProtocol = "xvpvnc"),
      [`${P}:openstack.consoleAccessProtocol: xvpvnc was removed in ussuri and does not work on yoga; use spice or novnc`],
    );
  });

  test("explicit schedulerFilters must contain PciPassthroughFilter", () => {
    const filters = ["ComputeFilter", "PciPassthroughFilter"];
    assert.deepEqual(accepted((r) => (r.openstack.schedulerFilters = filters)).openstack.schedulerFilters, filters);
    refused(
      (r) => (r.openstack.schedulerFilters = ["ComputeFilter"]),
      [`${P}:openstack.schedulerFilters: must contain PciPassthroughFilter, or PCI requests are never scheduled`],
    );
  });

  test("a filter removed in the target release is refused; before its removal it is accepted", () => {
    const runbook = ["RetryFilter", "AvailabilityZoneFilter", "CoreFilter", "RamFilter", "ComputeFilter", "PciPassthroughFilter"];
    accepted((r) => Object.assign(r.openstack, { release: "queens", schedulerFilters: runbook }));
    accepted((r) => Object.assign(r.openstack, { release: "ussuri", schedulerFilters: runbook.slice(0, 2).concat(runbook.slice(4)) }));
    refused(
      (r) => (r.openstack.schedulerFilters = runbook),
      [
        `${P}:openstack.schedulerFilters[0]: RetryFilter was removed from Nova in victoria; nova-scheduler would not start on yoga`,
        `${P}:openstack.schedulerFilters[2]: CoreFilter was removed from Nova in train; nova-scheduler would not start on yoga`,
        `${P}:openstack.schedulerFilters[3]: RamFilter was removed from Nova in train; nova-scheduler would not start on yoga`,
      ],
    );
    refused(
      (r) => Object.assign(r.openstack, { release: "2023.2", schedulerFilters: ["AvailabilityZoneFilter", "PciPassthroughFilter"] }),
      [`${P}:openstack.schedulerFilters[0]: AvailabilityZoneFilter was removed from Nova in 2023.2; nova-scheduler would not start on 2023.2`],
    );
  });

  test("schedulerFilters are unique class names, at least one", () => {
    refused(
      (r) => (r.openstack.schedulerFilters = ["PciPassthroughFilter", "Bad Filter", "PciPassthroughFilter"]),
      [
        `${P}:openstack.schedulerFilters[1]: "Bad Filter" is not a filter class name`,
        `${P}:openstack.schedulerFilters[2]: duplicate filter "PciPassthroughFilter" (also at [0])`,
      ],
    );
    refused((r) => (r.openstack.schedulerFilters = []), [`${P}:openstack.schedulerFilters: list at least one filter`]);
    refused((r) => (r.openstack.schedulerFilters = "PciPassthroughFilter"), [`${P}:openstack.schedulerFilters: expected a list of filter names`]);
  });
});

describe("aliases are told apart by what they match, as Nova does", () => {
  const both = { vendorId: "10de", productId: "1bb0" };
  test("two aliases for one kind of device are refused: Nova gives a flavor asking for either any of them", () => {
    refused(
      (r) => {
        r.devices = [
          { alias: "gpu", ...both, addresses: ["0000:83:00.0"] },
          { alias: "gpu2", ...both, addresses: ["0000:84:00.0"] },
        ];
      },
      [
        `${P}:devices[1].alias: alias "gpu2" matches 10de:1bb0 type-PCI devices, as alias "gpu" (${P}:devices[0]) does: Nova tells aliases apart by vendor:product and device type, never by address, so a flavor asking for either may be given the other's devices; give one kind of device one alias`,
      ],
    );
    // An alias ORed over two models (type-PCI) overlaps one for either model.
    refused(
      (r) => {
        r.devices = [
          { alias: "gpu", ...both, addresses: ["0000:83:00.0"] },
          { alias: "any", ...both, addresses: ["0000:84:00.0"] },
          { alias: "any", vendorId: "10de", productId: "1bb1", addresses: ["0000:85:00.0"] },
        ];
      },
      [
        `${P}:devices[1].alias: alias "any" matches 10de:1bb0 type-PCI devices, as alias "gpu" (${P}:devices[0]) does: Nova tells aliases apart by vendor:product and device type, never by address, so a flavor asking for either may be given the other's devices; give one kind of device one alias`,
      ],
    );
    // Across groups too: the alias list is the cloud's.
    refused((r) => {
      r.hostGroups[1].maas = { tag: "gpu-l40s", machines: ["l40shost"] };
      r.hostGroups[2].devices.push({ alias: "l40s-nic-host", vendorId: "10de", productId: "26b9", deviceType: "type-PF", addresses: ["0000:17:00.0"] });
    }, [
      `${P}:hostGroups[2].devices[1].alias: alias "l40s-nic-host" matches 10de:26b9 type-PF devices, as alias "l40s" (${P}:hostGroups[1].devices[0]) does: Nova tells aliases apart by vendor:product and device type, never by address, so a flavor asking for either may be given the other's devices; give one kind of device one alias`,
    ], "mixed");
  });

  test("the same model under two aliases of different device types is two kinds of device; a spec without a type never takes a PF", () => {
    accepted((r) => {
      r.devices = [
        { alias: "gpu", ...both, addresses: ["0000:83:00.0"] },
        { alias: "gpu-pf", ...both, deviceType: "type-PF", addresses: ["0000:84:00.0"] },
      ];
    });
    // A VF is taken by an alias without a type: Nova only keeps PFs away from it.
    refused(
      (r) => {
        r.devices = [
          { alias: "gpu", ...both, addresses: ["0000:83:00.0"] },
          { alias: "gpu-vf", ...both, deviceType: "type-VF", addresses: ["0000:84:00.0"] },
        ];
      },
      [
        `${P}:devices[1].alias: alias "gpu-vf" matches 10de:1bb0 type-VF devices, as alias "gpu" (${P}:devices[0]) does: Nova tells aliases apart by vendor:product and device type, never by address, so a flavor asking for either may be given the other's devices; give one kind of device one alias`,
      ],
    );
  });
});
