// What the command provider (pulumi-command 1.x, provider/pkg/provider/local) and the engine do with a
// step's resource, for the orders mocks cannot show: create runs `create`; update runs `update` with the
// previous output as PULUMI_COMMAND_STDOUT; delete runs the OLD inputs' `delete` with the old output; a
// change to a property the resource registered in replaceOnChanges (the command SDK registers `triggers[*]`)
// is a replacement, create-new-then-delete-old by default and the other way round with deleteBeforeReplace; a
// resource whose inputs change otherwise is updated in place. Every command runs as the provider runs it:
// `/bin/sh -c COMMAND` with the environment added to ours, stdin from the `stdin` input, stdout stored
// with its trailing newline trimmed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import type { ProgramRun } from "../tools/lib/mock-program";
import { ROOT } from "./helpers";
import type { SiteConfig } from "../config/types";
import { secretsStdin, type CommandSpec, type Phase } from "../render/steps/script";
import { stepInputs, type StepInputs } from "../render/steps/ssh";
import { secretsOf, type RunResult, type World } from "./fakes-world";

/** A command resource's inputs as the component builds them (stdin holds the secrets). */
export interface Resource {
  readonly inputs: StepInputs;
  readonly stdin: string;
}

/** What the engine keeps of a created resource. */
export interface Live {
  readonly resource: Resource;
  readonly stdout: string;
}

/** The resource a step becomes for a site (with its runner), as components/step-runner.ts builds it. */
export function resourceOf(site: SiteConfig, spec: CommandSpec, extraEnvironment: Record<string, string> = {}): Resource {
  const inputs = stepInputs(spec, site.runner, extraEnvironment);
  return {
    inputs,
    stdin: secretsStdin(secretsOf(site, inputs.secrets)),
  };
}

