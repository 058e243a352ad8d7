// `pci-passthrough:maas`: the MAAS access (the CLI profile, optionally its login) and, for a site with one kind
// of host, its tag; with host groups each group's tag (hostGroups[].maas). The rules of a tag's selection are
// MAAS's (docs/domain.md, "MAAS").
import { z } from "zod";
import { MAAS_API_KEY, MAAS_CLI_COMMANDS, MAAS_OBJECT_NAME, MAAS_PROFILE_NAME, MAAS_SYSTEM_ID, MAAS_TAG_NAME } from "../../domain/maas";
import { SECRET_PLACEHOLDER } from "../problems";
import { ALWAYS, bool, mapping, quote, text, unique } from "../primitives";

/** A tag's comment when the config gives none (the MAAS UI shows it). */
export const DEFAULT_TAG_COMMENT = "PCI Passthrough kernel parameters (managed by pci-passthrough)";

/** The ways a tag selects its machines; exactly one is given. */
const SELECTIONS = ["machines", "definition", "selectByDevice"] as const;

const maasObjectName = (what: string) =>
  z
    .string({ error: `expected a MAAS ${what} name` })
    .regex(MAAS_OBJECT_NAME, { error: (i) => `${quote(i.input)} is not a MAAS ${what} name (letters, digits, _, - and spaces, not starting with - or a space)` });

/** The MAAS access of a site: the CLI profile and, optionally, the login. */
const maasAccessShape = {
  /** The `maas` CLI profile the commands use (`maas PROFILE ...`). */
  profile: z
    .string({ error: "expected a MAAS profile name" })
    .regex(MAAS_PROFILE_NAME, { error: (i) => `${quote(i.input)} is not a MAAS profile name (letters, digits, _ . -)` })
    .refine((s) => !MAAS_CLI_COMMANDS.includes(s), { error: (i) => `${quote(i.input)} is a maas CLI command, not usable as a profile name` }),
  /** MAAS API URL: with `apiKey`, the commands log the profile in first. */
  url: z
    .string({ error: "expected a URL" })
    .regex(/^https?:\/\/[^\s]+$/, { error: (i) => `${quote(i.input)} is not an http(s) URL` })
    .optional(),
  /** MAAS API key (`consumer:token:secret`); always handled as a secret. */
  apiKey: z
    .string({ error: "expected a MAAS API key" })
    // Never echo the value: it is a secret.
    .refine((s) => s === SECRET_PLACEHOLDER || MAAS_API_KEY.test(s), {
      error: "is not a MAAS API key (expected consumer:token:secret)",
    })
    .optional(),
};

const tagName = () =>
  z.string({ error: "expected a tag name" }).regex(MAAS_TAG_NAME, { error: (i) => `${quote(i.input)} is not a MAAS tag name (letters, digits, _ and - only)` });

/** A MAAS tag: its name and comment, how it selects its machines, and what happens to it with the stack. */
const tagShape = {
  /** Tag selecting the GPU hosts; it carries the kernel options. */
  tag: tagName().default("pci-pass"),
  /** The tag's comment, shown in the MAAS UI. */
  comment: text().default(DEFAULT_TAG_COMMENT),
  /** MAAS system IDs to tag by hand (`tag update-nodes`); excludes `definition`. */
  machines: z
    .array(
      z
        .string({ error: "expected a MAAS system ID" })
        .regex(MAAS_SYSTEM_ID, { error: (i) => `${quote(i.input)} is not a MAAS system ID (lowercase letters and digits)` }),
      { error: "expected a list of MAAS system IDs" },
    )
    .superRefine(unique("system ID"), ALWAYS)
    .optional(),
  /** XPath over `lshw -xml` that MAAS evaluates to tag machines itself; excludes `machines`. */
  definition: text("an XPath expression").optional(),
  /** Tag every machine whose MAAS node devices include a configured device's vendor:product
   * (`maas PROFILE node-devices read`, MAAS 3.0+), among the machines of `pool` and/or `zone`; excludes
   * `machines` and `definition`. */
  selectByDevice: bool.optional(),
  /** The MAAS resource pool the tagged machines must be in (`maas PROFILE machines read pool=`): required
   * for selectByDevice unless `zone` is given; with `machines`, each listed machine must be in it. */
  pool: maasObjectName("resource pool").optional(),
  /** The MAAS zone the tagged machines must be in (`machines read zone=`); as `pool`. */
  zone: maasObjectName("zone").optional(),
  /** Delete the tag with the stack even when it existed before the stack adopted it. */
  deleteAdoptedTag: bool.default(false),
};

