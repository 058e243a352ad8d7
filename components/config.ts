// Site configuration: the stack's `pci-passthrough:*` keys, validated with zod into one plain, typed
// SiteConfig with defaults filled. No Pulumi import: the program, the offline render and the tests all
// come through parseSiteConfig.
import { z } from "zod";
import {
  AGGREGATE_EXTRA_SPECS_FILTER,
  NUMA_FILTER,
  defaultSchedulerFilters,
  findRelease,
  findUbuntu,
  filterRemovedIn,
  supportsXvpvnc,
  ubuntuBases,
  ubuntuName,
  UBUNTU_LTS,
} from "../domain/releases";
import {
  CHARM_APPS,
  COMPUTE_CHARM,
  FIRST_STABLE_CHARM_RELEASE,
  LAST_CHARM_RELEASE,
  charmTrack,
  computeEndpoints,
  type ComputeRelation,
} from "../domain/charms";
import { checkExtraSpecs, unscopedKeyProblem } from "../domain/extra-specs/releases";
import {
  NUMA_TOPOLOGY_HINT,
  PCI_NUMA_POLICY_KEY,
  aliasNumaPolicyProblem,
  flavorHasNumaTopology,
  usesPciNumaPolicy,
} from "../domain/extra-specs/numa";
import { deviceId, normalizePciAddress } from "../domain/pci";
import { DEVICE_TYPES, NUMA_POLICIES, aliasMatches, devicesPerHost, flavorGroups } from "../domain/nova-pci";
import { MAAS_API_KEY, MAAS_CLI_COMMANDS, MAAS_OBJECT_NAME, MAAS_PROFILE_NAME, MAAS_SYSTEM_ID, MAAS_TAG_NAME } from "../domain/maas";
import { JUJU_APPLICATION_NAME, JUJU_ENDPOINT_REF, JUJU_MODEL_NAME } from "../domain/juju";
import { parseHostKey } from "../domain/ssh";

/** What the offline render sees in place of a `secure:` stack value (it never decrypts). */
export const SECRET_PLACEHOLDER = "[secret]";

/** The stack config namespace: every key is `pci-passthrough:<key>`. */
export const NAMESPACE = "pci-passthrough";

/** One problem in a stack config, located by its key path (`pci-passthrough:devices[0].addresses[1]`). */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** Thrown by requireSiteConfig: carries every problem at once, one line each. */
export class ConfigError extends Error {
  constructor(public readonly problems: readonly ConfigProblem[]) {
    super(`invalid stack configuration:\n${formatProblems(problems)}`);
    this.name = "ConfigError";
  }
}

/** One line per warning, `warning: <key path>: <message>`, as `npm run render` prints them on stderr. */
export function formatWarnings(warnings: readonly ConfigProblem[]): string {
  return warnings.map((w) => `warning: ${w.path}: ${w.message}`).join("\n");
}

/** One line per problem, `<key path>: <message>`. */
export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems.map((p) => `${p.path}: ${p.message}`).join("\n");
}

type PathPart = string | number;

