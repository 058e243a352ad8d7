// What `juju exec --format json` (Juju 3) and `juju run --format json` (Juju 2.9) print for a command run on the
// units of an application, read into one shape per unit. Facts from juju/juju (test/fixtures/juju-exec/README.md
// has recorded transcripts of each case):
//
// Juju 3 (cmd/juju/action/exec.go, whose formatters are runCommandBase's in cmd/juju/action/common.go:
// waitForTasks, formatActionResult, convertActionOutput; juju/cmd FormatJson):
//   - stdout is one JSON object (json.Marshal: compact, keys sorted, `<`, `>` and `&` escaped as \u003c ...)
//     keyed by the receiver's id (the unit name, e.g. "nova-compute-a100/0"); each value has "id" (the task),
//     "status" (completed, failed, ...), "unit" (the receiver's kind as key: "machine" for a machine), "timing"
//     (enqueued/started/completed), "message" when the task has one, and "results" when the task has output:
//     "return-code" (a number, 0 included), "stdout" and "stderr" only when not empty, "stdout-encoding" /
//     "stderr-encoding" "base64" when the output was not UTF-8 (worker/uniter/runner/runner.go updateActionResults).
//     There is no machine for a unit.
//   - a command that exits non-zero is still a completed task with its return-code; juju then exits 1 after
//     printing the JSON ("the following task failed: - id "N" with return code C" on stderr).
//   - a unit that does not answer within --wait (default 5m for exec; a unit whose agent is down never picks up
//     its task) makes juju exit 1 with "timed out waiting for results from: unit X" and print NOTHING on stdout:
//     the results of the units that did answer are lost too (handleTimeout returns before out.Write).
// Juju 2.9 (cmd/juju/commands/exec.go on the 2.9 branch, `juju run` is its compat mode; ConvertActionResults and
// cmd/juju/action ConvertActionOutput with compat):
//   - stdout is one JSON array, one object per unit in the order their results arrived: "UnitId" (or "MachineId"),
//     "Stdout" (always, "" when empty), "Stderr" only when not empty, "ReturnCode" only when not 0, "Message" when
//     the action has one, "Stdout-encoding" / "Stderr-encoding" when base64; or "Error" and "Action" when the
//     action could not be read.
//   - juju exits 0 whatever the units' return codes (only a single result in the default format passes its code
//     through);
//   - units that do not answer within --timeout (default 5m) are left out: juju prints the others, then exits 1
//     with "timed out waiting for result(s) from: unit X".
// So a caller decides from the JSON: every unit it lists has a result; a unit of the application it does not list
// did not answer. The exit code says something only when stdout holds no JSON.
import { z } from "zod";

/** The Juju CLI versions whose output differs (the config's juju.version). */
export type JujuCliVersion = "2.9" | "3";

/** One unit's result, whatever the version. */
export interface UnitExecResult {
  /** The unit, e.g. nova-compute-a100/0 (or a machine id for a machine target). */
  readonly unit: string;
  /** The command's exit code; undefined when Juju reports none (the task failed before it ran, or an error). */
  readonly code: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  /** Juju 3's task status (completed, failed, cancelled, ...); undefined on 2.9, which has none. */
  readonly status?: string;
  /** Juju's message or error for the task, if any. */
  readonly message?: string;
}

const decode = (text: string | undefined, encoding: string | undefined): string =>
  text === undefined ? "" : encoding === "base64" ? Buffer.from(text, "base64").toString("utf8") : text;

const juju3Entry = z.looseObject({
  id: z.string().optional(),
  status: z.string().optional(),
  unit: z.string().optional(),
  machine: z.string().optional(),
  message: z.string().optional(),
  error: z.string().optional(),
  results: z
    .looseObject({
      "return-code": z.number().int().optional(),
      stdout: z.string().optional(),
      stderr: z.string().optional(),
      "stdout-encoding": z.string().optional(),
      "stderr-encoding": z.string().optional(),
    })
    .optional(),
});
const juju3Output = z.record(z.string(), juju3Entry);

const juju29Entry = z.looseObject({
  UnitId: z.string().optional(),
  MachineId: z.string().optional(),
  ReceiverId: z.string().optional(),
  Stdout: z.string().optional(),
  Stderr: z.string().optional(),
  ReturnCode: z.number().int().optional(),
  Message: z.string().optional(),
  Error: z.string().optional(),
  "Stdout-encoding": z.string().optional(),
  "Stderr-encoding": z.string().optional(),
});
const juju29Output = z.array(juju29Entry);

const problemOf = (e: z.ZodError): string => e.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ");

/**
 * Reads what `juju exec --format json` (3) or `juju run --format json` (2.9) printed on stdout. Empty stdout is no
 * result at all (Juju 3 when no task could be scheduled, or after a timeout); anything else that is not the
 * version's JSON shape is a problem.
 */
export function parseJujuExec(version: JujuCliVersion, stdout: string): { ok: true; units: UnitExecResult[] } | { ok: false; problem: string } {
  if (stdout.trim() === "") return { ok: true, units: [] };
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch (e) {
    return { ok: false, problem: `juju ${version === "2.9" ? "run" : "exec"} printed no JSON: ${(e as Error).message}` };
  }
  if (version === "3") {
    const parsed = juju3Output.safeParse(json);
    if (!parsed.success) return { ok: false, problem: `not juju exec's JSON: ${problemOf(parsed.error)}` };
    return {
      ok: true,
      units: Object.entries(parsed.data).map(([key, e]) => ({
        unit: e.unit ?? e.machine ?? key,
        code: e.results?.["return-code"],
        stdout: decode(e.results?.stdout, e.results?.["stdout-encoding"]),
        stderr: decode(e.results?.stderr, e.results?.["stderr-encoding"]),
        ...(e.status !== undefined ? { status: e.status } : {}),
        ...((e.message ?? e.error) !== undefined ? { message: e.message ?? e.error } : {}),
      })),
    };
  }
  const parsed = juju29Output.safeParse(json);
  if (!parsed.success) return { ok: false, problem: `not juju run's JSON: ${problemOf(parsed.error)}` };
  const units: UnitExecResult[] = [];
  for (const [i, e] of parsed.data.entries()) {
    const unit = e.UnitId ?? e.MachineId ?? e.ReceiverId;
    if (unit === undefined) return { ok: false, problem: `not juju run's JSON: [${i}] names no unit` };
    // ConvertActionOutput adds "Stdout-encoding" beside the uniter's own "StdoutEncoding", which it keeps; the
    // `juju run` of earlier 2.x wrote "Stdout.encoding".
    const encoding = (key: "Stdout" | "Stderr"): string | undefined => {
      const raw = e[`${key}-encoding`] ?? e[`${key}Encoding`] ?? e[`${key}.encoding`];
      return typeof raw === "string" ? raw : undefined;
    };
    units.push({
      unit,
      // 2.9 leaves out a return code of 0; an action that could not be read (Error), or that failed before its
      // command ran (a Message, which "should always contain only errors", and no code), has none.
      code: e.ReturnCode ?? (e.Error !== undefined || e.Message !== undefined ? undefined : 0),
      stdout: decode(e.Stdout, encoding("Stdout")),
      stderr: decode(e.Stderr, encoding("Stderr")),
      ...((e.Error ?? e.Message) !== undefined ? { message: e.Error ?? e.Message } : {}),
    });
  }
  return { ok: true, units };
}
