// The MAAS documents of a set of machines, saved in a directory (`--from DIR`) or read live (maas-cli.ts), into
// one hardware model per machine (domain/maas-hardware.ts). Shared by import-maas and check-maas: both ways of
// reading end here, so the same data gives the same answer.
//
// DIR holds what an operator saved with the read-only maas CLI calls (docs/importing.md):
//   machines.json                   maas PROFILE machines read [pool=X] [zone=Y]
//   SYSTEM_ID.json                  the machine-resources document of the machine's current commissioning:
//                                   what `node-script-result download SYSTEM_ID current-commissioning
//                                   filters=50-maas-01-commissioning output=stdout` prints, or the answer of
//                                   `node-script-result read ... include_output=true` (base64 inside)
//   SYSTEM_ID.node-devices.json     maas PROFILE node-devices read SYSTEM_ID (optional: MAAS 3.0+)
//   tags.json                       maas PROFILE tags read (check-maas: the tags' kernel_opts)
//   kernel_opts.json                maas PROFILE maas get-config name=kernel_opts (check-maas, optional)
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { machineHardware, type MachineHardware } from "../../domain/maas-hardware";
import {
  parseMachineResources,
  parseMachines,
  parseNodeDevices,
  resourcesFromScriptResults,
  type MaasMachine,
  type NodeDevice,
  type Parsed,
} from "../../domain/maas-api";

/** The documents of the machines, as JSON values (already parsed from text). */
export interface MaasDocuments {
  readonly machines: unknown;
  /** Per system ID: its machine-resources document (or a `node-script-result read` answer holding it). */
  readonly resources: ReadonlyMap<string, unknown>;
  /** Per system ID: its node devices (absent: not read, as for `[]`). */
  readonly nodeDevices: ReadonlyMap<string, unknown>;
  /** Where each came from, for messages (`DIR/SYSTEM_ID.json`); defaults to the system ID. */
  readonly sources?: ReadonlyMap<string, string>;
  /** Per system ID: files of the machine that could not be read (not JSON). */
  readonly fileProblems?: ReadonlyMap<string, readonly string[]>;
  /** `tags read`, when read. */
  readonly tags?: unknown;
  /** `maas get-config name=kernel_opts`, when read: a JSON string, or null when unset. */
  readonly kernelOpts?: unknown;
}

/** A machine whose documents could not be made into a model, with every reason. */
export interface UnreadableMachine {
  readonly systemId: string;
  readonly hostname: string;
  readonly problems: readonly string[];
}

/** A `node-script-result read` answer rather than the document itself: a script set with results. */
const isScriptSet = (json: unknown): boolean =>
  typeof json === "object" && json !== null && !Array.isArray(json) && Array.isArray((json as { results?: unknown }).results) && !("resources" in json);

/** A machine MAAS has never commissioned (`status_name` New) has no commissioning data at all. */
export const neverCommissioned = (m: { status_name?: string | undefined }): boolean => m.status_name === "New";

/**
 * Every machine's hardware, and the machines whose documents are missing or malformed, each with its problems
 * (naming its source and key path). Only `machines` failing to parse is fatal: `ok: false`.
 */
