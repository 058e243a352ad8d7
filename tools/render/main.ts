// `npm run render -- <stack> [--out DIR]`: what a stack will do, without credentials, a Pulumi CLI or a
// backend. Runs the real program (index.ts) under Pulumi's mocks, prints the resource tree like a preview
// and writes the artifacts to out/<stack>/. Invalid config: exit 2, one `<key path>: <message>` line
// each on stderr, nothing written. Config warnings: one `warning: <key path>: <message>` line each on stderr. Secure stack values are never decrypted: they show as [secret].
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parseSiteConfig } from "../../config/parse";
import { formatProblems, formatWarnings } from "../../config/problems";
import type { SiteConfig } from "../../config/types";
import { fromStackFile } from "../../config/stack";
import { renderSite, type GroupArtifacts } from "../../render/site";
import { renderRunbook } from "../../render/runbook";
import { renderHostFilesText } from "../../render/host/userdata";
import { runProgram, runtimeConfig, type RecordedResource } from "../lib/mock-program";

const ROOT = path.resolve(__dirname, "..", "..");

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: npm run render -- <stack> [--out DIR] [--stack-file FILE]\n`);
  process.exit(2);
}

/** The resource tree, one line a resource, like `pulumi preview`. */
export function resourceTree(resources: readonly RecordedResource[], stackName: string): string {
  const children = new Map<string, RecordedResource[]>();
  for (const r of resources) children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
  const rows: [string, string, string][] = [["pulumi:pulumi:Stack", stackName, ""]];
  const walk = (parent: string, prefix: string) => {
    const kids = children.get(parent) ?? [];
    kids.forEach((r, i) => {
      const last = i === kids.length - 1;
      rows.push([`${prefix}${last ? "└─ " : "├─ "}${r.type}`, r.name, r.dependsOn.join(", ")]);
      walk(r.name, prefix + (last ? "   " : "│  "));
    });
  };
  walk(stackName, "");
  const w0 = Math.max(4, ...rows.map((r) => [...r[0]].length));
  const w1 = Math.max(4, ...rows.map((r) => r[1].length));
  const pad = (s: string, w: number) => s + " ".repeat(w - [...s].length);
  const header: [string, string, string] = ["Type", "Name", "Depends on"];
  return [header, ...rows].map(([t, n, d]) => `${pad(t, w0)}  ${pad(n, w1)}  ${d}`.trimEnd()).join("\n") + "\n";
}

/** The dependency graph as a Mermaid flowchart: solid arrows for dependsOn, dotted for parent/child. */
export function mermaidGraph(resources: readonly RecordedResource[]): string {
  const id = new Map(resources.map((r, i) => [r.name, `r${i}`]));
  const lines = ["flowchart TD"];
  for (const r of resources) {
    const label = `${r.name}<br/><small>${r.type}</small>`.replace(/"/g, "#quot;");
    lines.push(r.custom ? `  ${id.get(r.name)}["${label}"]` : `  ${id.get(r.name)}(["${label}"])`);
  }
  for (const r of resources) {
    const pid = id.get(r.parent);
    if (pid) lines.push(`  ${pid} -.-> ${id.get(r.name)}`);
    for (const d of r.dependsOn) if (id.has(d)) lines.push(`  ${id.get(d)} --> ${id.get(r.name)}`);
  }
  return lines.join("\n") + "\n";
}

const json = (v: unknown) => JSON.stringify(v, null, 2) + "\n";

/** The files `render` writes to out/<stack>/. */
export const ARTIFACTS = [
  "resources.json",
  "model-config.yaml",
  "charm-config.yaml",
  "bundle-overlay.yaml",
  "flavors.json",
  "maas-tag.json",
  "commands.sh",
  "host-files.txt",
  "host-probe.sh",
  "graph.mmd",
] as const;

/** A tag as `maas PROFILE tag read` shows it, with the machines the stack tags (when it lists them) and the
 * MAAS resource pool and zone its machines must be in (a selection by device chooses only there). */
function maasTag(g: GroupArtifacts) {
  const m = g.group.maas;
  return {
    name: m.tag,
    comment: m.comment,
    kernel_opts: g.kernelOptions,
    definition: m.definition ?? "",
    machines: m.machines ?? [],
    ...(m.selectByDevice ? { selectByDevice: true } : {}),
    ...(m.pool !== undefined ? { pool: m.pool } : {}),
    ...(m.zone !== undefined ? { zone: m.zone } : {}),
  };
}

/** The files of out/<stack>/, by name. */
export function artifactFiles(site: SiteConfig, stack: string, resources: RecordedResource[]): Record<(typeof ARTIFACTS)[number], string> {
  const a = renderSite(site);
  return {
    "resources.json": json(resources),
    "model-config.yaml": a.modelConfigYaml,
    "charm-config.yaml": a.charmConfigYaml,
    "bundle-overlay.yaml": a.bundleOverlay,
    "flavors.json": json(a.flavors),
    // The tag of a site with one kind of host; one per group, by group name, with host groups.
    "maas-tag.json": json(a.groups[0]!.group.name === undefined ? maasTag(a.groups[0]!) : Object.fromEntries(a.groups.map((g) => [g.group.name, maasTag(g)]))),
    "commands.sh": renderRunbook(site, a, stack),
    "host-files.txt": renderHostFilesText(site.groups),
    // Run by `npm run verify -- STACK --hosts` through Juju, or by hand on a host: sudo sh host-probe.sh > HOST.txt.
    "host-probe.sh": a.probe,
    "graph.mmd": mermaidGraph(resources),
  };
}

async function main(argv: string[]): Promise<void> {
  // tsx turns source maps on; every stack @pulumi/pulumi captures (runtime/debuggable.js) would then be
  // mapped. Render errors are reported by message, so nothing is lost.
  process.setSourceMapsEnabled(false);
  const valueOf = (flag: string) => {
    const i = argv.indexOf(flag);
    return i < 0 ? undefined : (argv[i + 1] ?? usage(`${flag} needs a value`));
  };
  const positional = argv.filter((a, i) => !a.startsWith("--") && !["--out", "--stack-file"].includes(argv[i - 1] ?? ""));
  if (positional.length !== 1) usage("give exactly one stack name");
  const stack = positional[0]!;
  if (!/^[A-Za-z0-9_.-]+$/.test(stack)) usage(`"${stack}" is not a stack name`);
  const stackFile = path.resolve(valueOf("--stack-file") ?? path.join(ROOT, `Pulumi.${stack}.yaml`));
  if (!existsSync(stackFile)) usage(`no stack file ${path.relative(process.cwd(), stackFile) || stackFile}`);
  const out = valueOf("--out");
  const outDir = out !== undefined ? path.resolve(out) : path.join(ROOT, "out", stack);

  const file = fromStackFile(readFileSync(stackFile, "utf8"));
  const parsed = parseSiteConfig(file.raw);
  // Warnings never fail the render; they go first, so they stay in view above any errors.
  if (parsed.warnings.length > 0) process.stderr.write(formatWarnings(parsed.warnings) + "\n");
  if (!parsed.ok) {
    process.stderr.write(formatProblems(parsed.problems) + "\n");
    process.stderr.write(`${parsed.problems.length} problem(s) in ${path.basename(stackFile)}; nothing rendered\n`);
    process.exit(2);
  }
  const { config, secretKeys } = runtimeConfig(file);
  const run = await runProgram({ config, secretKeys, stack });
  if (run.error) throw run.error;
  const files = artifactFiles(parsed.config, stack, run.resources);

  // Write everything to a sibling temp dir first: a failure leaves no half-written out/<stack>/.
  const tmp = `${outDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(tmp, name), content, { mode: name.endsWith(".sh") ? 0o755 : 0o644 });
  rmSync(outDir, { recursive: true, force: true });
  renameSync(tmp, outDir);

  process.stdout.write(`Previewing stack ${stack} offline (Pulumi mocks: nothing is created)\n\n`);
  process.stdout.write(resourceTree(run.resources, `pci-passthrough-${stack}`));
  for (const log of run.logs) process.stdout.write(`\n${log}`);
  process.stdout.write(`\n\nResources: ${run.resources.length}\nWrote ${Object.keys(files).length} files to ${path.relative(process.cwd(), outDir) || "."}/: ${Object.keys(files).join(", ")}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`render failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
