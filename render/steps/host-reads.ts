// Reading the booted hosts (`npm run verify -- STACK --hosts`): the host probe (render/host/probe.ts) run on every
// unit of each group's nova-compute application through Juju, where the steps run (here or on the jump host), as
// one read-only script whose output has the sections of the read script (reads.ts READ_MARK): each command's exit
// code and exact bytes. Pure: no Pulumi import; tools/verify/hosts-main.ts reads the sections.
//
// How the probe reaches the units. `juju exec` (3) and `juju run` (2.9) send one command line to the units' agents,
// which run it as root with bash reading it on stdin (juju/juju worker/uniter/runner runner.go, juju/utils exec
// RunParams): no file on the unit is needed. Given several arguments, juju joins them with utils.CommandString,
// which double-quotes an argument and escapes only `"`, `$` and `\` in it: a backquote or a newline of the probe
// would then be read by the unit's shell. Given ONE argument, juju sends it as it is (cmd/juju/action/exec.go
// execCommand.Init; cmd/juju/commands/exec.go on the 2.9 branch). So the command is one argument of base64 text
// and a pipe, which no shell reads differently: `echo <the probe in base64> | base64 -d | sh`. Its length is
// bounded by one argument's (Linux MAX_ARG_STRLEN, 128 KiB): the probe is far below it (probeCommandLine checks).
import type { JujuConfig } from "../../config/types";
import { shellCommand, shellQuote } from "../shell";
import { modelRef, statusArgv } from "./juju";
import { READ_MARK } from "./reads";
import { script, type CommandSpec } from "./script";

/** Where the read script finds the probe's command line (free text travels in the environment). */
export const PROBE_COMMAND_ENV = "PCIPT_PROBE_COMMAND";

/** Linux's bound on one argument or environment string (MAX_ARG_STRLEN, include/uapi/linux/binfmts.h: 32 pages). */
const MAX_ARG_STRLEN = 32 * 4096;

/** How long Juju waits for a unit that has not answered, when each unit is asked alone (see hostReadCommand). */
export const UNIT_WAIT = "2m";

/** The one command line the units run: the probe, base64 on the line, decoded and run by sh. */
export function probeCommandLine(probe: string): string {
  const line = `echo ${Buffer.from(probe, "utf8").toString("base64")} | base64 -d | sh`;
  if (line.length >= MAX_ARG_STRLEN) throw new Error(`the host probe's command line is ${line.length} bytes: over one argument's ${MAX_ARG_STRLEN}`);
  return line;
}

/** The sections the host read script prints, by name. */
export const HOST_READS = {
  status: "juju status",
  exec: (app: string) => `juju exec ${app}`,
  unit: (unit: string) => `juju exec unit ${unit}`,
} as const;

/** `juju exec --format json -m MODEL` (3) or `juju run ...` (2.9): the probe's call, its target to follow. */
export function execArgv(juju: Pick<JujuConfig, "model" | "controller" | "version">): string[] {
  return ["juju", juju.version === "2.9" ? "run" : "exec", "--format", "json", "-m", modelRef(juju)];
}

/** Prints, one a line, the units of an application (its argument) from `juju status --format json` on stdin
 * (cmd/juju/status formatted.go: applications.APP.units, a map by unit name). */
const UNITS_OF = `python3 -c 'import json, sys; a = (json.load(sys.stdin).get("applications") or {}).get(sys.argv[1]) or {}; print("\\n".join(sorted(a.get("units") or {})))'`;

/**
 * The read script: `juju status` (the applications' units), then the probe on each application's units, one call
 * per application. Juju 3 prints nothing at all when a unit does not answer within --wait, losing the answers of
 * the others (cmd/juju/action/common.go waitForTasks returns before writing): then each unit of the application is
 * asked alone, with a shorter wait, so the units that answer are still judged. Juju 2.9 prints the units that
 * answered (domain/juju-exec.ts). Always exits 0 when it ran: each section carries its command's exit code.
 */
export function hostReadCommand(juju: JujuConfig, applications: readonly string[], probe: string): CommandSpec {
  const ref = modelRef(juju);
  const run = (argv: string[], extra = "") => `if ${shellCommand(argv)}${extra} >"$o" 2>"$e"; then rc=0; else rc=$?; fi`;
  const section = (name: string) => `section ${shellQuote(name)} "$rc"`;
  const probeArg = ` -- "$${PROBE_COMMAND_ENV}"`;
  const perApp = (app: string) => [
    run([...execArgv(juju), "--application", app], probeArg),
    section(HOST_READS.exec(app)),
    ...(juju.version === "2.9"
      ? []
      : [
          'if [ "$rc" != 0 ] && [ ! -s "$o" ]; then',
          `  for unit in $(${UNITS_OF} ${shellQuote(app)} < "$s"); do`,
          `    if ${shellCommand(execArgv(juju))} --unit "$unit" --wait ${UNIT_WAIT}${probeArg} >"$o" 2>"$e"; then rc=0; else rc=$?; fi`,
          `    section "${HOST_READS.unit("")}$unit" "$rc"`,
          "  done",
          "fi",
        ]),
  ];
  const lines = [
    'o=$(mktemp) e=$(mktemp) s=$(mktemp)',
    `trap 'rm -f "$o" "$e" "$s"' EXIT`,
    `section() { printf '%s %s %s\\n' '${READ_MARK}' "$1" "$2"; base64 < "$o" | tr -d '\\n'; echo; base64 < "$e" | tr -d '\\n'; echo; }`,
    run(statusArgv(juju)),
    'cp "$o" "$s"',
    section(HOST_READS.status),
    // Without the applications' units nothing can be asked: the status section says why.
    'if [ "$rc" = 0 ]; then',
    ...applications.flatMap(perApp).map((l) => `  ${l}`),
    "fi",
  ];
  const step = `probe the hosts of ${ref}`;
  return {
    id: "hosts",
    step,
    script: script(step, [], { upsert: lines, delete: ["true"] }),
    deletes: false,
    environment: { [PROBE_COMMAND_ENV]: probeCommandLine(probe) },
    secrets: {},
  };
}
