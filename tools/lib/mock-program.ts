// Runs the real Pulumi program (index.ts) under Pulumi's mocks and records every resource it registers:
// type, name, parent, dependencies, inputs (secrets as "[secret]") and the resource options that mocks
// do not see (recorded with a stack transformation, which runs in the SDK). Used by `npm run render`,
// the program tests and the benchmarks; it needs no Pulumi CLI, backend or credentials.
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { StackFile } from "../../config/stack";

export const SECRET_MARK = "[secret]";
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export interface RecordedOptions {
  retainOnDelete?: boolean;
  protect?: boolean;
  deleteBeforeReplace?: boolean;
  additionalSecretOutputs?: string[];
  ignoreChanges?: string[];
  /** Input properties whose change replaces the resource (a provider SDK can add its own, e.g. @pulumi/command's
   * `triggers[*]`). */
  replaceOnChanges?: string[];
  /** Former identities the engine matches this resource with (type and name only). */
  aliases?: Array<{ type?: string; name?: string }>;
}

export interface RecordedResource {
  type: string;
  name: string;
  /** A custom resource (a real cloud object) rather than a component. */
  custom: boolean;
  /** Name of the parent resource; the stack for top-level ones. */
  parent: string;
  /** Names of the resources it explicitly depends on (`dependsOn`). */
  dependsOn: string[];
  /** Inputs as the provider would get them; secret values replaced by "[secret]". */
  inputs: Record<string, unknown>;
  options: RecordedOptions;
}

export interface ProgramRun {
  resources: RecordedResource[];
  /** The stack outputs (index.ts exports), secrets as "[secret]". */
  outputs: Record<string, unknown>;
  /** Messages the program logged (pulumi.log), as "severity: text". */
  logs: string[];
  /** The program's error, when it threw (an invalid config throws before any resource). */
  error?: Error;
}

/** Replaces Pulumi's secret wrappers (as mocks see them) with "[secret]", or with the value itself when
 * `reveal` (tests that run the recorded commands need the real standard input). */
export function revealShape(value: unknown, reveal = false): unknown {
  if (Array.isArray(value)) return value.map((v) => revealShape(v, reveal));
  if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (o[SIG_KEY] === SECRET_SIG) return reveal ? revealShape(o.value, reveal) : SECRET_MARK;
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, revealShape(v, reveal)]));
  }
  return value;
}

function resourceName(r: unknown): string | undefined {
  return (r as { __name?: string } | undefined)?.__name;
}

async function resourcesOf(deps: pulumi.Input<pulumi.Input<pulumi.Resource>[]> | pulumi.Input<pulumi.Resource> | undefined) {
  if (deps === undefined) return [];
  // Not pulumi.output(deps): its containsUnknowns walks every object reachable from the resources (parent,
  // children, siblings), which made recording quadratic in the number of resources.
  const unwrap = (v: unknown): Promise<unknown> =>
    pulumi.Output.isInstance(v) ? new Promise((resolve) => (v as pulumi.Output<unknown>).apply((x) => resolve(x))) : Promise.resolve(v);
  const resolved = await unwrap(deps);
  const list = await Promise.all((Array.isArray(resolved) ? resolved : [resolved]).map(unwrap));
  return list.map(resourceName).filter((n): n is string => n !== undefined);
}

