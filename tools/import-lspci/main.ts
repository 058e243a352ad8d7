// `npm run import-lspci -- [--class CC]... [--id VVVV:PPPP]... [--pool P] [--zone Z] [--write STACK [--stack-file F]] [FILE... | -]`: prints the `devices` and
// `host.blacklistDrivers` of a site configuration from `lspci -nn` / `-nnk` / `-nnkvvv` output (stdin when
// FILE is absent or `-`). Several FILEs are several hosts' captures: when they are of several kinds, it
// prints `hostGroups`, one group per kind. Exit 2 on bad options, an unreadable file, or when no device matched.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DEFAULT_SELECTION, describeSelection, importLspci, parseClassOption, parseIdOption, type Selection } from "./import";
import { importHosts, type HostCapture } from "./hosts";
import { renderProposal, renderSnippet, type SelectionScope } from "./proposal";
import { MAAS_OBJECT_NAME } from "../../domain/maas";
import { stackFilePath, writeProposal } from "../lib/stack-merge";

const USAGE = `usage: npm run import-lspci -- [--class CC]... [--id VVVV:PPPP]... [--pool P] [--zone Z] [--write STACK] [FILE... | -]
  Reads \`lspci -nn\`, \`-nnk\` or \`-nnkvvv\` output (from FILE, or stdin when FILE is absent or -) and
  prints pci-passthrough:devices and pci-passthrough:host.blacklistDrivers as YAML for Pulumi.<stack>.yaml.
  Several FILEs are several hosts' captures, one each: hosts of several kinds get pci-passthrough:hostGroups,
  one group per kind (the same selected functions at the same addresses and the same IOMMU vendor).
  --class CC     select a PCI class by prefix, 2 or 4 hex digits (03 = display controllers, 0200 = Ethernet);
                 repeatable; default 03
  --id VVVV:PPPP select a vendor:product id, e.g. 10de:1bb0; repeatable
  --pool P, --zone Z
                 with host groups: the MAAS resource pool and/or zone of this cloud's machines, to which
                 each group's selectByDevice is scoped (the config refuses it unscoped)
  --write STACK  merge the snippet into Pulumi.STACK.yaml (or --stack-file FILE), keeping what is there
  Run on a GPU host: sudo lspci -nnkvvv > lspci.txt   (-k adds the kernel modules to blacklist; -vvv, as
  root, the SR-IOV capability, for which it proposes deviceType: type-PF)
`;

function fail(message: string, usage = true): never {
  process.stderr.write(`import-lspci: ${message}\n${usage ? USAGE : ""}`);
  process.exit(2);
}

const lines = (n: number): string => (n === 1 ? "1 line that was" : `${n} lines that were`);

function options(argv: string[]): { files: Array<string | undefined>; selection: Selection; scope: SelectionScope; write?: string } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        class: { type: "string", multiple: true },
        id: { type: "string", multiple: true },
        pool: { type: "string" },
        zone: { type: "string" },
        write: { type: "string" },
        "stack-file": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    fail((e as Error).message);
  }
  if (parsed.values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (parsed.positionals.filter((p) => p === "-").length > 1) fail("- (stdin) can be given once: it is one host's capture");
  const classes = (parsed.values.class ?? []).map(
    (c) => parseClassOption(c) ?? fail(`--class ${JSON.stringify(c)} is not a PCI class (2 or 4 hex digits, e.g. 03 or 0300)`),
  );
  const ids = (parsed.values.id ?? []).map(
    (i) => parseIdOption(i) ?? fail(`--id ${JSON.stringify(i)} is not a vendor:product id (VVVV:PPPP, e.g. 10de:1bb0)`),
  );
  const files = parsed.positionals.length === 0 ? [undefined] : parsed.positionals.map((f) => (f === "-" ? undefined : f));
  const scope: SelectionScope = {};
  for (const k of ["pool", "zone"] as const) {
    const v = parsed.values[k];
    if (v === undefined) continue;
    if (!MAAS_OBJECT_NAME.test(v)) fail(`--${k} ${JSON.stringify(v)} is not a MAAS ${k === "pool" ? "resource pool" : "zone"} name`);
    Object.assign(scope, { [k]: v });
  }
  if (parsed.values["stack-file"] !== undefined && parsed.values.write === undefined) fail("--stack-file goes with --write STACK");
  const write = parsed.values.write !== undefined ? stackFilePath(parsed.values.write, parsed.values["stack-file"]) : undefined;
  return { files, selection: classes.length + ids.length === 0 ? DEFAULT_SELECTION : { classes, ids }, scope, ...(write !== undefined ? { write } : {}) };
}

