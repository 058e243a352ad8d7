// Where a step's script runs: on the machine that runs `pulumi up`, or on a jump host over SSH
// (`pci-passthrough:runner`). Both become the same resource type, command:local:Command, with the same
// short command lines: only the environment differs. Moving the commands to a jump host (or back) is
// therefore an in-place update that runs the step's update on the new runner, never a create of a new
// resource and a delete of the old one (docs/domain.md, "Pulumi and the command provider"). Pure: no Pulumi import.
//
// Over SSH, nothing relies on the jump host's sshd accepting environment variables (SSH `Setenv` needs
// `AcceptEnv`, which a stock sshd_config does not have): the step's script, its environment and its secrets
// travel on ssh's standard input as base64 here-documents of a payload that `sh -s` runs there. The only
// command line on the jump host is `sh -s`.
import type { RunnerConfig, SecretSource } from "../../config/types";
import { HOST_KEY_ALGORITHMS } from "../../domain/ssh";
import { shellQuote } from "../shell";
import { PHASES, type CommandSpec, type Phase } from "./script";

/** The inputs of a step's command resource, whichever the runner. `V` is the type of the environment values
 * only the deployment knows (a Pulumi Output, e.g. another step's ID); plain strings otherwise. */
export interface StepInputs<V = string> {
  readonly create: string;
  readonly update: string;
  /** Absent when deleting the step removes nothing. */
  readonly delete?: string;
  readonly environment: Readonly<Record<string, string | V>>;
  /** Secrets the resource's standard input must carry (secretsStdin), with their config keys. */
  readonly secrets: Readonly<Record<string, SecretSource>>;
  /** Values whose change replaces the resource. */
  readonly triggers?: readonly string[];
}

/** Where the script of every step lives in the resource's environment. */
export const STEP_ENV = "PCIPT_STEP";
const RUNNER_STEP_ENV = "PCIPT_RUNNER_STEP";
const HOST_KEY_ENV = "PCIPT_SSH_HOST_KEY";
/** The runner's own variables: for the wrapper, never sent on to the jump host. */
export const RUNNER_ENV: readonly string[] = [STEP_ENV, RUNNER_STEP_ENV, HOST_KEY_ENV];
const SSH_KEY_SECRET = "PCIPT_SSH_KEY";

/** The command line of a phase: the script comes from the environment, so the line stays short and a
 * failure ("exit status 1: running <this line>: <output>") reads well. */
export function phaseCommand(spec: CommandSpec, phase: Phase): string {
  return `exec /bin/sh -c "$${STEP_ENV}" ${shellQuote(spec.step)} ${phase}`;
}

/** `user@host:port`, for messages. */
export function runnerWhere(runner: RunnerConfig | undefined): string {
  return runner ? `${runner.user}@${runner.host}:${runner.port}` : "local";
}

/** The host's name as ssh writes it in known_hosts: `[host]:port` unless the port is 22. */
function knownHostsName(r: RunnerConfig): string {
  return r.port === 22 ? r.host : `[${r.host}]:${r.port}`;
}

/** The start of the payload the jump host runs: a private temp dir, removed on exit. */
const PAYLOAD_HEAD = ["set -u", 'd=$(mktemp -d) || exit 1', `trap 'rm -rf "$d"' EXIT`];

/**
 * The local script that runs a step on the jump host: it reads the secrets from its standard input (the
 * SSH key stays here, the others go on), writes a payload of base64 here-documents (the step's script, its
 * environment, its secrets) and feeds it to `ssh HOST sh -s`. `forward` names every variable of the step's
 * environment (stepInputs passes the one list the resource gets). The host key is pinned when
 * `runner.hostKey` is given; a host showing another key is refused.
 */
