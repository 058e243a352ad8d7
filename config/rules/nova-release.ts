// What the release's Nova takes (docs/domain.md, "Nova: extra specs by release" and "Nova: scheduler filters by
// release"): errors that refuse the config and warnings that are said with every render.
import { FIRST_STABLE_CHARM_RELEASE, charmTrack } from "../../domain/charms";
import {
  NUMA_TOPOLOGY_HINT,
  PCI_NUMA_POLICY_KEY,
  aliasNumaPolicyProblem,
  flavorHasNumaTopology,
  usesPciNumaPolicy,
} from "../../domain/extra-specs/numa";
import { checkExtraSpecs, unscopedKeyProblem } from "../../domain/extra-specs/releases";
import { AGGREGATE_EXTRA_SPECS_FILTER, NUMA_FILTER, defaultSchedulerFilters } from "../../domain/releases";
import { formatPath, type ConfigProblem } from "../problems";
import { locatedDevices, type GroupView, type ParsedSections } from "./view";

/**
 * Per-release rules (domain/extra-specs/, domain/charms.ts), on what parsed: a release whose charm track
 * has no stable channel is warned about; a flavor's extra specs that the release does not know are refused (or
 * warned about where a point release decides), and an un-namespaced one while AggregateInstanceExtraSpecsFilter
 * runs is refused (no host in no aggregate would take the flavor); an alias NUMA policy the release lacks is
 * refused; a PCI NUMA policy needs NUMATopologyFilter (the default list gains it, an explicit list without
 * it is refused) and a guest NUMA topology (a flavor that carries a policy without giving one is warned
 * about: Nova would ignore the policy).
 */
export function novaReleaseRules(c: ParsedSections, groups: { views: readonly GroupView[] }): { errors: ConfigProblem[]; warnings: ConfigProblem[] } {
  const errors: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  const rel = c.openstack?.release;
  if (rel === undefined) return { errors, warnings };
  const located = locatedDevices(groups.views);
  const devices = located.map((l) => l.device);
  const flavors = c.flavors ?? [];

  const track = charmTrack(rel);
  if (track && track.risk !== "stable") {
    warnings.push({
      path: formatPath(["openstack", "release"]),
      message:
        `the OpenStack charms no longer maintain ${rel}: Charmhub's ${track.track} track of nova-compute and nova-cloud-controller has ` +
        `candidate and edge channels only (stable tracks start at ${FIRST_STABLE_CHARM_RELEASE}; the charm guide marks rocky, stein and train EOL); ` +
        `an application the bundle overlay adds is deployed from ${track.track}/${track.risk}`,
    });
  }

  const aggregateFilter = (c.openstack?.schedulerFilters ?? defaultSchedulerFilters(rel)).includes(AGGREGATE_EXTRA_SPECS_FILTER);
  const filterList = c.openstack?.schedulerFilters ? "openstack.schedulerFilters" : "the default scheduler filters";
  flavors.forEach((f, i) => {
    const at = (key: string) => formatPath(["flavors", i, "extraSpecs", key]);
    for (const x of checkExtraSpecs(f.extraSpecs, rel)) (x.level === "error" ? errors : warnings).push({ path: at(x.key), message: x.message });
    if (!aggregateFilter) return;
    for (const key of Object.keys(f.extraSpecs)) {
      const problem = unscopedKeyProblem(key, filterList);
      if (problem) errors.push({ path: at(key), message: problem });
    }
  });
  for (const { path, device: d } of located) {
    const problem = d.numaPolicy && aliasNumaPolicyProblem(d.numaPolicy, rel);
    if (problem) errors.push({ path: formatPath([...path, "numaPolicy"]), message: problem });
  }

  if (!usesPciNumaPolicy(devices, flavors)) return { errors, warnings };
  const filters = c.openstack?.schedulerFilters;
  if (filters && !filters.includes(NUMA_FILTER)) {
    const d = located.find((x) => x.device.numaPolicy !== undefined);
    const source = d ? formatPath([...d.path, "numaPolicy"]) : formatPath(["flavors", flavors.findIndex((f) => PCI_NUMA_POLICY_KEY in f.extraSpecs), "extraSpecs", PCI_NUMA_POLICY_KEY]);
    errors.push({
      path: formatPath(["openstack", "schedulerFilters"]),
      message: `must contain ${NUMA_FILTER}: ${source} sets a PCI NUMA policy, and only ${NUMA_FILTER} applies it`,
    });
  }
  const aliasPolicy = new Map(devices.filter((d) => d.numaPolicy !== undefined).map((d) => [d.alias, d.numaPolicy!]));
  flavors.forEach((f, i) => {
    const own = f.extraSpecs[PCI_NUMA_POLICY_KEY];
    const alias = Object.keys(f.pci).find((a) => aliasPolicy.has(a));
    if ((own === undefined && alias === undefined) || flavorHasNumaTopology(f.extraSpecs)) return;
    const what =
      own !== undefined
        ? { path: formatPath(["flavors", i, "extraSpecs", PCI_NUMA_POLICY_KEY]), policy: `PCI NUMA policy ${JSON.stringify(own)}` }
        : { path: formatPath(["flavors", i, "pci", alias!]), policy: `alias "${alias}" has numa_policy ${JSON.stringify(aliasPolicy.get(alias!))}, which` };
    warnings.push({
      path: what.path,
      message: `${what.policy} acts only on a guest with a NUMA topology, and this flavor gives it none: ${NUMA_TOPOLOGY_HINT}`,
    });
  });
  return { errors, warnings };
}
