// What a validated site is: the SiteConfig every renderer, component and tool takes (defaults filled), its host
// groups, and the helpers that read across them.
import type { z } from "zod";
import { formatPath, type PathPart } from "./problems";
import type { deviceSchema } from "./sections/devices";
import type { flavorSchema } from "./sections/flavors";
import type { hostSchema } from "./sections/host";
import type { jujuSchema } from "./sections/juju";
import type { maasAccessSchema } from "./sections/maas";
import type { openstackSchema } from "./sections/openstack";
import type { runnerSchema } from "./sections/runner";
import type { smokeTestSchema } from "./sections/smoke-test";

export type MaasAccess = z.output<typeof maasAccessSchema>;
export type JujuConfig = z.output<typeof jujuSchema>;
export type HostConfig = z.output<typeof hostSchema>;
export type DeviceConfig = z.output<typeof deviceSchema>;
export type OpenStackConfig = z.output<typeof openstackSchema>;
export type FlavorConfig = z.output<typeof flavorSchema>;
export type SmokeTestConfig = z.output<typeof smokeTestSchema>;
export type RunnerConfig = z.output<typeof runnerSchema>;
export type Binding = HostConfig["binding"];

/** A group's MAAS tag, defaults filled. */
export interface TagConfig {
  readonly tag: string;
  readonly comment: string;
  readonly machines?: string[];
  readonly definition?: string;
  readonly selectByDevice?: boolean;
  /** The resource pool and zone the tag's machines must be in (selectByDevice chooses only there). */
  readonly pool?: string;
  readonly zone?: string;
  readonly deleteAdoptedTag: boolean;
}

/** One kind of GPU host: a MAAS tag, a nova-compute application, how its hosts are prepared, its devices. */
export interface HostGroup {
  /** The group's name (hostGroups[].name); undefined for a site written with one top-level maas tag, host
   * and devices, whose resources and artifacts keep the names they had before host groups. */
  readonly name?: string;
  readonly maas: TagConfig;
  readonly application: string;
  /** The bundle overlay adds the application (it is not in the operator's bundle). */
  readonly addToBundle: boolean;
  /** Units of an added application, each on a new machine with the group's tag; 0 when not added. */
  readonly units: number;
  readonly host: HostConfig;
  readonly devices: DeviceConfig[];
}

/** One site, validated, with defaults filled. */
export interface SiteConfig {
  readonly maas: MaasAccess;
  /** At least one; the top-level maas tag, host and devices make one group without a name. */
  readonly groups: readonly HostGroup[];
  readonly juju: JujuConfig;
  readonly openstack: OpenStackConfig;
  readonly flavors: FlavorConfig[];
  readonly smokeTest?: SmokeTestConfig;
  readonly runner?: RunnerConfig;
  readonly resync?: string;
}

/** Every device of the site, across its groups. */
export function allDevices(site: Pick<SiteConfig, "groups">): DeviceConfig[] {
  return site.groups.flatMap((g) => g.devices);
}

/** The config path of a group's key: `hostGroups[i].<key>` or, for the one unnamed group, the top-level
 * key (its tag fields are under `maas`). */
export function groupPath(groups: readonly HostGroup[], group: HostGroup, ...key: PathPart[]): string {
  return formatPath([...groupBase(groups.indexOf(group), group.name === undefined), ...key]);
}

function groupBase(index: number, topLevel: boolean): PathPart[] {
  return topLevel ? [] : ["hostGroups", index];
}


/** The config keys whose values are secrets, as the steps name them: each reaches a step on its standard input
 * only (render/steps/script.ts secretsPreamble). */
export type SecretSource = "maas.apiKey" | "runner.privateKey";

/** The value of a secret key in a site, when it is set. */
export function secretValue(site: Pick<SiteConfig, "maas" | "runner">, source: SecretSource): string | undefined {
  switch (source) {
    case "maas.apiKey":
      return site.maas.apiKey;
    case "runner.privateKey":
      return site.runner?.privateKey;
  }
}