export function sshWrapper(spec: CommandSpec, r: RunnerConfig, forward: readonly string[]): string {
  const where = runnerWhere(r);
  const passOn = Object.keys(spec.secrets);
  const target = `${r.user}@${r.host}`;
  const hostKey = r.hostKey;
  const lines = [
    "set -eu",
    `step=${shellQuote(spec.step)}`,
    `fail() { printf 'pci-passthrough: %s (on ${where}): %s\\n' "$step" "$1" >&2; exit 1; }`,
    'phase="${1:-}"',
    `case "$phase" in ${PHASES.join("|")}) ;; *) fail "unknown phase '$phase' (create, update or delete)" ;; esac`,
    "umask 077",
    'd=$(mktemp -d) || fail "mktemp failed"',
    `trap 'rm -rf "$d"' EXIT`,
    ': > "$d/secrets"',
    "# Secrets arrive on standard input, NAME=base64 a line. The SSH key stays here; the others go on.",
    // Split at the first "=" only: base64 ends in "=" padding, which IFS splitting would eat.
    "while IFS= read -r line; do",
    '  name=${line%%=*} value=${line#*=}',
    '  case "$name" in',
    // `pulumi config set --secret --path runner.privateKey < key` stores the key without its final newline
    // (the CLI trims the value), and OpenSSH refuses such a key ("error in libcrypto"): it gets it back.
    `    ${SSH_KEY_SECRET}) printf '%s' "$value" | base64 -d > "$d/key" || fail "cannot read the SSH key"`,
    `      if [ -n "$(tail -c 1 "$d/key")" ]; then echo >> "$d/key"; fi ;;`,
    ...(passOn.length > 0 ? [`    ${passOn.join("|")}) printf '%s=%s\\n' "$name" "$value" >> "$d/secrets" ;;`] : []),
    "    *) ;;",
    "  esac",
    "done",
    "# put NAME: a payload part that writes standard input to $d/NAME on the jump host, as base64.",
    "put() {",
    `  printf '%s\\n' "base64 -d > \\"\\$d/$1\\" <<'PCIPT-END'"`,
    "  base64",
    `  printf '%s\\n' 'PCIPT-END'`,
    "}",
    "# emit NAME VALUE: a payload part that sets and exports NAME there (trailing newlines kept).",
    "emit() {",
    `  printf '%s' "$2" | put "$1"`,
    `  printf '%s\\n' "$1=\\$(cat \\"\\$d/$1\\"; printf x); $1=\\\${$1%x}; export $1"`,
    "}",
    "{",
    `  printf '%s\\n' ${PAYLOAD_HEAD.map(shellQuote).join(" ")}`,
    ...forward.map((n) => `  emit ${n} "$${n}"`),
    // Pulumi hands update and delete the previous output: the step's state line is in it.
    '  if [ -n "${PULUMI_COMMAND_STDOUT+x}" ]; then emit PULUMI_COMMAND_STDOUT "$PULUMI_COMMAND_STDOUT"; fi',
    `  printf '%s' "$${RUNNER_STEP_ENV}" | put step`,
    '  put secrets < "$d/secrets"',
    // The secrets are the step's standard input there too: never in its environment.
    `  printf '%s\\n' "sh \\"\\$d/step\\" $phase < \\"\\$d/secrets\\""`,
    '} > "$d/payload"',
    "set -- -T -o BatchMode=yes -o ConnectTimeout=30 -o ServerAliveInterval=15 -p " + String(r.port),
    'if [ -s "$d/key" ]; then set -- "$@" -i "$d/key" -o IdentitiesOnly=yes; fi',
    ...(hostKey
      ? [
          `printf '%s %s\\n' ${shellQuote(knownHostsName(r))} "$${HOST_KEY_ENV}" > "$d/known_hosts"`,
          `set -- "$@" -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$d/known_hosts" -o GlobalKnownHostsFile=/dev/null -o HostKeyAlgorithms=${HOST_KEY_ALGORITHMS[hostKey.type]}`,
        ]
      : [
          // No pinned key: any host key is accepted (the program warns on every run).
          'set -- "$@" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR',
        ]),
    "rc=0",
    `ssh "$@" ${shellQuote(target)} 'sh -s' < "$d/payload" 2> "$d/stderr" || rc=$?`,
    'cat "$d/stderr" >&2',
    'if [ "$rc" = 255 ]; then',
    `  if grep -q 'Host key verification failed' "$d/stderr"; then fail "the jump host's key is not the one pinned in runner.hostKey: refused (compare: ssh-keyscan -p ${r.port} ${r.host})"; fi`,
    `  if grep -q 'no matching host key type' "$d/stderr"; then fail "the jump host has no ${hostKey?.type ?? "such"} host key (runner.hostKey)"; fi`,
    '  fail "ssh to the jump host failed (exit 255)"',
    "fi",
    'exit "$rc"',
  ];
  return lines.join("\n") + "\n";
}

/**
 * A step's resource inputs for the configured runner (none: local). `extraEnvironment` holds the values only
 * the deployment knows (the stack's name, another step's ID): they join the step's own environment here,
 * into the one list of variables the step gets, which is also the list the SSH wrapper forwards to the jump
 * host. Nothing may be added to a step's environment after this.
 */
export function stepInputs<V = string>(spec: CommandSpec, runner: RunnerConfig | undefined, extraEnvironment: Readonly<Record<string, V>> = {}): StepInputs<V> {
  const commands = {
    create: phaseCommand(spec, "create"),
    update: phaseCommand(spec, "update"),
    ...(spec.deletes ? { delete: phaseCommand(spec, "delete") } : {}),
    ...(spec.triggers ? { triggers: spec.triggers } : {}),
  };
  const environment: Record<string, string | V> = { ...spec.environment, ...extraEnvironment };
  const clash = Object.keys(environment).filter((k) => RUNNER_ENV.includes(k));
  if (clash.length > 0) throw new Error(`step "${spec.step}": ${clash.join(", ")} is the runner's own variable`);
  if (!runner) return { ...commands, environment: { [STEP_ENV]: spec.script, ...environment }, secrets: spec.secrets };
  return {
    ...commands,
    environment: {
      [STEP_ENV]: sshWrapper(spec, runner, Object.keys(environment)),
      [RUNNER_STEP_ENV]: spec.script,
      ...(runner.hostKey ? { [HOST_KEY_ENV]: `${runner.hostKey.type} ${runner.hostKey.key}` } : {}),
      ...environment,
    },
    secrets: { ...spec.secrets, ...(runner.privateKey !== undefined ? { [SSH_KEY_SECRET]: "runner.privateKey" as const } : {}) },
  };
}
