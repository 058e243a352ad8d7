// What the stack tools report, object by object: a verdict (in sync, drift, unreachable) with what differs or why
// nothing could be read, the tools' exit code from them, and the report's text. Shared by `npm run verify` and
// `npm run import-flavors`.

export type Status = "in sync" | "drift" | "unreachable";

/** One object's verdict, with what differs (or why it could not be read). */
export interface Finding {
  readonly object: string;
  readonly status: Status;
  readonly details: readonly string[];
  /** Drift that a resync (the program's own steps run again) cannot repair: the details say what can. */
  readonly manual?: boolean;
}

/** A command's result: its exit code, its stdout and (when the read script ran it) its stderr. */
export interface Read {
  readonly rc: number;
  readonly out: string;
  readonly err?: string;
}

/** A value in a finding: JSON-quoted, `(unset)` when empty. */
export const quoteValue = (s: string) => (s === "" ? "(unset)" : JSON.stringify(s));

/** A read that failed: nothing is known about the object (its details say what the CLI said). */
export function unreachable(object: string, read: Read | undefined): Finding {
  if (read === undefined) return { object, status: "unreachable", details: ["the read script did not get this far"] };
  const said = [read.err ?? "", read.out].flatMap((t) => t.split("\n")).find((l) => l.trim() !== "");
  return { object, status: "unreachable", details: [said?.trim() ?? `exit ${read.rc}`] };
}

export const verdict = (object: string, details: string[], manual = false): Finding => ({
  object,
  status: details.length > 0 ? "drift" : "in sync",
  details,
  ...(manual && details.length > 0 ? { manual } : {}),
});

/** Exit code of `verify`: 3 when anything could not be read (the picture is incomplete), else 1 on drift. */
export function exitCode(findings: readonly Finding[]): 0 | 1 | 3 {
  if (findings.some((f) => f.status === "unreachable")) return 3;
  return findings.some((f) => f.status === "drift") ? 1 : 0;
}

/** The report, object by object. */
export function report(findings: readonly Finding[]): string {
  const label: Record<Status, string> = { "in sync": "in sync    ", drift: "DRIFT      ", unreachable: "UNREACHABLE" };
  return findings.map((f) => [`${label[f.status]} ${f.object}`, ...f.details.map((d) => `              ${d}`)].join("\n")).join("\n") + "\n";
}
