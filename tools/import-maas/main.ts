// `npm run import-maas -- --profile P [--pool X] [--zone Y] [--tag T | SYSTEM_ID...] [--id V:P]... [--from DIR]
// [--write STACK [--stack-file FILE]]`: proposes the site config (host groups, devices, companions, selection,
// blacklist) from what MAAS recorded when it commissioned the machines, read with the maas CLI (read-only
// calls, tools/lib/maas-cli.ts) or from the files of `--from DIR` (tools/lib/maas-documents.ts). Prints the
// YAML, or merges it into Pulumi.STACK.yaml with --write. Exit 0 with a proposal, 1 when no device could be
// proposed, 2 on a usage error or unusable files, 3 when MAAS could not be read (as `npm run verify`).
import { existsSync } from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { MAAS_OBJECT_NAME, MAAS_PROFILE_NAME, MAAS_SYSTEM_ID, MAAS_TAG_NAME } from "../../domain/maas";
import { readLive } from "../lib/maas-cli";
import { machinesFromDocuments, readDocumentsDir, systemIdsOf, type MachineFilter, type MaasDocuments } from "../lib/maas-documents";
import { stackFilePath, writeProposal } from "../lib/stack-merge";
import { proposeSite } from "./propose";
import { groupSummary, renderMaasProposal } from "./render";

const USAGE = `usage: npm run import-maas -- --profile P [--pool X] [--zone Y] [--tag T | SYSTEM_ID...] [--id VVVV:PPPP]...
                              [--from DIR] [--write STACK [--stack-file FILE]]
  Reads what MAAS recorded when it commissioned the machines (node devices and the machine-resources
  document, read-only) and prints the site config to paste: one host group per kind of host, each device with
  its deviceType, companions, addresses and NUMA nodes, the group's selection and driver blacklist.
  --profile P      the maas CLI profile (logged in); with --from, only written into the proposal
  --pool X, --zone Y, --tag T, SYSTEM_ID...
                   which machines (maas P machines read pool=X zone=Y tags=T id=SYSTEM_ID); a selection by
                   device is scoped to the pool and zone
  --id VVVV:PPPP   propose this vendor:product too (display controllers always are); repeatable
  --from DIR       read DIR/machines.json and DIR/SYSTEM_ID.json (+ SYSTEM_ID.node-devices.json) instead of MAAS
  --write STACK    merge the proposal into Pulumi.STACK.yaml (or --stack-file FILE), keeping what is there
`;

function usage(message: string): never {
  process.stderr.write(`import-maas: ${message}\n${USAGE}`);
  process.exit(2);
}

function stop(code: number, lines: readonly string[]): never {
  for (const l of lines) process.stderr.write(`import-maas: ${l}\n`);
  process.exit(code);
}

interface Options {
  readonly profile?: string;
  readonly filter: MachineFilter;
  readonly ids: string[];
  readonly from?: string;
  readonly write?: { stack: string; file: string };
}

const text = { type: "string" } as const;
const OPTIONS = { profile: text, pool: text, zone: text, tag: text, id: { type: "string", multiple: true }, from: text, write: text, "stack-file": text, help: { type: "boolean", short: "h" } } as const;

