// `npm run preview-all [-- --offline] [--out DIR] [--dir PROJECT]`: what every site of this repository (or of
// the project directory PROJECT) would do, one Pulumi.<stack>.yaml at a time. With a working `pulumi` CLI it
// runs `pulumi preview` for each stack through the Automation API (LocalWorkspace on that directory); without one, or with --offline, it
// renders each stack offline with Pulumi's mocks (tools/render/main.ts) and says so on its first line.
// Every stack is attempted; the exit code is 1 when any of them failed, after a summary of all.
import { spawn, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");
const RENDER = path.join(ROOT, "tools", "render", "main.ts");

/** The stacks of a project directory: every Pulumi.<stack>.yaml (the project file Pulumi.yaml is not one), sorted. */
export function listStacks(dir: string = ROOT): string[] {
  return readdirSync(dir)
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();
}

export type PulumiCli = { found: true; version: string } | { found: false; reason: string };

/**
 * Whether a usable `pulumi` CLI is on the PATH of `env`: `pulumi version` must run and exit 0 (the
 * Automation API starts with the same call, so a CLI that fails it could not preview either).
 */
export function detectPulumiCli(env: NodeJS.ProcessEnv = process.env): PulumiCli {
  const r = spawnSync("pulumi", ["version"], {
    env: { ...env, PULUMI_SKIP_UPDATE_CHECK: "true" },
    encoding: "utf8",
    timeout: 60_000,
  });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    return { found: false, reason: code === "ENOENT" ? "pulumi CLI not found" : `pulumi version failed: ${r.error.message}` };
  }
  if (r.status !== 0) {
    const why = firstLine(r.stderr) || firstLine(r.stdout) || (r.signal ? `signal ${r.signal}` : "no output");
    return { found: false, reason: `pulumi version failed (exit ${r.status ?? r.signal}): ${why}` };
  }
  return { found: true, version: r.stdout.trim() };
}

export interface StackResult {
  stack: string;
  ok: boolean;
  /** One line for the summary table. */
  summary: string;
}

function firstLine(text: string | undefined): string {
  const line = (text ?? "").split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "";
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

interface Spawned {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], cwd: string): Promise<Spawned> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (err) => resolve({ code: null, stdout, stderr: stderr + err.message }));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Renders each stack (`<stackDir>/Pulumi.<stack>.yaml`) with tools/render/main.ts into `<outRoot>/<stack>/`, a
 * process per stack (Pulumi's mocks are process-global), a few at a time; prints each stack's output in order.
 */
export async function renderOffline(
  stacks: readonly string[],
  outRoot: string,
  write: (s: string) => void,
  stackDir: string = ROOT,
): Promise<StackResult[]> {
  const outcomes: Spawned[] = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < stacks.length; i = next++) {
      const stack = stacks[i]!;
      const stackFile = path.join(stackDir, `Pulumi.${stack}.yaml`);
      // `--import tsx` resolves from cwd (ROOT): the same loader `npm run render` uses.
      outcomes[i] = await run(process.execPath, ["--import", "tsx", RENDER, stack, "--out", path.join(outRoot, stack), "--stack-file", stackFile], ROOT);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, availableParallelism(), stacks.length) }, worker));
  const results: StackResult[] = [];
  for (const [i, stack] of stacks.entries()) {
    const r = outcomes[i]!;
    write(`\n── ${stack} ──\n${r.stdout}${r.stderr}`);
    const abs = path.join(outRoot, stack);
    const rel = path.relative(process.cwd(), abs);
    const dir = rel.startsWith("..") || path.isAbsolute(rel) ? abs : rel;
    if (r.code === 0) {
      const resources = /^Resources: (\d+)$/m.exec(r.stdout)?.[1] ?? "?";
      const files = /^Wrote (\d+) files/m.exec(r.stdout)?.[1] ?? "?";
      results.push({ stack, ok: true, summary: `${resources} resources, ${files} files in ${dir}/` });
    } else {
      results.push({ stack, ok: false, summary: `render exit ${r.code ?? "?"}: ${firstLine(r.stderr) || firstLine(r.stdout)}` });
    }
  }
  return results;
}

