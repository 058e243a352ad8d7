import { test } from "node:test";
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { requireSiteConfig } from "../../config/parse";
import { allDevices } from "../../config/types";
import { defaultSchedulerFilters } from "../../domain/releases";
import { schedulerFilters, charmOptions } from "../../render/nova/charm-options";
import { flavorSpecs } from "../../render/nova/flavors";
import { pciAliasEntries, pciAliasJson, pciWhitelistJson } from "../../render/nova/aliases";
import { CHARM_APPS } from "../../domain/charms";
import { STACKS, editStack, expectGolden, loadStack } from "../helpers";
import { renderSite } from "../../render/site";

const site = (stack: string, edit: (raw: Record<string, any>) => void) => requireSiteConfig(editStack(stack, edit));

for (const stack of STACKS) {
  test(`${stack}: charm config, bundle overlay and flavors match the golden files`, () => {
    const s = loadStack(stack);
    expectGolden(`${stack}-charm-config.yaml`, renderSite(s).charmConfigYaml);
    expectGolden(`${stack}-bundle-overlay.yaml`, renderSite(s).bundleOverlay);
    expectGolden(`${stack}-flavors.json`, `${JSON.stringify(flavorSpecs(s.flavors), null, 2)}\n`);
  });

  test(`${stack}: the charm config file reads back as exactly charmOptions`, () => {
    const s = loadStack(stack);
    assert.deepEqual(parseYaml(renderSite(s).charmConfigYaml), charmOptions(s.openstack, s.groups, s.flavors));
  });
}

test("dev: the runbook's alias as one JSON object, an address-precise whitelist, yoga's filters", () => {
  const s = loadStack("dev");
  assert.equal(pciAliasJson(allDevices(s)), '{"name":"gpu","vendor_id":"10de","product_id":"1bb0"}');
  assert.equal(
    pciWhitelistJson(s.groups[0]!.devices),
    '[{"vendor_id":"10de","product_id":"1bb0","address":"0000:83:00.0"},{"vendor_id":"10de","product_id":"1bb0","address":"0000:84:00.0"}]',
  );
  // Yoga: the charm's default after Pike (no Core/Ram/Disk), before Victoria (Retry) and 2023.2 (AvailabilityZone).
  assert.equal(
    schedulerFilters(s.openstack, allDevices(s), s.flavors).join(","),
    "AvailabilityZoneFilter,ComputeFilter,ComputeCapabilitiesFilter,ImagePropertiesFilter,ServerGroupAntiAffinityFilter," +
      "ServerGroupAffinityFilter,DifferentHostFilter,SameHostFilter,AggregateInstanceExtraSpecsFilter,PciPassthroughFilter",
  );
  assert.deepEqual(charmOptions(s.openstack, s.groups, s.flavors), {
    "nova-cloud-controller": {
      "pci-alias": pciAliasJson(allDevices(s)),
      "scheduler-default-filters": schedulerFilters(s.openstack, allDevices(s), s.flavors).join(","),
      "console-access-protocol": "spice",
    },
    "nova-compute": { "pci-alias": pciAliasJson(allDevices(s)), "pci-passthrough-whitelist": pciWhitelistJson(s.groups[0]!.devices) },
  });
  assert.deepEqual(flavorSpecs(s.flavors), [
    { name: "m1.gpu", ram: 8192, vcpus: 8, disk: 100, extraSpecs: { "pci_passthrough:alias": "gpu:1" } },
  ]);
});

test("what `juju config --reset` must reset: exactly the options set, per application", () => {
  assert.deepEqual(renderSite(loadStack("dev")).charmResetOptions, {
    "nova-cloud-controller": ["pci-alias", "scheduler-default-filters", "console-access-protocol"],
    "nova-compute": ["pci-alias", "pci-passthrough-whitelist"],
  });
  assert.deepEqual(CHARM_APPS, { controller: "nova-cloud-controller", compute: "nova-compute" });
});

