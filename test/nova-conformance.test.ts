// The rendered Nova configuration checked by Nova itself (Debian python3-nova, Nova 26 Zed), through
// test/nova_conformance.py: alias parser, device_spec whitelist, extra-spec validators, the libvirt
// driver's device reporting, PciDeviceStats scheduling and the filter registry.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { requireSiteConfig, type DeviceConfig, type SiteConfig, allDevices } from "../components/config";
import { parseLspci } from "../components/lspci";
import { atLeast } from "../components/render/releases";
import { charmOptions, flavorSpecs, schedulerFilters, type CharmOptions, type FlavorSpec } from "../components/render/nova";
import { extraSpecsForRelease, flavorHasNumaTopology, registry, type ExtraSpecValidator } from "../components/render/extra-specs";
import { ZED_VALIDATORS } from "../components/render/extra-specs-zed";
import { NUMA_FLAVORS } from "./numa-flavors";
import { ROOT, editStack, loadStack, needTool } from "./helpers";

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

interface Input {
  charm: CharmOptions;
  devices: HostDevice[];
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

/** The script's input: rendered options and flavors; the devices of one GPU host from config and captures. */
function input(s: SiteConfig): Input {
  return {
    charm: charmOptions(s),
    devices: allDevices(s).flatMap((d) => d.addresses.map((address) => hostDevice(d, address))),
    flavors: flavorSpecs(s),
    // The installed Nova is Zed: older releases list filters that Zed no longer has, on purpose.
    check_filters: atLeast(s.openstack.release, "zed"),
  };
}

interface Report {
  aliases: Record<string, { numa_policy: string; specs: Array<Record<string, string>> }>;
  /** dev_type per address, as Nova's libvirt code read the device. */
  reported: Record<string, string>;
  alias_lines: string[];
  whitelist: { assignable: Array<Record<string, string>>; refused: Array<Record<string, string>> };
  flavors: Record<string, { requests: Record<string, number>; supported: boolean; without_devices: boolean; one_more_refused: Record<string, string> }>;
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

test("dev: Nova parses the alias and whitelist, validates m1.gpu and schedules it on one GPU host", { skip }, () => {
  const report = passes(input(loadStack("dev")));
  assert.deepEqual(report.aliases, { gpu: { numa_policy: "legacy", specs: [{ vendor_id: "10de", product_id: "1bb0" }] } });
  assert.deepEqual(report.alias_lines, ['{"name": "gpu", "product_id": "1bb0", "vendor_id": "10de"}']);
  assert.deepEqual(
    report.whitelist.assignable.map((d) => d.address),
    ["0000:83:00.0", "0000:84:00.0"],
  );
  // Another model at a configured address, and the neighbouring function (where a GPU's audio sits).
  assert.deepEqual(
    report.whitelist.refused.map((d) => `${d.vendor_id}:${d.product_id}@${d.address}`),
    ["10de:1bb1@0000:83:00.0", "10de:1bb0@0000:83:00.1", "10de:1bb1@0000:84:00.0", "10de:1bb0@0000:84:00.1"],
  );
  assert.deepEqual(report.flavors, {
    "m1.gpu": { requests: { gpu: 1 }, supported: true, without_devices: false, one_more_refused: { gpu: "gpu:3" } },
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
  assert.deepEqual(report.reported, { "0000:41:00.0": "type-PCI", "0000:c1:00.0": "type-PCI", "0000:21:00.0": "type-PF" });
  assert.equal(report.whitelist.assignable.length, 3);
  assert.equal(report.whitelist.refused.length, 6);
  assert.deepEqual(report.flavors["g2.rtx-nic"], {
    requests: { rtx: 2, nic: 1 },
    supported: true,
    without_devices: false,
    one_more_refused: { rtx: "rtx:3", nic: "nic:2" },
  });
  assert.equal(report.flavors["g1.rtx"]!.supported, true);
});

test("SR-IOV capable devices are PFs to Nova: an alias without device_type type-PF is refused, with it the flavor fits", { skip }, () => {
  // The lab's E810 with the deviceType the importer proposes: reported as a PF, and g2.rtx-nic fits (above).
  // Without it, Nova's PciDeviceStats drops the PF from the request: the flavor fits no host.
  const noType = variant("lab", (raw) => delete raw.devices[1].deviceType);
  assert.equal(input(noType).devices.find((d) => d.alias === "nic")!.sriov_totalvfs, 128);
  fails(input(noType), /FAIL: flavor g2\.rtx-nic: a GPU host with \{'rtx': 2, 'nic': 1\} cannot take \{'rtx': 2, 'nic': 1\}/);

  // The runbook's P5000 has no SR-IOV: type-PCI, as before. A host whose P5000 did report VFs (the test
  // side's flag) would never take m1.gpu ...
  const dev = loadStack("dev");
  assert.deepEqual(passes(input(dev)).reported, { "0000:83:00.0": "type-PCI", "0000:84:00.0": "type-PCI" });
  const sriovHost = input(dev);
  for (const d of sriovHost.devices) d.sriov_totalvfs = 16;
  fails(sriovHost, /FAIL: flavor m1\.gpu: a GPU host with \{'gpu': 2\} cannot take \{'gpu': 1\}/);

  // ... unless its config says type-PF: the alias asks for PFs and the flavor fits, one more does not.
  const pf = variant("dev", (raw) => (raw.devices[0].deviceType = "type-PF"));
  const report = passes(input(pf));
  assert.deepEqual(report.reported, { "0000:83:00.0": "type-PF", "0000:84:00.0": "type-PF" });
  assert.deepEqual(report.aliases.gpu!.specs, [{ vendor_id: "10de", product_id: "1bb0", dev_type: "type-PF" }]);
  assert.deepEqual(report.flavors["m1.gpu"], { requests: { gpu: 1 }, supported: true, without_devices: false, one_more_refused: { gpu: "gpu:3" } });

  // type-PF on a device that cannot do SR-IOV is refused as well: set it where lspci shows the capability.
  const notSriov = input(pf);
  for (const d of notSriov.devices) d.sriov_totalvfs = 0;
  fails(notSriov, /FAIL: flavor m1\.gpu: a GPU host with \{'gpu': 2\} cannot take \{'gpu': 1\}/);
});

test("from zed on, every rendered filter exists in Nova's filter registry", { skip }, () => {
  for (const release of ["zed", "2023.2", "2025.2"]) {
    const s = variant("dev", (raw) => (raw.openstack.release = release));
    assert.deepEqual(passes(input(s)).filters, { checked: schedulerFilters(s) }, release);
  }
});

test("variations: ORed alias entries over two models, required NUMA policy on 2024.1", { skip }, () => {
  const ored = variant("dev", (raw) => {
    raw.devices.push({ alias: "gpu", vendorId: "10de", productId: "1bb1", addresses: ["0000:85:00.0"] });
    raw.flavors[0].pci = { gpu: 3 };
  });
  const report = passes(input(ored));
  assert.equal(report.aliases.gpu!.specs.length, 2);
  assert.deepEqual(report.flavors["m1.gpu"]!.one_more_refused, { gpu: "gpu:4" });

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
  fails(loose, /FAIL: whitelist: unconfigured device .*0000:83:00\.1.* is assignable/);

  // An extra spec without a count.
  const noCount = input(dev);
  noCount.flavors[0]!.extraSpecs["pci_passthrough:alias"] = "gpu";
  fails(noCount, /FAIL: flavor m1\.gpu: extra spec pci_passthrough:alias='gpu'/);

  // A flavor asking for more devices than a GPU host has.
  const tooMany = input(dev);
  tooMany.flavors[0]!.extraSpecs["pci_passthrough:alias"] = "gpu:3";
  fails(tooMany, /FAIL: flavor m1\.gpu: a GPU host with \{'gpu': 2\} cannot take \{'gpu': 3\}/);

  // A filter Nova removed, on a release where the list is checked.
  const removed = input(variant("dev", (raw) => (raw.openstack.release = "zed")));
  const ncc = removed.charm["nova-cloud-controller"]!;
  ncc["scheduler-default-filters"] = `RetryFilter,${ncc["scheduler-default-filters"]}`;
  fails(removed, /FAIL: scheduler-default-filters: .*SchedulerHostFilterNotFound.*\['RetryFilter'\]/);
});

// ---------------------------------------------------------------------------------------------------
// Per-release Nova rules (components/render/extra-specs.ts) against Nova 26 itself

test("the Zed extra-spec table is exactly what python3-nova registers (scripts/nova-extra-specs.py)", { skip }, () => {
  const r = spawnSync(PYTHON, [path.join(ROOT, "scripts", "nova-extra-specs.py")], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(
    r.stdout,
    readFileSync(path.join(ROOT, "components", "render", "extra-specs-zed.ts"), "utf8"),
    "components/render/extra-specs-zed.ts differs from the installed Nova: run `npm run gen:extra-specs` and review the diff",
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
  const flavors = [...NUMA_FLAVORS.map((f) => f.specs), ...flavorSpecs(lab).map((f) => f.extraSpecs)];
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
  const ours = cases.map(([key, value]) => extraSpecsForRelease({ [key]: value }, "zed").findings.some((f) => f.level === "error"));
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
  assert.ok(schedulerFilters(lab).includes("NUMATopologyFilter"));
  assert.equal(report.numa_filter_registered, true);
  assert.deepEqual(report.filters, { checked: schedulerFilters(lab) });
});
