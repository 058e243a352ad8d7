// A stack's groups as check.ts takes them, and the `machines read` filters that find their machines.
import type { SiteConfig } from "../../config/types";
import { renderSite } from "../../render/site";
import type { MachineFilter } from "../lib/maas-documents";
import type { CheckGroup } from "./check";

/** The site's groups as check.ts takes them: the tag's kernel options as the site renders them, and per alias
 * the most devices one flavor asks for. */
export function checkGroups(site: SiteConfig): CheckGroup[] {
  const requests: Record<string, number> = {};
  for (const f of site.flavors) for (const [alias, n] of Object.entries(f.pci ?? {})) requests[alias] = Math.max(requests[alias] ?? 0, n);
  return renderSite(site).groups.map(({ group: g, kernelOptions }) => ({
    name: g.name ?? g.maas.tag,
    tag: g.maas.tag,
    kernelOptions,
    iommu: g.host.iommu,
    selection: {
      ...(g.maas.machines !== undefined ? { machines: g.maas.machines } : {}),
      ...(g.maas.selectByDevice ? { selectByDevice: true } : {}),
      ...(g.maas.definition !== undefined ? { definition: g.maas.definition } : {}),
      ...(g.maas.pool !== undefined ? { pool: g.maas.pool } : {}),
      ...(g.maas.zone !== undefined ? { zone: g.maas.zone } : {}),
    },
    devices: g.devices.map((d) => ({
      alias: d.alias,
      vendorId: d.vendorId,
      productId: d.productId,
      addresses: d.addresses,
      companions: d.companions,
      ...(d.numaPolicy !== undefined ? { numaPolicy: d.numaPolicy } : {}),
    })),
    requests: Object.fromEntries(g.devices.filter((d) => requests[d.alias] !== undefined).map((d) => [d.alias, requests[d.alias]!])),
  }));
}

/** The `machines read` filters that find every machine a group may hold: its selection's, and its tag's
 * (machines tagged but not selected are drift too) when MAAS has the tag (`tags=` of an unknown tag is a 400). */
export function machineFilters(groups: readonly CheckGroup[], existingTags: readonly string[]): MachineFilter[] {
  return groups.flatMap((g): MachineFilter[] => {
    const s = g.selection;
    const bySelection: MachineFilter[] =
      s.machines !== undefined
        ? [{ ids: s.machines }]
        : s.selectByDevice
          ? [{ ...(s.pool !== undefined ? { pool: s.pool } : {}), ...(s.zone !== undefined ? { zone: s.zone } : {}) }]
          : [];
    return [...bySelection, ...(existingTags.includes(g.tag) ? [{ tag: g.tag }] : [])];
  });
}

