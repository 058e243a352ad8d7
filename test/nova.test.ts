import { test } from "node:test";
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { requireSiteConfig, allDevices } from "../components/config";
import { defaultSchedulerFilters } from "../components/render/releases";
import {
  CHARM_APPS,
  charmOptions,
  charmResetOptions,
  flavorSpecs,
  pciAliasEntries,
  pciAliasJson,
  pciWhitelistJson,
  renderBundleOverlay,
  renderCharmConfig,
  schedulerFilters,
} from "../components/render/nova";
import { ONE_GROUP_STACKS, STACKS, editStack, expectGolden, loadStack } from "./helpers";

const site = (stack: string, edit: (raw: Record<string, any>) => void) => requireSiteConfig(editStack(stack, edit));

for (const stack of STACKS) {
  test(`${stack}: charm config, bundle overlay and flavors match the golden files`, () => {
    const s = loadStack(stack);
    expectGolden(`${stack}-charm-config.yaml`, renderCharmConfig(s));
    expectGolden(`${stack}-bundle-overlay.yaml`, renderBundleOverlay(s));
    expectGolden(`${stack}-flavors.json`, `${JSON.stringify(flavorSpecs(s), null, 2)}\n`);
  });

  test(`${stack}: the charm config file reads back as exactly charmOptions`, () => {
    const s = loadStack(stack);
    assert.deepEqual(parseYaml(renderCharmConfig(s)), charmOptions(s));
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
    schedulerFilters(s).join(","),
    "AvailabilityZoneFilter,ComputeFilter,ComputeCapabilitiesFilter,ImagePropertiesFilter,ServerGroupAntiAffinityFilter," +
      "ServerGroupAffinityFilter,DifferentHostFilter,SameHostFilter,AggregateInstanceExtraSpecsFilter,PciPassthroughFilter",
  );
  assert.deepEqual(charmOptions(s), {
    "nova-cloud-controller": {
      "pci-alias": pciAliasJson(allDevices(s)),
      "scheduler-default-filters": schedulerFilters(s).join(","),
      "console-access-protocol": "spice",
    },
    "nova-compute": { "pci-alias": pciAliasJson(allDevices(s)), "pci-passthrough-whitelist": pciWhitelistJson(s.groups[0]!.devices) },
  });
  assert.deepEqual(flavorSpecs(s), [
    { name: "m1.gpu", ram: 8192, vcpus: 8, disk: 100, extraSpecs: { "pci_passthrough:alias": "gpu:1" } },
  ]);
});

test("what `juju config --reset` must reset: exactly the options set, per application", () => {
  assert.deepEqual(charmResetOptions(loadStack("dev")), {
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
  assert.equal(flavorSpecs(s)[1]!.extraSpecs["pci_passthrough:alias"], "rtx:2,nic:1");
  assert.deepEqual(Object.keys(flavorSpecs(s)[1]!.extraSpecs), [
    "pci_passthrough:alias",
    "hw:numa_nodes",
    "hw:pci_numa_affinity_policy",
    "hide_hypervisor_id",
  ]);
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
  assert.deepEqual(schedulerFilters(s), own);
  assert.equal(charmOptions(s)["nova-cloud-controller"]!["scheduler-default-filters"], "ComputeFilter,PciPassthroughFilter");
  const bobcat = site("dev", (raw) => (raw.openstack.release = "bobcat"));
  assert.deepEqual(schedulerFilters(bobcat), defaultSchedulerFilters("2023.2"));
  assert.ok(!schedulerFilters(bobcat).includes("AvailabilityZoneFilter"));
});

test("flavor pci_passthrough:alias keeps the config's order", () => {
  const s = site("lab", (raw) => (raw.flavors[1].pci = { nic: 1, rtx: 2 }));
  assert.equal(flavorSpecs(s)[1]!.extraSpecs["pci_passthrough:alias"], "nic:1,rtx:2");
});

test("bundle overlay: the two applications' options and nothing else (no machines, units, placement, OS)", () => {
  for (const stack of ONE_GROUP_STACKS) {
    const s = loadStack(stack);
    const options = charmOptions(s);
    assert.deepEqual(parseYaml(renderBundleOverlay(s)), {
      applications: { "nova-compute": { options: options["nova-compute"] }, "nova-cloud-controller": { options: options["nova-cloud-controller"] } },
    });
  }
});

test("bundle overlay header: the Ubuntu base of the release in the Juju version's words, how GPU hosts are chosen", () => {
  const dev = renderBundleOverlay(loadStack("dev"));
  assert.match(dev, /^# .*OpenStack yoga \(Nova 25\)/);
  assert.match(dev, /^# Use: juju deploy \.\/openstack-bundle\.yaml --overlay \.\/THIS-FILE$/m);
  assert.match(dev, /^# Meant for a bundle with `default-base: ubuntu@22\.04` \(jammy, Ubuntu's own base for yoga\)\.$/m);
  assert.match(dev, /`constraints: tags=pci-pass`/);
  assert.match(dev, /`juju deploy nova-compute --constraints tags=pci-pass`/);
  assert.match(dev, /must not be GPU hosts `tags=\^pci-pass`/);
  assert.match(dev, /pci-passthrough-whitelist becomes nova\.conf \[pci\] passthrough_whitelist on yoga/);
  // Juju 2.9 names the OS by series.
  assert.match(renderBundleOverlay(loadStack("lab")), /^# Meant for a bundle with `series: focal` \(ubuntu@20\.04, Ubuntu's own base for ussuri\)\.$/m);

  const on = (release: string) => renderBundleOverlay(site("dev", (raw) => (raw.openstack.release = release)));
  assert.match(on("zed"), /becomes nova\.conf \[pci\] device_spec on zed/);
  assert.match(on("zed"), /`default-base: ubuntu@22\.04`/);
  assert.match(on("2024.1"), /`default-base: ubuntu@24\.04` \(noble, Ubuntu's own base for 2024\.1\)/);
  assert.match(on("2025.2"), /`default-base: ubuntu@24\.04`/);
  assert.match(on("queens"), /`default-base: ubuntu@18\.04`/);
  // openstack.base overrides, and the header says so.
  const focal = renderBundleOverlay(site("dev", (raw) => (raw.openstack.base = "focal")));
  assert.match(focal, /`default-base: ubuntu@20\.04` \(focal, set by openstack\.base; Ubuntu's own for yoga is ubuntu@22\.04\)/);
});
