// Two aliases must not match the same devices: Nova tells aliases apart by what they match (docs/domain.md, "Nova:
// PCI aliases, device specs and flavors").
import { aliasMatches } from "../../domain/nova-pci";
import { formatPath, type ConfigProblem, type PathPart } from "../problems";
import { locatedDevices, type GroupView } from "./view";

/** The alias rule, on every device that parsed across the groups. */
export function aliasProblems(views: readonly GroupView[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (path: PathPart[], message: string) => problems.push({ path: formatPath(path), message });

  // Nova tells aliases apart by what they match, never by address: PciDeviceStats keeps a host's devices in
  // pools keyed by vendor, product, NUMA node and dev_type and gives a request any device of a pool its alias
  // spec matches (nova/pci/stats.py _filter_pools_for_spec; a spec without dev_type never takes a PF,
  // _filter_pools_for_unrequested_pfs). Two aliases that match the same devices are one pool: a flavor asking
  // for one may be given the other's devices, and config's count per alias (flavorGroups) would be wrong
  // (test/render/nova-scheduling.test.ts shows Nova giving gpu:2 to a host listing one "gpu" and one "gpu2").
  const located = locatedDevices(views);
  const cloud = located.map((l) => l.device);
  const aliases = [...new Set(cloud.map((d) => d.alias))];
  aliases.forEach((b, j) => {
    for (const a of aliases.slice(0, j)) {
      const shared = located.find(({ device: d }) => (d.alias === b && aliasMatches(cloud, a, d)) || (d.alias === a && aliasMatches(cloud, b, d)));
      if (!shared) continue;
      const at = located.find((l) => l.device.alias === b)!;
      const first = located.find((l) => l.device.alias === a)!;
      const d = shared.device;
      add(
        [...at.path, "alias"],
        `alias "${b}" matches ${d.vendorId}:${d.productId} ${d.deviceType ?? "type-PCI"} devices, as alias "${a}" (${formatPath(first.path)}) does: ` +
          `Nova tells aliases apart by vendor:product and device type, never by address, so a flavor asking for either may be given the other's devices; give one kind of device one alias`,
      );
    }
  });

  return problems;
}