function read(file: string | undefined): HostCapture {
  try {
    return { source: file ?? "stdin", text: readFileSync(file ?? 0, "utf8") };
  } catch (e) {
    fail(`cannot read ${file ?? "stdin"}: ${(e as Error).message}`);
  }
}

const notLspci = (n: number): string => `${lines(n)} not \`lspci -nn\` output`;

/** One host: the snippet of its devices and host settings. */
function oneHost({ source, text }: HostCapture, selection: Selection): string {
  const result = importLspci(text, selection);
  if (result.devices.length === 0) {
    const hint = result.skippedLines > 0 ? `; ${notLspci(result.skippedLines)} (the [vvvv:pppp] ids are needed)` : "";
    for (const w of result.warnings) process.stderr.write(`import-lspci: warning: ${w}\n`);
    fail(`no PCI function matched ${describeSelection(selection)} in ${source}${hint}`, false);
  }
  // The warnings travel with the snippet as comments; stderr only says that they are there.
  if (result.warnings.length > 0) {
    process.stderr.write(`import-lspci: ${result.warnings.length} warning(s), see the comments at the top of the output\n`);
  }
  if (result.skippedLines > 0) process.stderr.write(`import-lspci: skipped ${notLspci(result.skippedLines)}\n`);
  return renderSnippet(result, source);
}

/** Several hosts: one snippet for all, host groups when they are of several kinds. */
function severalHosts(captures: HostCapture[], selection: Selection, scope: SelectionScope): string {
  const site = importHosts(captures, selection);
  for (const s of site.skipped) if (s.lines > 0) process.stderr.write(`import-lspci: ${s.source}: skipped ${notLspci(s.lines)}\n`);
  if (site.kinds.length === 0) {
    for (const w of site.warnings) process.stderr.write(`import-lspci: warning: ${w}\n`);
    fail(`no PCI function matched ${describeSelection(selection)} in any of the ${captures.length} hosts`, false);
  }
  const warnings = site.warnings.length + site.kinds.reduce((n, k) => n + k.warnings.length, 0);
  if (warnings > 0) process.stderr.write(`import-lspci: ${warnings} warning(s), see the comments in the output\n`);
  const used = site.kinds.reduce((n, k) => n + k.sources.length, 0);
  if (site.kinds.length === 1) {
    process.stderr.write(`import-lspci: ${used} of ${captures.length} hosts agreed: one kind of host, no host groups needed\n`);
  } else {
    const kinds = site.kinds.map((k) => `${k.name} (${k.sources.length})`).join(", ");
    process.stderr.write(`import-lspci: ${used} of ${captures.length} hosts, ${site.kinds.length} kinds of host: ${kinds}\n`);
    for (const k of site.kinds.filter((x) => x.sharedIds.length > 0)) {
      process.stderr.write(`import-lspci: group ${k.name}: list its machines (see the comment under its maas)\n`);
    }
  }
  return renderProposal(site, scope);
}

function main(): void {
  const { files, selection, scope, write } = options(process.argv.slice(2));
  // Every file is read before any is imported: an unreadable one fails the run, naming it.
  const captures = files.map(read);
  const text = captures.length === 1 ? oneHost(captures[0]!, selection) : severalHosts(captures, selection, scope);
  if (write === undefined) process.stdout.write(text);
  else if (!writeProposal("import-lspci", write, text)) process.exit(2);
}

main();
