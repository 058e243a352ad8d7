// The maas and juju steps of a site, as data: the one script per step that the Pulumi command resources
// run (its phase, create / update / delete, is the script's first argument), the offline commands.sh, and
// the tests against the fakes all come from here. How each object is read back (`npm run verify`) is
// here too, next to how it is written.
//
// Rules (DOMAIN.md, "Pulumi facts"):
// - structural names (profile, tag, model, application, option names) are validated by the config and
//   still quoted with shellQuote; free text (comment, kernel options, XPath, userdata, JSON) only ever
//   travels in environment variables and temp files;
// - create and update are the same idempotent upsert: running it twice leaves the same state;
// - delete runs with the OLD inputs and may run after a NEW create of the same object (Pulumi replaces by
//   creating the new resource first), or before it (deleteBeforeReplace, a failed run retried): a delete
//   never removes an object that a newer step has set. Only the MAAS tag has a delete that removes
//   anything, and it checks the tag's claim first (see maasTagCommand). The model and the charm options
//   are never removed by a replaced step: see README "Safety";
// - secrets (the MAAS API key, the SSH key) arrive on standard input (secretsPreamble), never in the
//   environment, a script's text or a command line, and the steps that use them do not log their output.
import { deviceId, type HostGroup, type SiteConfig } from "../config";
import { configuredAddresses, vfioIds } from "./host-kernel";
import { shellCommand, shellQuote } from "./shell";

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
  /** Output may carry secret-derived text: do not log it, keep stdout/stderr secret. */
  readonly quiet?: boolean;
}

/** Where a secret comes from in the SiteConfig. */
export type SecretSource = "maas.apiKey" | "runner.privateKey";