function runCommand(w: World, resource: Resource, phase: Phase, previous: string | undefined): RunResult {
  const command = phase === "delete" ? resource.inputs.delete : phase === "update" ? resource.inputs.update : resource.inputs.create;
  assert.ok(command, `the resource has a ${phase} command`);
  const env: Record<string, string> = { ...w.env, ...resource.inputs.environment };
  if (previous) env.PULUMI_COMMAND_STDOUT = previous;
  const r = spawnSync("/bin/sh", ["-c", command], { env, input: resource.stdin, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Fails with the command's output when it did not exit 0. */
function check(r: RunResult, what: string): RunResult {
  assert.equal(r.status, 0, `${what} exited ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

const trimmed = (stdout: string) => stdout.replace(/\n$/, "");

export function create(w: World, resource: Resource): Live {
  const r = check(runCommand(w, resource, "create", undefined), "create");
  return { resource, stdout: trimmed(r.stdout) };
}

export function update(w: World, live: Live, resource: Resource): Live {
  const r = check(runCommand(w, resource, "update", live.stdout), "update");
  return { resource, stdout: trimmed(r.stdout) };
}

/** Deleting a resource without a delete command runs nothing. Returns what the delete printed. */
export function remove(w: World, live: Live): string {
  if (live.resource.inputs.delete === undefined) return "";
  return check(runCommand(w, live.resource, "delete", live.stdout), "delete").stdout;
}

export type ReplaceOrder = "create-first" | "delete-first";
export const ORDERS: readonly ReplaceOrder[] = ["create-first", "delete-first"];

/** A replacement in one of the engine's orders: the new resource is created, the old one deleted. */
export function replace(w: World, live: Live, resource: Resource, order: ReplaceOrder): Live {
  if (order === "delete-first") {
    remove(w, live);
    return create(w, resource);
  }
  const next = create(w, resource);
  remove(w, live);
  return next;
}

/** Runs a failing phase and returns its result (for error-message tests). */
export function attempt(w: World, resource: Resource, phase: Phase, previous?: string): RunResult {
  return runCommand(w, resource, phase, previous);
}

// ---------------------------------------------------------------------------------------------------
// A whole stack: the engine's step order for `pulumi up` and `pulumi destroy` over command resources.

/** One resource of a program, built from the IDs of the resources before it (another step's ID can be
 * part of its environment, as components/maas-tag.ts does). */
export interface ProgramResource {
  readonly name: string;
  readonly build: (ids: Readonly<Record<string, string>>) => Resource;
  readonly protect?: boolean;
  readonly deleteBeforeReplace?: boolean;
  /** The resource option replaceOnChanges as registered (for a command, what @pulumi/command itself adds:
   * `triggers[*]`, node_modules/@pulumi/command/local/command.js). */
  readonly replaceOnChanges?: readonly string[];
}

export interface StackState {
  /** Live resources in the order they were created. */
  readonly resources: ReadonlyArray<{ readonly name: string; readonly id: string; readonly live: Live; readonly protect: boolean }>;
}

export const EMPTY_STACK: StackState = { resources: [] };

let nextId = 0;
const newId = (name: string) => `${name}-${(++nextId).toString(16).padStart(8, "0")}`;

const same = (a: Resource, b: Resource) =>
  JSON.stringify({ ...a.inputs, stdin: a.stdin }) === JSON.stringify({ ...b.inputs, stdin: b.stdin });
/** Whether a change from `a` to `b` replaces the resource: a property named in replaceOnChanges differs. */
const replacedBy = (paths: readonly string[], a: Resource, b: Resource) =>
  paths.some((p) => {
    const key = p.replace(/\[\*\]$/, "") as keyof StepInputs;
    return JSON.stringify(a.inputs[key] ?? null) !== JSON.stringify(b.inputs[key] ?? null);
  });

export interface UpOptions {
  /** `pulumi up --replace URN` for these resource names. */
  readonly replace?: readonly string[];
  /** The order of every replacement: create-first (Pulumi's default) or delete-first. */
  readonly order?: ReplaceOrder;
}

/** What happened to each resource in one operation, for assertions. */
export type Operation = `${"create" | "update" | "replace" | "delete" | "same"} ${string}`;

/**
 * `pulumi up`: creates, updates and replaces in program order; a replacement's delete runs at once when
 * delete-first, else after every create and update, in reverse order, with the resources the program no
 * longer has. A protected resource is never replaced or deleted: the engine refuses the whole operation.
 */
export function up(w: World, before: StackState, program: readonly ProgramResource[], opts: UpOptions = {}): { state: StackState; ops: Operation[] } {
  const old = new Map(before.resources.map((r) => [r.name, r]));
  const ids: Record<string, string> = {};
  const out: Array<StackState["resources"][number]> = [];
  const ops: Operation[] = [];
  const deferred: Array<StackState["resources"][number]> = [];
  for (const p of program) {
    const resource = p.build(ids);
    const prev = old.get(p.name);
    if (!prev) {
      const id = newId(p.name);
      out.push({ name: p.name, id, live: create(w, resource), protect: p.protect ?? false });
      ids[p.name] = id;
      ops.push(`create ${p.name}`);
      continue;
    }
    old.delete(p.name);
    const replacing = (opts.replace ?? []).includes(p.name) || replacedBy(p.replaceOnChanges ?? [], prev.live.resource, resource);
    if (replacing) {
      if (prev.protect) throw new Error(`unable to replace resource ${p.name} as it is currently marked for protection`);
      const id = newId(p.name);
      let live: Live;
      if ((opts.order ?? "create-first") === "delete-first" || p.deleteBeforeReplace) {
        remove(w, prev.live);
        live = create(w, resource);
      } else {
        live = create(w, resource);
        deferred.push(prev);
      }
      out.push({ name: p.name, id, live, protect: p.protect ?? false });
      ids[p.name] = id;
      ops.push(`replace ${p.name}`);
    } else if (!same(prev.live.resource, resource)) {
      out.push({ ...prev, live: update(w, prev.live, resource), protect: p.protect ?? false });
      ids[p.name] = prev.id;
      ops.push(`update ${p.name}`);
    } else {
      out.push({ ...prev, protect: p.protect ?? false });
      ids[p.name] = prev.id;
      ops.push(`same ${p.name}`);
    }
  }
  const gone = [...deferred, ...old.values()];
  for (const r of gone) if (r.protect && old.has(r.name)) throw new Error(`unable to delete resource ${r.name} as it is currently marked for protection`);
  for (const r of gone.reverse()) {
    remove(w, r.live);
    ops.push(`delete ${r.name}`);
  }
  return { state: { resources: out }, ops };
}

/** `pulumi destroy`: every resource deleted in reverse order; refused when one is protected. What each delete
 * printed is added to `printed`. */
export function destroy(w: World, before: StackState, printed: string[] = []): Operation[] {
  const protectedOnes = before.resources.filter((r) => r.protect).map((r) => r.name);
  if (protectedOnes.length > 0) throw new Error(`refusing to delete protected resources: ${protectedOnes.join(", ")}`);
  return [...before.resources].reverse().map((r) => {
    printed.push(remove(w, r.live));
    return `delete ${r.name}` as Operation;
  });
}

/** `pulumi state unprotect URN`. */
export function unprotect(state: StackState, name: string): StackState {
  return { resources: state.resources.map((r) => (r.name === name ? { ...r, protect: false } : r)) };
}

// ---------------------------------------------------------------------------------------------------
// The real program's resources, as the emulator's program.

/** Runs the real program (index.ts, or `program`) under mocks in a child process (mocks are process-wide) for a
 * raw `pci-passthrough:*` config, with secret inputs recorded in plain text so their commands can run. */
export function recordProgram(raw: Readonly<Record<string, unknown>>, stack: string, program?: string): ProgramRun {
  const code = `
    const { fromStackFile, toStackFile } = require(${JSON.stringify(path.join(ROOT, "config", "stack.ts"))});
    const { runProgram, runtimeConfig } = require(${JSON.stringify(path.join(ROOT, "tools", "lib", "mock-program.ts"))});
    const { config, secretKeys } = runtimeConfig(fromStackFile(toStackFile(${JSON.stringify(raw)})));
    runProgram({ config, secretKeys, stack: ${JSON.stringify(stack)}, revealSecrets: true${program !== undefined ? `, program: ${JSON.stringify(program)}` : ""} }).then((r) =>
      process.stdout.write("\\n@@" + JSON.stringify({ ...r, error: r.error && r.error.message })));`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", code], { cwd: ROOT, encoding: "utf8", maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  const run = JSON.parse(r.stdout.slice(r.stdout.lastIndexOf("\n@@") + 3)) as ProgramRun & { error?: string };
  assert.equal(run.error, undefined, `the program failed: ${run.error}`);
  return run;
}

/**
 * The program's command resources, in registration order, as the emulator runs them. Under mocks a
 * resource's ID is `<name>-id`: an environment value naming another resource that way is that resource's
 * real ID here (components/maas-tag.ts passes the tag step's ID to the machines step).
 */
export function commandResources(run: ProgramRun): ProgramResource[] {
  const commands = run.resources.filter((r) => r.type === "command:local:Command");
  const names = new Set(commands.map((r) => r.name));
  return commands.map((rec) => ({
    name: rec.name,
    protect: rec.options.protect === true,
    deleteBeforeReplace: rec.options.deleteBeforeReplace === true,
    replaceOnChanges: rec.options.replaceOnChanges ?? [],
    build: (ids) => {
      const i = rec.inputs as Record<string, unknown>;
      const environment = Object.fromEntries(
        Object.entries((i.environment ?? {}) as Record<string, string>).map(([k, v]) => {
          const other = v.endsWith("-id") ? v.slice(0, -3) : undefined;
          return [k, other !== undefined && names.has(other) ? (ids[other] ?? assert.fail(`${rec.name} needs ${other}'s ID first`)) : v];
        }),
      );
      return {
        inputs: {
          create: String(i.create),
          update: String(i.update),
          ...(i.delete !== undefined ? { delete: String(i.delete) } : {}),
          environment,
          secrets: {},
          ...(i.triggers !== undefined ? { triggers: i.triggers as string[] } : {}),
        },
        stdin: typeof i.stdin === "string" ? i.stdin : "",
      };
    },
  }));
}
