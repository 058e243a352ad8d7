// The rendered Nova configuration checked by Nova itself (Debian python3-nova, Nova 26 Zed), through
// test/nova_conformance.py: alias parser, device_spec whitelist, extra-spec validators, the libvirt
// driver's device reporting, PciDeviceStats scheduling and the filter registry.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { formatProblems } from "../config/problems";
import { parseSiteConfig, requireSiteConfig } from "../config/parse";
import { type DeviceConfig, type HostGroup, type SiteConfig, allDevices } from "../config/types";
import { devicesPerHost, flavorGroups } from "../domain/nova-pci";
import { parseLspci } from "../tools/import-lspci/lspci";
import { atLeast } from "../domain/releases";
import { schedulerFilters, type CharmOptions, charmOptions } from "../render/nova/charm-options";
import { flavorSpecs, type FlavorSpec } from "../render/nova/flavors";
import { pciAliasJson, pciWhitelistJson } from "../render/nova/aliases";
import { checkExtraSpecs, registry } from "../domain/extra-specs/releases";
import { flavorHasNumaTopology } from "../domain/extra-specs/numa";
import type { ExtraSpecValidator } from "../domain/extra-specs/types";
import { ZED_VALIDATORS } from "../domain/extra-specs/zed";
import { NUMA_FLAVORS } from "./numa-flavors";
import { ROOT, STACKS, editStack, loadStack, needTool } from "./helpers";

const PYTHON = "/usr/bin/python3";
const SCRIPT = path.join(ROOT, "test", "nova_conformance.py");
// libvirt (python3-libvirt) only so that Nova's libvirt Host can be built; nothing connects to a daemon.
const skip = needTool(PYTHON, "python3-nova python3-libvirt", ["-c", "import nova.pci.request, libvirt"]);

interface HostDevice {
  alias: string;
  vendor_id: string;
  product_id: string;
  address: string;
  /** The function's sysfs sriov_totalvfs: above 0, libvirt reports virtual functions and Nova a PF. */
  sriov_totalvfs: number;
  /** A VF's PF (sysfs physfn). */
  physfn: string | null;
}

/** A host group as the script takes it: one of its hosts' devices, and the application configuring it. */
interface GroupInput {
  name: string;
  application: string;
  devices: HostDevice[];
}

interface Input {
  charm: CharmOptions;
  groups: GroupInput[];
  flavors: FlavorSpec[];
  check_filters: boolean;
  extra_spec_cases?: [string, string][];
  numa_cases?: Array<{ vcpus: number; memory_mb: number; extra_specs: Record<string, string> }>;
}

/** The hardware as the lspci captures show it: vendor:product -> Total VFs of its SR-IOV capability. */
const CAPTURED_TOTAL_VFS: ReadonlyMap<string, number> = (() => {
  const dir = path.join(ROOT, "test", "fixtures", "lspci");
  const vfs = new Map<string, number>();
  for (const file of readdirSync(dir)) {
    for (const f of parseLspci(readFileSync(path.join(dir, file), "utf8")).functions) {
      if (f.sriov) vfs.set(`${f.vendorId}:${f.productId}`, Math.max(vfs.get(`${f.vendorId}:${f.productId}`) ?? 0, f.sriov.totalVfs ?? 1));
    }
  }
  return vfs;
})();

/**
 * One configured device on a GPU host as its sysfs would show it: SR-IOV capable when the captures show
 * its model with the capability, or when the config says it is a PF (then one VF is enough: libvirt
 * reports any sriov_totalvfs above 0). A configured VF gets a PF on its bus; Nova only records its address.
 */
function hostDevice(d: DeviceConfig, address: string): HostDevice {
  const captured = CAPTURED_TOTAL_VFS.get(`${d.vendorId}:${d.productId}`);
  return {
    alias: d.alias,
    vendor_id: d.vendorId,
    product_id: d.productId,
    address,
    sriov_totalvfs: captured ?? (d.deviceType === "type-PF" ? 1 : 0),
    physfn: d.deviceType === "type-VF" ? `${address.slice(0, address.lastIndexOf(":"))}:00.0` : null,
  };
}

/** How the tests name a group: its name, or its application for the one unnamed group of a single-group site. */
const label = (g: HostGroup): string => g.name ?? g.application;

