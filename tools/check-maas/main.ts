// `npm run check-maas -- <stack> [--stack-file FILE] [--from DIR] [--json]`: holds a stack's host groups against
// what MAAS recorded about the machines their selections take (check.ts): the configured vendor:product at
// every configured address, companions, IOMMU group viability, the NUMA policy, the kernel options the
// machines boot with, one group per machine. Reads with the stack's maas profile (read-only calls,
// tools/lib/maas-cli.ts: tags read, maas get-config name=kernel_opts, machines read per selection, node-devices
// read and node-script-result read per machine) or from the files of --from DIR.
// Exit 0 in sync, 1 drift, 2 config error (or usage), 3 MAAS could not be read (as `npm run verify`).
import { existsSync } from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { readLive } from "../lib/maas-cli";
import { machinesFromDocuments, parseKernelOpts, parseTags, readDocumentsDir, type MaasDocuments } from "../lib/maas-documents";
import { loadStack } from "../lib/stack-file";
import { checkMaas, exitCode, report, type Finding } from "./check";
import { checkGroups, machineFilters } from "./groups";

const USAGE = "usage: npm run check-maas -- <stack> [--stack-file FILE] [--from DIR] [--json]\n";

function usage(message: string): never {
  process.stderr.write(`check-maas: ${message}\n${USAGE}`);
  process.exit(2);
}

function main(argv: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { "stack-file": { type: "string" }, from: { type: "string" }, json: { type: "boolean" } } });
  } catch (e) {
    usage((e as Error).message);
  }
  const from = parsed.values.from;
  if (from !== undefined && !existsSync(path.join(from, "machines.json"))) usage(`${path.join(from, "machines.json")}: no such file`);
  const { stack, site } = loadStack(parsed.positionals, parsed.values["stack-file"], usage);
  if (site === undefined) return 2;
  const groups = checkGroups(site);
  const out = (findings: Finding[], notes: string[] = []): number => {
    if (parsed.values.json) process.stdout.write(`${JSON.stringify({ stack, findings, notes, exitCode: exitCode(findings) }, null, 2)}\n`);
    else {
      process.stdout.write(`Checking stack ${stack} against MAAS (${from !== undefined ? `the files of ${from}` : `profile ${site.maas.profile}`}), read-only\n\n`);
      process.stdout.write(report(findings));
      for (const n of notes) process.stdout.write(`note: ${n}\n`);
      const summary = { 0: "in sync", 1: "drift: see above", 2: "the config is wrong: see above", 3: "could not read everything: nothing is known about what is marked UNREACHABLE" }[exitCode(findings)];
      process.stdout.write(`\n${findings.filter((f) => f.status === "in sync").length} of ${findings.length} in sync: ${summary}\n`);
    }
    return exitCode(findings);
  };

  // The tags first: which exist decides the machines read by tag; their kernel_opts the kernel checks.
  let docs: MaasDocuments;
  const notes: string[] = [];
  if (from !== undefined) {
    const all = readDocumentsDir(from, []);
    if (!all.ok) return out(all.problems.map((p) => ({ object: `the files of ${from}`, status: "config error", details: [p] })));
    const tags = all.value.tags !== undefined ? parseTags(all.value.tags, path.join(from, "tags.json")) : undefined;
    const names = tags?.ok ? tags.value.map((t) => t.name) : [];
    const r = readDocumentsDir(from, machineFilters(groups, names));
    if (!r.ok) return out(r.problems.map((p) => ({ object: `the files of ${from}`, status: "config error", details: [p] })));
    docs = r.value;
    if (all.value.tags === undefined) notes.push(`no ${path.join(from, "tags.json")} (maas PROFILE tags read): the kernel options the machines boot with are not checked`);
  } else {
    const tagsRead = readLive(site.maas.profile, [], { kernelOptions: true });
    if (!tagsRead.ok) return out([{ object: `MAAS (profile ${site.maas.profile})`, status: "unreachable", details: [`${tagsRead.call}: ${tagsRead.said}`] }]);
    const tags = parseTags(tagsRead.docs.tags, `maas ${site.maas.profile} tags read`);
    const r = readLive(site.maas.profile, machineFilters(groups, tags.ok ? tags.value.map((t) => t.name) : []));
    if (!r.ok) return out([{ object: `MAAS (profile ${site.maas.profile})`, status: "unreachable", details: [`${r.call}: ${r.said}`] }]);
    docs = { ...r.docs, tags: tagsRead.docs.tags, kernelOpts: tagsRead.docs.kernelOpts };
  }

  const where = from !== undefined ? from : `maas ${site.maas.profile}`;
  const tags = docs.tags !== undefined ? parseTags(docs.tags, from !== undefined ? path.join(from, "tags.json") : `${where} tags read`) : { ok: true as const, value: [] };
  const kernelOpts = docs.kernelOpts !== undefined ? parseKernelOpts(docs.kernelOpts, from !== undefined ? path.join(from, "kernel_opts.json") : `${where} maas get-config name=kernel_opts`) : { ok: true as const, value: "" };
  const read = machinesFromDocuments(docs, from !== undefined ? path.join(from, "machines.json") : `${where} machines read`);
  const problems = [...(tags.ok ? [] : tags.problems), ...(kernelOpts.ok ? [] : kernelOpts.problems), ...(read.ok ? [] : read.problems)];
  if (problems.length > 0 || !read.ok || !tags.ok || !kernelOpts.ok) {
    return out(problems.map((p) => ({ object: "MAAS's answer", status: "unreachable", details: [p] })));
  }
  const findings = checkMaas({
    groups,
    machines: read.value.machines,
    tags: tags.value,
    globalKernelOptions: kernelOpts.value,
    unreadable: read.value.unreadable.map((u) => ({ systemId: u.systemId, why: `${u.hostname}: ${u.problems.join("; ")}` })),
  });
  return out(findings, notes);
}

process.exit(main(process.argv.slice(2)));
