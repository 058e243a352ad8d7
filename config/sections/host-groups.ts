// `pci-passthrough:hostGroups`: several kinds of GPU host in one site, each with its MAAS tag, its nova-compute
// application, its host preparation and its devices.
import { z } from "zod";
import { CHARM_APPS } from "../../domain/charms";
import { JUJU_APPLICATION_NAME } from "../../domain/juju";
import { ALWAYS, bool, intFrom, mapping, quote, unique } from "../primitives";
import { devicesSchema } from "./devices";
import { hostSchema } from "./host";
import { tagSchema } from "./maas";

/** Whether the bundle overlay adds a group's application: as configured, else unless it is nova-compute, the
 * application every OpenStack bundle has. */
export const addsToBundle = (g: { addToBundle?: boolean; application: string }): boolean => g.addToBundle ?? g.application !== CHARM_APPS.compute;

/** One kind of GPU host (hostGroups[]): its MAAS tag and selection, its nova-compute application, how its
 * hosts are prepared and which devices they pass through. */
export const groupSchema = mapping({
  /** Names the group in resources and messages. */
  name: z
    .string({ error: "expected a group name" })
    .regex(/^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/, { error: (i) => `${quote(i.input)} is not a group name (lowercase letters, digits and -, at most 32)` }),
  maas: tagSchema,
  /** The group's nova-compute application (deployed from the nova-compute charm). */
  application: z
    .string({ error: "expected a Juju application name" })
    .regex(JUJU_APPLICATION_NAME, { error: (i) => `${quote(i.input)} is not a Juju application name` })
    .default(CHARM_APPS.compute),
  /** Whether the bundle overlay adds the application (`charm: nova-compute`, the group's tag as constraint, the
   * compute relations) because the operator's bundle does not have it; default: added unless it is
   * `nova-compute`, the application every OpenStack bundle has. */
  addToBundle: bool.optional(),
  /** Units the overlay gives an added application, each on a new machine MAAS finds by the group's tag; default
   * 0: the application is deployed without units and `juju add-unit APP -n N` adds them. */
  units: intFrom(0, 1000).optional(),
  host: hostSchema,
  devices: devicesSchema,
}).superRefine((g, ctx) => {
  if (g.units === undefined) return;
  if (!addsToBundle(g)) {
    ctx.addIssue({
      code: "custom",
      path: ["units"],
      message: `only for an application the bundle overlay adds (addToBundle: true): ${g.application} is the bundle's own and keeps its units`,
    });
  } else if (g.maas.machines !== undefined && g.units > g.maas.machines.length) {
    // MAAS has no further machine with the tag: Juju would wait for one forever.
    ctx.addIssue({
      code: "custom",
      path: ["units"],
      message: `${g.units} new units need ${g.units} machines with the group's tag, but maas.machines lists ${g.maas.machines.length}`,
    });
  }
});

/** `pci-passthrough:hostGroups`: several kinds of GPU host in one site, in place of maas's tag, host and devices. */
export const hostGroupsSchema = z
  .array(groupSchema, { error: "expected a list of host groups" })
  .min(1, { error: "list at least one host group" })
  .superRefine(unique("group name", (g) => g.name), ALWAYS);