/** Renders a key path the way `pulumi config set --path` takes it. */
export function formatPath(path: readonly PathPart[]): string {
  let out = NAMESPACE;
  path.forEach((part, i) => {
    if (typeof part === "number") out += `[${part}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(part)) out += i === 0 ? `:${part}` : `.${part}`;
    else out += i === 0 ? `:${JSON.stringify(part)}` : `[${JSON.stringify(part)}]`;
  });
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Value rules shared by several keys

/** A value for an error message. Containers are named, not printed: String() throws on a mapping whose
 * toString is not a function (`{toString: x}` is valid YAML). */
const quote = (v: unknown): string =>
  typeof v === "string" ? JSON.stringify(v) : v !== null && typeof v === "object" ? (Array.isArray(v) ? "a list" : "a mapping") : String(v);

/** `pulumi config set --path k v` may store numbers and booleans as strings: accept both. */
const intFrom = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(
    (v) => (typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : v),
    z
      .number({ error: (i) => `expected an integer, got ${quote(i.input)}` })
      .int({ error: (i) => `expected an integer, got ${quote(i.input)}` })
      .min(min, { error: `must be at least ${min}` })
      .max(max, { error: `must be at most ${max}` }),
  );

const bool = z.preprocess(
  (v) => (v === "true" ? true : v === "false" ? false : v),
  z.boolean({ error: (i) => `expected true or false, got ${quote(i.input)}` }),
);

const text = (what = "a non-empty string") =>
  z
    .string({ error: `expected ${what}` })
    .min(1, { error: `expected ${what}` })
    // Control characters other than tab/newline have no business in config text.
    // eslint-disable-next-line no-control-regex
    .refine((s) => !/[\u0000-\u0008\u000b-\u001f\u007f]/.test(s), { error: "contains control characters" });

/** A single-line name: no control characters, no leading/trailing blanks, and no leading `-` (CLIs such
 * as openstack would read it as an option). */
const name = (what: string) =>
  text(what)
    .refine((s) => !/[\n\t]/.test(s) && s.trim() === s, {
      error: (i) => `${quote(i.input)} is not a valid ${what} (one line, no surrounding blanks)`,
    })
    .refine((s) => !s.startsWith("-"), { error: (i) => `${quote(i.input)} is not a valid ${what} (must not start with -)` });

// YAML reads an unquoted 8086 as a number; take it back when it has exactly four digits. Anything else
// numeric (0300 may even be read as octal) must be quoted.
const hex4 = z
  .preprocess(
    (v) => (typeof v === "number" && Number.isInteger(v) && v >= 1000 && v <= 9999 ? String(v) : v),
    z
      .string({ error: (i) => `expected 4 hex digits as a quoted string, e.g. "10de", got ${quote(i.input)}` })
      .regex(/^[0-9a-fA-F]{4}$/, { error: (i) => `${quote(i.input)} is not 4 hex digits` })
      .transform((s) => s.toLowerCase()),
  );

/** A PCI vendor:product pair such as `10de:10f0`. */
const pciId = z
  .string({ error: "expected vendor:product, e.g. \"10de:10f0\"" })
  .regex(/^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$/, {
    error: (i) => `${quote(i.input)} is not a vendor:product id (expected vvvv:pppp, 4 hex digits each)`,
  })
  .transform((s) => s.toLowerCase());

const pciAddress = z
  .string({ error: "expected a PCI address DDDD:BB:SS.F" })
  .transform((s, ctx) => {
    const n = normalizePciAddress(s);
    if (n === undefined) {
      ctx.addIssue({ code: "custom", message: `${quote(s)} is not a PCI address (expected DDDD:BB:SS.F)` });
      return z.NEVER;
    }
    return n;
  });

/** A strict mapping: unknown keys are errors (a typo like `vendorID` must not be ignored), and a value
 * that is not a mapping says what it got. */
const mapping = <T extends z.ZodRawShape>(shape: T) =>
  z.strictObject(shape, {
    error: (i) => (i.code === "invalid_type" && i.input !== undefined ? `expected a mapping, got ${quote(i.input)}` : undefined),
  });

/** Reports duplicates in a list. Used with ALWAYS, so a duplicate is reported even when another element
 * has a type error: items may then be raw input, hence the guard. */
const unique = <T>(what: string, key: (t: T) => unknown = (t) => t) =>
  (items: T[], ctx: z.RefinementCtx) => {
    const seen = new Map<string, number>();
    items.forEach((item, i) => {
      // Only strings are compared: an invalid element (a mapping, even one with a toString key) is skipped.
      const k = item !== null && (typeof item === "object" || typeof item === "string") ? key(item) : undefined;
      if (typeof k !== "string") return;
      const first = seen.get(k);
      if (first !== undefined) {
        ctx.addIssue({ code: "custom", path: [i], message: `duplicate ${what} ${quote(k)} (also at [${first}])` });
      } else seen.set(k, i);
    });
  };

/** Run a list refinement even after element errors (zod skips refinements after aborting issues). */
const ALWAYS = { when: (payload: { value: unknown }) => Array.isArray(payload.value) };

// ---------------------------------------------------------------------------------------------------
// Sections

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
  comment: text().default("PCI Passthrough kernel parameters (managed by pci-passthrough)"),
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
const maasSchema = mapping({ ...maasAccessShape, ...tagShape }).superRefine((m, ctx) => {
  selectionRule(m, ctx);
  loginRule(m, ctx);
});

/** `pci-passthrough:maas` of a site with host groups: the access only (each group has its tag). */
const maasAccessSchema = mapping(maasAccessShape).superRefine(loginRule);

/** A host group's tag (hostGroups[].maas); its name defaults to `pci-pass-<group>`. */
const tagSchema = mapping({ ...tagShape, tag: tagName().optional() }).superRefine(selectionRule);

const jujuVersion = z.union([z.number(), z.string()], { error: "expected the Juju version, 2.9 or 3" }).transform((v, ctx) => {
  const s = String(v).trim();
  if (/^2\.9(\.\d+)*$/.test(s)) return "2.9" as const;
  if (/^3(\.\d+)*$/.test(s)) return "3" as const;
  ctx.addIssue({ code: "custom", message: `${quote(v)} is not a supported Juju version (2.9 or 3)` });
  return z.NEVER;
});

const jujuSchema = mapping({
    /** The model that holds (or will hold) the OpenStack deployment. */
    model: z
      .string({ error: "expected a model name" })
      .regex(JUJU_MODEL_NAME, {
        error: (i) => `${quote(i.input)} is not a Juju model name (lowercase letters, digits and hyphens, not starting with a hyphen)`,
      }),
    /** Cloud (and region, `cloud/region`) for `juju add-model`. */
    cloud: z
      .string({ error: "expected a cloud name" })
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)?$/, { error: (i) => `${quote(i.input)} is not a cloud[/region]` })
      .optional(),
    /** Controller to use (`-c`); the current one when left out. */
    controller: z
      .string({ error: "expected a controller name" })
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { error: (i) => `${quote(i.input)} is not a controller name` })
      .optional(),
    /** Juju CLI major version: flags differ between 2.9 and 3. */
    version: jujuVersion.default("3"),
    /** Adopt a model that already runs the cloud: only set its model-config. */
    existingModel: bool.default(false),
    /** Destroy the model when the stack is deleted. Off by default: a model holds the whole cloud. */
    destroyModelOnDelete: bool.default(false),
  })
  .superRefine((j, ctx) => {
    if (j.existingModel && j.destroyModelOnDelete) {
      ctx.addIssue({
        code: "custom",
        path: ["destroyModelOnDelete"],
        message: "cannot be true with existingModel: a model this stack adopted is never destroyed by it",
      });
    }
  });

export const BINDINGS = ["modprobe", "driver-override", "rc-local"] as const;

const hostSchema = mapping({
  /** CPU vendor: `intel` adds `intel_iommu=on`; `amd` adds nothing (the AMD IOMMU is on by default, and
   * the kernel knows no `amd_iommu=on`). */
  iommu: z.enum(["intel", "amd"], { error: (i) => `${quote(i.input)} is not intel or amd` }),
  /** Adds `iommu=pt` (passthrough mode for host devices). */
  iommuPassthrough: bool.default(false),
  /** Adds `vfio_iommu_type1.allow_unsafe_interrupts=1`: a security opt-in for platforms without
   * interrupt remapping (the runbook sets it). */
  allowUnsafeInterrupts: bool.default(false),
  /** Kernel modules kept off the devices (`modprobe.blacklist=`), e.g. nouveau, nvidiafb. */
  blacklistDrivers: z
    .array(
      z.string({ error: "expected a kernel module name" }).regex(/^[A-Za-z0-9_-]+$/, {
        error: (i) => `${quote(i.input)} is not a kernel module name`,
      }),
      { error: "expected a list of kernel module names" },
    )
    .superRefine(unique("driver"), ALWAYS)
    .default([]),
  /** How vfio-pci claims the devices: modprobe options (default), per-address driver_override from a
   * systemd unit, or the runbook's rc.local (repaired). */
  binding: z.enum(BINDINGS, { error: (i) => `${quote(i.input)} is not one of ${BINDINGS.join(", ")}` }).default("modprobe"),
});

const deviceSchema = mapping({
  /** Nova PCI alias name that flavors ask for. */
  alias: z
    .string({ error: "expected an alias name" })
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$/, {
      error: (i) => `${quote(i.input)} is not an alias name (letters, digits, _ . -; at most 256)`,
    }),
  vendorId: hex4,
  productId: hex4,
  /** Full PCI addresses of the devices on each GPU host (the hosts of a site are alike). */
  addresses: z
    .array(pciAddress, { error: "expected a list of PCI addresses" })
    .min(1, { error: "list at least one PCI address" }),
  deviceType: z.enum(DEVICE_TYPES, { error: (i) => `${quote(i.input)} is not one of ${DEVICE_TYPES.join(", ")}` }).optional(),
  numaPolicy: z.enum(NUMA_POLICIES, { error: (i) => `${quote(i.input)} is not one of ${NUMA_POLICIES.join(", ")}` }).optional(),
  /** vendor:product of other functions in the same IOMMU group (e.g. a GPU's HDMI audio), bound to
   * vfio-pci too but given no alias. */
  companions: z.array(pciId, { error: "expected a list of vendor:product ids" }).superRefine(unique("companion"), ALWAYS).default([]),
});

/** Whether the bundle overlay adds a group's application: as configured, else unless it is nova-compute, the
 * application every OpenStack bundle has. */
const addsToBundle = (g: { addToBundle?: boolean; application: string }): boolean => g.addToBundle ?? g.application !== CHARM_APPS.compute;

/** One kind of GPU host (hostGroups[]): its MAAS tag and selection, its nova-compute application, how its
 * hosts are prepared and which devices they pass through. */
const groupSchema = mapping({
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
  devices: z.array(deviceSchema, { error: "expected a list of devices" }).min(1, { error: "list at least one device (see `npm run import-lspci`)" }),
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

const openstackSchema = mapping({
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
      // compute-charm.ts LAST_CHARM_RELEASE: no track, no branch, no charm that installs this release.
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

const flavorSchema = mapping({
  name: name("flavor name").refine((s) => s.length <= 255, { error: "is longer than 255 characters" }),
  /** MB */
  ram: intFrom(1),
  vcpus: intFrom(1),
  /** GB */
  disk: intFrom(0),
  /** Devices per alias, e.g. `{ gpu: 1 }` -> `pci_passthrough:alias=gpu:1`. */
  pci: z
    .record(z.string(), intFrom(1), { error: "expected a mapping of alias to device count, e.g. { gpu: 1 }" })
    .refine((r) => Object.keys(r).length > 0, { error: "ask for at least one device, e.g. { gpu: 1 }" }),
  /** Further flavor extra specs, e.g. `hw:pci_numa_affinity_policy: preferred`. */
  extraSpecs: z
    .record(
      // Nova's extra spec key pattern (nova/api/validation/parameter_types.py) without the blank, which
      // `openstack flavor set --property k=v` and commands.sh's stale-key loop cannot carry.
      z.string().regex(/^[a-zA-Z0-9_:.-]{1,255}$/, { error: (i) => `${quote(i.input)} is not an extra spec key (letters, digits, _ : . -)` }),
      z.union([z.string(), z.number(), z.boolean()], { error: "expected a string, number or boolean" }).transform(String),
      { error: (i) => (i.code === "invalid_type" ? "expected a mapping of extra spec to value" : undefined) },
    )
    .superRefine((specs, ctx) => {
      if ("pci_passthrough:alias" in specs) {
        ctx.addIssue({
          code: "custom",
          path: ["pci_passthrough:alias"],
          message: "is derived from pci; set the devices there instead",
        });
      }
    })
    .default({}),
});

const smokeTestSchema = mapping({
  /** Glance image name or ID. */
  image: name("image name or ID"),
  /** Network name or ID for the servers' NIC. */
  network: name("network name or ID"),
  keyPair: name("key pair name").optional(),
  servers: z
    .array(mapping({ name: name("server name"), flavor: name("flavor name") }), { error: "expected a list of servers" })
    .min(1, { error: "list at least one server" })
    .superRefine(unique("server name", (s) => s.name), ALWAYS),
});

const runnerSchema = mapping({
  /** Jump host that has the maas and juju CLIs logged in. */
  host: z
    .string({ error: "expected a host name or address" })
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, { error: (i) => `${quote(i.input)} is not a host name or address` }),
  user: z
    .string({ error: "expected a user name" })
    .regex(/^[a-z_][a-z0-9_.-]*$/, { error: (i) => `${quote(i.input)} is not a user name` }),
  port: intFrom(1, 65535).default(22),
  /** SSH private key (PEM); always handled as a secret and never echoed. Without it, ssh uses the
   * operator's agent and ~/.ssh/config. */
  privateKey: z
    .string({ error: "expected an SSH private key" })
    .refine((s) => s === SECRET_PLACEHOLDER || /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(s), {
      error: "is not a PEM private key (-----BEGIN ... PRIVATE KEY-----)",
    })
    .optional(),
  /** The jump host's public host key, the `ssh-ed25519 AAAA...` line of `ssh-keyscan HOST` without the
   * host name: pinned, a host that shows another key is refused. */
  hostKey: z
    .string({ error: "expected a host key line such as \"ssh-ed25519 AAAA...\"" })
    .transform((s, ctx) => {
      const key = parseHostKey(s);
      if (!key) {
        ctx.addIssue({
          code: "custom",
          message: `${quote(s.length > 40 ? `${s.slice(0, 40)}...` : s)} is not a host key (expected "<type> <base64>", e.g. the ssh-ed25519 line of ssh-keyscan)`,
        });
        return z.NEVER;
      }
      return key;
    })
    .optional(),
});

const SECTIONS = {
  maas: maasSchema,
  juju: jujuSchema,
  host: hostSchema,
  devices: z
    .array(deviceSchema, { error: "expected a list of devices" })
    .min(1, { error: "list at least one device (see `npm run import-lspci`)" }),
  /** Several kinds of GPU host in one site, in place of maas's tag, host and devices. */
  hostGroups: z
    .array(groupSchema, { error: "expected a list of host groups" })
    .min(1, { error: "list at least one host group" })
    .superRefine(unique("group name", (g) => g.name), ALWAYS),
  openstack: openstackSchema,
  flavors: z.array(flavorSchema, { error: "expected a list of flavors" }).superRefine(unique("flavor name", (f) => f.name), ALWAYS).default([]),
  smokeTest: smokeTestSchema.optional(),
  runner: runnerSchema.optional(),
  /** Any new value re-runs every maas/juju step's idempotent update in place (drift repair). */
  resync: z
    .union([z.string(), z.number()], { error: "expected a string or number, e.g. the date" })
    .transform(String)
    .refine((s) => /^[A-Za-z0-9_.:+-]{1,64}$/.test(s), { error: (i) => `${quote(i.input)} is not a resync token (letters, digits, _ . : + -; at most 64)` })
    .optional(),
} as const;

type Sections = typeof SECTIONS;
type SectionName = keyof Sections;
/** Always required; host and devices are too, unless the site has hostGroups. */
const REQUIRED: readonly SectionName[] = ["maas", "juju", "openstack"];

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

export type ParseResult =
  | { ok: true; config: SiteConfig; warnings: ConfigProblem[] }
  | { ok: false; problems: ConfigProblem[]; warnings: ConfigProblem[] };

/** Levenshtein distance, for "did you mean" on unknown keys. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

function suggestion(key: string, known: readonly string[]): string {
  const best = known
    .map((k) => ({ k, d: k.toLowerCase() === key.toLowerCase() ? 0 : distance(k, key) }))
    .sort((x, y) => x.d - y.d)[0];
  return best !== undefined && best.d <= 2 ? ` (did you mean "${best.k}"?)` : "";
}

/** Known keys of the strict object at `path` in the section schema, for suggestions. */
function knownKeysAt(schema: z.ZodType, path: readonly PathPart[]): string[] {
  let s: z.ZodType | undefined = schema;
  for (const part of [...path, null]) {
    // Unwrap defaults, optionals, pipes and effects until an object or array.
    for (let guard = 0; s && guard < 10; guard++) {
      const def: { type: string; innerType?: z.ZodType; in?: z.ZodType; element?: z.ZodType; schema?: z.ZodType } =
        (s as unknown as { def: never }).def;
      if (def.type === "default" || def.type === "optional" || def.type === "prefault") s = def.innerType;
      else if (def.type === "pipe") s = def.in;
      else break;
    }
    if (!s) return [];
    if (part === null) break;
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(part)];
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else return [];
  }
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function problemsFrom(section: SectionName, schema: z.ZodType, error: z.ZodError): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of error.issues) {
    const base = [section, ...(issue.path as PathPart[])];
    if (issue.code === "unrecognized_keys") {
      const known = knownKeysAt(schema, issue.path as PathPart[]);
      for (const key of issue.keys) {
        out.push({ path: formatPath([...base, key]), message: `unknown key${suggestion(key, known)}` });
      }
    } else if (issue.code === "invalid_key") {
      // A record key that failed its own rule: say why, at the key's path.
      out.push({ path: formatPath(base), message: issue.issues[0]?.message ?? issue.message });
    } else if ((issue.code === "invalid_type" || issue.code === "invalid_value") && issue.input === undefined) {
      out.push({ path: formatPath(base), message: "is required" });
    } else {
      out.push({ path: formatPath(base), message: issue.message });
    }
  }
  return out;
}

/** The sections as parsed, before the groups are made. */
interface Parsed {
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

const TAG_KEYS = Object.keys(tagShape);

/** Parses the `pci-passthrough:*` keys (namespace stripped) into a SiteConfig, reporting every problem. */
export function parseSiteConfig(raw: Readonly<Record<string, unknown>>): ParseResult {
  const problems: ConfigProblem[] = [];
  const known = Object.keys(SECTIONS);
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) problems.push({ path: formatPath([key]), message: `unknown key${suggestion(key, known)}` });
  }
  // A site is written either with host groups or with one top-level tag, host and devices.
  const grouped = raw.hostGroups !== undefined;
  const parsed: Partial<Record<SectionName, unknown>> = {};
  for (const section of Object.keys(SECTIONS) as SectionName[]) {
    let value = raw[section];
    if (!grouped && section === "hostGroups") continue;
    if (grouped && (section === "host" || section === "devices")) {
      if (value !== undefined) problems.push({ path: formatPath([section]), message: `not with hostGroups: each group has its own (hostGroups[].${section})` });
      continue;
    }
    let schema: z.ZodType = SECTIONS[section];
    if (grouped && section === "maas") {
      schema = maasAccessSchema;
      if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        const m = value as Record<string, unknown>;
        for (const k of TAG_KEYS.filter((k) => k in m)) {
          problems.push({ path: formatPath(["maas", k]), message: `not with hostGroups: each group has its own tag (hostGroups[].maas.${k})` });
        }
        value = Object.fromEntries(Object.entries(m).filter(([k]) => !TAG_KEYS.includes(k)));
      }
    }
    if (value === undefined && (REQUIRED.includes(section) || (!grouped && (section === "host" || section === "devices")))) {
      problems.push({ path: formatPath([section]), message: "is required" });
      continue;
    }
    const result = schema.safeParse(value, { reportInput: true });
    if (result.success) parsed[section] = result.data;
    else problems.push(...problemsFrom(section, schema, result.error));
  }
  const p = parsed as Parsed;
  const groups = groupsOf(p, grouped, raw);
  problems.push(...crossFieldProblems(p, groups));
  const nova = novaReleaseRules(p, groups);
  problems.push(...nova.errors);
  if (problems.length > 0 || groups.parsed === undefined || !p.maas || !p.juju || !p.openstack) {
    return { ok: false, problems, warnings: nova.warnings };
  }
  const { maas, juju, openstack, flavors, smokeTest, runner, resync } = p;
  const access: MaasAccess = { profile: maas.profile, ...(maas.url !== undefined ? { url: maas.url, apiKey: maas.apiKey } : {}) };
  const config: SiteConfig = {
    maas: access,
    groups: groups.parsed,
    juju,
    openstack,
    flavors: flavors ?? [],
    ...(smokeTest ? { smokeTest } : {}),
    ...(runner ? { runner } : {}),
    ...(resync !== undefined ? { resync } : {}),
  };
  return { ok: true, config, warnings: nova.warnings };
}

/** A group's devices that parsed, with their places in its list (when one device is invalid, the others are
 * still checked against each other), and where the group's keys are. */
interface GroupView {
  readonly base: PathPart[];
  readonly name?: string;
  readonly devices: ReadonlyArray<readonly [number, DeviceConfig]>;
  /** Alias names written in the raw devices, when every one of them is readable. */
  readonly rawAliases?: ReadonlySet<string>;
  readonly group?: HostGroup;
}

/** The groups of a site: one unnamed group from the top-level maas tag, host and devices, or hostGroups.
 * `parsed` is set only when every group parsed; `views` carry what parsed of each, for the rules. */
function groupsOf(p: Parsed, grouped: boolean, raw: Readonly<Record<string, unknown>>): { parsed?: HostGroup[]; views: GroupView[] } {
  const devicesThatParsed = (rawDevices: unknown, parsedDevices: DeviceConfig[] | undefined): Array<[number, DeviceConfig]> =>
    parsedDevices
      ? parsedDevices.map((d, i) => [i, d])
      : Array.isArray(rawDevices)
        ? rawDevices.flatMap((r: unknown, i): Array<[number, DeviceConfig]> => {
            const x = deviceSchema.safeParse(r);
            return x.success ? [[i, x.data]] : [];
          })
        : [];
  if (!grouped) {
    const group: HostGroup | undefined =
      p.maas?.tag !== undefined && p.host && p.devices
        ? {
            maas: {
              tag: p.maas.tag,
              comment: p.maas.comment!,
              deleteAdoptedTag: p.maas.deleteAdoptedTag!,
              ...(p.maas.machines !== undefined ? { machines: p.maas.machines } : {}),
              ...(p.maas.definition !== undefined ? { definition: p.maas.definition } : {}),
              ...(p.maas.selectByDevice !== undefined ? { selectByDevice: p.maas.selectByDevice } : {}),
              ...(p.maas.pool !== undefined ? { pool: p.maas.pool } : {}),
              ...(p.maas.zone !== undefined ? { zone: p.maas.zone } : {}),
            },
            application: CHARM_APPS.compute,
            addToBundle: false,
            units: 0,
            host: p.host,
            devices: p.devices,
          }
        : undefined;
    const view: GroupView = { base: [], devices: devicesThatParsed(raw.devices, p.devices), rawAliases: rawAliases(raw.devices), ...(group ? { group } : {}) };
    return { ...(group ? { parsed: [group] } : {}), views: [view] };
  }
  const rawGroups = Array.isArray(raw.hostGroups) ? (raw.hostGroups as unknown[]) : [];
  const parsed = p.hostGroups?.map(
    (g): HostGroup => ({
      name: g.name,
      maas: { ...g.maas, tag: g.maas.tag ?? `pci-pass-${g.name}` },
      application: g.application,
      addToBundle: addsToBundle(g),
      units: g.units ?? 0,
      host: g.host,
      devices: g.devices,
    }),
  );
  const views = rawGroups.map((r, i): GroupView => {
    const rawDevices = (r as { devices?: unknown } | null)?.devices;
    const group = parsed?.[i];
    const name = (r as { name?: unknown } | null)?.name;
    return {
      base: ["hostGroups", i],
      ...(typeof name === "string" ? { name } : {}),
      devices: devicesThatParsed(rawDevices, group?.devices),
      rawAliases: rawAliases(rawDevices),
      ...(group ? { group } : {}),
    };
  });
  return { ...(parsed ? { parsed } : {}), views };
}

/** Like parseSiteConfig, but throws a ConfigError listing every problem. */
export function requireSiteConfig(raw: Readonly<Record<string, unknown>>): SiteConfig {
  const r = parseSiteConfig(raw);
  if (!r.ok) throw new ConfigError(r.problems);
  return r.config;
}

/** The alias names written in raw devices, for checks that can run even when a device is invalid. */
function rawAliases(raw: unknown): Set<string> | undefined {
  if (!Array.isArray(raw) || raw.length === 0) return undefined;
  const aliases = raw.map((d: unknown) => (d as { alias?: unknown } | null)?.alias);
  // A device without a readable alias could be the one a flavor means: then nothing can be said.
  if (!aliases.every((a): a is string => typeof a === "string" && deviceSchema.shape.alias.safeParse(a).success)) return undefined;
  return new Set(aliases);
}

/** The vendor:product ids an alias means in a list of devices. */
const aliasIds = (devices: readonly DeviceConfig[], alias: string): string[] =>
  [...new Set(devices.filter((d) => d.alias === alias).map(deviceId))].sort();

/** What a group's hosts offer per alias, as "gpu:2, nic:1". */
const offer = (devices: readonly DeviceConfig[]) =>
  [...devicesPerHost(devices)].map(([a, n]) => `${a}:${n}`).join(", ");

/** Rules across keys; each runs on what parsed: device rules on every device that parsed (per group), rules
 * across groups when every group parsed, a flavor's alias against the raw device aliases when some device has
 * other problems, device counts only when all parsed. */
function crossFieldProblems(c: Parsed, groups: { parsed?: HostGroup[]; views: GroupView[] }): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (path: PathPart[], message: string) => problems.push({ path: formatPath(path), message });

  // Within a group: an address once, entries sharing an alias agree, a companion is not the device itself.
  for (const view of groups.views) {
    const at = (i: number, ...rest: PathPart[]) => [...view.base, "devices", i, ...rest];
    const seen = new Map<string, string>();
    for (const [i, d] of view.devices) {
      d.addresses.forEach((a, j) => {
        const first = seen.get(a);
        if (first !== undefined) add(at(i, "addresses", j), `address ${a} is already listed at ${first}`);
        else seen.set(a, formatPath(at(i, "addresses", j)));
      });
    }
    const byAlias = new Map<string, { index: number; device: DeviceConfig }>();
    for (const [i, d] of view.devices) {
      const first = byAlias.get(d.alias);
      if (!first) {
        byAlias.set(d.alias, { index: i, device: d });
        continue;
      }
      for (const key of ["deviceType", "numaPolicy"] as const) {
        if (d[key] !== first.device[key]) {
          add(
            at(i, key),
            `alias "${d.alias}" has ${key} ${quote(d[key] ?? "unset")} here but ${quote(first.device[key] ?? "unset")} at devices[${first.index}]; entries sharing an alias must agree`,
          );
        }
      }
    }
    for (const [i, d] of view.devices) {
      d.companions.forEach((id, j) => {
        if (id === deviceId(d)) add(at(i, "companions", j), `${id} is the device itself, not a companion`);
      });
    }
  }

  // Across groups: what cannot work in one model and one MAAS.
  const all = groups.parsed;
  if (all && all.length > 1) {
    const firstOf = new Map<string, string>();
    const once = (key: string, path: PathPart[], what: string) => {
      const first = firstOf.get(key);
      if (first !== undefined) add(path, `${what} is also ${first}'s: every group needs its own`);
      else firstOf.set(key, formatPath(path.slice(0, 2)));
    };
    all.forEach((g, i) => {
      once(`tag ${g.maas.tag}`, ["hostGroups", i, "maas", "tag"], `tag ${quote(g.maas.tag)}`);
      once(`app ${g.application}`, ["hostGroups", i, "application"], `application ${quote(g.application)}`);
      (g.maas.machines ?? []).forEach((m, j) => once(`machine ${m}`, ["hostGroups", i, "maas", "machines", j], `machine ${quote(m)}`));
    });
    // Charm options are per application: every unit of the group's application gets its whitelist, whatever
    // machine it runs on, and Nova attaches a whitelisted device with libvirt managed="yes", taking it from the
    // host's driver when a guest starts; the group's tag and the prepare script never reach Nova. In a site with
    // host groups the bundle's own nova-compute is the application of the compute hosts of no group (each kind of
    // GPU host has its own, `npm run import-lspci`): a group on it hands whatever those hosts have at its
    // addresses to guests, unless the group's tag follows the devices (selectByDevice: a host with the device is
    // then a host of the group). An application the overlay adds runs on the group's tag only.
    all.forEach((g, i) => {
      if (g.application !== CHARM_APPS.compute || g.addToBundle || g.maas.selectByDevice) return;
      const d = g.devices[0]!;
      const selection = g.maas.machines !== undefined ? "maas.machines" : "maas.definition";
      add(
        ["hostGroups", i, "application"],
        `${CHARM_APPS.compute} is the bundle's own application, which with host groups runs the compute hosts of no group too: ` +
          `charm options are per application, so its pci-passthrough-whitelist reaches every one of them, and any with ${deviceId(d)} at ` +
          `${d.addresses[0]} would offer it to guests (Nova takes it from the host's driver when a guest starts); the group's ${selection} ` +
          `does not reach Nova. Give the group its own application (e.g. ${CHARM_APPS.compute}-${g.name}, which the bundle overlay ` +
          `adds with constraints tags=${g.maas.tag}), or select its hosts by device (maas.selectByDevice: true)`,
      );
    });
    // selectByDevice tags the machines that have a group's device: another group's device in it would put
    // a machine with both in two groups.
    all.forEach((g, i) => {
      if (!g.maas.selectByDevice) return;
      g.devices.forEach((d, j) => {
        const id = deviceId(d);
        const other = all.find((h, k) => k !== i && h.devices.some((e) => deviceId(e) === id));
        if (other) add(["hostGroups", i, "devices", j], `${id} is also a device of group ${quote(other.name)}: selectByDevice would put its hosts in both groups`);
      });
    });
    // pci-alias is one list for the whole cloud: an alias name must mean the same devices everywhere.
    const meaning = new Map<string, { ids: string; group: HostGroup; device: DeviceConfig }>();
    all.forEach((g, i) =>
      g.devices.forEach((d, j) => {
        const ids = aliasIds(g.devices, d.alias).join(" ");
        const first = meaning.get(d.alias);
        if (!first) meaning.set(d.alias, { ids, group: g, device: d });
        else if (first.group !== g) {
          if (first.ids !== ids) {
            add(["hostGroups", i, "devices", j, "alias"], `alias "${d.alias}" means ${ids} here but ${first.ids} in group ${quote(first.group.name)}: one alias, one meaning across the cloud`);
          } else {
            for (const key of ["deviceType", "numaPolicy"] as const) {
              if (d[key] !== first.device[key]) {
                add(["hostGroups", i, "devices", j, key], `alias "${d.alias}" has ${key} ${quote(d[key] ?? "unset")} here but ${quote(first.device[key] ?? "unset")} in group ${quote(first.group.name)}; entries sharing an alias must agree`);
              }
            }
          }
        }
      }),
    );
  }

  // Nova tells aliases apart by what they match, never by address: PciDeviceStats keeps a host's devices in
  // pools keyed by vendor, product, NUMA node and dev_type and gives a request any device of a pool its alias
  // spec matches (nova/pci/stats.py _filter_pools_for_spec; a spec without dev_type never takes a PF,
  // _filter_pools_for_unrequested_pfs). Two aliases that match the same devices are one pool: a flavor asking
  // for one may be given the other's devices, and config's count per alias (flavorGroups) would be wrong
  // (test/nova-conformance.test.ts shows Nova giving gpu:2 to a host listing one "gpu" and one "gpu2").
  const located = groups.views.flatMap((v) => v.devices.map(([i, d]) => ({ path: [...v.base, "devices", i] as PathPart[], device: d })));
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

  // Flavors: every alias defined somewhere, and one group whose hosts have every device the flavor asks for.
  const known = all
    ? new Set(all.flatMap((g) => g.devices.map((d) => d.alias)))
    : groups.views.every((v) => v.rawAliases)
      ? new Set(groups.views.flatMap((v) => [...v.rawAliases!]))
      : undefined;
  if (c.flavors && known && known.size > 0) {
    const single = all?.length === 1 || (!all && groups.views.length === 1);
    c.flavors.forEach((f, i) => {
      const asked = Object.entries(f.pci);
      const perHost = all && single ? devicesPerHost(all[0]!.devices) : undefined;
      for (const [alias, count] of asked) {
        const have = perHost?.get(alias);
        if (!known.has(alias)) {
          add(["flavors", i, "pci", alias], `alias "${alias}" is not defined in ${single ? "devices" : "any host group"} (known: ${[...known].join(", ")})`);
        } else if (have !== undefined && count > have) {
          add(["flavors", i, "pci", alias], `asks for ${count} "${alias}" devices but a GPU host has ${have}`);
        }
      }
      if (all && !single && asked.every(([alias]) => known.has(alias)) && flavorGroups(all, f).length === 0) {
        add(
          ["flavors", i, "pci"],
          `no host group has ${asked.map(([a, n]) => `${a}:${n}`).join(", ")} on one host (${all.map((g) => `${g.name} has ${offer(g.devices)}`).join("; ")})`,
        );
      }
    });
  }

  if (c.openstack) {
    const rel = c.openstack.release;
    if (c.openstack.consoleAccessProtocol === "xvpvnc" && !supportsXvpvnc(rel)) {
      add(["openstack", "consoleAccessProtocol"], `xvpvnc was removed in ussuri and does not work on ${rel}; use spice or novnc`);
    }
    const base = c.openstack.base;
    const bases = ubuntuBases(rel);
    if (base !== undefined && !bases.some((u) => `ubuntu@${u.version}` === base)) {
      add(["openstack", "base"], `OpenStack ${rel} does not run on ${ubuntuName(findUbuntu(base)!)}: use ${bases.map(ubuntuName).join(" or ")}`);
    }
    const filters = c.openstack.schedulerFilters;
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
    c.openstack.computeRelations?.forEach((r, i) => {
      if (!endpoints.includes(r.endpoint)) {
        add(["openstack", "computeRelations", i], `the ${COMPUTE_CHARM} charm of ${rel} has no endpoint "${r.endpoint}" (it arrived in a later release's charm)`);
      }
    });
  }
  return problems;
}

/**
 * Per-release rules (render/extra-specs.ts, render/compute-charm.ts), on what parsed: a release whose charm track
 * has no stable channel is warned about; a flavor's extra specs that the release does not know are refused (or
 * warned about where a point release decides), and an un-namespaced one while AggregateInstanceExtraSpecsFilter
 * runs is refused (no host in no aggregate would take the flavor); an alias NUMA policy the release lacks is
 * refused; a PCI NUMA policy needs NUMATopologyFilter (the default list gains it, an explicit list without
 * it is refused) and a guest NUMA topology (a flavor that carries a policy without giving one is warned
 * about: Nova would ignore the policy).
 */
function novaReleaseRules(c: Parsed, groups: { views: GroupView[] }): { errors: ConfigProblem[]; warnings: ConfigProblem[] } {
  const errors: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  const rel = c.openstack?.release;
  if (rel === undefined) return { errors, warnings };
  const located = groups.views.flatMap((v) => v.devices.map(([i, d]) => ({ path: [...v.base, "devices", i] as PathPart[], device: d })));
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