function options(argv: string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (e) {
    usage((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (v.profile === undefined && v.from === undefined) usage("--profile is required (the maas CLI profile to read with), or --from DIR");
  if (v.profile !== undefined && !MAAS_PROFILE_NAME.test(v.profile)) usage(`--profile ${JSON.stringify(v.profile)} is not a maas CLI profile name`);
  for (const k of ["pool", "zone"] as const) {
    const x = v[k];
    if (x !== undefined && !MAAS_OBJECT_NAME.test(x)) usage(`--${k} ${JSON.stringify(x)} is not a MAAS ${k === "pool" ? "resource pool" : "zone"} name`);
  }
  if (v.tag !== undefined && !MAAS_TAG_NAME.test(v.tag)) usage(`--tag ${JSON.stringify(v.tag)} is not a MAAS tag name`);
  if (v.tag !== undefined && parsed.positionals.length > 0) usage("give --tag T or SYSTEM_IDs, not both");
  for (const id of parsed.positionals) if (!MAAS_SYSTEM_ID.test(id)) usage(`${JSON.stringify(id)} is not a MAAS system ID (lowercase letters and digits)`);
  const ids = (v.id ?? []).map((i) =>
    /^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$/.test(i) ? i.toLowerCase() : usage(`--id ${JSON.stringify(i)} is not a vendor:product id (VVVV:PPPP, e.g. 8086:1592)`),
  );
  if (v["stack-file"] !== undefined && v.write === undefined) usage("--stack-file goes with --write STACK");
  if (v.write !== undefined && !/^[A-Za-z0-9_.-]+$/.test(v.write)) usage(`--write ${JSON.stringify(v.write)} is not a stack name`);
  return {
    ...(v.profile !== undefined ? { profile: v.profile } : {}),
    filter: {
      ...(v.pool !== undefined ? { pool: v.pool } : {}),
      ...(v.zone !== undefined ? { zone: v.zone } : {}),
      ...(v.tag !== undefined ? { tag: v.tag } : {}),
      ...(parsed.positionals.length > 0 ? { ids: parsed.positionals } : {}),
    },
    ids,
    ...(v.from !== undefined ? { from: v.from } : {}),
    ...(v.write !== undefined ? { write: { stack: v.write, file: stackFilePath(v.write, v["stack-file"]) } } : {}),
  };
}

/** The documents, live or from DIR; a MAAS that does not answer stops the run (exit 3). */
function documents(o: Options): { docs: MaasDocuments; machinesSource: string } {
  if (o.from !== undefined) {
    if (!existsSync(path.join(o.from, "machines.json"))) stop(2, [`${path.join(o.from, "machines.json")}: no such file (save it with: maas PROFILE machines read > machines.json)`]);
    const r = readDocumentsDir(o.from, [o.filter]);
    if (!r.ok) stop(2, r.problems);
    return { docs: r.value, machinesSource: path.join(o.from, "machines.json") };
  }
  const r = readLive(o.profile!, [o.filter]);
  if (!r.ok) stop(3, [`MAAS could not be read: ${r.call}: ${r.said}`, "nothing proposed"]);
  return { docs: r.docs, machinesSource: `maas ${o.profile} machines read` };
}

function main(): void {
  const o = options(process.argv.slice(2));
  const { docs, machinesSource } = documents(o);
  const asked = o.filter.ids ?? [];
  const unknown = asked.filter((id) => !systemIdsOf(docs.machines).includes(id));
  if (unknown.length > 0) stop(2, [`MAAS has no machine ${unknown.join(", ")} (${machinesSource})`]);
  const read = machinesFromDocuments(docs, machinesSource);
  if (!read.ok) stop(2, read.problems);
  const { machines, unreadable } = read.value;
  for (const u of unreadable) for (const p of u.problems) process.stderr.write(`import-maas: not read: ${u.hostname} (${u.systemId}): ${p}\n`);
  if (machines.length === 0) stop(unreadable.length > 0 ? 2 : 1, [`no machine to propose from (${machinesSource}${o.filter.pool || o.filter.zone || o.filter.tag ? ", with the filters given" : ""})`]);

  const named = [...(o.filter.ids !== undefined && o.filter.ids.length > 0 ? ["the machines named"] : []), ...(o.filter.tag !== undefined ? [`the machines tagged ${o.filter.tag}`] : [])];
  const proposal = proposeSite(machines, { ids: o.ids, ...(named.length > 0 ? { partialRead: named.join(" and ") } : {}), scope: { ...(o.filter.pool !== undefined ? { pool: o.filter.pool } : {}), ...(o.filter.zone !== undefined ? { zone: o.filter.zone } : {}) } });
  for (const r of proposal.refusals) for (const m of r.messages) process.stderr.write(`import-maas: refused: ${r.hostname} (${r.systemId}) ${r.address} ${r.id}: ${m}\n`);
  if (proposal.groups.length === 0) {
    stop(1, [...proposal.leftOut.map((l) => `left out: ${l.hostname} (${l.systemId}): ${l.reason}`), `no device to propose among ${machines.length} machine(s)`]);
  }
  const text = renderMaasProposal(proposal, {
    ...(o.profile !== undefined ? { profile: o.profile } : {}),
    machines: machines.length + unreadable.length,
    unreadable: unreadable.map((u) => `${u.hostname} (${u.systemId}): ${u.problems.join("; ")}`),
  });
  process.stderr.write(`import-maas: ${proposal.groups.length === 1 ? "1 kind of host" : `${proposal.groups.length} kinds of host`}: ${groupSummary(proposal)}\n`);
  if (o.write === undefined) {
    process.stdout.write(text);
    return;
  }
  if (!writeProposal("import-maas", o.write.file, text)) process.exit(2);
}

main();
