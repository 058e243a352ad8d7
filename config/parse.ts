// The stack's `pci-passthrough:*` keys -> one plain, typed SiteConfig with defaults filled, or every problem at
// once with its key path: each section by its schema (config/sections/), then the rules across keys
// (config/rules/). No Pulumi import: the program, the offline render and the tests all come through here.
import type { z } from "zod";
import { CHARM_APPS } from "../domain/charms";
import { ConfigError, formatPath, type ConfigProblem, type PathPart } from "./problems";
import { aliasProblems } from "./rules/aliases";
import { deviceProblems } from "./rules/devices";
import { flavorProblems } from "./rules/flavors";
import { groupProblems } from "./rules/groups";
import { novaReleaseRules } from "./rules/nova-release";
import { openstackProblems } from "./rules/openstack";
import type { GroupView, Groups, ParsedSections } from "./rules/view";
import { deviceSchema, devicesSchema } from "./sections/devices";
import { flavorsSchema } from "./sections/flavors";
import { hostSchema } from "./sections/host";
import { addsToBundle, hostGroupsSchema } from "./sections/host-groups";
import { jujuSchema } from "./sections/juju";
import { TAG_KEYS, maasAccessSchema, maasSchema } from "./sections/maas";
import { openstackSchema } from "./sections/openstack";
import { resyncSchema } from "./sections/resync";
import { runnerSchema } from "./sections/runner";
import { smokeTestSchema } from "./sections/smoke-test";
import { knownKeysAt, suggestion } from "./suggest";
import type { DeviceConfig, HostGroup, MaasAccess, SiteConfig } from "./types";

/** The stack keys, in the order they are parsed and their problems are said. */
const SECTIONS = {
  maas: maasSchema,
  juju: jujuSchema,
  host: hostSchema,
  devices: devicesSchema,
  hostGroups: hostGroupsSchema,
  openstack: openstackSchema,
  flavors: flavorsSchema,
  smokeTest: smokeTestSchema.optional(),
  runner: runnerSchema.optional(),
  resync: resyncSchema.optional(),
} as const;

type Sections = typeof SECTIONS;
type SectionName = keyof Sections;
/** Always required; host and devices are too, unless the site has hostGroups. */
const REQUIRED: readonly SectionName[] = ["maas", "juju", "openstack"];

export type ParseResult =
  | { ok: true; config: SiteConfig; warnings: ConfigProblem[] }
  | { ok: false; problems: ConfigProblem[]; warnings: ConfigProblem[] };

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
  const p = parsed as ParsedSections;
  const groups = groupsOf(p, grouped, raw);
  // Rules across keys; each runs on what parsed: device rules on every device that parsed (per group), rules
  // across groups when every group parsed, a flavor's alias against the raw device aliases when some device has
  // other problems, device counts only when all parsed.
  problems.push(
    ...deviceProblems(groups.views),
    ...groupProblems(groups.parsed),
    ...aliasProblems(groups.views),
    ...flavorProblems(p.flavors, groups),
    ...openstackProblems(p.openstack),
  );
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
    // smokeTest.enabled: false keeps the keys checked, and renders nothing of the smoke test.
    ...(smokeTest?.enabled ? { smokeTest } : {}),
    ...(runner ? { runner } : {}),
    ...(resync !== undefined ? { resync } : {}),
  };
  return { ok: true, config, warnings: nova.warnings };
}

/** The groups of a site: one unnamed group from the top-level maas tag, host and devices, or hostGroups.
 * `parsed` is set only when every group parsed; `views` carry what parsed of each, for the rules. */
function groupsOf(p: ParsedSections, grouped: boolean, raw: Readonly<Record<string, unknown>>): Groups {
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