/** `pulumi preview` of each stack through the Automation API, one after another, streaming the CLI's output. */
export async function previewWithCli(stacks: readonly string[], workDir: string, write: (s: string) => void): Promise<StackResult[]> {
  // Loaded here, not at the top: the offline path should not pay for the Automation API (and its gRPC stack).
  const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
  const results: StackResult[] = [];
  for (const name of stacks) {
    write(`\n── ${name} ──\n`);
    try {
      // selectStack, not createOrSelectStack: previewing must not create stacks in the user's backend.
      const stack = await LocalWorkspace.selectStack({ stackName: name, workDir });
      const preview = await stack.preview({ onOutput: write });
      const changes = Object.entries(preview.changeSummary)
        .filter(([, n]) => (n ?? 0) > 0)
        .map(([op, n]) => `${n} ${op}`)
        .join(", ");
      results.push({ stack: name, ok: true, summary: changes || "no resources" });
    } catch (err) {
      // A CommandError's message is "code: N\n stdout: ...\n stderr: ...\n err?: ..."; the stderr part says it all.
      const text = err instanceof Error ? err.message : String(err);
      const message = / stderr: ([\s\S]*?)\n err\?: /.exec(text)?.[1]?.trim() || text;
      write(`${message}\n`);
      // The CLI's own "error: ..." line says why (no such stack, not logged in, program error).
      const why = /^error: .*$/m.exec(message)?.[0] ?? message;
      results.push({ stack: name, ok: false, summary: `preview failed: ${firstLine(why)}` });
    }
  }
  return results;
}

/** The closing table: one line a stack, then the count. */
export function summarize(results: readonly StackResult[]): string {
  const w = Math.max(5, ...results.map((r) => r.stack.length));
  const lines = results.map((r) => `  ${r.stack.padEnd(w)}  ${r.ok ? "ok    " : "FAILED"}  ${r.summary}`);
  const failed = results.filter((r) => !r.ok).map((r) => r.stack);
  const tail = failed.length === 0 ? `${results.length} of ${results.length} stacks ok` : `${failed.length} of ${results.length} stacks failed: ${failed.join(", ")}`;
  return `\nSummary:\n${lines.join("\n")}\n${tail}\n`;
}

export interface Mode {
  /** Preview through the CLI (Automation API), or render offline. */
  cli: boolean;
  /** The first line of the output: which mode, and why. */
  line: string;
}

/** Which mode to run in; `detect` is only consulted without --offline. */
export function chooseMode(offline: boolean, detect: () => PulumiCli): Mode {
  if (offline) return { cli: false, line: "--offline given: rendering offline with Pulumi mocks" };
  const cli = detect();
  if (cli.found) return { cli: true, line: `pulumi CLI ${cli.version} found: previewing through the Automation API (LocalWorkspace)` };
  return { cli: false, line: `${cli.reason}: rendering offline with Pulumi mocks` };
}

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: npm run preview-all [-- --offline] [--out DIR] [--dir PROJECT]\n`);
  process.exit(2);
}

async function main(argv: string[]): Promise<number> {
  let offline = false;
  let outRoot = path.join(ROOT, "out");
  let dir = ROOT;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--offline") offline = true;
    else if (a === "--out") outRoot = path.resolve(argv[++i] ?? usage("--out needs a value"));
    else if (a === "--dir") dir = path.resolve(argv[++i] ?? usage("--dir needs a value"));
    else usage(`unknown argument ${a}`);
  }
  const stacks = listStacks(dir);
  if (stacks.length === 0) usage(`no Pulumi.<stack>.yaml in ${dir}`);
  const write = (s: string) => void process.stdout.write(s);

  const mode = chooseMode(offline, detectPulumiCli);
  write(`${mode.line}\nStacks: ${stacks.join(", ")}\n`);
  const results = mode.cli ? await previewWithCli(stacks, dir, write) : await renderOffline(stacks, outRoot, write, dir);
  write(summarize(results));
  return results.every((r) => r.ok) ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`preview-all failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
