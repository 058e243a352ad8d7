// What the stack tools (verify, import-flavors) share: the stack's file, by name or --stack-file, and its
// config, validated; a broken config is reported with its key paths (the tool then exits 2, reading nothing).
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { formatProblems } from "../../config/problems";
import { parseSiteConfig } from "../../config/parse";
import type { SiteConfig } from "../../config/types";
import { fromStackFile, type StackFile } from "../../config/stack";

const ROOT = path.resolve(__dirname, "..", "..");

/** The positional stack name and `--stack-file` of a tool's arguments; `usage` reports a misuse and exits. */
export function loadStack(positionals: readonly string[], stackFile: string | undefined, usage: (message: string) => never): { stack: string; file: StackFile; site?: SiteConfig } {
  if (positionals.length !== 1) usage("give exactly one stack name");
  const stack = positionals[0]!;
  const name = path.resolve(stackFile ?? path.join(ROOT, `Pulumi.${stack}.yaml`));
  if (!existsSync(name)) usage(`no stack file ${name}`);
  const file = fromStackFile(readFileSync(name, "utf8"));
  const config = parseSiteConfig(file.raw);
  if (!config.ok) {
    process.stderr.write(`${formatProblems(config.problems)}\n${config.problems.length} problem(s) in ${path.basename(name)}; nothing read\n`);
    return { stack, file };
  }
  return { stack, file, site: config.config };
}