type TagFields = { machines?: unknown[]; definition?: string; selectByDevice?: boolean; pool?: string; zone?: string };

/** A tag with neither machines nor a definition tags nothing: `tags=TAG` then finds no machine and the
 * deployment stalls (the runbook's own gap). Exactly one way of selecting the GPU hosts. */
function selectionRule(m: TagFields, ctx: z.RefinementCtx): void {
  const given = SELECTIONS.filter((k) => m[k] !== undefined && m[k] !== false);
  if (given.length === 0) {
    ctx.addIssue({
      code: "custom",
      path: m.selectByDevice === false ? ["selectByDevice"] : [],
      message: `the tag selects no machine: give machines (system IDs), definition (an lshw XPath) or selectByDevice: true`,
    });
  } else if (given.length > 1) {
    ctx.addIssue({ code: "custom", path: [given[1]!], message: `give one of machines, definition or selectByDevice, not ${given.join(" and ")}` });
  }
  if (m.machines !== undefined && m.machines.length === 0) {
    ctx.addIssue({ code: "custom", path: ["machines"], message: "list at least one system ID (an empty list tags no machine)" });
  }
  // MAAS applies a tag's kernel_opts to every later deployment of every machine it carries, whoever deploys
  // it (src/maasserver/models/node.py get_effective_kernel_options): a selection by device over the whole
  // MAAS would give another team's GPU machines vfio-pci.ids= and the driver blacklist. Scoped, always.
  if (m.selectByDevice === true && m.pool === undefined && m.zone === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["selectByDevice"],
      message:
        "selection by device must be scoped to this cloud's machines: give pool (a MAAS resource pool) and/or zone; " +
        "otherwise every machine of the whole MAAS with such a device is tagged, and MAAS applies the tag's kernel options to its every later deployment, by anyone",
    });
  }
  // MAAS itself evaluates a definition on every machine it has: no scope can narrow it.
  if (m.definition !== undefined) {
    for (const k of ["pool", "zone"] as const) {
      if (m[k] !== undefined) ctx.addIssue({ code: "custom", path: [k], message: `not with definition: MAAS evaluates a tag's definition on every machine it has, whatever its ${k === "pool" ? "resource pool" : "zone"}` });
    }
  }
}

function loginRule(m: { url?: string; apiKey?: string }, ctx: z.RefinementCtx): void {
  if ((m.url === undefined) !== (m.apiKey === undefined)) {
    const missing = m.url === undefined ? "url" : "apiKey";
    ctx.addIssue({ code: "custom", path: [missing], message: "url and apiKey go together (set both to log the profile in, or neither)" });
  }
}

/** `pci-passthrough:maas` of a site with one kind of host: the access and its one tag. */
export const maasSchema = mapping({ ...maasAccessShape, ...tagShape }).superRefine((m, ctx) => {
  selectionRule(m, ctx);
  loginRule(m, ctx);
});

/** `pci-passthrough:maas` of a site with host groups: the access only (each group has its tag). */
export const maasAccessSchema = mapping(maasAccessShape).superRefine(loginRule);

/** A host group's tag (hostGroups[].maas); its name defaults to `pci-pass-<group>`. */
export const tagSchema = mapping({ ...tagShape, tag: tagName().optional() }).superRefine(selectionRule);

/** The keys of a tag: with host groups, each group has its own, and `pci-passthrough:maas` refuses them. */
export const TAG_KEYS = Object.keys(tagShape);