test("lab: several aliases give a JSON list with fixed key order; companions stay out of the whitelist", () => {
  const s = loadStack("lab");
  assert.deepEqual(
    pciAliasEntries(allDevices(s)).map((e) => Object.keys(e)),
    [
      ["name", "vendor_id", "product_id", "device_type", "numa_policy"],
      ["name", "vendor_id", "product_id", "device_type"],
    ],
  );
  assert.equal(
    pciAliasJson(allDevices(s)),
    '[{"name":"rtx","vendor_id":"10de","product_id":"2230","device_type":"type-PCI","numa_policy":"preferred"},{"name":"nic","vendor_id":"8086","product_id":"1592","device_type":"type-PF"}]',
  );
  const whitelist = JSON.parse(pciWhitelistJson(s.groups[0]!.devices)) as Array<Record<string, string>>;
  assert.deepEqual(
    whitelist.map((w) => `${w.vendor_id}:${w.product_id}@${w.address}`),
    ["10de:2230@0000:41:00.0", "10de:2230@0000:c1:00.0", "8086:1592@0000:21:00.0"],
  );
  assert.equal(flavorSpecs(s.flavors)[1]!.extraSpecs["pci_passthrough:alias"], "rtx:2,nic:1");
  assert.deepEqual(Object.keys(flavorSpecs(s.flavors)[1]!.extraSpecs), ["pci_passthrough:alias", "hw:numa_nodes", "hw:pci_numa_affinity_policy"]);
  // The user's extra specs reach Nova as written, in their order (no key is renamed for the release).
  const hide = site("lab", (raw) => (raw.flavors[1].extraSpecs = { "hw:hide_hypervisor_id": "true", "hw:numa_nodes": 2 }));
  assert.deepEqual(flavorSpecs(hide.flavors)[1]!.extraSpecs, { "pci_passthrough:alias": "rtx:2,nic:1", "hw:hide_hypervisor_id": "true", "hw:numa_nodes": "2" });
});

test("devices sharing an alias give one entry each, with device_type (Nova needs it to OR them); identical ones give one", () => {
  const ored = site("dev", (raw) => raw.devices.push({ alias: "gpu", vendorId: "10de", productId: "1bb1", addresses: ["0000:85:00.0"] }));
  assert.equal(
    pciAliasJson(allDevices(ored)),
    '[{"name":"gpu","vendor_id":"10de","product_id":"1bb0","device_type":"type-PCI"},{"name":"gpu","vendor_id":"10de","product_id":"1bb1","device_type":"type-PCI"}]',
  );
  assert.equal((JSON.parse(pciWhitelistJson(ored.groups[0]!.devices)) as unknown[]).length, 3);

  const same = site("dev", (raw) => raw.devices.push({ alias: "gpu", vendorId: "10de", productId: "1bb0", addresses: ["0000:85:00.0"] }));
  assert.equal(pciAliasJson(allDevices(same)), '{"name":"gpu","vendor_id":"10de","product_id":"1bb0"}');
  assert.equal((JSON.parse(pciWhitelistJson(same.groups[0]!.devices)) as unknown[]).length, 3);
});

test("scheduler filters: the config's list wins, otherwise the release's default", () => {
  const own = ["ComputeFilter", "PciPassthroughFilter"];
  const s = site("dev", (raw) => (raw.openstack.schedulerFilters = own));
  assert.deepEqual(schedulerFilters(s.openstack, allDevices(s), s.flavors), own);
  assert.equal(charmOptions(s.openstack, s.groups, s.flavors)["nova-cloud-controller"]!["scheduler-default-filters"], "ComputeFilter,PciPassthroughFilter");
  const bobcat = site("dev", (raw) => (raw.openstack.release = "bobcat"));
  assert.deepEqual(schedulerFilters(bobcat.openstack, allDevices(bobcat), bobcat.flavors), defaultSchedulerFilters("2023.2"));
  assert.ok(!schedulerFilters(bobcat.openstack, allDevices(bobcat), bobcat.flavors).includes("AvailabilityZoneFilter"));
});

test("flavor pci_passthrough:alias keeps the config's order", () => {
  const s = site("lab", (raw) => (raw.flavors[1].pci = { nic: 1, rtx: 2 }));
  assert.equal(flavorSpecs(s.flavors)[1]!.extraSpecs["pci_passthrough:alias"], "nic:1,rtx:2");
});

test("bundle overlay: the two applications' options and nothing else (no machines, units, placement, OS)", () => {
  // Every stack whose applications are all in the bundle: options only.
  for (const stack of STACKS.filter((x) => loadStack(x).groups.every((g) => !g.addToBundle))) {
    const s = loadStack(stack);
    const options = charmOptions(s.openstack, s.groups, s.flavors);
    assert.deepEqual(parseYaml(renderSite(s).bundleOverlay), {
      applications: { "nova-compute": { options: options["nova-compute"] }, "nova-cloud-controller": { options: options["nova-cloud-controller"] } },
    });
  }
});

