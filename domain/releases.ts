// The one table of OpenStack releases this program knows, and everything that depends on the release.
// Sources: openstack/nova release notes (removed filters, option renames, microversions) and
// charm-nova-cloud-controller hooks/nova_cc_context.py (the charm's default scheduler filters); docs/domain.md,
// "Nova: scheduler filters by release".

export interface Release {
  /** Canonical name as users write it: a codename up to zed, the year-based name from 2023.1 on. */
  readonly name: string;
  /** Codename, also accepted in config (e.g. "bobcat" for 2023.2). */
  readonly codename: string;
  /** Nova's major version in this release. */
  readonly nova: number;
  /** The Ubuntu LTS a bundle of this release runs on by default: where the OpenStack charms build it.
   * Overridable per site with `openstack.base` (see ubuntuFor). */
  readonly series: UbuntuSeries;
  /** Every Ubuntu LTS the release can be deployed on, oldest first (`series` among them). */
  readonly bases: readonly UbuntuSeries[];
}

// Bases: the LTS that ships a release and, for the releases in between, the LTS whose Ubuntu Cloud Archive
// carries it (wiki.ubuntu.com/OpenStack/CloudArchive); an LTS's first release is also in the previous LTS's
// Cloud Archive (bionic-ussuri, focal-yoga, jammy-caracal). The default is the LTS the charms build the
// release for. For 2024.1 that is 22.04, although 24.04 ships caracal: nova-cloud-controller's stable/2024.1
// branch builds for 22.04 only (openstack/charm-nova-cloud-controller charmcraft.yaml `bases`: run-on 22.04),
// nova-compute's for 22.04 and 24.04 (openstack/charm-nova-compute stable/2024.1 charmcraft.yaml `platforms`);
// 24.04 stays possible (the charm guide's 2024.1 release notes: every stable charm supports it).
export const RELEASES: readonly Release[] = [
  { name: "queens", codename: "queens", nova: 17, series: "bionic", bases: ["bionic"] },
  { name: "rocky", codename: "rocky", nova: 18, series: "bionic", bases: ["bionic"] },
  { name: "stein", codename: "stein", nova: 19, series: "bionic", bases: ["bionic"] },
  { name: "train", codename: "train", nova: 20, series: "bionic", bases: ["bionic"] },
  { name: "ussuri", codename: "ussuri", nova: 21, series: "focal", bases: ["bionic", "focal"] },
  { name: "victoria", codename: "victoria", nova: 22, series: "focal", bases: ["focal"] },
  { name: "wallaby", codename: "wallaby", nova: 23, series: "focal", bases: ["focal"] },
  { name: "xena", codename: "xena", nova: 24, series: "focal", bases: ["focal"] },
  { name: "yoga", codename: "yoga", nova: 25, series: "jammy", bases: ["focal", "jammy"] },
  { name: "zed", codename: "zed", nova: 26, series: "jammy", bases: ["jammy"] },
  { name: "2023.1", codename: "antelope", nova: 27, series: "jammy", bases: ["jammy"] },
  { name: "2023.2", codename: "bobcat", nova: 28, series: "jammy", bases: ["jammy"] },
  { name: "2024.1", codename: "caracal", nova: 29, series: "jammy", bases: ["jammy", "noble"] },
  // Nova's facts only: the OpenStack charms have no release after 2024.1 and config refuses these
  // (domain/charms.ts charmTrack).
  { name: "2024.2", codename: "dalmatian", nova: 30, series: "noble", bases: ["noble"] },
  { name: "2025.1", codename: "epoxy", nova: 31, series: "noble", bases: ["noble"] },
  { name: "2025.2", codename: "flamingo", nova: 32, series: "noble", bases: ["noble"] },
];

export type ReleaseName = (typeof RELEASES)[number]["name"];

/** The Ubuntu LTS releases the OpenStack charms deploy on, oldest first: series name and version. Juju 2.9
 * bundles name the OS by series (`series: jammy`), Juju 3 by base (`ubuntu@22.04`). */
export const UBUNTU_LTS = [
  { series: "bionic", version: "18.04" },
  { series: "focal", version: "20.04" },
  { series: "jammy", version: "22.04" },
  { series: "noble", version: "24.04" },
] as const;

export type UbuntuSeries = (typeof UBUNTU_LTS)[number]["series"];
export type Ubuntu = (typeof UBUNTU_LTS)[number];

/** An Ubuntu LTS by Juju 3 base (`ubuntu@22.04`) or series name (`jammy`), case-insensitively. */
export function findUbuntu(base: string): Ubuntu | undefined {
  const b = base.trim().toLowerCase();
  return UBUNTU_LTS.find((u) => b === u.series || b === `ubuntu@${u.version}`);
}

/** `ubuntu@22.04 (jammy)`: how messages and the bundle overlay name an Ubuntu release. */
export const ubuntuName = (u: Ubuntu): string => `ubuntu@${u.version} (${u.series})`;

/** The Ubuntu releases OpenStack `releaseName` can be deployed on, oldest first (the table's bases). */
export function ubuntuBases(releaseName: string): Ubuntu[] {
  const r = release(releaseName);
  return UBUNTU_LTS.filter((u) => r.bases.includes(u.series));
}

