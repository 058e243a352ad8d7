// The OpenStack release against the rest of `openstack`: the console protocol, the Ubuntu base, the scheduler
// filters and the compute relations the release's charm has (docs/domain.md, "Nova: scheduler filters by
// release" and "The OpenStack charms").
import { COMPUTE_CHARM, computeEndpoints } from "../../domain/charms";
import { filterRemovedIn, findUbuntu, supportsXvpvnc, ubuntuBases, ubuntuName } from "../../domain/releases";
import { formatPath, type ConfigProblem, type PathPart } from "../problems";
import type { OpenStackConfig } from "../types";

/** The release rules of `openstack`, when it parsed. */
export function openstackProblems(openstack: OpenStackConfig | undefined): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (path: PathPart[], message: string) => problems.push({ path: formatPath(path), message });
  if (!openstack) return problems;
  const rel = openstack.release;
  if (openstack.consoleAccessProtocol === "xvpvnc" && !supportsXvpvnc(rel)) {
    add(["openstack", "consoleAccessProtocol"], `xvpvnc was removed in ussuri and does not work on ${rel}; use spice or novnc`);
  }
  const base = openstack.base;
  const bases = ubuntuBases(rel);
  if (base !== undefined && !bases.some((u) => `ubuntu@${u.version}` === base)) {
    add(["openstack", "base"], `OpenStack ${rel} does not run on ${ubuntuName(findUbuntu(base)!)}: use ${bases.map(ubuntuName).join(" or ")}`);
  }
  const filters = openstack.schedulerFilters;
  if (filters) {
    if (!filters.includes("PciPassthroughFilter")) {
      add(["openstack", "schedulerFilters"], "must contain PciPassthroughFilter, or PCI requests are never scheduled");
    }
    filters.forEach((f, i) => {
      const removedIn = filterRemovedIn(f, rel);
      if (removedIn) add(["openstack", "schedulerFilters", i], `${f} was removed from Nova in ${removedIn}; nova-scheduler would not start on ${rel}`);
    });
  }
  // The schema took the endpoints of the latest charm; the release's charm may have fewer.
  const endpoints = computeEndpoints(rel);
  openstack.computeRelations?.forEach((r, i) => {
    if (!endpoints.includes(r.endpoint)) {
      add(["openstack", "computeRelations", i], `the ${COMPUTE_CHARM} charm of ${rel} has no endpoint "${r.endpoint}" (it arrived in a later release's charm)`);
    }
  });
  return problems;
}
