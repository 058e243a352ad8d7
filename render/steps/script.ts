// The step-script framework: one POSIX sh script per maas/juju step, which the Pulumi command resources run (its
// phase, create / update / delete, is the script's first argument), the offline commands.sh inlines, and the tests
// run against the fakes. The steps themselves are in steps/maas.ts and steps/juju.ts; where a step runs (here or
// on a jump host) is steps/ssh.ts's.
//
// Rules (docs/domain.md, "Pulumi and the command provider"):
// - structural names (profile, tag, model, application, option names) are validated by the config and
//   still quoted with shellQuote; free text (comment, kernel options, XPath, userdata, JSON) only ever
//   travels in environment variables and temp files;
// - create and update are the same idempotent upsert: running it twice leaves the same state;
// - delete runs with the OLD inputs and may run after a NEW create of the same object (Pulumi replaces by
//   creating the new resource first), or before it (deleteBeforeReplace, a failed run retried): a delete
//   never removes an object that a newer step has set. Only the MAAS tag has a delete that removes
//   anything, and it checks the tag's claim first (steps/maas.ts maasTagCommand). The model and the charm
//   options are never removed by a replaced step (docs/day2.md);
// - secrets (the MAAS API key, the SSH key) arrive on standard input (secretsPreamble), never in the
//   environment, a script's text or a command line, and nothing a step prints carries them (`maas login`'s
//   own output, which may repeat a malformed key, is discarded), so the steps' messages are shown;
// - whether an object exists is read from the data a CLI prints on success, never from an error's text.
import type { SecretSource } from "../../config/types";
import { shellQuote } from "../shell";

/** The phases of a step: its script's first argument. */
export const PHASES = ["create", "update", "delete"] as const;
export type Phase = (typeof PHASES)[number];

/** One command resource: its script, the environment it reads, and how Pulumi must treat it. */
export interface CommandSpec {
  /** Child resource name suffix, e.g. `tag` -> `<component>-tag`. */
  readonly id: string;
  /** What the step does, as named in errors and in commands.sh. */
  readonly step: string;
  /** The step's POSIX sh script; `$1` is the phase. create and update are the same idempotent upsert. */
  readonly script: string;
  /** Whether deleting the resource runs the script's delete phase (otherwise deleting removes nothing). */
  readonly deletes: boolean;
  /** Non-secret values the script reads (free text goes here, never into the script text). */
  readonly environment: Readonly<Record<string, string>>;
  /** Secrets the script reads from standard input, by variable name, with the config key each comes from. */
  readonly secrets: Readonly<Record<string, SecretSource>>;
  /** Values whose change must replace the resource (create new, then delete old). */
  readonly triggers?: readonly string[];
  /** `pulumi destroy` refuses until the resource is unprotected (`pulumi state unprotect URN`). */
  readonly protect?: boolean;
  /** Keep the object when the resource is deleted (the delete phase never runs). */
  readonly retainOnDelete?: boolean;
}

/** Standard input of a step with secrets: one `NAME=<base64 of the value>` line each (base64 keeps
 * multi-line values such as a PEM key on one line). */
export function secretsStdin(values: Readonly<Record<string, string>>): string {
  return Object.entries(values)
    .map(([name, value]) => `${name}=${Buffer.from(value, "utf8").toString("base64")}\n`)
    .join("");
}

/** The shell lines that read secretsStdin into shell variables (not exported: the CLIs never see them in
 * their environment). Only the named variables are taken. */
export function secretsPreamble(names: readonly string[]): string[] {
  if (names.length === 0) return [];
  return [
    "# Secrets arrive on standard input, NAME=base64 a line: never in the environment or a command line.",
    // Split at the first "=" only: base64 ends in "=" padding, which IFS splitting would eat.
    "while IFS= read -r line; do",
    '  name=${line%%=*} value=${line#*=}',
    '  case "$name" in',
    ...names.map((n) => `    ${n}) ${n}=$(printf '%s' "$value" | base64 -d) || fail "cannot read ${n}" ;;`),
    "    *) ;;",
    "  esac",
    "done",
  ];
}

/** The last `pci-passthrough-state:` line a step printed: what its next update and its delete know of it
 * (Pulumi hands a step its previous stdout as PULUMI_COMMAND_STDOUT). */
export const STATE_PREFIX = "pci-passthrough-state:";

/** Every script starts like this: stop on errors, name the step in any failure, take the phase. */
function preamble(step: string, secrets: readonly string[], keepsState: boolean): string[] {
  return [
    "set -eu",
    `step=${shellQuote(step)}`,
    `fail() { printf 'pci-passthrough: %s: %s\\n' "$step" "$1" >&2; exit 1; }`,
    'phase="${1:-}"',
    `case "$phase" in create|update|delete) ;; *) fail "unknown phase '$phase' (create, update or delete)" ;; esac`,
    ...secretsPreamble(secrets),
    ...(keepsState
      ? [
          // prev KEY: KEY's value in this step's last state line, empty when there is none.
          `prev() { printf '%s\\n' "\${PULUMI_COMMAND_STDOUT:-}" | sed -n "s/^${STATE_PREFIX}.* $1=\\([^ ]*\\).*$/\\1/p" | tail -n 1; }`,
        ]
      : []),
  ];
}

/** A step's phases: what runs before either (`common`), the upsert, and the delete (none: removes nothing). */
export interface Bodies {
  readonly common?: readonly string[];
  readonly upsert: readonly string[];
  readonly delete?: readonly string[];
  /** The step prints a state line and reads its previous one (prev KEY). */
  readonly keepsState?: boolean;
}

/** One script from its phases' bodies. */
export function script(step: string, secrets: readonly string[], bodies: Bodies): string {
  const indent = (lines: readonly string[]) => lines.map((l) => (l === "" ? l : `    ${l}`));
  return (
    [
      ...preamble(step, secrets, bodies.keepsState ?? false),
      ...(bodies.common ?? []),
      'case "$phase" in',
      "  create|update)",
      ...indent(bodies.upsert),
      "    ;;",
      "  delete)",
      ...indent(bodies.delete ?? [`echo "pci-passthrough: $step: deleting this step removes nothing"`]),
      "    ;;",
      "esac",
    ].join("\n") + "\n"
  );
}

/** A temp file removed on exit; its path is in `$var`. */
function tempFile(pathVar: string): string[] {
  return [`${pathVar}=$(mktemp)`, `trap 'rm -f "$${pathVar}"' EXIT`];
}

/** Writes an environment variable's text to a temp file removed on exit; the file's path is in `$var`. */
export function tempFileFrom(envName: string, pathVar: string): string[] {
  return [...tempFile(pathVar), `printf '%s' "$${envName}" > "$${pathVar}"`];
}

/** The environment value that re-runs every step in place when it changes (config `resync`). */
export function resyncEnv(resync: string | undefined): Record<string, string> {
  return resync === undefined ? {} : { PCIPT_RESYNC: resync };
}