/** A key-sorted deep copy, so recorded inputs print the same way every time. */
function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value as object)
        .sort()
        .map((k) => [k, sorted((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** The runtime config the Pulumi CLI would hand the program: namespaced keys, objects as JSON text. */
export function runtimeConfig(file: StackFile): { config: Record<string, string>; secretKeys: string[] } {
  const config: Record<string, string> = {};
  const all: Record<string, unknown> = { ...file.other };
  for (const [k, v] of Object.entries(file.raw)) all[`pci-passthrough:${k}`] = v;
  for (const [k, v] of Object.entries(all)) config[k] = typeof v === "string" ? v : JSON.stringify(v);
  const secretKeys = [...new Set(file.secretPaths.map((p) => p.split(/[.[]/)[0]!))];
  return { config, secretKeys };
}

export interface RunOptions {
  /** Namespaced config keys (`pci-passthrough:maas`) to values: objects as JSON text, as the CLI gives them. */
  config: Record<string, string>;
  /** Config keys that are secrets. */
  secretKeys?: string[];
  project?: string;
  stack: string;
  /** The program module; index.ts at the repository root by default. */
  program?: string;
  /** Record secret inputs in plain text (tests only: never for files a user reads). */
  revealSecrets?: boolean;
}

/**
 * Runs the program once in this process. Mocks are process-global, so call it once per process (the
 * render command and the tests spawn a process per stack).
 */
export async function runProgram(opts: RunOptions): Promise<ProgramRun> {
  const byName = new Map<string, RecordedResource>();
  const pending: Promise<void>[] = [];
  const logs: string[] = [];

  pulumi.runtime.setAllConfig(opts.config, opts.secretKeys ?? []);
  await pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs) {
        const rec = byName.get(args.name);
        if (rec) rec.inputs = sorted(revealShape(args.inputs, opts.revealSecrets)) as Record<string, unknown>;
        // Command resources' outputs (stdout, stderr) exist only after a real run: empty here.
        const outputs = args.type.startsWith("command:") ? { stdout: "", stderr: "" } : {};
        return { id: `${args.name}-id`, state: { ...args.inputs, ...outputs } };
      },
      call(args: pulumi.runtime.MockCallArgs) {
        // The program makes no provider calls; one would be a surprise worth failing on.
        throw new Error(`unexpected provider call ${args.token}`);
      },
    },
    opts.project ?? "pci-passthrough",
    opts.stack,
    true,
  );

  // The program's messages are collected instead of going to a (missing) engine.
  for (const severity of ["info", "warn", "error", "debug"] as const) {
    (pulumi.log as Record<string, unknown>)[severity] = (msg: string) => {
      if (severity !== "debug") logs.push(`${severity}: ${msg}`);
      return Promise.resolve();
    };
  }

  const program = opts.program ?? path.resolve(__dirname, "..", "..", "index.ts");
  let error: Error | undefined;
  const outputs = await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((args) => {
      const rec: RecordedResource = {
        type: args.type,
        name: args.name,
        custom: args.resource instanceof pulumi.CustomResource,
        parent: resourceName(args.opts.parent) ?? `${opts.project ?? "pci-passthrough"}-${opts.stack}`,
        dependsOn: [],
        inputs: {},
        options: {},
      };
      const o = args.opts as pulumi.CustomResourceOptions;
      for (const key of ["retainOnDelete", "protect", "deleteBeforeReplace", "additionalSecretOutputs", "ignoreChanges", "replaceOnChanges"] as const) {
        if (o[key] !== undefined) (rec.options as Record<string, unknown>)[key] = o[key];
      }
      if (o.aliases !== undefined) {
        rec.options.aliases = o.aliases.map((a) => {
          const { type, name } = (typeof a === "string" ? {} : a) as { type?: unknown; name?: unknown };
          return { ...(typeof type === "string" ? { type } : {}), ...(typeof name === "string" ? { name } : {}) };
        });
      }
      byName.set(args.name, rec);
      pending.push(resourcesOf(o.dependsOn).then((d) => void (rec.dependsOn = d.sort())));
      return undefined;
    });
    // @pulumi/pulumi keeps `new Error().stack` for every promise it makes (runtime/debuggable.js), one per
    // output property of every resource; formatting those frames is most of the mocks' cost. They only feed
    // Pulumi's promise-leak report. Trade-off: an error thrown by the program keeps its message, not its frames.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      // As @pulumi/pulumi's cmd/run takes a program's outputs: the default export (a CommonJS
      // `export =`) in place of named exports, called when it is a function.
      const mod = (await import(program)) as Record<string, unknown>;
      let exported: unknown = "default" in mod ? mod.default : mod;
      if (typeof exported === "function") exported = await (exported as () => unknown)();
      const outputs = (exported ?? {}) as Record<string, unknown>;
      // The engine warns about an undefined top-level output (runtime/stack.js massage): so does this.
      for (const [k, v] of Object.entries(outputs)) if (v === undefined) logs.push(`warn: Undefined value (${k}) will not show as a stack output.`);
      return Object.fromEntries(Object.entries(outputs).filter(([, v]) => v !== undefined));
    } catch (err) {
      error = err instanceof Error ? err : new Error(String(err));
      return {};
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
  });
  await Promise.all(pending);
  const out = await new Promise<Record<string, unknown>>((resolve) =>
    pulumi.output(outputs ?? {}).apply((v) => resolve(v as Record<string, unknown>)),
  );
  return { resources: [...byName.values()], outputs: sorted(revealShape(out)) as Record<string, unknown>, logs, error };
}
