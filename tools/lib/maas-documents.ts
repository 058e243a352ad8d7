// The MAAS documents of a set of machines, saved in a directory (`--from DIR`) or read live, into one
// hardware model per machine (domain/maas-hardware.ts). Shared by import-maas and check-maas.
//
// DIR holds what an operator saved with the read-only maas CLI calls (tools/import-maas/DESIGN.md):
//   machines.json                   maas PROFILE machines read [pool=X] [zone=Y]
//   SYSTEM_ID.json                  the machine-resources document of the machine's current commissioning
//                                   (50-maas-01-commissioning's output, decoded)
//   SYSTEM_ID.node-devices.json     maas PROFILE node-devices read SYSTEM_ID (optional: MAAS 3.0+)
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { machineHardware, type MachineHardware } from "../../domain/maas-hardware";
import {
  parseMachineResources,
  parseMachines,
  parseNodeDevices,
  type MaasMachine,
  type NodeDevice,
  type Parsed,
} from "../../domain/maas-api";

/** The documents of the machines, as JSON values (already parsed from text). */
export interface MaasDocuments {
  readonly machines: unknown;
  /** Per system ID: its machine-resources document; a machine without one is reported, not guessed. */
  readonly resources: ReadonlyMap<string, unknown>;
  /** Per system ID: its node devices (absent: not read, as for `[]`). */
  readonly nodeDevices: ReadonlyMap<string, unknown>;
  /** Where each came from, for messages (`DIR/SYSTEM_ID.json`); defaults to the system ID. */
  readonly sources?: ReadonlyMap<string, string>;
}

/** Every machine's hardware, or every problem of every document (each naming its source and key path). */
export function hardwareFromDocuments(docs: MaasDocuments, machinesSource = "machines.json"): Parsed<MachineHardware[]> {
  const machines = parseMachines(docs.machines, machinesSource);
  if (!machines.ok) return machines;
  const problems: string[] = [];
  const out: MachineHardware[] = [];
  for (const m of machines.value) {
    const source = (suffix: string) => docs.sources?.get(`${m.system_id}${suffix}`) ?? `${m.system_id}${suffix}`;
    const raw = docs.resources.get(m.system_id);
    if (raw === undefined) {
      problems.push(`${source(".json")}: missing: the machine-resources document of ${m.hostname} (${m.system_id})`);
      continue;
    }
    const res = parseMachineResources(raw, source(".json"));
    const devRaw = docs.nodeDevices.get(m.system_id);
    const devs: Parsed<NodeDevice[]> = devRaw === undefined ? { ok: true, value: [] } : parseNodeDevices(devRaw, source(".node-devices.json"));
    if (!res.ok) problems.push(...res.problems);
    if (!devs.ok) problems.push(...devs.problems);
    if (res.ok && devs.ok) out.push(machineHardware(m as MaasMachine, res.value, devs.value));
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: out };
}

function readJson(path: string, problems: string[]): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as unknown;
  } catch (e) {
    problems.push(`${path}: ${(e as Error).message}`);
    return undefined;
  }
}

/** Reads `--from DIR` (see the top of this file). */
export function readDocumentsDir(dir: string): Parsed<MaasDocuments> {
  const problems: string[] = [];
  const machines = readJson(join(dir, "machines.json"), problems);
  if (problems.length > 0) return { ok: false, problems };
  const ids = Array.isArray(machines)
    ? machines.flatMap((m: unknown) => (typeof m === "object" && m !== null && typeof (m as { system_id?: unknown }).system_id === "string" ? [(m as { system_id: string }).system_id] : []))
    : [];
  const resources = new Map<string, unknown>();
  const nodeDevices = new Map<string, unknown>();
  const sources = new Map<string, string>();
  for (const id of ids) {
    const res = join(dir, `${id}.json`);
    const nd = join(dir, `${id}.node-devices.json`);
    sources.set(`${id}.json`, res);
    sources.set(`${id}.node-devices.json`, nd);
    if (existsSync(res)) resources.set(id, readJson(res, problems));
    if (existsSync(nd)) nodeDevices.set(id, readJson(nd, problems));
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: { machines, resources, nodeDevices, sources } };
}