export function machinesFromDocuments(
  docs: MaasDocuments,
  machinesSource = "machines.json",
): Parsed<{ machines: MachineHardware[]; unreadable: UnreadableMachine[] }> {
  const parsed = parseMachines(docs.machines, machinesSource);
  if (!parsed.ok) return parsed;
  const unreadable: UnreadableMachine[] = [];
  const out: MachineHardware[] = [];
  for (const m of parsed.value) {
    const source = (suffix: string) => docs.sources?.get(`${m.system_id}${suffix}`) ?? `${m.system_id}${suffix}`;
    const problems: string[] = [...(docs.fileProblems?.get(m.system_id) ?? [])];
    let raw = docs.resources.get(m.system_id);
    if (problems.length > 0) {
      // A file that is not JSON: said as it is.
    } else if (raw === undefined) {
      problems.push(
        neverCommissioned(m)
          ? `${m.hostname} (${m.system_id}) was never commissioned (status New): MAAS has no hardware data for it`
          : `${source(".json")}: missing: the machine-resources document of ${m.hostname} (${m.system_id})`,
      );
    } else if (isScriptSet(raw)) {
      const inner = resourcesFromScriptResults(raw, source(".json"));
      if (inner.ok) raw = inner.value;
      else problems.push(...inner.problems);
    }
    const res = problems.length === 0 ? parseMachineResources(raw, source(".json")) : undefined;
    const devRaw = docs.nodeDevices.get(m.system_id);
    const devs: Parsed<NodeDevice[]> = devRaw === undefined ? { ok: true, value: [] } : parseNodeDevices(devRaw, source(".node-devices.json"));
    if (res !== undefined && !res.ok) problems.push(...res.problems);
    if (!devs.ok) problems.push(...devs.problems);
    if (res?.ok && devs.ok) out.push(machineHardware(m as MaasMachine, res.value, devs.value));
    else unreadable.push({ systemId: m.system_id, hostname: m.hostname, problems });
  }
  return { ok: true, value: { machines: out, unreadable } };
}

/** Every machine's hardware, or every problem of every document (each naming its source and key path). */
export function hardwareFromDocuments(docs: MaasDocuments, machinesSource = "machines.json"): Parsed<MachineHardware[]> {
  const r = machinesFromDocuments(docs, machinesSource);
  if (!r.ok) return r;
  const problems = r.value.unreadable.flatMap((u) => u.problems);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: r.value.machines };
}

// ---------------------------------------------------------------------------------------------------
// Which machines: the filters of `machines read`, applied the same way to a saved machines.json

/** `machines read` filters (canonical/maas src/maasserver/node_constraint_filter_forms.py FilterNodeForm:
 * `pool` and `zone` match any of the values given, `tags` all of them, `id` any). */
export interface MachineFilter {
  readonly pool?: string;
  readonly zone?: string;
  readonly tag?: string;
  readonly ids?: readonly string[];
}

/** The `name=value` arguments of `machines read` for a filter. */
export function machinesReadArgs(f: MachineFilter): string[] {
  return [
    ...(f.pool !== undefined ? [`pool=${f.pool}`] : []),
    ...(f.zone !== undefined ? [`zone=${f.zone}`] : []),
    ...(f.tag !== undefined ? [`tags=${f.tag}`] : []),
    ...(f.ids ?? []).map((id) => `id=${id}`),
  ];
}

/** A saved machines.json narrowed as `machines read` with the filter would answer (anything that is not a list
 * of machines is left for the parser to report). */
export function filterMachines(machines: unknown, f: MachineFilter): unknown {
  if (!Array.isArray(machines)) return machines;
  const nameOf = (x: unknown) => (typeof x === "object" && x !== null ? (x as { name?: unknown }).name : undefined);
  return machines.filter((m: Record<string, unknown>) => {
    if (typeof m !== "object" || m === null) return true;
    if (f.pool !== undefined && nameOf(m.pool) !== f.pool) return false;
    if (f.zone !== undefined && nameOf(m.zone) !== f.zone) return false;
    if (f.tag !== undefined && !(Array.isArray(m.tag_names) && m.tag_names.includes(f.tag))) return false;
    return f.ids === undefined || f.ids.length === 0 || f.ids.includes(m.system_id as string);
  });
}

/** Several `machines read` answers as one list, each machine once (the first answer's copy), in order. A
 * single answer that is not a list is given back as it is, for the parser to report. */
export function unionOfMachines(answers: readonly unknown[]): unknown {
  if (answers.length === 1) return answers[0];
  const seen = new Set<string>();
  const out: unknown[] = [];
  for (const a of answers) {
    if (!Array.isArray(a)) return a;
    for (const m of a) {
      const id = systemIdsOf([m])[0];
      if (id !== undefined && seen.has(id)) continue;
      if (id !== undefined) seen.add(id);
      out.push(m);
    }
  }
  return out;
}

