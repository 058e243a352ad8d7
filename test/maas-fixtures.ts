// The MAAS fixtures of test/fixtures/maas read as import-maas and check-maas read a `--from DIR`, with an
// optional edit of the documents first (a tag added, a device moved) so that each test states its change.
import { join } from "node:path";
import { hardwareFromDocuments, readDocumentsDir, type MaasDocuments } from "../tools/lib/maas-documents";
import type { MachineHardware } from "../domain/maas-hardware";

export const MAAS_FIXTURES = join(__dirname, "fixtures", "maas");

/** A deep copy of the fixture documents. */
export function fixtureDocuments(): { machines: any[]; resources: Map<string, any>; nodeDevices: Map<string, any> } {
  const read = readDocumentsDir(MAAS_FIXTURES);
  if (!read.ok) throw new Error(read.problems.join("\n"));
  const copy = <T>(x: T): T => structuredClone(x);
  return {
    machines: copy(read.value.machines) as any[],
    resources: new Map([...read.value.resources].map(([k, v]) => [k, copy(v)])),
    nodeDevices: new Map([...read.value.nodeDevices].map(([k, v]) => [k, copy(v)])),
  };
}

/** The hardware of every fixture machine (or of those `only` names), after `edit` changed the documents. */
export function fixtureHardware(edit?: (docs: ReturnType<typeof fixtureDocuments>) => void, only?: readonly string[]): MachineHardware[] {
  const docs = fixtureDocuments();
  edit?.(docs);
  if (only) docs.machines = docs.machines.filter((m) => only.includes(m.system_id));
  const r = hardwareFromDocuments(docs as MaasDocuments);
  if (!r.ok) throw new Error(r.problems.join("\n"));
  return r.value;
}

export const machineNamed = (ms: readonly MachineHardware[], hostname: string): MachineHardware => {
  const m = ms.find((x) => x.hostname === hostname);
  if (!m) throw new Error(`no fixture machine ${hostname}`);
  return m;
};
