// `npm run import-lspci -- [--class CC]... [--id VVVV:PPPP]... [FILE | -]`: prints the `devices` and
// `host.blacklistDrivers` of a site configuration from `lspci -nn` / `-nnk` / `-nnkvvv` output (stdin when
// FILE is absent or `-`). Exit 2 on bad options, an unreadable file, or when no device matched.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DEFAULT_SELECTION, importLspci, parseClassOption, parseIdOption, renderSnippet, type Selection } from "../components/lspci";

const USAGE = `usage: npm run import-lspci -- [--class CC]... [--id VVVV:PPPP]... [FILE | -]
  Reads \`lspci -nn\`, \`-nnk\` or \`-nnkvvv\` output (from FILE, or stdin when FILE is absent or -) and
  prints pci-passthrough:devices and pci-passthrough:host.blacklistDrivers as YAML for Pulumi.<stack>.yaml.
  --class CC     select a PCI class by prefix, 2 or 4 hex digits (03 = display controllers, 0200 = Ethernet);
                 repeatable; default 03
  --id VVVV:PPPP select a vendor:product id, e.g. 10de:1bb0; repeatable
  Run on a GPU host: sudo lspci -nnkvvv > lspci.txt   (-k adds the kernel modules to blacklist; -vvv, as
  root, the SR-IOV capability, for which it proposes deviceType: type-PF)
`;

function fail(message: string, usage = true): never {
  process.stderr.write(`import-lspci: ${message}\n${usage ? USAGE : ""}`);
  process.exit(2);
}

const lines = (n: number): string => (n === 1 ? "1 line that was" : `${n} lines that were`);

function options(argv: string[]): { file: string | undefined; selection: Selection } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        class: { type: "string", multiple: true },
        id: { type: "string", multiple: true },
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
  if (parsed.positionals.length > 1) fail(`expected at most one FILE, got ${parsed.positionals.length}: ${parsed.positionals.join(" ")}`);
  const classes = (parsed.values.class ?? []).map(
    (c) => parseClassOption(c) ?? fail(`--class ${JSON.stringify(c)} is not a PCI class (2 or 4 hex digits, e.g. 03 or 0300)`),
  );
  const ids = (parsed.values.id ?? []).map(
    (i) => parseIdOption(i) ?? fail(`--id ${JSON.stringify(i)} is not a vendor:product id (VVVV:PPPP, e.g. 10de:1bb0)`),
  );
  const file = parsed.positionals[0];
  return {
    file: file === "-" ? undefined : file,
    selection: classes.length + ids.length === 0 ? DEFAULT_SELECTION : { classes, ids },
  };
}

function main(): void {
  const { file, selection } = options(process.argv.slice(2));
  let text: string;
  try {
    text = readFileSync(file ?? 0, "utf8");
  } catch (e) {
    fail(`cannot read ${file ?? "stdin"}: ${(e as Error).message}`);
  }
  const source = file ?? "stdin";
  const result = importLspci(text, selection);
  if (result.devices.length === 0) {
    const wanted = [...selection.classes.map((c) => `class ${c}`), ...selection.ids.map((i) => `id ${i}`)].join(", ");
    const hint = result.skippedLines > 0 ? `; ${lines(result.skippedLines)} not \`lspci -nn\` output (the [vvvv:pppp] ids are needed)` : "";
    for (const w of result.warnings) process.stderr.write(`import-lspci: warning: ${w}\n`);
    fail(`no PCI function matched ${wanted} in ${source}${hint}`, false);
  }
  // The warnings travel with the snippet as comments; stderr only says that they are there.
  if (result.warnings.length > 0) {
    process.stderr.write(`import-lspci: ${result.warnings.length} warning(s), see the comments at the top of the output\n`);
  }
  if (result.skippedLines > 0) process.stderr.write(`import-lspci: skipped ${lines(result.skippedLines)} not \`lspci -nn\` output\n`);
  process.stdout.write(renderSnippet(result, source));
}

main();
