// `pci-passthrough:openstack`: the OpenStack release (one the charms have), the Ubuntu it runs on, the console
// protocol, the scheduler filters and the relations of an added compute application (docs/domain.md, "The
// OpenStack charms" and "Nova: scheduler filters by release").
import { z } from "zod";
import { COMPUTE_CHARM, LAST_CHARM_RELEASE, charmTrack, computeEndpoints, type ComputeRelation } from "../../domain/charms";
import { JUJU_ENDPOINT_REF } from "../../domain/juju";
import { UBUNTU_LTS, findRelease, findUbuntu } from "../../domain/releases";
import { ALWAYS, mapping, quote, unique } from "../primitives";

/** A relation that parsed (a refinement run with ALWAYS may see raw input in the list). */
const isRelation = (r: unknown): r is ComputeRelation => r !== null && typeof r === "object" && !Array.isArray(r) && "endpoint" in r;

/** One relation of openstack.computeRelations: a pair as in a bundle's `relations:`, in either order, one side
 * `nova-compute:ENDPOINT` (the charm's endpoint, standing for each added application), the other side another
 * application's. */
function computeRelationSchema() {
  const side = z.string({ error: "expected APP:ENDPOINT" }).regex(JUJU_ENDPOINT_REF, { error: (i) => `${quote(i.input)} is not APP:ENDPOINT` });
  return z
    .array(side, { error: `expected a pair such as [${COMPUTE_CHARM}:amqp, rabbitmq-server:amqp]` })
    .refine((pair) => pair.length === 2, { error: `expected a pair such as [${COMPUTE_CHARM}:amqp, rabbitmq-server:amqp]` })
    .transform((pair, ctx): ComputeRelation => {
      const ours = pair.map((p) => p.startsWith(`${COMPUTE_CHARM}:`));
      if (ours[0] === ours[1]) {
        ctx.addIssue({
          code: "custom",
          message: `one side must be ${COMPUTE_CHARM}:ENDPOINT (it stands for each application the overlay adds), the other another application's endpoint`,
        });
        return z.NEVER;
      }
      const i = ours[0] ? 0 : 1;
      const endpoint = pair[i]!.slice(COMPUTE_CHARM.length + 1);
      // The endpoints of the latest charm here; an endpoint the release's charm lacks is refused with the release.
      const endpoints = computeEndpoints(LAST_CHARM_RELEASE);
      if (!endpoints.includes(endpoint)) {
        ctx.addIssue({
          code: "custom",
          path: [i],
          message: `the ${COMPUTE_CHARM} charm has no endpoint "${endpoint}" (it has ${endpoints.join(", ")})`,
        });
        return z.NEVER;
      }
      return { endpoint, remote: pair[1 - i]! };
    });
}

export const CONSOLE_PROTOCOLS = ["spice", "novnc", "vnc", "xvpvnc"] as const;

export const openstackSchema = mapping({
  /** Target OpenStack release (queens ... 2024.1, codenames accepted): one the OpenStack charms have. */
  // An unquoted `release: 2024.1` is a YAML number: take it back as text.
  release: z.preprocess(
    (v) => (typeof v === "number" ? String(v) : v),
    z.string({ error: "expected an OpenStack release name such as yoga or 2024.1" }),
  ).transform((s, ctx) => {
    const r = findRelease(s);
    if (!r) {
      ctx.addIssue({ code: "custom", message: `${quote(s)} is not a known OpenStack release (queens ... ${LAST_CHARM_RELEASE})` });
      return z.NEVER;
    }
    if (!charmTrack(r.name)) {
      // domain/charms.ts LAST_CHARM_RELEASE: no track, no branch, no charm that installs this release.
      ctx.addIssue({
        code: "custom",
        message:
          `the OpenStack charms have no ${r.name} (${r.codename}): nova-compute and nova-cloud-controller have no Charmhub track and no ` +
          `branch after ${LAST_CHARM_RELEASE}, and their master branches install ${LAST_CHARM_RELEASE} (openstack-origin caracal); ` +
          `use ${LAST_CHARM_RELEASE}`,
      });
      return z.NEVER;
    }
    return r.name;
  }),
  /** The Ubuntu the OpenStack bundle runs on, `ubuntu@22.04` or `jammy`, kept as `ubuntu@VERSION`; the
   * release's own base when left out. Only said in the bundle overlay's header. */
  base: z
    .string({ error: "expected an Ubuntu base such as ubuntu@22.04 or jammy" })
    .transform((s, ctx) => {
      const u = findUbuntu(s);
      if (!u) {
        const known = UBUNTU_LTS.map((x) => `ubuntu@${x.version}`).join(", ");
        ctx.addIssue({ code: "custom", message: `${quote(s)} is not an Ubuntu LTS the OpenStack charms deploy on (${known}, or its series name)` });
        return z.NEVER;
      }
      return `ubuntu@${u.version}`;
    })
    .optional(),
  /** nova-cloud-controller `console-access-protocol`; spice gives GPU guests a usable VGA console. */
  consoleAccessProtocol: z
    .enum(CONSOLE_PROTOCOLS, { error: (i) => `${quote(i.input)} is not one of ${CONSOLE_PROTOCOLS.join(", ")}` })
    .default("spice"),
  /** Replaces the release's default filter list; must contain PciPassthroughFilter. */
  schedulerFilters: z
    .array(
      z.string({ error: "expected a filter class name" }).regex(/^[A-Za-z][A-Za-z0-9]*$/, {
        error: (i) => `${quote(i.input)} is not a filter class name`,
      }),
      { error: "expected a list of filter names" },
    )
    .min(1, { error: "list at least one filter" })
    .superRefine(unique("filter"), ALWAYS)
    .optional(),
  /** The relations of every application the bundle overlay adds (hostGroups[].addToBundle), as the bundle's
   * `relations:` pairs with `nova-compute:ENDPOINT` on one side; default: the openstack-base bundle's. */
  computeRelations: z
    .array(computeRelationSchema(), { error: "expected a list of relations such as [nova-compute:amqp, rabbitmq-server:amqp]" })
    .superRefine(unique("relation", (r: unknown) => (isRelation(r) ? `${COMPUTE_CHARM}:${r.endpoint} ${r.remote}` : undefined)), ALWAYS)
    .superRefine((relations: unknown[], ctx) => {
      // Every relation must parse for this to be said: a misspelt one may be the cloud-compute one.
      if (!relations.every(isRelation)) return;
      if (!relations.some((r) => r.endpoint === "cloud-compute")) {
        ctx.addIssue({
          code: "custom",
          message: `relates no ${COMPUTE_CHARM}:cloud-compute (to nova-cloud-controller:cloud-compute): the hosts of an added application would never join the cloud`,
        });
      }
    }, ALWAYS)
    .optional(),
});
