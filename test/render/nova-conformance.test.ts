// The rendered Nova configuration checked by Nova itself (Debian python3-nova, Nova 26 Zed), through
// test/nova_conformance.py: alias parser, device_spec whitelist, the libvirt driver's device reporting and the
// filter registry, and what Nova must refuse.
import { test } from "node:test";
import assert from "node:assert/strict";
import { allDevices } from "../../config/types";
import { schedulerFilters } from "../../render/nova/charm-options";
import { loadStack } from "../helpers";
import { Device, fails, input, passes, skip, variant } from "./nova-harness";

test("dev: Nova parses the alias and whitelist, validates m1.gpu and schedules it on one GPU host", { skip }, () => {
  const report = passes(input(loadStack("dev")));
  assert.deepEqual(report.aliases, { gpu: { numa_policy: "legacy", specs: [{ vendor_id: "10de", product_id: "1bb0" }] } });
  assert.deepEqual(report.alias_lines, ['{"name": "gpu", "product_id": "1bb0", "vendor_id": "10de"}']);
  const host = report.groups["nova-compute"]!;
  assert.deepEqual(
    host.whitelist.assignable.map((d) => d.address),
    ["0000:83:00.0", "0000:84:00.0"],
  );
  // Another model at a configured address, and the neighbouring function (where a GPU's audio sits).
  assert.deepEqual(
    host.whitelist.refused.map((d) => `${d.vendor_id}:${d.product_id}@${d.address}`),
    ["10de:1bb1@0000:83:00.0", "10de:1bb0@0000:83:00.1", "10de:1bb1@0000:84:00.0", "10de:1bb0@0000:84:00.1"],
  );
  assert.deepEqual(host.whitelist.foreign_refused, []);
  assert.deepEqual(report.flavors, {
    "m1.gpu": { requests: { gpu: 1 }, fits: ["nova-compute"], one_more_refused: { "nova-compute": { gpu: "gpu:3" } }, scheduled: ["nova-compute"], refused_by: [] },
  });
  assert.deepEqual(report.filters, { checked: [] });
});

test("lab: two aliases with device_type and numa_policy, a two-alias flavor, user extra specs", { skip }, () => {
  const report = passes(input(loadStack("lab")));
  assert.deepEqual(report.aliases, {
    nic: { numa_policy: "legacy", specs: [{ vendor_id: "8086", product_id: "1592", dev_type: "type-PF" }] },
    rtx: { numa_policy: "preferred", specs: [{ vendor_id: "10de", product_id: "2230", dev_type: "type-PCI" }] },
  });
  // The E810 can do SR-IOV (its lspci -vvv capture): Nova's libvirt code reads it as a PF.
  const host = report.groups["nova-compute"]!;
  assert.deepEqual(host.reported, { "0000:41:00.0": "type-PCI", "0000:c1:00.0": "type-PCI", "0000:21:00.0": "type-PF" });
  assert.equal(host.whitelist.assignable.length, 3);
  assert.equal(host.whitelist.refused.length, 6);
  assert.deepEqual(report.flavors["g2.rtx-nic"], {
    requests: { rtx: 2, nic: 1 },
    fits: ["nova-compute"],
    one_more_refused: { "nova-compute": { rtx: "rtx:3", nic: "nic:2" } },
    scheduled: ["nova-compute"],
    refused_by: [],
  });
  assert.deepEqual(report.flavors["g1.rtx"]!.fits, ["nova-compute"]);
});

test("SR-IOV capable devices are PFs to Nova: an alias without device_type type-PF is refused, with it the flavor fits", { skip }, () => {
  // The lab's E810 with the deviceType the importer proposes: reported as a PF, and g2.rtx-nic fits (above).
  // Without it, Nova's PciDeviceStats drops the PF from the request: the flavor fits no host.
  const noType = variant("lab", (raw) => delete raw.devices[1].deviceType);
  assert.equal(input(noType).groups[0]!.devices.find((d) => d.alias === "nic")!.sriov_totalvfs, 128);
  assert.deepEqual(passes(input(noType)).flavors["g2.rtx-nic"]!.fits, []);

  // The runbook's P5000 has no SR-IOV: type-PCI, as before. A host whose P5000 did report VFs (the test
  // side's flag) would never take m1.gpu ...
  const dev = loadStack("dev");
  assert.deepEqual(passes(input(dev)).groups["nova-compute"]!.reported, { "0000:83:00.0": "type-PCI", "0000:84:00.0": "type-PCI" });
  const sriovHost = input(dev);
  for (const d of sriovHost.groups[0]!.devices) d.sriov_totalvfs = 16;
  assert.deepEqual(passes(sriovHost).flavors["m1.gpu"]!.fits, []);

  // ... unless its config says type-PF: the alias asks for PFs and the flavor fits, one more does not.
  const pf = variant("dev", (raw) => (raw.devices[0].deviceType = "type-PF"));
  const report = passes(input(pf));
  assert.deepEqual(report.groups["nova-compute"]!.reported, { "0000:83:00.0": "type-PF", "0000:84:00.0": "type-PF" });
  assert.deepEqual(report.aliases.gpu!.specs, [{ vendor_id: "10de", product_id: "1bb0", dev_type: "type-PF" }]);
  assert.deepEqual(report.flavors["m1.gpu"], {
    requests: { gpu: 1 },
    fits: ["nova-compute"],
    one_more_refused: { "nova-compute": { gpu: "gpu:3" } },
    scheduled: ["nova-compute"],
    refused_by: [],
  });

  // type-PF on a device that cannot do SR-IOV is refused as well: set it where lspci shows the capability.
  const notSriov = input(pf);
  for (const d of notSriov.groups[0]!.devices) d.sriov_totalvfs = 0;
  assert.deepEqual(passes(notSriov).flavors["m1.gpu"]!.fits, []);
});

