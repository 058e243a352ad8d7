// The rendered Nova configuration checked by Nova itself (Debian python3-nova, Nova 26 Zed), through
// test/nova_conformance.py: alias parser, device_spec whitelist, extra-spec validators, PciDeviceStats
// scheduling and the filter registry.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { requireSiteConfig, type SiteConfig } from "../components/config";
import { atLeast } from "../components/render/releases";
import { charmOptions, flavorSpecs, schedulerFilters, type CharmOptions, type FlavorSpec } from "../components/render/nova";
import { ROOT, editStack, loadStack, needTool } from "./helpers";

const PYTHON = "/usr/bin/python3";
const SCRIPT = path.join(ROOT, "test", "nova_conformance.py");
const skip = needTool(PYTHON, "python3-nova", ["-c", "import nova.pci.request"]);

interface Input {
  charm: CharmOptions;
  devices: Array<{ alias: string; vendor_id: string; product_id: string; address: string; dev_type: string }>;
  flavors: FlavorSpec[];
  check_filters: boolean;
}

/** The script's input: rendered options and flavors; the devices of one GPU host straight from config. */
function input(s: SiteConfig): Input {
  return {
    charm: charmOptions(s),
    devices: s.devices.flatMap((d) =>
      d.addresses.map((address) => ({
        alias: d.alias,
        vendor_id: d.vendorId,
        product_id: d.productId,
        address,
        dev_type: d.deviceType ?? "type-PCI",
      })),
    ),
    flavors: flavorSpecs(s),
    // The installed Nova is Zed: older releases list filters that Zed no longer has, on purpose.
    check_filters: atLeast(s.openstack.release, "zed"),
  };
}

interface Report {
  aliases: Record<string, { numa_policy: string; specs: Array<Record<string, string>> }>;
  alias_lines: string[];
  whitelist: { assignable: Array<Record<string, string>>; refused: Array<Record<string, string>> };
  flavors: Record<string, { requests: Record<string, number>; supported: boolean; without_devices: boolean; one_more_refused: Record<string, string> }>;
  filters: { checked: string[] };
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
    nic: { numa_policy: "legacy", specs: [{ vendor_id: "8086", product_id: "1592" }] },
    rtx: { numa_policy: "preferred", specs: [{ vendor_id: "10de", product_id: "2230", dev_type: "type-PCI" }] },
  });
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
