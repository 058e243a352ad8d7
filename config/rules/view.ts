// What the cross-field rules see: each section as far as it parsed, and each host group's devices that parsed
// with where they are (when one device is invalid the others are still checked), so that one mistake never
// hides another.
import type { z } from "zod";
import type { PathPart } from "../problems";
import type { groupSchema } from "../sections/host-groups";
import type {
  DeviceConfig,
  FlavorConfig,
  HostConfig,
  HostGroup,
  JujuConfig,
  MaasAccess,
  OpenStackConfig,
  RunnerConfig,
  SmokeTestConfig,
  TagConfig,
} from "../types";

/** The sections as parsed, before the groups are made. */
export interface ParsedSections {
  maas?: MaasAccess & Partial<TagConfig>;
  juju?: JujuConfig;
  host?: HostConfig;
  devices?: DeviceConfig[];
  hostGroups?: Array<z.output<typeof groupSchema>>;
  openstack?: OpenStackConfig;
  flavors?: FlavorConfig[];
  smokeTest?: SmokeTestConfig;
  runner?: RunnerConfig;
  resync?: string;
}

/** A group's devices that parsed, with their places in its list (when one device is invalid, the others are
 * still checked against each other), and where the group's keys are. */
export interface GroupView {
  readonly base: PathPart[];
  readonly name?: string;
  readonly devices: ReadonlyArray<readonly [number, DeviceConfig]>;
  /** Alias names written in the raw devices, when every one of them is readable. */
  readonly rawAliases?: ReadonlySet<string>;
  readonly group?: HostGroup;
}

/** The groups of a site: `parsed` is set only when every group parsed; `views` carry what parsed of each. */
export interface Groups {
  readonly parsed?: HostGroup[];
  readonly views: GroupView[];
}

/** Every device that parsed, across the groups, with its key path (`hostGroups[1].devices[0]`). */
export function locatedDevices(views: readonly GroupView[]): Array<{ path: PathPart[]; device: DeviceConfig }> {
  return views.flatMap((v) => v.devices.map(([i, d]) => ({ path: [...v.base, "devices", i] as PathPart[], device: d })));
}
