// The options of nova-cloud-controller and of each host group's nova-compute application (runbook "Deploy
// OpenStack"; docs/domain.md, "The OpenStack charms"), the file `juju config APP --file F` takes, and the option
// names `juju config APP --reset` takes back. Release-dependent values come from domain/releases.ts.
import { Document } from "yaml";
import type { DeviceConfig, FlavorConfig, HostGroup, OpenStackConfig } from "../../config/types";
import { CHARM_APPS } from "../../domain/charms";
import { usesPciNumaPolicy } from "../../domain/extra-specs/numa";
import { defaultSchedulerFilters } from "../../domain/releases";
import { pciAliasJson, pciWhitelistJson } from "./aliases";

/**
 * The scheduler filter list: the config's own list (config validation has checked it against the release
 * and for PciPassthroughFilter, and for NUMATopologyFilter when a PCI NUMA policy is set) or the release's
 * default from the release table, with NUMATopologyFilter when a PCI NUMA policy is set.
 */
export function schedulerFilters(
  openstack: Pick<OpenStackConfig, "release" | "schedulerFilters">,
  devices: readonly Pick<DeviceConfig, "numaPolicy">[],
  flavors: readonly Pick<FlavorConfig, "extraSpecs">[],
): string[] {
  return openstack.schedulerFilters ?? defaultSchedulerFilters(openstack.release, { pciNumaPolicy: usesPciNumaPolicy(devices, flavors) });
}

/** Charm option values per application; every value is a string, as `juju config` stores them. */
export type CharmOptions = Record<string, Record<string, string>>;

/**
 * The options this program sets on each charm (runbook "Deploy OpenStack"; docs/domain.md, "The OpenStack charms"):
 * nova-cloud-controller, then each host group's nova-compute application with its own whitelist. `pci-alias`
 * holds every group's aliases on all of them (Nova refuses a flavor whose alias the API or the compute
 * service does not know); the scheduler filters are the controller's, once.
 */
export function charmOptions(
  openstack: Pick<OpenStackConfig, "release" | "schedulerFilters" | "consoleAccessProtocol">,
  groups: readonly Pick<HostGroup, "application" | "devices">[],
  flavors: readonly Pick<FlavorConfig, "extraSpecs">[],
): CharmOptions {
  const devices = groups.flatMap((g) => g.devices);
  const alias = pciAliasJson(devices);
  const options: CharmOptions = {
    [CHARM_APPS.controller]: {
      "pci-alias": alias,
      // Replaces the charm's whole default list, so it must carry PciPassthroughFilter itself.
      "scheduler-default-filters": schedulerFilters(openstack, devices, flavors).join(","),
      "console-access-protocol": openstack.consoleAccessProtocol,
    },
  };
  for (const g of groups) options[g.application] = { "pci-alias": alias, "pci-passthrough-whitelist": pciWhitelistJson(g.devices) };
  return options;
}

// Long JSON values stay on one line: folding them is valid YAML but unreadable and hard to diff.
export const LONG_LINES = { lineWidth: 0 } as const;

/** The file for `juju config APP --file F`: `APP: {option: value}` for both applications. */
export function renderCharmConfig(options: CharmOptions): string {
  return new Document(options).toString(LONG_LINES);
}

/** Per application, the option names this program sets: what `juju config APP --reset` resets on delete. */
export function charmResetOptions(options: CharmOptions): Record<string, string[]> {
  return Object.fromEntries(Object.entries(options).map(([app, set]) => [app, Object.keys(set)]));
}