test("bundle overlay header: the Ubuntu base of the release in the Juju version's words, how GPU hosts are chosen", () => {
  const dev = renderSite(loadStack("dev")).bundleOverlay;
  assert.match(dev, /^# .*OpenStack yoga \(Nova 25\)/);
  assert.match(dev, /^# Use: juju deploy \.\/openstack-bundle\.yaml --overlay \.\/THIS-FILE$/m);
  assert.match(dev, /^# Meant for a bundle with `default-base: ubuntu@22\.04` \(jammy, the base the charms are built for on yoga\)\.$/m);
  assert.match(dev, /`constraints: tags=pci-pass`/);
  assert.match(dev, /`juju deploy nova-compute --constraints tags=pci-pass`/);
  assert.match(dev, /must not be GPU hosts `tags=\^pci-pass`/);
  assert.match(dev, /pci-passthrough-whitelist becomes nova\.conf \[pci\] passthrough_whitelist on yoga/);
  // Juju 2.9 names the OS by series.
  assert.match(renderSite(loadStack("lab")).bundleOverlay, /^# Meant for a bundle with `series: focal` \(ubuntu@20\.04, the base the charms are built for on ussuri\)\.$/m);

  const on = (release: string) => renderSite(site("dev", (raw) => (raw.openstack.release = release))).bundleOverlay;
  assert.match(on("zed"), /becomes nova\.conf \[pci\] device_spec on zed/);
  assert.match(on("zed"), /`default-base: ubuntu@22\.04`/);
  // nova-cloud-controller's stable/2024.1 builds for 22.04 only; 24.04 is there when asked for.
  assert.match(on("2024.1"), /`default-base: ubuntu@22\.04` \(jammy, the base the charms are built for on 2024\.1\)/);
  assert.match(renderSite(site("dev", (raw) => Object.assign(raw.openstack, { release: "2024.1", base: "noble" }))).bundleOverlay, /`default-base: ubuntu@24\.04` \(noble, set by openstack\.base; the charms' base for 2024\.1 is ubuntu@22\.04\)/);
  assert.match(on("queens"), /`default-base: ubuntu@18\.04`/);
  // openstack.base overrides, and the header says so.
  const focal = renderSite(site("dev", (raw) => (raw.openstack.base = "focal"))).bundleOverlay;
  assert.match(focal, /`default-base: ubuntu@20\.04` \(focal, set by openstack\.base; the charms' base for yoga is ubuntu@22\.04\)/);
});

test("mixed: the bundle overlay matches its golden file", () => {
  expectGolden("mixed-bundle-overlay.yaml", renderSite(loadStack("mixed")).bundleOverlay);
});

test("bundle overlay of host groups: the bundle's nova-compute gets options, the other groups' applications are added with charm, channel, tag and relations", () => {
  // The NIC group on the bundle's own nova-compute, selecting its hosts by device (config refuses it otherwise).
  const s = site("mixed", (raw) => Object.assign(raw.hostGroups[2], { application: "nova-compute", maas: { tag: "nic-pass", selectByDevice: true, pool: "openstack" } }));
  const options = charmOptions(s.openstack, s.groups, s.flavors);
  const added = (app: string, tag: string) => ({ charm: "nova-compute", channel: "2024.1/stable", constraints: `tags=${tag}`, options: options[app] });
  // openstack-base's relations for 2024.1 (OVN), from each added application's side.
  const base = [
    ["amqp", "rabbitmq-server:amqp"],
    ["image-service", "glance:image-service"],
    ["cloud-compute", "nova-cloud-controller:cloud-compute"],
    ["ceph", "ceph-mon:client"],
    ["ceph-access", "cinder-ceph:ceph-access"],
    ["juju-info", "ntp:juju-info"],
    ["neutron-plugin", "ovn-chassis:nova-compute"],
  ];
  assert.deepEqual(parseYaml(renderSite(s).bundleOverlay), {
    applications: {
      "nova-compute-a100": added("nova-compute-a100", "gpu-a100"),
      "nova-compute-l40s": added("nova-compute-l40s", "gpu-l40s"),
      "nova-compute": { options: options["nova-compute"] },
      "nova-cloud-controller": { options: options["nova-cloud-controller"] },
    },
    relations: ["nova-compute-a100", "nova-compute-l40s"].flatMap((app) => base.map(([endpoint, remote]) => [`${app}:${endpoint}`, remote])),
  });

  // Up to train, openstack-base's compute hosts run neutron-openvswitch; units when asked for; the operator's own relations.
  const train = site("mixed", (raw) => {
    raw.openstack.release = "train";
    raw.hostGroups[0].units = 2;
  });
  const overlay = parseYaml(renderSite(train).bundleOverlay) as { applications: Record<string, Record<string, unknown>>; relations: string[][] };
  assert.deepEqual(overlay.applications["nova-compute-a100"]!.num_units, 2);
  // train's track has candidate and edge channels only.
  assert.equal(overlay.applications["nova-compute-a100"]!.channel, "train/candidate");
  assert.equal(overlay.applications["nova-compute-l40s"]!.num_units, undefined, "no units: num_units left out (0)");
  assert.deepEqual(overlay.relations.find((r) => r[0] === "nova-compute-a100:neutron-plugin"), ["nova-compute-a100:neutron-plugin", "neutron-openvswitch:neutron-plugin"]);
  const own = site("mixed", (raw) => (raw.openstack.computeRelations = [["nova-cloud-controller:cloud-compute", "nova-compute:cloud-compute"], ["nova-compute:amqp", "rabbitmq-server:amqp"]]));
  assert.deepEqual((parseYaml(renderSite(own).bundleOverlay) as { relations: string[][] }).relations, [
    ["nova-compute-a100:cloud-compute", "nova-cloud-controller:cloud-compute"],
    ["nova-compute-a100:amqp", "rabbitmq-server:amqp"],
    ["nova-compute-l40s:cloud-compute", "nova-cloud-controller:cloud-compute"],
    ["nova-compute-l40s:amqp", "rabbitmq-server:amqp"],
    ["nova-compute-nic:cloud-compute", "nova-cloud-controller:cloud-compute"],
    ["nova-compute-nic:amqp", "rabbitmq-server:amqp"],
  ]);
  // Nothing is added when every group's application is in the bundle: no relations either.
  const none = site("mixed", (raw) => raw.hostGroups.forEach((g: Record<string, unknown>) => (g.addToBundle = false)));
  assert.deepEqual(Object.keys(parseYaml(renderSite(none).bundleOverlay) as object), ["applications"]);
});

test("bundle overlay header of host groups: what is added, from which channel, with which units, and what the bundle must have", () => {
  const text = renderSite(loadStack("mixed")).bundleOverlay;
  const header = text.slice(0, text.indexOf("\napplications:")).split("\n");
  assert.ok(header.includes("# It sets options on nova-cloud-controller, and adds nova-compute-a100, nova-compute-l40s and nova-compute-nic, which the bundle does not have:"));
  assert.ok(header.includes("# GPU hosts of group nic are chosen by MAAS tag nic-pass: the overlay adds nova-compute-nic, charm nova-compute from 2024.1/stable,"));
  assert.ok(header.includes("# GPU hosts of group a100 are chosen by MAAS tag gpu-a100: the overlay adds nova-compute-a100, charm nova-compute from 2024.1/stable,"));
  assert.ok(header.includes("# with `constraints: tags=gpu-a100` and no units (`juju add-unit nova-compute-a100 -n N` adds them), each on a new machine MAAS finds by the tag."));
  // A group on the bundle's own nova-compute (selecting by device): the bundle places it.
  const own = renderSite(site("mixed", (raw) => Object.assign(raw.hostGroups[2], { application: "nova-compute", maas: { tag: "nic-pass", selectByDevice: true, pool: "openstack" } }))).bundleOverlay;
  assert.ok(own.split("\n").includes("# GPU hosts of group nic are chosen by MAAS tag nic-pass: in the bundle, give the machines nova-compute goes onto"));
  assert.ok(own.split("\n").includes("# It sets options on nova-compute and nova-cloud-controller, and adds nova-compute-a100 and nova-compute-l40s, which the bundle does not have:"));
  assert.ok(header.includes("# the bundle must have rabbitmq-server, glance, nova-cloud-controller, ceph-mon, cinder-ceph, ntp and ovn-chassis."));
  const two = renderSite(site("mixed", (raw) => (raw.hostGroups[1].units = 2))).bundleOverlay;
  assert.match(two, /^# with `constraints: tags=gpu-l40s` and 2 units, each on a new machine MAAS finds by the tag\.$/m);
});