/** The system IDs of a machines answer that parsed far enough to have them. */
export const systemIdsOf = (machines: unknown): string[] =>
  Array.isArray(machines)
    ? machines.flatMap((m: unknown) => (typeof m === "object" && m !== null && typeof (m as { system_id?: unknown }).system_id === "string" ? [(m as { system_id: string }).system_id] : []))
    : [];

// ---------------------------------------------------------------------------------------------------
// Tags and the global kernel options (check-maas)

// maasserver/api/tags.py TagHandler.fields: name, definition, comment, kernel_opts (null on old tags).
const tagsSchema = z.array(z.object({ name: z.string(), kernel_opts: z.string().nullable().optional().transform((k) => k ?? ""), definition: z.string().nullable().optional() }));

export type MaasTag = z.output<typeof tagsSchema>[number];

/** What `tags read` prints. */
export function parseTags(json: unknown, source: string): Parsed<MaasTag[]> {
  const r = tagsSchema.safeParse(json);
  return r.success ? { ok: true, value: r.data } : { ok: false, problems: r.error.issues.map((i) => `${source}: ${i.path.join(".")}${i.path.length > 0 ? ": " : ""}${i.message}`) };
}

/** What `maas get-config name=kernel_opts` prints: `null` when unset (src/maasserver/api/maas.py get_config
 * answers json.dumps of the value; the config's default is None). */
export function parseKernelOpts(json: unknown, source: string): Parsed<string> {
  if (json === null || json === undefined) return { ok: true, value: "" };
  return typeof json === "string" ? { ok: true, value: json } : { ok: false, problems: [`${source}: expected a JSON string or null`] };
}

// ---------------------------------------------------------------------------------------------------
// --from DIR

function readJson(path: string, problems: string[]): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as unknown;
  } catch (e) {
    problems.push(`${path}: ${(e as Error).message}`);
    return undefined;
  }
}

/** Reads `--from DIR` (see the top of this file); a machine's unreadable file is that machine's problem. */
export function readDocumentsDir(dir: string, filters: readonly MachineFilter[] = [{}]): Parsed<MaasDocuments> {
  const problems: string[] = [];
  const all = readJson(join(dir, "machines.json"), problems);
  if (problems.length > 0) return { ok: false, problems };
  const machines = unionOfMachines(filters.map((f) => filterMachines(all, f)));
  const resources = new Map<string, unknown>();
  const nodeDevices = new Map<string, unknown>();
  const sources = new Map<string, string>();
  const fileProblems = new Map<string, string[]>();
  for (const id of systemIdsOf(machines)) {
    const res = join(dir, `${id}.json`);
    const nd = join(dir, `${id}.node-devices.json`);
    sources.set(`${id}.json`, res);
    sources.set(`${id}.node-devices.json`, nd);
    const own: string[] = [];
    if (existsSync(res)) {
      const before = own.length;
      resources.set(id, readJson(res, own));
      // The usual mistake: several files of `download` in one (their headers are not JSON).
      if (own.length > before) own.push(`${res}: expected the machine-resources document alone (node-script-result download ... filters=50-maas-01-commissioning output=stdout)`);
    }
    if (existsSync(nd)) nodeDevices.set(id, readJson(nd, own));
    if (own.length > 0) fileProblems.set(id, own);
  }
  const optional = (name: string) => (existsSync(join(dir, name)) ? readJson(join(dir, name), problems) : undefined);
  const tags = optional("tags.json");
  const kernelOpts = optional("kernel_opts.json");
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value: { machines, resources, nodeDevices, sources, fileProblems, ...(tags !== undefined ? { tags } : {}), ...(kernelOpts !== undefined ? { kernelOpts } : {}) } };
}