test("from zed on, every rendered filter exists in Nova's filter registry", { skip }, () => {
  for (const release of ["zed", "2023.2", "2024.1"]) {
    const s = variant("dev", (raw) => (raw.openstack.release = release));
    assert.deepEqual(passes(input(s)).filters, { checked: schedulerFilters(s.openstack, allDevices(s), s.flavors) }, release);
  }
});

test("variations: ORed alias entries over two models, required NUMA policy on 2024.1", { skip }, () => {
  const ored = variant("dev", (raw) => {
    raw.devices.push({ alias: "gpu", vendorId: "10de", productId: "1bb1", addresses: ["0000:85:00.0"] });
    raw.flavors[0].pci = { gpu: 3 };
  });
  const report = passes(input(ored));
  assert.equal(report.aliases.gpu!.specs.length, 2);
  assert.deepEqual(report.flavors["m1.gpu"]!.one_more_refused, { "nova-compute": { gpu: "gpu:4" } });

  const required = variant("lab", (raw) => {
    raw.devices[0].numaPolicy = "required";
    raw.openstack.release = "2024.1";
  });
  assert.equal(passes(input(required)).aliases.rtx!.numa_policy, "required");
});

test("Nova rejects what it must: the script can fail", { skip }, () => {
  const dev = loadStack("dev");

  // An alias entry with a device_type Nova does not know, identical on both apps.
  const badType = input(dev);
  const alias = '{"name":"gpu","vendor_id":"10de","product_id":"1bb0","device_type":"type-GPU"}';
  badType.charm["nova-cloud-controller"]!["pci-alias"] = alias;
  badType.charm["nova-compute"]!["pci-alias"] = alias;
  fails(badType, /FAIL: pci-alias: Nova rejects it: .*type-GPU/);

  // ORed entries without device_type: Nova compares spec['dev_type'] with no default (why the renderer
  // sets it on shared names).
  const ored = input(dev);
  const bare = '[{"name":"gpu","vendor_id":"10de","product_id":"1bb0"},{"name":"gpu","vendor_id":"10de","product_id":"1bb1"}]';
  ored.charm["nova-cloud-controller"]!["pci-alias"] = bare;
  ored.charm["nova-compute"]!["pci-alias"] = bare;
  fails(ored, /FAIL: pci-alias: Nova rejects it: Invalid PCI alias definition: 'dev_type'/);

  // Aliases that differ between the apps.
  const mismatch = input(dev);
  mismatch.charm["nova-compute"]!["pci-alias"] = '{"name":"gpu2","vendor_id":"10de","product_id":"1bb0"}';
  fails(mismatch, /FAIL: pci-alias: differs between nova-cloud-controller and nova-compute/);

  // The runbook's whitelist (vendor:product only) hands every function at any address to guests.
  const loose = input(dev);
  loose.charm["nova-compute"]!["pci-passthrough-whitelist"] = '{ "vendor_id": "10de", "product_id": "1bb0" }';
  fails(loose, /FAIL: whitelist of nova-compute: unconfigured device .*0000:83:00\.1.* is assignable/);

  // An extra spec without a count.
  const noCount = input(dev);
  noCount.flavors[0]!.extraSpecs["pci_passthrough:alias"] = "gpu";
  fails(noCount, /FAIL: flavor m1\.gpu: extra spec pci_passthrough:alias='gpu'/);

  // Aliases that differ between the controller and a group's application.
  const mixed = input(loadStack("mixed"));
  mixed.charm["nova-compute-l40s"]!["pci-alias"] = mixed.charm["nova-compute-l40s"]!["pci-alias"]!.replace('"l40s"', '"l4"');
  fails(mixed, /FAIL: pci-alias: differs between nova-cloud-controller and nova-compute-l40s/);

  // A whitelist that also hands out another group's device at the same slot (the A100 and the L40S share 17:00.0).
  const shared = input(loadStack("mixed"));
  const a100 = JSON.parse(shared.charm["nova-compute-a100"]!["pci-passthrough-whitelist"]!) as Device[];
  shared.charm["nova-compute-a100"]!["pci-passthrough-whitelist"] = JSON.stringify([...a100, { vendor_id: "10de", product_id: "26b9", address: "0000:17:00.0" }]);
  fails(shared, /FAIL: whitelist of nova-compute-a100: device \{'vendor_id': '10de', 'product_id': '26b9', 'address': '0000:17:00.0'\} of group l40s is assignable/);

  // A filter Nova removed, on a release where the list is checked.
  const removed = input(variant("dev", (raw) => (raw.openstack.release = "zed")));
  const ncc = removed.charm["nova-cloud-controller"]!;
  ncc["scheduler-default-filters"] = `RetryFilter,${ncc["scheduler-default-filters"]}`;
  fails(removed, /FAIL: scheduler-default-filters: .*SchedulerHostFilterNotFound.*\['RetryFilter'\]/);
});