/** The Ubuntu release a site's OpenStack runs on: `openstack.base` when set (config validation has checked
 * it against ubuntuBases), else the release's own. */
export function ubuntuFor(releaseName: string, base?: string): Ubuntu {
  const u = findUbuntu(base ?? release(releaseName).series);
  if (!u) throw new Error(`unknown Ubuntu base "${base}"`);
  return u;
}

/** Finds a release by canonical name or codename, case-insensitively. */
export function findRelease(name: string): Release | undefined {
  const n = name.trim().toLowerCase();
  return RELEASES.find((r) => r.name === n || r.codename === n);
}

/** The release by canonical name; throws for a name that config validation would have refused. */
export function release(name: string): Release {
  const r = findRelease(name);
  if (!r) throw new Error(`unknown OpenStack release "${name}"`);
  return r;
}

/** True when `name` is `from` or a later release. */
export function atLeast(name: string, from: string): boolean {
  return release(name).nova >= release(from).nova;
}

/** Filters Nova removed, with the release that removed them. nova-scheduler refuses to start
 * (SchedulerHostFilterNotFound) when a listed filter does not exist. */
export const REMOVED_FILTERS: Readonly<Record<string, string>> = {
  CoreFilter: "train",
  RamFilter: "train",
  DiskFilter: "train",
  // Deprecated in train, still in ussuri (nova 21.1.2 nova/scheduler/filters/core_filter.py), removed with
  // RetryFilter in victoria (nova 22.0.0, commit 4939d0d1e2 "Remove deprecated scheduler filters").
  AggregateCoreFilter: "victoria",
  AggregateRamFilter: "victoria",
  AggregateDiskFilter: "victoria",
  RetryFilter: "victoria",
  AvailabilityZoneFilter: "2023.2",
};

/** The release that removed `filter`, when `release` no longer has it. */
export function filterRemovedIn(filter: string, releaseName: string): string | undefined {
  const removedIn = REMOVED_FILTERS[filter];
  return removedIn !== undefined && atLeast(releaseName, removedIn) ? removedIn : undefined;
}

/** The charm's own default `scheduler-default-filters` for a release (nova_cc_context.py):
 * before Pike Core/Ram/Disk were in it; from Victoria Retry is gone; from 2023.2 AvailabilityZone. */
export function charmDefaultFilters(releaseName: string): string[] {
  const all = [
    "RetryFilter",
    "AvailabilityZoneFilter",
    "ComputeFilter",
    "ComputeCapabilitiesFilter",
    "ImagePropertiesFilter",
    "ServerGroupAntiAffinityFilter",
    "ServerGroupAffinityFilter",
    "DifferentHostFilter",
    "SameHostFilter",
  ];
  return all.filter((f) => filterRemovedIn(f, releaseName) === undefined);
}

/** The scheduler filter that reads a flavor's un-namespaced extra specs as requirements on the metadata of the
 * host's aggregates (domain/extra-specs/releases.ts unscopedKeyProblem). */
export const AGGREGATE_EXTRA_SPECS_FILTER = "AggregateInstanceExtraSpecsFilter";

/** The filters this program adds to the charm's defaults: PciPassthroughFilter is required for PCI
 * requests; AggregateInstanceExtraSpecsFilter is in the runbook's list. */
export const PASSTHROUGH_FILTERS = [AGGREGATE_EXTRA_SPECS_FILTER, "PciPassthroughFilter"] as const;

/** The scheduler filter that applies PCI NUMA policies: it fits the guest's NUMA cells to the host's with
 * the PCI requests (nova/scheduler/filters/numa_topology_filter.py -> hardware.numa_fit_instance_to_host);
 * PciPassthroughFilter alone ignores NUMA. */
export const NUMA_FILTER = "NUMATopologyFilter";

/** The default scheduler filter list for a release: the charm's defaults plus ours, and NUMA_FILTER when the
 * site sets a PCI NUMA policy, last (the most expensive filter runs best on the hosts the others left). */
export function defaultSchedulerFilters(releaseName: string, opts: { pciNumaPolicy?: boolean } = {}): string[] {
  return [...charmDefaultFilters(releaseName), ...PASSTHROUGH_FILTERS, ...(opts.pciNumaPolicy ? [NUMA_FILTER] : [])];
}

/** The nova.conf [pci] option Nova reads the charm's `pci-passthrough-whitelist` as, for a release: the
 * charm always writes `passthrough_whitelist`; Zed (26.0.0) renamed the option `device_spec` and reads the
 * old name as a deprecated alias of it. */
export function whitelistOption(releaseName: string): "passthrough_whitelist" | "device_spec" {
  return atLeast(releaseName, "zed") ? "device_spec" : "passthrough_whitelist";
}

/** Compute API microversion 2.86 (Ussuri) is the first at which the API validates flavor extra specs. */
export const EXTRA_SPEC_VALIDATION_MICROVERSION = "2.86";

/** Whether the release's Compute API validates extra specs (microversion 2.86, Ussuri and later). */
export function validatesExtraSpecs(releaseName: string): boolean {
  return atLeast(releaseName, "ussuri");
}

/** xvpvnc consoles were removed from Nova in Ussuri (21.0.0) and do not work on focal or later. */
export function supportsXvpvnc(releaseName: string): boolean {
  return !atLeast(releaseName, "ussuri");
}
