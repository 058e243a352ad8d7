// pci-passthrough:hostGroups: each group's keys, the rules across groups, and what the bundle overlay adds.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { loadStack } from "../helpers";
import { P, accepted, refused, type Edit, type Raw } from "./helpers";

describe("hostGroups", () => {
  /** The mixed stack with `edit` applied must be refused with exactly these lines. */
  const refusedMixed = (edit: Edit, expected: string[]) => refused(edit, expected, "mixed");
  const acceptedMixed = (edit: Edit = () => {}) => accepted(edit, "mixed");

  test("Pulumi.mixed.yaml: three named groups, each with its tag, application, host and devices", () => {
    const c = acceptedMixed();
    assert.deepEqual(c.maas, { profile: "admin" });
    assert.deepEqual(
      c.groups.map((g) => [g.name, g.maas.tag, g.application, g.host.iommu, g.devices.map((d) => d.alias)]),
      [
        ["a100", "gpu-a100", "nova-compute-a100", "intel", ["a100"]],
        ["l40s", "gpu-l40s", "nova-compute-l40s", "amd", ["l40s"]],
        ["nic", "nic-pass", "nova-compute-nic", "intel", ["cx6"]],
      ],
    );
  });

  test("defaults: the tag is pci-pass-<group>, the application nova-compute", () => {
    const c = acceptedMixed((r) => {
      delete r.hostGroups[0].maas.tag;
      delete r.hostGroups[0].application;
    });
    assert.equal(c.groups[0]!.maas.tag, "pci-pass-a100");
    // a100 selects by device: the bundle's own nova-compute may carry it (below).
    assert.equal(c.groups[0]!.application, "nova-compute");
  });

  test("refused: a group on the bundle's own nova-compute that does not select by device (its whitelist reaches the hosts of no group)", () => {
    const shared = (i: number, selection: string, device: string, tag: string, name: string) =>
      `${P}:hostGroups[${i}].application: nova-compute is the bundle's own application, which with host groups runs the compute hosts of no group too: ` +
      `charm options are per application, so its pci-passthrough-whitelist reaches every one of them, and any with ${device} would offer it to guests ` +
      `(Nova takes it from the host's driver when a guest starts); the group's ${selection} does not reach Nova. Give the group its own application ` +
      `(e.g. nova-compute-${name}, which the bundle overlay adds with constraints tags=${tag}), or select its hosts by device (maas.selectByDevice: true)`;
    // The mixed stack as it was: the NIC group, listed by system ID, on the bundle's nova-compute.
    refusedMixed((r) => (r.hostGroups[2].application = "nova-compute"), [shared(2, "maas.machines", "15b3:101d at 0000:b1:00.0", "nic-pass", "nic")]);
    refusedMixed(
      (r) => {
        r.hostGroups[1].application = "nova-compute";
        r.hostGroups[1].maas = { tag: "gpu-l40s", definition: '//node[@class="display"]/vendor[contains(.,"NVIDIA")]' };
      },
      [shared(1, "maas.definition", "10de:26b9 at 0000:17:00.0", "gpu-l40s", "l40s")],
    );
    // Selecting by device, the tag follows the devices: a host with one is a host of the group.
    assert.equal(acceptedMixed((r) => (r.hostGroups[0].application = "nova-compute")).groups[0]!.application, "nova-compute");
    // An application the overlay adds runs on the group's tag only; so does nova-compute when the overlay adds it.
    assert.equal(acceptedMixed((r) => ((r.hostGroups[2].application = "nova-compute"), (r.hostGroups[2].addToBundle = true))).groups[2]!.addToBundle, true);
    // A bundle's own application made for the group (not nova-compute) is the operator's statement that it is the group's.
    assert.equal(acceptedMixed((r) => (r.hostGroups[2].addToBundle = false)).groups[2]!.addToBundle, false);
    // A site with one group: nova-compute is its GPU hosts' application (docs/host-groups.md: constraints tags=<tag> in the bundle).
    assert.equal(loadStack("lab").groups[0]!.application, "nova-compute");
  });

  test("errors name the group's key path", () => {
    refusedMixed((r) => (r.hostGroups[1].devices[0].addresses[1] = "ca:00"), [
      `${P}:hostGroups[1].devices[0].addresses[1]: "ca:00" is not a PCI address (expected DDDD:BB:SS.F)`,
    ]);
    refusedMixed((r) => (r.hostGroups[2].host.iommu = "arm"), [`${P}:hostGroups[2].host.iommu: "arm" is not intel or amd`]);
    refusedMixed((r) => (r.hostGroups[0].name = "A100"), [`${P}:hostGroups[0].name: "A100" is not a group name (lowercase letters, digits and -, at most 32)`]);
    refusedMixed((r) => (r.hostGroups[1].name = "a100"), [`${P}:hostGroups[1]: duplicate group name "a100" (also at [0])`]);
    refusedMixed((r) => (r.hostGroups[0].application = "nova_compute"), [`${P}:hostGroups[0].application: "nova_compute" is not a Juju application name`]);
    refusedMixed((r) => delete r.hostGroups[2].maas.machines, [
      `${P}:hostGroups[2].maas: the tag selects no machine: give machines (system IDs), definition (an lshw XPath) or selectByDevice: true`,
    ]);
  });

  test("host groups or the top-level tag, host and devices, not both", () => {
    refusedMixed(
      (r) => {
        r.host = { iommu: "intel" };
        r.devices = [];
        r.maas.tag = "pci-pass";
        r.maas.selectByDevice = true;
      },
      [
        `${P}:maas.tag: not with hostGroups: each group has its own tag (hostGroups[].maas.tag)`,
        `${P}:maas.selectByDevice: not with hostGroups: each group has its own tag (hostGroups[].maas.selectByDevice)`,
        `${P}:host: not with hostGroups: each group has its own (hostGroups[].host)`,
        `${P}:devices: not with hostGroups: each group has its own (hostGroups[].devices)`,
      ],
    );
  });

  test("refused: two groups sharing a tag, an application or a machine", () => {
    refusedMixed((r) => (r.hostGroups[1].maas.tag = "gpu-a100"), [`${P}:hostGroups[1].maas.tag: tag "gpu-a100" is also pci-passthrough:hostGroups[0]'s: every group needs its own`]);
    refusedMixed((r) => (r.hostGroups[2].application = "nova-compute-a100"), [
      `${P}:hostGroups[2].application: application "nova-compute-a100" is also pci-passthrough:hostGroups[0]'s: every group needs its own`,
    ]);
    refusedMixed(
      (r) => {
        r.hostGroups[0].maas = { tag: "gpu-a100", machines: ["qw3d8m"] };
      },
      [`${P}:hostGroups[2].maas.machines[1]: machine "qw3d8m" is also pci-passthrough:hostGroups[0]'s: every group needs its own`],
    );
  });

  test("refused: selectByDevice on a device another group has (a host with both would be in two groups)", () => {
    refusedMixed((r) => r.hostGroups[1].devices.push({ alias: "a100", vendorId: "10de", productId: "20b5", deviceType: "type-PF", addresses: ["0000:31:00.0"] }), [
      `${P}:hostGroups[0].devices[0]: 10de:20b5 is also a device of group "l40s": selectByDevice would put its hosts in both groups`,
      `${P}:hostGroups[1].devices[1]: 10de:20b5 is also a device of group "a100": selectByDevice would put its hosts in both groups`,
    ]);
  });

  test("refused: an alias that means other devices in another group; agreed aliases may span groups", () => {
    refusedMixed((r) => ((r.hostGroups[1].devices[0].alias = "a100"), r.flavors.splice(2, 1)), [
      `${P}:hostGroups[1].devices[0].alias: alias "a100" means 10de:26b9 here but 10de:20b5 in group "a100": one alias, one meaning across the cloud`,
    ]);
    // The same model under the same alias in two groups (a NIC on both kinds of host) is fine.
    const c = acceptedMixed((r) => {
      r.hostGroups[2].maas = { tag: "nic-pass", machines: ["n7xk2p", "qw3d8m"] };
      r.hostGroups[1].devices.push({ alias: "cx6", vendorId: "15b3", productId: "101d", deviceType: "type-PF", addresses: ["0000:b1:00.0"] });
      r.hostGroups[1].maas = { tag: "gpu-l40s", machines: ["l40shost"] };
    });
    assert.equal(c.groups[1]!.devices.length, 2);
    refusedMixed(
      (r) => {
        r.hostGroups[1].maas = { tag: "gpu-l40s", machines: ["l40shost"] };
        r.hostGroups[1].devices.push({ alias: "cx6", vendorId: "15b3", productId: "101d", addresses: ["0000:b1:00.0"] });
      },
      [`${P}:hostGroups[2].devices[0].deviceType: alias "cx6" has deviceType "type-PF" here but "unset" in group "l40s"; entries sharing an alias must agree`],
    );
  });

  test("a flavor must fit on the hosts of one group", () => {
    refusedMixed((r) => (r.flavors[0].pci = { a100: 1, cx6: 1 }), [
      `${P}:flavors[0].pci: no host group has a100:1, cx6:1 on one host (a100 has a100:2; l40s has l40s:2; nic has cx6:1)`,
    ]);
    refusedMixed((r) => (r.flavors[1].pci = { a100: 3 }), [
      `${P}:flavors[1].pci: no host group has a100:3 on one host (a100 has a100:2; l40s has l40s:2; nic has cx6:1)`,
    ]);
    refusedMixed((r) => (r.flavors[0].pci = { h100: 1 }), [`${P}:flavors[0].pci.h100: alias "h100" is not defined in any host group (known: a100, l40s, cx6)`]);
  });

  test("bundle overlay: an application other than nova-compute is added by default, nova-compute is the bundle's; both overridable", () => {
    const c = acceptedMixed();
    assert.deepEqual(
      c.groups.map((g) => [g.application, g.addToBundle, g.units]),
      [
        ["nova-compute-a100", true, 0],
        ["nova-compute-l40s", true, 0],
        ["nova-compute-nic", true, 0],
      ],
    );
    const o = acceptedMixed((r) => {
      r.hostGroups[0].addToBundle = false;
      r.hostGroups[1].units = 2;
      r.hostGroups[2].addToBundle = "false";
      r.hostGroups[0].application = "nova-compute";
      r.hostGroups[0].addToBundle = "true";
    });
    assert.deepEqual(
      o.groups.map((g) => [g.application, g.addToBundle, g.units]),
      [
        ["nova-compute", true, 0],
        ["nova-compute-l40s", true, 2],
        ["nova-compute-nic", false, 0],
      ],
    );
    // The single-group stacks: the bundle's own nova-compute.
    assert.deepEqual(
      loadStack("dev").groups.map((g) => [g.application, g.addToBundle, g.units]),
      [["nova-compute", false, 0]],
    );
  });

  test("bundle overlay: units only for an added application, and no more than the machines its tag can find", () => {
    refusedMixed((r) => ((r.hostGroups[2].addToBundle = false), (r.hostGroups[2].units = 1)), [
      `${P}:hostGroups[2].units: only for an application the bundle overlay adds (addToBundle: true): nova-compute-nic is the bundle's own and keeps its units`,
    ]);
    refusedMixed((r) => ((r.hostGroups[0].addToBundle = false), (r.hostGroups[0].units = 0)), [
      `${P}:hostGroups[0].units: only for an application the bundle overlay adds (addToBundle: true): nova-compute-a100 is the bundle's own and keeps its units`,
    ]);
    refusedMixed((r) => (r.hostGroups[2].units = 3), [
      `${P}:hostGroups[2].units: 3 new units need 3 machines with the group's tag, but maas.machines lists 2`,
    ]);
    assert.equal(acceptedMixed((r) => (r.hostGroups[2].units = 2)).groups[2]!.units, 2);
    refusedMixed((r) => (r.hostGroups[0].units = -1), [`${P}:hostGroups[0].units: must be at least 0`]);
    refusedMixed((r) => (r.hostGroups[0].addToBundle = "yes"), [`${P}:hostGroups[0].addToBundle: expected true or false, got "yes"`]);
  });

  test("openstack.computeRelations: pairs as a bundle writes them, nova-compute on either side, with the charm's own endpoints", () => {
    const c = acceptedMixed((r) => {
      r.openstack.computeRelations = [
        ["nova-compute:amqp", "rabbitmq-server:amqp"],
        ["nova-cloud-controller:cloud-compute", "nova-compute:cloud-compute"],
        ["ceph-mon:client", "nova-compute:ceph"],
      ];
    });
    assert.deepEqual(c.openstack.computeRelations, [
      { endpoint: "amqp", remote: "rabbitmq-server:amqp" },
      { endpoint: "cloud-compute", remote: "nova-cloud-controller:cloud-compute" },
      { endpoint: "ceph", remote: "ceph-mon:client" },
    ]);
    assert.equal(acceptedMixed().openstack.computeRelations, undefined, "left out: openstack-base's (domain/charms.ts)");
    const cc = ["nova-compute:cloud-compute", "nova-cloud-controller:cloud-compute"];
    refusedMixed(
      (r) =>
        (r.openstack.computeRelations = [
          cc,
          ["nova-compute:amqpp", "rabbitmq-server:amqp"],
          ["glance:image-service", "rabbitmq-server:amqp"],
          ["nova-compute:amqp", "nova-compute:ceph"],
          ["nova-compute:amqp"],
          ["nova-compute amqp", "rabbitmq-server:amqp"],
          "nova-compute:amqp rabbitmq-server:amqp",
          ["rabbitmq-server:amqp", "nova-compute:amqp"],
          ["nova-compute:amqp", "rabbitmq-server:amqp"],
        ]),
      [
        `${P}:openstack.computeRelations[1][0]: the nova-compute charm has no endpoint "amqpp" (it has cloud-compute, nrpe-external-master, amqp, image-service, ceph, lxd, nova-ceilometer, nova-vgpu, neutron-plugin, ephemeral-backend, ceph-access, cloud-credentials, secrets-storage, ironic-api, storage-backend, juju-info)`,
        `${P}:openstack.computeRelations[2]: one side must be nova-compute:ENDPOINT (it stands for each application the overlay adds), the other another application's endpoint`,
        `${P}:openstack.computeRelations[3]: one side must be nova-compute:ENDPOINT (it stands for each application the overlay adds), the other another application's endpoint`,
        `${P}:openstack.computeRelations[4]: expected a pair such as [nova-compute:amqp, rabbitmq-server:amqp]`,
        `${P}:openstack.computeRelations[5][0]: "nova-compute amqp" is not APP:ENDPOINT`,
        `${P}:openstack.computeRelations[6]: expected a pair such as [nova-compute:amqp, rabbitmq-server:amqp]`,
        `${P}:openstack.computeRelations[8]: duplicate relation "nova-compute:amqp rabbitmq-server:amqp" (also at [7])`,
      ],
    );
    // Without cloud-compute the added hosts never register with nova-cloud-controller.
    refusedMixed((r) => (r.openstack.computeRelations = [["nova-compute:amqp", "rabbitmq-server:amqp"]]), [
      `${P}:openstack.computeRelations: relates no nova-compute:cloud-compute (to nova-cloud-controller:cloud-compute): the hosts of an added application would never join the cloud`,
    ]);
    refusedMixed((r) => (r.openstack.computeRelations = []), [
      `${P}:openstack.computeRelations: relates no nova-compute:cloud-compute (to nova-cloud-controller:cloud-compute): the hosts of an added application would never join the cloud`,
    ]);
    refusedMixed((r) => (r.openstack.computeRelations = { amqp: "rabbitmq-server:amqp" }), [
      `${P}:openstack.computeRelations: expected a list of relations such as [nova-compute:amqp, rabbitmq-server:amqp]`,
    ]);
  });

  test("openstack.computeRelations: storage-backend is an endpoint of the 2024.1 charm, refused with an older release", () => {
    const relations = (r: Raw) =>
      (r.openstack.computeRelations = [
        ["nova-cloud-controller:cloud-compute", "nova-compute:cloud-compute"],
        ["nova-compute:storage-backend", "cinder-volume:storage-backend"],
      ]);
    assert.deepEqual(acceptedMixed(relations).openstack.computeRelations?.[1], { endpoint: "storage-backend", remote: "cinder-volume:storage-backend" });
    refusedMixed((r) => (relations(r), (r.openstack.release = "2023.2")), [
      `${P}:openstack.computeRelations[1]: the nova-compute charm of 2023.2 has no endpoint "storage-backend" (it arrived in a later release's charm)`,
    ]);
  });
});