export function secretValue(site: SiteConfig, source: SecretSource): string | undefined {
  switch (source) {
    case "maas.apiKey":
      return site.maas.apiKey;
    case "runner.privateKey":
      return site.runner?.privateKey;
  }
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
interface Bodies {
  readonly common?: readonly string[];
  readonly upsert: readonly string[];
  readonly delete?: readonly string[];
  /** The step prints a state line and reads its previous one (prev KEY). */
  readonly keepsState?: boolean;
}

/** One script from its phases' bodies. */
function script(step: string, secrets: readonly string[], bodies: Bodies): string {
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
function tempFileFrom(envName: string, pathVar: string): string[] {
  return [...tempFile(pathVar), `printf '%s' "$${envName}" > "$${pathVar}"`];
}

/** The environment value that re-runs every step in place when it changes (config `resync`). */
function resyncEnv(site: SiteConfig): Record<string, string> {
  return site.resync === undefined ? {} : { PCIPT_RESYNC: site.resync };
}

// ---------------------------------------------------------------------------------------------------
// MAAS

const MAAS_KEY_ENV = "PCIPT_MAAS_API_KEY";

/** `maas PROFILE ...` argv, quoted. */
function maas(site: SiteConfig, ...args: string[]): string {
  return shellCommand(["maas", site.maas.profile, ...args]);
}

/** Logs the profile in first when the stack gives url and apiKey; the key goes through stdin (`-`),
 * never on a command line (maas-cli obtain_credentials reads stdin for "-"). */
function maasLogin(site: SiteConfig): { lines: string[]; env: Record<string, string>; secrets: Record<string, SecretSource> } {
  if (site.maas.url === undefined || site.maas.apiKey === undefined) return { lines: [], env: {}, secrets: {} };
  return {
    lines: [
      `printf '%s\\n' "$${MAAS_KEY_ENV}" | ${shellCommand(["maas", "login", site.maas.profile])} "$PCIPT_MAAS_URL" - >/dev/null 2>&1 \\`,
      `  || fail "maas login failed (check maas.url and maas.apiKey)"`,
    ],
    env: { PCIPT_MAAS_URL: site.maas.url },
    secrets: { [MAAS_KEY_ENV]: "maas.apiKey" },
  };
}

/**
 * The claim a MAAS tag carries at the end of its comment: which step last set it (a random token the step
 * keeps in its state line), which stack that step belongs to, and whether the tag existed before the stack
 * adopted it. A delete removes the tag only while the claim is still its own: a replacement's new step
 * claims the tag before the old one's delete runs. A step never takes over a tag another stack claims.
 * Claims written before the stack was part of them have none. The scripts (python3 over MAAS's JSON) and
 * `verify` read it with the same pattern.
 */
const TAG_CLAIM_PATTERN = String.raw` \[pci-passthrough claim ([0-9a-f]+)(?: stack ([^\] ]+))?( adopted)?\]`;

/** The environment variable that names the stack a step belongs to (PROJECT/STACK), set by the Pulumi
 * wiring (components/maas-tag.ts); empty when a step runs outside Pulumi (commands.sh). */
export const STACK_ENV = "PCIPT_STACK";

/** The comment as a step writes it; `stack` and `adopted` are " stack P/S" or "", " adopted" or "" (shell
 * words in the scripts). */
export function tagCommentWithClaim(comment: string, claim: string, stack: string, adopted: string): string {
  return `${comment} [pci-passthrough claim ${claim}${stack}${adopted}]`;
}

/** Splits a live tag comment into the configured comment and its claim. */
export function parseTagComment(comment: string): { comment: string; claim?: string; stack?: string; adopted: boolean } {
  const m = new RegExp(`${TAG_CLAIM_PATTERN}$`).exec(comment);
  if (!m) return { comment, adopted: false };
  return { comment: comment.slice(0, m.index), claim: m[1], ...(m[2] !== undefined ? { stack: m[2] } : {}), adopted: m[3] !== undefined };
}

/** A fresh claim token: 12 hex digits from /dev/urandom. */
const NEW_CLAIM = "od -An -N6 -tx1 /dev/urandom | tr -d ' \\n'";

/**
 * Lines that define read_tag: it sets `tag_exists` (1/0), `tag_claim` (or -), `tag_adopted` (yes/no) and
 * `tag_stack` (the claiming stack, or -).
 * A 404 is a missing tag; any other failure stops the step (an unreachable MAAS is not a missing tag).
 */
function readTagLines(site: SiteConfig, group: HostGroup): string[] {
  const tag = group.maas.tag;
  const parse =
    `python3 -c 'import json, re, sys; m = re.search(r"${TAG_CLAIM_PATTERN}\\Z", json.load(sys.stdin).get("comment") or ""); ` +
    `print(m.group(1) if m else "-", "yes" if m and m.group(3) else "no", (m.group(2) if m else None) or "-")'`;
  return [
    ...tempFile("err"),
    "read_tag() {",
    `  if json=$(${maas(site, "tag", "read", tag)} 2>"$err"); then`,
    `    parsed=$(printf '%s' "$json" | ${parse}) || fail "cannot read the comment of MAAS tag ${tag}"`,
    '    tag_exists=1 tag_claim=${parsed%% *} tag_stack=${parsed##* }',
    '    tag_adopted=${parsed#* }; tag_adopted=${tag_adopted% *}',
    `  elif grep -q '404' "$err"; then`,
    "    tag_exists=0 tag_claim=- tag_adopted=no tag_stack=-",
    "  else",
    `    cat "$err" >&2`,
    `    fail "maas tag read ${tag} failed"`,
    "  fi",
    "}",
    "read_tag",
  ];
}

/**
 * The MAAS tag: created, or adopted and updated when it exists; comment (with the claim), kernel options
 * and, when configured, definition set in place. An update never clears a definition that this stack did
 * not set. Its delete removes the tag only when the tag still carries this step's claim and was created by
 * the stack (or `maas.deleteAdoptedTag` is true); anything else is kept and said.
 */
export function maasTagCommand(site: SiteConfig, group: HostGroup, kernelOptions: string): CommandSpec {
  const tag = group.maas.tag;
  const login = maasLogin(site);
  const fields = [
    `"comment=${tagCommentWithClaim("$PCIPT_TAG_COMMENT", "$claim", `\${${STACK_ENV}:+ stack $${STACK_ENV}}`, "$suffix")}"`,
    `"kernel_opts=$PCIPT_KERNEL_OPTS"`,
  ];
  const upsert = [
    // create mints a claim; update keeps its own (a new one only when its state has none).
    "claim=$(prev claim)",
    `if [ "$phase" = create ] || [ -z "$claim" ]; then claim=$(${NEW_CLAIM}); fi`,
    "definition=$(prev definition)",
    'if [ "$tag_exists" = 1 ]; then',
    // Adopted: the tag existed before this stack. A replacement finds the claim of the step it replaces
    // and keeps that step's flag; a tag without any claim was made by someone else. A tag another stack
    // claims is refused: both stacks' machines steps would untag each other's hosts, and the other
    // stack's delete would remove the tag under this one.
    "  adopted=$(prev adopted)",
    `  if [ -z "$adopted" ] && [ "$tag_stack" != - ] && [ -n "\${${STACK_ENV}:-}" ] && [ "$tag_stack" != "$${STACK_ENV}" ]; then`,
    `    fail "MAAS tag ${tag} belongs to stack $tag_stack: two stacks cannot share a tag (each would untag the other's machines); give this stack its own tag"`,
    "  fi",
    '  if [ -z "$adopted" ]; then if [ "$tag_claim" != - ]; then adopted=$tag_adopted; else adopted=yes; fi; fi',
    `  suffix=""; if [ "$adopted" = yes ]; then suffix=" adopted"; fi`,
    `  set -- ${fields.join(" ")}`,
    '  if [ -n "$PCIPT_TAG_DEFINITION" ]; then set -- "$@" "definition=$PCIPT_TAG_DEFINITION"; definition=ours',
    '  elif [ "$definition" = ours ]; then set -- "$@" "definition="; definition=none',
    "  else definition=none; fi",
    `  ${maas(site, "tag", "update", tag)} "$@" >/dev/null || fail "maas tag update failed"`,
    `  if [ "$adopted" = yes ]; then how="it existed before this stack"; else how="created by this stack"; fi`,
    `  echo "pci-passthrough: MAAS tag ${tag} updated ($how)"`,
    "else",
    '  adopted=no definition=none suffix=""',
    `  set -- "name=${tag}" ${fields.join(" ")}`,
    '  if [ -n "$PCIPT_TAG_DEFINITION" ]; then set -- "$@" "definition=$PCIPT_TAG_DEFINITION"; definition=ours; fi',
    `  ${maas(site, "tags", "create")} "$@" >/dev/null || fail "maas tags create failed"`,
    `  echo "pci-passthrough: MAAS tag ${tag} created"`,
    "fi",
    `echo "${STATE_PREFIX} claim=$claim adopted=$adopted definition=$definition"`,
  ];
  const remove = [
    "claim=$(prev claim)",
    'if [ "$tag_exists" = 0 ]; then',
    `  echo "pci-passthrough: MAAS tag ${tag} is already gone"`,
    'elif [ -z "$claim" ]; then',
    `  echo "pci-passthrough: kept MAAS tag ${tag}: this step's state has no claim (after pulumi refresh?); to delete it: ${maas(site, "tag", "delete", tag)}"`,
    'elif [ "$tag_claim" = - ]; then',
    `  echo "pci-passthrough: kept MAAS tag ${tag}: its comment carries no claim (edited by hand?), so it may not be this step's; to delete it: ${maas(site, "tag", "delete", tag)}"`,
    'elif [ "$tag_claim" != "$claim" ]; then',
    `  echo "pci-passthrough: kept MAAS tag ${tag}: a newer step has claimed it ($tag_claim), e.g. the replacement of this one"`,
    `elif [ "$(prev adopted)" != no ] && [ "$PCIPT_DELETE_ADOPTED" != true ]; then`,
    `  echo "pci-passthrough: kept MAAS tag ${tag}: it existed before this stack (maas.deleteAdoptedTag is false)"`,
    "else",
    `  ${maas(site, "tag", "delete", tag)} >/dev/null || fail "maas tag delete failed"`,
    `  echo "pci-passthrough: MAAS tag ${tag} deleted"`,
    "fi",
  ];
  return {
    id: "tag",
    step: `MAAS tag ${tag}`,
    script: script(`MAAS tag ${tag}`, Object.keys(login.secrets), { common: [...login.lines, ...readTagLines(site, group)], upsert, delete: remove, keepsState: true }),
    deletes: true,
    environment: {
      ...login.env,
      PCIPT_TAG_COMMENT: group.maas.comment,
      PCIPT_KERNEL_OPTS: kernelOptions,
      PCIPT_TAG_DEFINITION: group.maas.definition ?? "",
      PCIPT_DELETE_ADOPTED: String(group.maas.deleteAdoptedTag),
      ...resyncEnv(site),
    },
    secrets: login.secrets,
    // A renamed tag is a new MAAS object: create the new one, then delete the old (delete has old inputs).
    triggers: [tag],
    quiet: Object.keys(login.secrets).length > 0,
  };
}

/** Reads `maas ... read` JSON lists on stdin and prints their system IDs, sorted, on one line. */
const SYSTEM_IDS = `python3 -c 'import json, sys; print(" ".join(sorted(m["system_id"] for m in json.load(sys.stdin))))'`;

/** What the selection lines read from the environment. */
function selectionEnv(site: SiteConfig, group: HostGroup): Record<string, string> {
  const { machines, selectByDevice } = group.maas;
  if (machines !== undefined) return { PCIPT_MACHINES: machines.join(" ") };
  if (selectByDevice !== true) return {};
  // Machines another group lists by system ID: one with this group's device too would be in two groups.
  const listed = site.groups.filter((g) => g !== group).flatMap((g) => g.maas.machines ?? []);
  return { PCIPT_SELECT_DEVICES: selectingDevices(group).join(" "), ...(listed.length > 0 ? { PCIPT_OTHER_GROUPS_MACHINES: listed.join(" ") } : {}) };
}

/** Reads a JSON list on stdin and prints its length (`maas ... node-devices read` answers). */
const JSON_LIST_LENGTH = `python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'`;

/** Lines that set `$wanted` to the system IDs the tag must be on: the configured ones, or those whose node
 * devices include a configured vendor:product. They call `fail` on a CLI error. */
function selectionLines(site: SiteConfig, group: HostGroup): string[] {
  if (group.maas.machines !== undefined) return ['wanted="$PCIPT_MACHINES"'];
  const others = selectionEnv(site, group).PCIPT_OTHER_GROUPS_MACHINES !== undefined;
  return [
    `all=$(${maas(site, "machines", "read")}) || fail "maas machines read failed"`,
    `all=$(printf '%s' "$all" | ${SYSTEM_IDS}) || fail "could not read the machine list"`,
    'wanted=""',
    "for id in $all; do",
    "  for dev in $PCIPT_SELECT_DEVICES; do",
    `    found=$(${maas(site, "node-devices", "read")} "$id" "vendor_id=\${dev%%:*}" "product_id=\${dev#*:}") \\`,
    `      || fail "maas node-devices read $id failed (selectByDevice needs MAAS 3.0 or later)"`,
    `    if [ "$(printf '%s' "$found" | ${JSON_LIST_LENGTH})" -gt 0 ]; then wanted="$wanted $id"; break; fi`,
    "  done",
    "done",
    "wanted=${wanted# }",
    ...(others
      ? [
          `for id in $wanted; do case " $PCIPT_OTHER_GROUPS_MACHINES " in *" $id "*) fail "machine $id has a device of this group but another group lists it: a machine is in one group" ;; esac; done`,
        ]
      : []),
  ];
}

/**
 * With selectByDevice: a tagged machine that no longer shows a selecting device stays tagged when MAAS has
 * no node devices for it at all (commissioned before MAAS 3.0, or its device records deleted: MAAS fills
 * them in only at commissioning), with a warning; untagging it would take a GPU host out of its group for
 * want of data. A machine whose devices MAAS knows, none of them selecting, is untagged.
 */
function keepUnknownLines(site: SiteConfig): string[] {
  return [
    "for id in $current; do",
    '  case " $wanted " in *" $id "*) continue ;; esac',
    `  all_devices=$(${maas(site, "node-devices", "read")} "$id") || fail "maas node-devices read $id failed"`,
    `  if [ "$(printf '%s' "$all_devices" | ${JSON_LIST_LENGTH})" = 0 ]; then`,
    '    wanted="${wanted:+$wanted }$id"',
    `    echo "pci-passthrough: WARNING: MAAS has no node devices for machine $id (commissioned before MAAS 3.0?): it stays tagged; commission it again so that its devices decide" >&2`,
    "  fi",
    "done",
  ];
}

/** Lines that set `$current` to the system IDs the tag is on now. */
function taggedLines(site: SiteConfig, group: HostGroup): string[] {
  return [
    `current=$(${maas(site, "tag", "machines", group.maas.tag)}) || fail "maas tag machines failed"`,
    `current=$(printf '%s' "$current" | ${SYSTEM_IDS}) || fail "could not read the tag's machines"`,
  ];
}

/** The vendor:product pairs whose presence selects a machine (`maas.selectByDevice`). */
export function selectingDevices(group: Pick<HostGroup, "devices">): string[] {
  return [...new Set(group.devices.map(deviceId))].sort();
}

/**
 * Tags exactly the selected machines: the configured system IDs, or (`selectByDevice`) every machine whose
 * MAAS node devices include a configured vendor:product. Adds the missing, removes those no longer
 * selected; the current set is read from MAAS, so drift made by hand is corrected too. Undefined when MAAS
 * selects by the tag's definition. Deleting it removes nothing: deleting the tag (its own step) drops its
 * machines, and a replaced step must not untag what the new one tagged.
 */
export function maasMachinesCommand(site: SiteConfig, group: HostGroup): CommandSpec | undefined {
  const { machines, selectByDevice, tag } = group.maas;
  if (machines === undefined && selectByDevice !== true) return undefined;
  const login = maasLogin(site);
  const upsert = [
    ...login.lines,
    ...selectionLines(site, group),
    ...taggedLines(site, group),
    ...(selectByDevice === true ? keepUnknownLines(site) : []),
    "set --",
    // System IDs are [a-z0-9]+ (config and MAAS), so splitting the lists on blanks is safe.
    `for id in $wanted; do case " $current " in *" $id "*) ;; *) set -- "$@" "add=$id" ;; esac; done`,
    `for id in $current; do case " $wanted " in *" $id "*) ;; *) set -- "$@" "remove=$id" ;; esac; done`,
    `if [ "$#" -gt 0 ]; then ${maas(site, "tag", "update-nodes", tag)} "$@" >/dev/null || fail "maas tag update-nodes failed"; fi`,
    `echo "pci-passthrough: MAAS tag ${tag} is on: $wanted"`,
  ];
  return {
    id: "machines",
    step: `tag machines with ${tag}`,
    script: script(`tag machines with ${tag}`, Object.keys(login.secrets), { upsert }),
    deletes: false,
    environment: { ...login.env, ...selectionEnv(site, group), ...resyncEnv(site) },
    secrets: login.secrets,
    quiet: Object.keys(login.secrets).length > 0,
  };
}

// ---------------------------------------------------------------------------------------------------
// Juju

/** `-m` argument: `controller:model` when a controller is given. */
export function modelRef(site: SiteConfig): string {
  return site.juju.controller ? `${site.juju.controller}:${site.juju.model}` : site.juju.model;
}

/** `juju model-config` with a file: 3.x takes `--file F`; in 2.9 the file is a bare argument. */
function modelConfigFromFile(site: SiteConfig, fileVar: string): string {
  const base = shellCommand(["juju", "model-config", "-m", modelRef(site)]);
  return site.juju.version === "2.9" ? `${base} "$${fileVar}"` : `${base} --file "$${fileVar}"`;
}

/** `juju destroy-model` without a prompt: 3.x `--no-prompt`, 2.9 `-y`. Storage is released, not destroyed. */
export function destroyModelArgv(site: SiteConfig): string[] {
  const noPrompt = site.juju.version === "2.9" ? "-y" : "--no-prompt";
  return ["juju", "destroy-model", noPrompt, "--release-storage", modelRef(site)];
}

/** The model: `juju add-model --config` when it does not exist (unless adopted), else `model-config`.
 * Its userdata is an environment value, so a change is an in-place update, never a replacement. Deleting
 * it removes nothing: the model holds the whole cloud (see modelTeardownCommand). */
export function jujuModelCommand(site: SiteConfig, modelConfigYaml: string): CommandSpec {
  const ref = modelRef(site);
  const model = site.juju.model;
  const addModel = [
    "juju",
    "add-model",
    model,
    ...(site.juju.cloud ? [site.juju.cloud] : []),
    ...(site.juju.controller ? ["-c", site.juju.controller] : []),
    "--no-switch",
  ];
  const whenMissing = site.juju.existingModel
    ? [`  fail "model ${ref} does not exist (juju.existingModel is true: it must already run the cloud)"`]
    : [`  ${shellCommand(addModel)} --config "$cfg" || fail "juju add-model failed"`, `  echo "pci-passthrough: Juju model ${ref} added"`];
  const upsert = [
    ...tempFileFrom("PCIPT_MODEL_CONFIG", "cfg"),
    `if ${shellCommand(["juju", "show-model", ref])} >/dev/null 2>&1; then`,
    `  ${modelConfigFromFile(site, "cfg")} || fail "juju model-config failed"`,
    `  echo "pci-passthrough: Juju model ${ref} config set"`,
    "else",
    ...whenMissing,
    "fi",
  ];
  return {
    id: "model",
    step: `Juju model ${ref}`,
    script: script(`Juju model ${ref}`, [], { upsert }),
    deletes: false,
    environment: { PCIPT_MODEL_CONFIG: modelConfigYaml, ...resyncEnv(site) },
    secrets: {},
    retainOnDelete: true,
  };
}

/**
 * With `juju.destroyModelOnDelete`, the one step whose delete destroys the model. Pulumi runs a delete for a
 * stack deletion and for a replacement alike (`--replace`, a changed provider), in either order, so no script
 * can tell them apart: the step is protected, and destroying the model is a deliberate act
 * (`pulumi state unprotect URN`, then `pulumi destroy`; README "Deleting the stack").
 */
export function modelTeardownCommand(site: SiteConfig): CommandSpec | undefined {
  if (!site.juju.destroyModelOnDelete || site.juju.existingModel) return undefined;
  const ref = modelRef(site);
  return {
    id: "model-teardown",
    step: `destroy Juju model ${ref} with the stack`,
    script: script(`destroy Juju model ${ref} with the stack`, [], {
      upsert: [`echo "pci-passthrough: Juju model ${ref} is destroyed when this step is deleted; it is protected: pulumi state unprotect it first"`],
      delete: [
        `if ${shellCommand(["juju", "show-model", ref])} >/dev/null 2>&1; then`,
        `  ${shellCommand(destroyModelArgv(site))} || fail "juju destroy-model failed"`,
        `  echo "pci-passthrough: Juju model ${ref} destroyed"`,
        "else",
        `  echo "pci-passthrough: Juju model ${ref} is already gone"`,
        "fi",
      ],
    }),
    deletes: true,
    environment: { ...resyncEnv(site) },
    secrets: {},
    protect: true,
  };
}

/** The charm options: one `juju config APP --file F` per application (the file holds both sections).
 * Deleting it removes nothing (README "Safety": a replaced step must not reset what the new one set);
 * `charmResetArgv` gives the reset commands for removing a site by hand. */
export function charmConfigCommand(site: SiteConfig, charmConfigYaml: string, apps: readonly string[]): CommandSpec {
  const ref = modelRef(site);
  const m = ["-m", ref];
  const upsert = [
    ...tempFileFrom("PCIPT_CHARM_CONFIG", "cfg"),
    ...apps.flatMap((app) => [
      `${shellCommand(["juju", "show-application", ...m, app])} >/dev/null 2>&1 \\`,
      `  || fail "application ${app} is not deployed in model ${ref}: deploy OpenStack first (see bundle-overlay.yaml)"`,
      `${shellCommand(["juju", "config", ...m, app])} --file "$cfg" || fail "juju config ${app} failed"`,
    ]),
    `echo "pci-passthrough: options set on ${apps.join(", ")}"`,
  ];
  return {
    id: "charm-config",
    step: `charm options in ${ref}`,
    script: script(`charm options in ${ref}`, [], { upsert }),
    deletes: false,
    environment: { PCIPT_CHARM_CONFIG: charmConfigYaml, ...resyncEnv(site) },
    secrets: {},
  };
}

/** `juju config APP --reset a,b`: what an operator runs to take this stack's options off an application. */
export function charmResetArgv(site: SiteConfig, app: string, options: readonly string[]): string[] {
  return ["juju", "config", "-m", modelRef(site), app, "--reset", options.join(",")];
}

/** Where the binding check looks at a GPU host's PCI functions (a test runs the check on a fake tree there). */
export const SYS_PCI_DEVICES = "/sys/bus/pci/devices";

/** What the binding check runs on each GPU host (sh -c): each configured address and the members of its IOMMU
 * group, once each, listed by `lspci -Dnnk` when their vendor:product is configured (sysfs vendor/device read as
 * id_of does in the host scripts). */
export function bindingCheckScript(group: Pick<HostGroup, "devices">): string {
  return (
    `ids=" ${vfioIds(group.devices).join(" ")} "; seen=" "; ` +
    `for a in ${configuredAddresses(group.devices).join(" ")}; do for f in "${SYS_PCI_DEVICES}/$a" "${SYS_PCI_DEVICES}/$a"/iommu_group/devices/*; do ` +
    `[ -e "$f" ] || continue; d=\${f##*/}; case "$seen" in *" $d "*) continue ;; esac; seen="$seen$d "; ` +
    `v=$(cat "$f/vendor"); p=$(cat "$f/device"); case "$ids" in *" \${v#0x}:\${p#0x} "*) lspci -Dnnk -s "$d" ;; esac; ` +
    "done; done"
  );
}

/** After the smoke test: does each GPU host show `Kernel driver in use: vfio-pci` for each configured device and
 * for each function of its IOMMU group with a configured vendor:product (a companion such as a GPU's HDMI audio:
 * QEMU refuses the device while any of them has another driver, "group N is not viable")? Fails when one does
 * not. `juju exec` in 3.x, `juju run` in 2.9; read-only, so deleting it removes nothing. */
export function verifyBindingCommand(site: SiteConfig, group: HostGroup): CommandSpec {
  const ref = modelRef(site);
  const exec = site.juju.version === "2.9" ? "run" : "exec";
  const addresses = configuredAddresses(group.devices);
  const remote = bindingCheckScript(group);
  const step = group.name === undefined ? `verify vfio-pci binding in ${ref}` : `verify vfio-pci binding of ${group.application} in ${ref}`;
  return {
    id: group.name === undefined ? "verify" : `verify-${group.name}`,
    step,
    script: script(step, [], {
      upsert: [
        // The remote script is single-quoted on purpose: its variables expand on the GPU host.
        "# shellcheck disable=SC2016",
        `out=$(${shellCommand(["juju", exec, "-m", ref, "--application", group.application, "--", "sh", "-c", remote])}) || fail "juju ${exec} failed"`,
        `printf '%s\\n' "$out"`,
        // lspci's line of a function: its address and [vendor:product]; juju exec indents each unit's output.
        `listed=$(printf '%s\\n' "$out" | grep -cE '([0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7] .*\\[[0-9a-f]{4}:[0-9a-f]{4}\\]' || true)`,
        `bound=$(printf '%s\\n' "$out" | grep -c 'Kernel driver in use: vfio-pci' || true)`,
        `echo "pci-passthrough: vfio-pci bound on $bound of $listed function(s): the devices (${addresses.length} per GPU host) and their IOMMU groups' functions with a configured vendor:product"`,
        `[ "$bound" -ge "$listed" ] || fail "$((listed - bound)) function(s) above are not on vfio-pci: QEMU refuses their devices (group not viable) until they are"`,
      ],
    }),
    deletes: false,
    environment: { ...resyncEnv(site) },
    secrets: {},
  };
}

// ---------------------------------------------------------------------------------------------------
// Reading back (`npm run verify`): the same objects, read-only, where the steps run.

/** Starts each object's section in the read script's output: `MARK NAME EXIT-CODE`, then what the
 * command printed (stdout and stderr). */
export const READ_MARK = "@@pci-passthrough-read@@";

/** The sections the read script prints, by name. */
export const READS = {
  tag: (tag: string) => `maas tag read ${tag}`,
  tagMachines: (tag: string) => `maas tag machines ${tag}`,
  selected: (tag: string) => `selected machines ${tag}`,
  userdata: "juju model-config cloudinit-userdata",
  option: (app: string, option: string) => `juju config ${app} ${option}`,
} as const;

/**
 * One read-only script that reads every object the maas/juju steps set, on the same runner: each group's tag,
 * its machines, the machines its selection picks now (selectByDevice), the model's cloudinit-userdata and each
 * charm option. It always exits 0 when it ran: each section carries its command's own exit code.
 */
export function liveReadCommand(site: SiteConfig, options: Readonly<Record<string, readonly string[]>>): CommandSpec {
  const ref = modelRef(site);
  const one = (name: string, argv: string[]) => `read_one ${shellQuote(name)} ${shellCommand(argv)}`;
  const selected = (g: HostGroup) =>
    g.maas.selectByDevice
      ? [
          // The selection's own lines, in a subshell whose fail() prints instead of exiting the script.
          "if out=$({",
          `  fail() { printf '%s\\n' "$1"; exit 1; }`,
          // Each group's selection reads its own values (system IDs and vendor:product ids, no free text).
          ...Object.entries(selectionEnv(site, g)).map(([k, v]) => `  ${k}=${shellQuote(v)}`),
          ...selectionLines(site, g).map((l) => `  ${l}`),
          `  printf '%s' "$wanted"`,
          "} 2>&1); then rc=0; else rc=$?; fi",
          `printf '%s %s %s\\n' '${READ_MARK}' ${shellQuote(READS.selected(g.maas.tag))} "$rc"`,
          `printf '%s\\n' "$out"`,
        ]
      : [];
  const lines = [
    `read_one() { name=$1; shift; if out=$("$@" 2>&1); then rc=0; else rc=$?; fi; printf '%s %s %s\\n' '${READ_MARK}' "$name" "$rc"; printf '%s\\n' "$out"; }`,
    ...site.groups.flatMap((g) => [
      one(READS.tag(g.maas.tag), ["maas", site.maas.profile, "tag", "read", g.maas.tag]),
      one(READS.tagMachines(g.maas.tag), ["maas", site.maas.profile, "tag", "machines", g.maas.tag]),
      ...selected(g),
    ]),
    one(READS.userdata, ["juju", "model-config", "-m", ref, "cloudinit-userdata"]),
    ...Object.entries(options).flatMap(([app, names]) => names.map((o) => one(READS.option(app, o), ["juju", "config", "-m", ref, app, o]))),
  ];
  const step = `read the live objects of ${ref}`;
  return {
    id: "read",
    step,
    script: script(step, [], { upsert: lines, delete: ["true"] }),
    deletes: false,
    environment: {},
    secrets: {},
  };
}