/** The script's input: rendered options and flavors; per group, the devices of one of its hosts from config and
 * captures. */
function input(s: SiteConfig): Input {
  return {
    charm: charmOptions(s.openstack, s.groups, s.flavors),
    groups: s.groups.map((g) => ({
      name: label(g),
      application: g.application,
      devices: g.devices.flatMap((d) => d.addresses.map((address) => hostDevice(d, address))),
    })),
    flavors: flavorSpecs(s.flavors),
    // The installed Nova is Zed: older releases list filters that Zed no longer has, on purpose.
    check_filters: atLeast(s.openstack.release, "zed"),
  };
}

type Device = Record<string, string>;

interface Report {
  aliases: Record<string, { numa_policy: string; specs: Array<Record<string, string>> }>;
  alias_lines: string[];
  groups: Record<
    string,
    {
      /** dev_type per address, as Nova's libvirt code read the device. */
      reported: Record<string, string>;
      whitelist: { assignable: Device[]; refused: Device[]; foreign_refused: Device[] };
    }
  >;
  /** Per flavor: the groups whose host PciDeviceStats lets take it, and per such group one device more refused;
   * the groups whose host in no aggregate every filter that reads extra specs passes (ComputeCapabilitiesFilter,
   * AggregateInstanceExtraSpecsFilter, PciPassthroughFilter), and the filters that refused a group's host. */
  flavors: Record<
    string,
    { requests: Record<string, number>; fits: string[]; one_more_refused: Record<string, Record<string, string>>; scheduled: string[]; refused_by: string[] }
  >;
  filters: { checked: string[] };
  numa_filter_registered: boolean;
  extra_spec_verdicts?: (string | null)[];
  extra_spec_namespaces?: string[];
  numa_topology?: boolean[];
}

