// Nova's PCI passthrough semantics (docs/domain.md, "Nova: PCI aliases, device specs and flavors"): the device
// types and NUMA policies an alias may name, which devices an alias matches, how many of each alias a host
// offers, and which kinds of host can take a flavor. Functions take plain device and flavor shapes.

/** The `device_type`s of a `[pci] alias` entry this program configures: openstack/nova nova/objects/fields.py
 * PciDeviceType without `vdpa` (a vDPA device is a network port's, never a flavor's). */
export const DEVICE_TYPES = ["type-PCI", "type-PF", "type-VF"] as const;
/** The `numa_policy` of a `[pci] alias` entry (openstack/nova nova/objects/fields.py PCINUMAAffinityPolicy);
 * `socket` arrived in wallaby (domain/extra-specs/numa.ts aliasNumaPolicyProblem). */
export const NUMA_POLICIES = ["required", "legacy", "preferred", "socket"] as const;

/** A passthrough device as Nova's alias matching sees it: its alias, vendor:product and device type. */
export interface AliasedDevice {
  readonly alias: string;
  readonly vendorId: string;
  readonly productId: string;
  /** What nova-compute reports it as; `type-PCI` when unset. */
  readonly deviceType?: string;
}

/** How many devices of each alias one host has (the sum of its devices' addresses). */
export function devicesPerHost(devices: readonly { readonly alias: string; readonly addresses: readonly string[] }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const d of devices) counts.set(d.alias, (counts.get(d.alias) ?? 0) + d.addresses.length);
  return counts;
}

/**
 * Whether Nova's spec for `alias` (render/nova/aliases.ts pciAliasEntries: its vendor:product ids across the
 * cloud, and its device_type, `type-PCI` when several models share the name) matches device `d` as nova-compute
 * reports it (`d.deviceType`, `type-PCI` when unset): the ids, and the type, where a spec without one takes
 * anything but a PF (nova/pci/stats.py _filter_pools_for_unrequested_pfs).
 */
export function aliasMatches(devices: readonly AliasedDevice[], alias: string, d: AliasedDevice): boolean {
  const entries = devices.filter((e) => e.alias === alias);
  const ids = new Set(entries.map((e) => `${e.vendorId}:${e.productId}`));
  if (!ids.has(`${d.vendorId}:${d.productId}`)) return false;
  const spec = entries[0]?.deviceType ?? (ids.size > 1 ? "type-PCI" : undefined);
  const reported = d.deviceType ?? "type-PCI";
  return spec !== undefined ? reported === spec : reported !== "type-PF";
}

/** The kinds of host (groups) whose hosts have every device a flavor asks for, as many as it asks (config's own
 * count; the Nova conformance test proves the same with Nova's PciDeviceStats). */
export function flavorGroups<G extends { readonly devices: readonly { readonly alias: string; readonly addresses: readonly string[] }[] }>(
  groups: readonly G[],
  flavor: { readonly pci: Readonly<Record<string, number>> },
): G[] {
  return groups.filter((g) => {
    const perHost = devicesPerHost(g.devices);
    return Object.entries(flavor.pci).every(([alias, n]) => (perHost.get(alias) ?? 0) >= n);
  });
}
