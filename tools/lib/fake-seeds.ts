// What the maas and juju doubles (test/fakes) know before a site's first command: the machines its groups select
// (listed, or with its devices where its scope is), its logged-in profile, its model and applications. Shared by
// `npm run lab -- apply` and the bench, which run commands.sh and the program's steps against the doubles.
import type { HostGroup, SiteConfig } from "../../config/types";
import { selectingDevices } from "../../render/steps/maas-selection";
import { CHARM_APPS, COMPUTE_CHARM } from "../../domain/charms";

/** Where a group's hosts stand in the fake MAAS: its pool and zone, or MAAS's "default" ones. */
const placement = (g: HostGroup) => `${g.maas.pool ?? "default"}:${g.maas.zone ?? "default"}`;

/** Prefix of a group's fake hosts: the group's name, or "gpu" for a site with one kind of host. */
const hostPrefix = (g: HostGroup) => (g.name === undefined ? "gpu" : g.name.replace(/[^a-z0-9]/g, ""));

/** The fake MAAS's machines for the groups that select by device, in the group's pool and zone:
 * `<group>host1` and `<group>host2` (or gpuhost1 and gpuhost2 for a site with one kind of host) with the
 * group's devices, and plainhost without. */
export function fakeDeviceHosts(site: SiteConfig): Map<string, string[]> {
  const hosts = new Map<string, string[]>();
  for (const g of site.groups.filter((x) => x.maas.selectByDevice)) {
    for (const n of [1, 2]) hosts.set(`${hostPrefix(g)}host${n}`, selectingDevices(g.devices));
  }
  if (hosts.size > 0) hosts.set("plainhost", []);
  return hosts;
}

/** Another team's machine with a group's devices, outside the group's pool and zone: a selection by device
 * must never tag it (MAAS would give it the group's kernel options at its next deployment). */
const elsewhere = (g: HostGroup) => `${hostPrefix(g)}elsewhere`;

/** The fake MAAS's machines, `SYSID:POOL:ZONE` each: the listed ones and the device hosts where their group's
 * scope is, and each device group's twin elsewhere. */
function fakeMachines(site: SiteConfig): string[] {
  const at = new Map<string, string>();
  for (const g of site.groups) for (const m of g.maas.machines ?? []) at.set(m, placement(g));
  const byDevice = site.groups.filter((g) => g.maas.selectByDevice);
  for (const g of byDevice) {
    for (const n of [1, 2]) at.set(`${hostPrefix(g)}host${n}`, placement(g));
    at.set(elsewhere(g), "other-team:default");
  }
  if (byDevice.length > 0) at.set("plainhost", placement(byDevice[0]!));
  return [...at].map(([id, where]) => `${id}:${where}`);
}

function fakeDevices(site: SiteConfig): string {
  const twins = site.groups.filter((g) => g.maas.selectByDevice).map((g): [string, string[]] => [elsewhere(g), selectingDevices(g.devices)]);
  return [...fakeDeviceHosts(site), ...twins].map(([id, devices]) => `${id}=${devices.join(",")}`).join(" ");
}

/** What the maas and juju doubles know before the first command, from the site (values already in the
 * caller's environment win): the MAAS profile is logged in and its machines exist where the groups' scopes
 * say; an adopted Juju model (existingModel) exists; the Juju CLI speaks the site's version; the deployed
 * bundle has the controller and every group's nova-compute application, with their charms. */
export function fakeSeeds(site: SiteConfig): Record<string, string> {
  const apps = new Map<string, string>([[CHARM_APPS.controller, "nova-cloud-controller"]]);
  for (const g of site.groups) apps.set(g.application, COMPUTE_CHARM);
  const seeds: Record<string, string> = {
    FAKE_MAAS_PROFILES: site.maas.profile,
    FAKE_MAAS_MACHINES: fakeMachines(site).join(","),
    // selectByDevice: two machines with each such group's devices and one without any, for the tags to choose from.
    FAKE_MAAS_DEVICES: fakeDevices(site),
    FAKE_JUJU_VERSION: site.juju.version,
    FAKE_JUJU_MODELS: site.juju.existingModel ? site.juju.model : "",
    FAKE_JUJU_APPS: [...apps].map(([app, charm]) => `${app}=${charm}`).join(","),
  };
  return Object.fromEntries(Object.entries(seeds).map(([k, v]) => [k, process.env[k] ?? v]));
}