function runNova(data: Input): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(PYTHON, [SCRIPT], { input: JSON.stringify(data), encoding: "utf8", timeout: 120_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function passes(data: Input): Report {
  const r = runNova(data);
  assert.equal(r.status, 0, `nova_conformance.py failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as Report;
}

function fails(data: Input, message: RegExp): void {
  const r = runNova(data);
  assert.equal(r.status, 1, `expected Nova to reject it; stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  assert.match(r.stderr, message);
}

const variant = (stack: string, edit: (raw: Record<string, any>) => void) => requireSiteConfig(editStack(stack, edit));
/** The config's problems for a raw stack, one line each ("" when it is valid). */
const requireSiteConfigResult = (raw: Record<string, unknown>): string => {
  const r = parseSiteConfig(raw);
  return r.ok ? "" : formatProblems(r.problems);
};

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

// ---------------------------------------------------------------------------------------------------
// Host groups: Nova's PciDeviceStats on a host of each group, against config's own rule (flavorGroups)


/** Every flavor the aliases of a site can ask for, each alias 0 to one more than any group's host has. */
function everyFlavor(s: SiteConfig): Array<{ spec: FlavorSpec; pci: Record<string, number> }> {
  const most = new Map<string, number>();
  for (const g of s.groups) for (const [alias, n] of devicesPerHost(g.devices)) most.set(alias, Math.max(most.get(alias) ?? 0, n));
  let combos: Array<Record<string, number>> = [{}];
  for (const [alias, n] of most) combos = combos.flatMap((c) => Array.from({ length: n + 2 }, (_, k) => (k === 0 ? c : { ...c, [alias]: k })));
  return combos
    .filter((pci) => Object.keys(pci).length > 0)
    .map((pci) => {
      const value = Object.entries(pci).map(([a, n]) => `${a}:${n}`).join(",");
      return { pci, spec: { name: value, ram: 1024, vcpus: 1, disk: 1, extraSpecs: { "pci_passthrough:alias": value } } };
    });
}

/** One Nova run per site (importing Nova costs seconds): the example stacks and two variations, each with its own
 * flavors and every flavor its aliases can ask for. */
let groupRuns: Array<{ what: string; site: SiteConfig; cases: ReturnType<typeof everyFlavor>; report: Report }> | undefined;
function groupReports() {
  if (groupRuns) return groupRuns;
  const sites: Array<[string, SiteConfig]> = [
    ...STACKS.map((stack): [string, SiteConfig] => [stack, loadStack(stack)]),
    // One alias ORed over two models in one group.
    ["dev, gpu over two models", variant("dev", (raw) => raw.devices.push({ alias: "gpu", vendorId: "10de", productId: "1bb1", addresses: ["0000:85:00.0"] }))],
    // One alias in two groups: the NIC on the L40S hosts too.
    [
      "mixed, cx6 on the L40S hosts too",
      variant("mixed", (raw) => {
        raw.hostGroups[1].maas = { tag: "gpu-l40s", machines: ["l40shost"] };
        raw.hostGroups[1].devices.push({ alias: "cx6", vendorId: "15b3", productId: "101d", deviceType: "type-PF", addresses: ["0000:b1:00.0"] });
      }),
    ],
  ];
  groupRuns = sites.map(([what, site]) => {
    const cases = everyFlavor(site);
    const data = input(site);
    return { what, site, cases, report: passes({ ...data, flavors: [...data.flavors, ...cases.map((c) => c.spec)] }) };
  });
  return groupRuns;
}
const reportOf = (what: string) => groupReports().find((r) => r.what === what)!.report;

test("every flavor of every example stack fits a host of at least one group, and the groups Nova lets take it are config's flavorGroups", { skip }, () => {
  for (const stack of STACKS) {
    const s = loadStack(stack);
    const report = reportOf(stack);
    for (const f of s.flavors) {
      const fits = report.flavors[f.name]!.fits;
      assert.ok(fits.length > 0, `${stack}: ${f.name} fits no group`);
      assert.deepEqual(fits, flavorGroups(s.groups, f).map(label), `${stack}: ${f.name}`);
    }
  }
  // The mixed stack says which: each GPU flavor its own group, the NIC flavor the general compute hosts.
  const mixed = reportOf("mixed");
  assert.deepEqual(
    Object.fromEntries(loadStack("mixed").flavors.map((f) => [f.name, mixed.flavors[f.name]!.fits])),
    { "g1.a100": ["a100"], "g2.a100": ["a100"], "g1.l40s": ["l40s"], "n1.cx6": ["nic"] },
  );
  assert.deepEqual(mixed.flavors["g2.a100"]!.one_more_refused, { a100: { a100: "a100:3" } });
});

test("Nova's own scheduler filters (AggregateInstanceExtraSpecsFilter, PciPassthroughFilter, ComputeCapabilitiesFilter) pass every example flavor on a host of its group that is in no aggregate", { skip }, () => {
  let flavors = 0;
  for (const stack of STACKS) {
    const s = loadStack(stack);
    const report = reportOf(stack);
    for (const f of s.flavors) {
      const r = report.flavors[f.name]!;
      // Exactly the groups that hold its devices: no filter refuses them, and the others are PciPassthroughFilter's.
      assert.deepEqual(r.scheduled, flavorGroups(s.groups, f).map(label), `${stack}: ${f.name}`);
      assert.ok(r.scheduled.length > 0, `${stack}: ${f.name} is scheduled nowhere (refused by ${r.refused_by.join(", ")})`);
      assert.ok(r.refused_by.every((name) => name === "PciPassthroughFilter"), `${stack}: ${f.name}: ${r.refused_by.join(", ")}`);
      flavors++;
    }
  }
  assert.equal(flavors, 7);
});

test("what config refuses: an un-namespaced extra spec makes AggregateInstanceExtraSpecsFilter refuse every host in no aggregate", { skip }, () => {
  // The lab's g2.rtx-nic as earlier versions rendered it for ussuri (hw:hide_hypervisor_id written hide_hypervisor_id),
  // and with any other key without a namespace; the namespaced key and aggregate_instance_extra_specs: pass.
  const lab = input(loadStack("lab"));
  const g2 = lab.flavors.find((f) => f.name === "g2.rtx-nic")!;
  const variant = (name: string, extra: Record<string, string>) => ({ ...g2, name, extraSpecs: { ...g2.extraSpecs, ...extra } });
  const report = passes({
    ...lab,
    flavors: [
      variant("old-key", { hide_hypervisor_id: "true" }),
      variant("group-policy", { group_policy: "none" }),
      variant("new-key", { "hw:hide_hypervisor_id": "true" }),
      variant("aggregate-scope", { "aggregate_instance_extra_specs:gpu": "rtx" }),
    ],
  });
  for (const name of ["old-key", "group-policy", "aggregate-scope"]) {
    assert.deepEqual(report.flavors[name]!.fits, ["nova-compute"], name);
    assert.deepEqual(report.flavors[name]!.scheduled, [], name);
    assert.deepEqual(report.flavors[name]!.refused_by, ["AggregateInstanceExtraSpecsFilter"], name);
  }
  // (aggregate_instance_extra_specs: asks for aggregate metadata on purpose: a host in an aggregate with gpu=rtx takes it.)
  assert.deepEqual(report.flavors["new-key"]!.scheduled, ["nova-compute"]);
  // The config's rule says so for each of them but the namespaced key.
  const specs = (extra: Record<string, string>) =>
    requireSiteConfigResult(editStack("lab", (raw) => (raw.flavors[1].extraSpecs = { ...raw.flavors[1].extraSpecs, ...extra })));
  assert.match(specs({ hide_hypervisor_id: "true" }), /flavors\[1\]\.extraSpecs\.hide_hypervisor_id: has no namespace, and AggregateInstanceExtraSpecsFilter/);
  assert.match(specs({ group_policy: "none" }), /flavors\[1\]\.extraSpecs\.group_policy: has no namespace/);
});

test("mixed: each group's whitelist takes its own devices and refuses the other groups', the L40S at the A100's slot too", { skip }, () => {
  const report = reportOf("mixed");
  const at = (ds: Device[]) => ds.map((d) => `${d.vendor_id}:${d.product_id}@${d.address}`);
  assert.deepEqual(at(report.groups.a100!.whitelist.assignable), ["10de:20b5@0000:17:00.0", "10de:20b5@0000:31:00.0"]);
  assert.deepEqual(at(report.groups.a100!.whitelist.foreign_refused), ["10de:26b9@0000:17:00.0", "10de:26b9@0000:ca:00.0", "15b3:101d@0000:b1:00.0"]);
  assert.deepEqual(at(report.groups.l40s!.whitelist.assignable), ["10de:26b9@0000:17:00.0", "10de:26b9@0000:ca:00.0"]);
  assert.deepEqual(at(report.groups.l40s!.whitelist.foreign_refused), ["10de:20b5@0000:17:00.0", "10de:20b5@0000:31:00.0", "15b3:101d@0000:b1:00.0"]);
  assert.deepEqual(at(report.groups.nic!.whitelist.foreign_refused), ["10de:20b5@0000:17:00.0", "10de:20b5@0000:31:00.0", "10de:26b9@0000:17:00.0", "10de:26b9@0000:ca:00.0"]);
  // Every device of the three is SR-IOV capable, a PF to Nova, as their aliases ask.
  for (const g of Object.values(report.groups)) assert.ok(Object.values(g.reported).every((t) => t === "type-PF"), JSON.stringify(g.reported));
  // A group with the same model at the same address as another takes it: it is its own device too.
  const both = reportOf("mixed, cx6 on the L40S hosts too");
  assert.deepEqual(at(both.groups.l40s!.whitelist.assignable).at(-1), "15b3:101d@0000:b1:00.0");
  assert.ok(!at(both.groups.l40s!.whitelist.foreign_refused).includes("15b3:101d@0000:b1:00.0"));
});

test("config's flavorGroups is Nova's verdict on every flavor the aliases can ask for; what no group holds, Nova refuses on every group", { skip }, () => {
  let none = 0;
  let some = 0;
  for (const { what, site, cases, report } of groupReports()) {
    const disagree = cases.flatMap(({ spec, pci }) => {
      const nova = report.flavors[spec.name]!.fits;
      const ours = flavorGroups(site.groups, { pci }).map(label);
      if (nova.length === 0) none++;
      else some++;
      return JSON.stringify(nova) === JSON.stringify(ours) ? [] : [`${spec.name}: Nova ${JSON.stringify(nova)}, config ${JSON.stringify(ours)}`];
    });
    assert.deepEqual(disagree, [], what);
  }
  // Both verdicts occur often: the comparison can fail both ways.
  assert.ok(none > 40 && some > 20, `${none} flavors fit no group, ${some} fit one`);
});

test("why config refuses two aliases for one kind of device: Nova gives either alias's devices to a flavor asking for one", { skip }, () => {
  // The dev hosts with their two P5000s split over "gpu" and "gpu2": config refuses this (test/config.test.ts).
  const raw = editStack("dev", (r) => {
    r.devices = [
      { alias: "gpu", vendorId: "10de", productId: "1bb0", addresses: ["0000:83:00.0"] },
      { alias: "gpu2", vendorId: "10de", productId: "1bb0", addresses: ["0000:84:00.0"] },
    ];
  });
  assert.throws(() => requireSiteConfig(raw), /alias "gpu2" matches 10de:1bb0 type-PCI devices, as alias "gpu"/);
  const dev = loadStack("dev");
  const devices = (raw.devices as DeviceConfig[]).map((d) => ({ ...d, companions: [] }));
  const group: HostGroup = { ...dev.groups[0]!, devices };
  // Counted per alias, a host has one "gpu": gpu:2 fits no group ...
  assert.deepEqual(flavorGroups([group], { pci: { gpu: 2 } }), []);
  // ... but Nova, whose alias "gpu" is 10de:1bb0 wherever it sits, gives it both GPUs.
  const data = input({ ...dev, groups: [group] });
  data.charm = { ...data.charm };
  const alias = pciAliasJson(devices);
  data.charm["nova-cloud-controller"] = { ...data.charm["nova-cloud-controller"]!, "pci-alias": alias };
  data.charm["nova-compute"] = { "pci-alias": alias, "pci-passthrough-whitelist": pciWhitelistJson(devices) };
  fails(data, /FAIL: flavor m1\.gpu: a host of group nova-compute with \{'gpu': 1, 'gpu2': 1\} takes gpu:2/);
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

// ---------------------------------------------------------------------------------------------------
// Per-release Nova rules (domain/extra-specs/releases.ts) against Nova 26 itself

test("the Zed extra-spec table is exactly what python3-nova registers (tools/gen-extra-specs/main.py)", { skip }, () => {
  const r = spawnSync(PYTHON, [path.join(ROOT, "tools", "gen-extra-specs", "main.py")], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(
    r.stdout,
    readFileSync(path.join(ROOT, "domain", "extra-specs", "zed.ts"), "utf8"),
    "domain/extra-specs/zed.ts differs from the installed Nova: run `npm run gen:extra-specs` and review the diff",
  );
});

/** A key each validator matches: its name with every parameter filled in. */
const PARAMETER_SAMPLES: Record<string, string> = { group: "_gpu", num: "1", key: "gpu.model", filter: ":x", resource: "GPU_X", trait: "GPU_X" };
/** A value each pattern in the table matches. */
const PATTERN_SAMPLES: Record<string, string> = {
  "([a-zA-Z0-9_]+(,)?)+": "LARGE,SMALL",
  "(\\^)?\\d+((-\\d+)?(,\\^?\\d+(-\\d+)?)?)*": "^0,1-3",
  "\\^?\\d+((-\\d+)?(,\\^?\\d+(-\\d+)?)?)*": "^0,1-3",
  "(large|small|any|\\d+([kKMGT]i?)?(b|bit|B)?)": "2MB",
  "[^:]+:\\d+(?:\\s*,\\s*[^:]+:\\d+)*": "gpu:1, nic:2",
};

function keyFor(v: ExtraSpecValidator): string {
  let key = v.name;
  for (const p of v.parameters ?? []) {
    const sample = PARAMETER_SAMPLES[p.name];
    if (sample === undefined) throw new Error(`no sample for parameter {${p.name}} of ${v.name}: add one`);
    key = key.replace(`{${p.name}}`, sample);
  }
  return key;
}

/** Values Nova must accept and values it must refuse, for one validator's rule. */
function valuesFor(v: ExtraSpecValidator): { good: string[]; bad: string[] } {
  const rule = v.value;
  if (rule.type === "bool") return { good: ["true", " No "], bad: ["maybe"] };
  if (rule.type === "int") {
    const good = String(rule.min ?? 1);
    const bad = ["x"];
    if (rule.min !== undefined) bad.push(String(rule.min - 1));
    if (rule.max !== undefined) bad.push(String(rule.max + 1));
    return { good: [good, ` ${good} `], bad };
  }
  if (rule.pattern !== undefined) {
    const sample = PATTERN_SAMPLES[rule.pattern];
    if (sample === undefined) throw new Error(`no sample value for pattern ${rule.pattern} of ${v.name}: add one`);
    return { good: [sample], bad: ["!"] };
  }
  if (rule.enum !== undefined) return { good: [...rule.enum], bad: ["nope"] };
  return { good: ["anything"], bad: [] };
}

/** Unknown keys inside and outside the validated namespaces, with group suffixes, and without a namespace. */
const UNKNOWN_KEYS = ["hw:cpu_polcy", "trait:HW_CPU_X86_NOPE", "trait_x:CUSTOM_A", "resources_1:NOPE", "traits:X", "vendor:gpu", "hide_hypervisor", "powervm:min_mem"];

/** One Nova run (importing Nova costs seconds) for the per-release rules: the lab on zed, whose default
 * filters gain NUMATopologyFilter, with every validator's key and values, and the NUMA flavors. */
let rulesRun: { lab: SiteConfig; cases: [string, string][]; flavors: Array<Record<string, string>>; report: Report } | undefined;
function rulesReport() {
  if (rulesRun) return rulesRun;
  const lab = variant("lab", (raw) => (raw.openstack.release = "zed"));
  const cases: [string, string][] = [];
  for (const v of ZED_VALIDATORS) {
    const { good, bad } = valuesFor(v);
    for (const value of [...good, ...bad]) cases.push([keyFor(v), value]);
  }
  for (const key of UNKNOWN_KEYS) cases.push([key, "1"]);
  const flavors = [...NUMA_FLAVORS.map((f) => f.specs), ...flavorSpecs(lab.flavors).map((f) => f.extraSpecs)];
  const report = passes({
    ...input(lab),
    extra_spec_cases: cases,
    numa_cases: flavors.map((extra_specs) => ({ vcpus: 8, memory_mb: 8192, extra_specs })),
  });
  rulesRun = { lab, cases, flavors, report };
  return rulesRun;
}

test("on zed our verdict on every registered key (valid and invalid values) and on unknown keys is Nova's own", { skip }, () => {
  const { cases, report } = rulesReport();
  assert.deepEqual(report.extra_spec_namespaces, [...registry("zed").namespaces]);
  const verdicts = report.extra_spec_verdicts!;
  const ours = cases.map(([key, value]) => checkExtraSpecs({ [key]: value }, "zed").some((f) => f.level === "error"));
  const disagree = cases.flatMap(([k, v], i) => (ours[i] === (verdicts[i] !== null) ? [] : [`${k}=${JSON.stringify(v)}: Nova ${verdicts[i] ?? "accepts it"}`]));
  assert.deepEqual(disagree, []);
  // Both answers occur often, so the comparison can fail both ways.
  const refusedCount = verdicts.filter((v) => v !== null).length;
  assert.ok(refusedCount > 400 && cases.length - refusedCount > 400, `${refusedCount} of ${cases.length} refused`);
});

test("a guest NUMA topology: flavorHasNumaTopology is Nova's numa_get_constraints (flavor side)", { skip }, () => {
  const { flavors, report } = rulesReport();
  // Nova's answers are the expectations test/extra-specs.test.ts holds flavorHasNumaTopology to; the lab's
  // two flavors (hw:numa_nodes, for their PCI NUMA policy) give their guests a topology.
  assert.deepEqual(report.numa_topology, [...NUMA_FLAVORS.map((f) => f.topology), true, true]);
  assert.deepEqual(flavors.map(flavorHasNumaTopology), report.numa_topology);
});

test("NUMATopologyFilter, which a PCI NUMA policy adds, is in Nova's filter registry, also in a zed lab's full list", { skip }, () => {
  const { lab, report } = rulesReport();
  assert.ok(schedulerFilters(lab.openstack, allDevices(lab), lab.flavors).includes("NUMATopologyFilter"));
  assert.equal(report.numa_filter_registered, true);
  assert.deepEqual(report.filters, { checked: schedulerFilters(lab.openstack, allDevices(lab), lab.flavors) });
});
