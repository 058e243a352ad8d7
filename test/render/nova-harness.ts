// The rendered Nova configuration fed to Nova itself (Debian python3-nova, Nova 26 Zed) through
// test/nova_conformance.py: the script's input from a site, its report, and the helpers the conformance suites share.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { formatProblems } from "../../config/problems";
import { parseSiteConfig, requireSiteConfig } from "../../config/parse";
import { type DeviceConfig, type HostGroup, type SiteConfig } from "../../config/types";
import { parseLspci } from "../../tools/import-lspci/lspci";
import { atLeast } from "../../domain/releases";
import { type CharmOptions, charmOptions } from "../../render/nova/charm-options";
import { flavorSpecs, type FlavorSpec } from "../../render/nova/flavors";
import { ROOT, editStack, needTool } from "../helpers";

export const PYTHON = "/usr/bin/python3";
export const SCRIPT = path.join(ROOT, "test", "nova_conformance.py");
// libvirt (python3-libvirt) only so that Nova's libvirt Host can be built; nothing connects to a daemon.
export const skip = needTool(PYTHON, "python3-nova python3-libvirt", ["-c", "import nova.pci.request, libvirt"]);

export interface HostDevice {
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
export interface GroupInput {
  name: string;
  application: string;
  devices: HostDevice[];
}

export interface Input {
  charm: CharmOptions;
  groups: GroupInput[];
  flavors: FlavorSpec[];
  check_filters: boolean;
  extra_spec_cases?: [string, string][];
  numa_cases?: Array<{ vcpus: number; memory_mb: number; extra_specs: Record<string, string> }>;
}

/** The hardware as the lspci captures show it: vendor:product -> Total VFs of its SR-IOV capability. */
export const CAPTURED_TOTAL_VFS: ReadonlyMap<string, number> = (() => {
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
export function hostDevice(d: DeviceConfig, address: string): HostDevice {
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
export const label = (g: HostGroup): string => g.name ?? g.application;

/** The script's input: rendered options and flavors; per group, the devices of one of its hosts from config and
 * captures. */
export function input(s: SiteConfig): Input {
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

export type Device = Record<string, string>;

export interface Report {
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

export function runNova(data: Input): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(PYTHON, [SCRIPT], { input: JSON.stringify(data), encoding: "utf8", timeout: 120_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function passes(data: Input): Report {
  const r = runNova(data);
  assert.equal(r.status, 0, `nova_conformance.py failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as Report;
}

export function fails(data: Input, message: RegExp): void {
  const r = runNova(data);
  assert.equal(r.status, 1, `expected Nova to reject it; stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  assert.match(r.stderr, message);
}

export const variant = (stack: string, edit: (raw: Record<string, any>) => void) => requireSiteConfig(editStack(stack, edit));
/** The config's problems for a raw stack, one line each ("" when it is valid). */
export const requireSiteConfigResult = (raw: Record<string, unknown>): string => {
  const r = parseSiteConfig(raw);
  return r.ok ? "" : formatProblems(r.problems);
};
