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
//   environment, a script's text or a command line, and nothing a step prints carries them (`maas login`'s
//   own output, which may repeat a malformed key, is discarded), so the steps' messages are shown;
// - whether an object exists is read from the data a CLI prints on success, never from an error's text.
import { groupPath, type HostGroup, type SecretSource, type SiteConfig } from "../../config/types";
import { deviceId } from "../../domain/pci";
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
//
// How maascli answers (canonical/maas src/maascli): an API call prints the region's response body on
// stdout; when the status is not 2xx it then exits 2 (api.py Action.__call__ raises CommandError(2), and
// command.py makes CommandError a SystemExit), with nothing on stderr: a missing tag is "No Tag matches the
// given query." on stdout and exit 2, exactly like a refused request. A region that cannot be reached is an
// error on stderr and exit 2 too. So no step reads an answer's error text: whether an object exists is read
// from the JSON MAAS gives on success (`tags read` lists every tag; `machines read` every machine), and any
// failing call stops the step, showing what maascli printed.

const MAAS_KEY_ENV = "PCIPT_MAAS_API_KEY";

/** `maas PROFILE ...` argv, quoted. */
function maas(site: SiteConfig, ...args: string[]): string {
  return shellCommand(["maas", site.maas.profile, ...args]);
}

/** The shell function every maas step calls when a maas call fails: maascli wrote the region's answer (an
 * HTTP error's body) to stdout, which the step captured; it is shown on stderr, then the step stops. */
const MAAS_FAILED = [
  "# maas_failed WHAT OUTPUT: maascli prints an HTTP error's body on stdout (it was captured); show it, then stop.",
  `maas_failed() { if [ -n "$2" ]; then printf '%s\\n' "$2" >&2; fi; fail "$1 failed"; }`,
];

/** `var=$(maas PROFILE ARGS...) || maas_failed ...`: a maas call whose answer (JSON) the step reads. */
function maasRead(site: SiteConfig, variable: string, ...args: string[]): string {
  const call = maas(site, ...args);
  return `${variable}=$(${call}) || maas_failed ${shellQuote(call)} "$${variable}"`;
}

/** Logs the profile in first when the stack gives url and apiKey; the key goes through stdin (`-`),
 * never on a command line (maascli auth.py obtain_credentials reads one line of stdin for "-"). Its output
 * is never shown: maascli repeats a malformed key in its error (apiclient/creds.py convert_string_to_tuple). */
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
 * Reads `maas PROFILE tags read` (a JSON list of every tag, maasserver/api/tags.py TagsHandler.read) on stdin;
 * its argument is the tag's name. Prints `1 CLAIM ADOPTED STACK` when the tag is in the list (`-`, `no`, `-`
 * for a comment without a claim), `0 - no -` when it is not.
 */
export const TAG_STATE =
  `python3 -c 'import json, re, sys; t = [x for x in json.load(sys.stdin) if x.get("name") == sys.argv[1]]; ` +
  `m = t and re.search(r"${TAG_CLAIM_PATTERN}\\Z", t[0].get("comment") or ""); ` +
  `print(1 if t else 0, m.group(1) if m else "-", "yes" if m and m.group(3) else "no", (m.group(2) if m else None) or "-")'`;

/** Reads `maas PROFILE tags read` on stdin and prints the named tag's comment without its claim, and an `x`
 * (so that the shell keeps trailing newlines). */
export const TAG_COMMENT_UNCLAIMED =
  `python3 -c 'import json, re, sys; t = [x for x in json.load(sys.stdin) if x.get("name") == sys.argv[1]]; ` +
  `sys.stdout.write(re.sub(r"${TAG_CLAIM_PATTERN}\\Z", "", t[0].get("comment") or "") + "x")'`;

/**
 * Lines that define read_tag: it sets `tag_exists` (1/0), `tag_claim` (or -), `tag_adopted` (yes/no) and
 * `tag_stack` (the claiming stack, or -), and keeps MAAS's tag list in `$tags`. Whether the tag exists is
 * whether `tags read` lists it; a failing `tags read` (an unreachable region, a profile not logged in) stops
 * the step: it is never taken for a missing tag.
 */
function readTagLines(site: SiteConfig, group: HostGroup): string[] {
  return [
    "read_tag() {",
    `  ${maasRead(site, "tags", "tags", "read")}`,
    `  parsed=$(printf '%s' "$tags" | ${TAG_STATE} ${shellQuote(group.maas.tag)}) || fail "cannot read MAAS's tag list"`,
    // Four words without blanks (a hex claim, yes/no, PROJECT/STACK): the function's own positional parameters.
    "  # shellcheck disable=SC2086",
    "  set -- $parsed",
    '  tag_exists=$1 tag_claim=$2 tag_adopted=$3 tag_stack=$4',
    "}",
    "read_tag",
  ];
}

/** Where a group's tag keys are in the stack config: `pci-passthrough:maas` or
 * `pci-passthrough:hostGroups[i].maas`. */
export function tagKeyPath(site: SiteConfig, group: HostGroup): string {
  return groupPath(site.groups, group, "maas");
}

/** The `machines read` filters of a group's scope (maasserver/api/machines.py, ReadNodesForm pool and zone). */
export function scopeFilters(group: HostGroup): string[] {
  return [...(group.maas.pool !== undefined ? [`pool=${group.maas.pool}`] : []), ...(group.maas.zone !== undefined ? [`zone=${group.maas.zone}`] : [])];
}

/** The scope as said in step names and messages: `in pool P`, `in zone Z`, `in pool P, zone Z`, or "". */
export function scopeText(group: HostGroup): string {
  const { pool, zone } = group.maas;
  const parts = [...(pool !== undefined ? [`pool ${pool}`] : []), ...(zone !== undefined ? [`zone ${zone}`] : [])];
  return parts.length > 0 ? ` in ${parts.join(", ")}` : "";
}

/**
 * Reads `maas PROFILE machines read` (every machine) on stdin; its arguments are the tag's key path, the
 * configured pool and zone ("" when not set) and the listed system IDs. Prints one `<key path>: <problem>`
 * line per listed machine MAAS does not have, or that is outside the pool or zone; nothing when all are
 * fine. (`tag update-nodes` ignores a system ID MAAS does not know, silently: maasserver/api/tags.py
 * TagHandler.update_nodes filters Node.objects by it.)
 */
export const LISTED_MACHINE_PROBLEMS =
  `python3 -c 'import json, sys; key, pool, zone, ids = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]; ` +
  `known = {m["system_id"]: m for m in json.load(sys.stdin)}; name = lambda s, f: (known[s].get(f) or {}).get("name"); ` +
  `why = lambda s: "MAAS has no machine %s (a typo? maas PROFILE machines read lists them)" % s if s not in known ` +
  `else "machine %s is in resource pool %s, not in %s.pool %s" % (s, name(s, "pool"), key, pool) if pool and name(s, "pool") != pool ` +
  `else "machine %s is in zone %s, not in %s.zone %s" % (s, name(s, "zone"), key, zone) if zone and name(s, "zone") != zone else ""; ` +
  `[print("%s.machines[%d]: %s" % (key, i, why(s))) for i, s in enumerate(ids) if why(s)]'`;

/** Lines that check a listed selection against MAAS before anything changes: every listed machine exists,
 * in the configured pool and zone. */
function listedMachinesCheck(site: SiteConfig, group: HostGroup): string[] {
  const key = tagKeyPath(site, group);
  return [
    maasRead(site, "all", "machines", "read"),
    // System IDs are [a-z0-9]+ (config): splitting the list into arguments is meant.
    "# shellcheck disable=SC2086",
    `problems=$(printf '%s' "$all" | ${LISTED_MACHINE_PROBLEMS} ${shellQuote(key)} ${shellQuote(group.maas.pool ?? "")} ${shellQuote(group.maas.zone ?? "")} $PCIPT_MACHINES) \\`,
    `  || fail "cannot read MAAS's machine list"`,
    `if [ -n "$problems" ]; then printf '%s\\n' "$problems" >&2; fail "${key}.machines: MAAS does not have these machines where the config says; nothing was changed"; fi`,
  ];
}

/** Lines the tag step runs before it changes anything: a listed selection is checked; a scope is checked to
 * exist (MAAS refuses a pool or zone it does not have: ReadNodesForm clean_pool / clean_zone, HTTP 400). */
function selectionCheckLines(site: SiteConfig, group: HostGroup): string[] {
  if (group.maas.machines !== undefined) return listedMachinesCheck(site, group);
  if (group.maas.selectByDevice === true) return [maasRead(site, "scope", "machines", "read", ...scopeFilters(group))];
  return [];
}

/**
 * The MAAS tag: created, or adopted and updated when it exists; comment (with the claim), kernel options
 * and, when configured, definition set in place. An update never clears a definition that this stack did
 * not set. Before anything changes, the tag's selection is checked against MAAS (listed machines exist, in
 * the scope; the scope exists). Its delete removes the tag only when the tag still carries this step's
 * claim and was created by the stack (or `maas.deleteAdoptedTag` is true); anything else is kept and said,
 * and a tag kept because it existed before the stack is handed back: its claim is taken off the comment,
 * so that another stack can adopt it later.
 */
export function maasTagCommand(site: SiteConfig, group: HostGroup, kernelOptions: string): CommandSpec {
  const tag = group.maas.tag;
  const login = maasLogin(site);
  const fields = [
    `"comment=${tagCommentWithClaim("$PCIPT_TAG_COMMENT", "$claim", `\${${STACK_ENV}:+ stack $${STACK_ENV}}`, "$suffix")}"`,
    `"kernel_opts=$PCIPT_KERNEL_OPTS"`,
  ];
  const upsert = [
    ...selectionCheckLines(site, group),
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
    `  out=$(${maas(site, "tag", "update", tag)} "$@") || maas_failed ${shellQuote(maas(site, "tag", "update", tag))} "$out"`,
    `  if [ "$adopted" = yes ]; then how="it existed before this stack"; else how="created by this stack"; fi`,
    `  echo "pci-passthrough: MAAS tag ${tag} updated ($how)"`,
    "else",
    '  adopted=no definition=none suffix=""',
    `  set -- "name=${tag}" ${fields.join(" ")}`,
    '  if [ -n "$PCIPT_TAG_DEFINITION" ]; then set -- "$@" "definition=$PCIPT_TAG_DEFINITION"; definition=ours; fi',
    `  out=$(${maas(site, "tags", "create")} "$@") || maas_failed ${shellQuote(maas(site, "tags", "create"))} "$out"`,
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
    // Handed back as it was found: without this stack's claim, any stack may adopt it again.
    `  unclaimed=$(printf '%s' "$tags" | ${TAG_COMMENT_UNCLAIMED} ${shellQuote(tag)}) || fail "cannot read MAAS's tag list"`,
    `  out=$(${maas(site, "tag", "update", tag)} "comment=\${unclaimed%x}") || maas_failed ${shellQuote(maas(site, "tag", "update", tag))} "$out"`,
    `  echo "pci-passthrough: kept MAAS tag ${tag}: it existed before this stack (maas.deleteAdoptedTag is false); this stack's claim is taken off it"`,
    "else",
    `  out=$(${maas(site, "tag", "delete", tag)}) || maas_failed ${shellQuote(maas(site, "tag", "delete", tag))} "$out"`,
    `  echo "pci-passthrough: MAAS tag ${tag} deleted"`,
    "fi",
  ];
  return {
    id: "tag",
    step: `MAAS tag ${tag}`,
    script: script(`MAAS tag ${tag}`, Object.keys(login.secrets), {
      common: [...MAAS_FAILED, ...login.lines, ...readTagLines(site, group)],
      upsert,
      delete: remove,
      keepsState: true,
    }),
    deletes: true,
    environment: {
      ...login.env,
      PCIPT_TAG_COMMENT: group.maas.comment,
      PCIPT_KERNEL_OPTS: kernelOptions,
      PCIPT_TAG_DEFINITION: group.maas.definition ?? "",
      PCIPT_DELETE_ADOPTED: String(group.maas.deleteAdoptedTag),
      ...(group.maas.machines !== undefined ? { PCIPT_MACHINES: group.maas.machines.join(" ") } : {}),
      ...resyncEnv(site),
    },
    secrets: login.secrets,
    // A renamed tag is a new MAAS object: create the new one, then delete the old (delete has old inputs).
    triggers: [tag],
  };
}

/** Reads `maas ... read` JSON lists of machines on stdin and prints their system IDs, sorted, on one line. */
export const SYSTEM_IDS = `python3 -c 'import json, sys; print(" ".join(sorted(m["system_id"] for m in json.load(sys.stdin))))'`;

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
export const JSON_LIST_LENGTH = `python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'`;

/** Lines that set `$wanted` to the system IDs the tag must be on: the configured ones (checked against MAAS
 * first), or, among the machines of the scope, those whose node devices include a configured
 * vendor:product. They call `fail` (through maas_failed, which must be defined) on a CLI error. */
function selectionLines(site: SiteConfig, group: HostGroup): string[] {
  if (group.maas.machines !== undefined) return [...listedMachinesCheck(site, group), 'wanted="$PCIPT_MACHINES"'];
  const others = selectionEnv(site, group).PCIPT_OTHER_GROUPS_MACHINES !== undefined;
  return [
    maasRead(site, "all", "machines", "read", ...scopeFilters(group)),
    `all=$(printf '%s' "$all" | ${SYSTEM_IDS}) || fail "cannot read MAAS's machine list"`,
    'wanted=""',
    "for id in $all; do",
    "  for dev in $PCIPT_SELECT_DEVICES; do",
    `    found=$(${maas(site, "node-devices", "read")} "$id" "vendor_id=\${dev%%:*}" "product_id=\${dev#*:}") \\`,
    `      || maas_failed "${maas(site, "node-devices", "read")} $id (selectByDevice needs MAAS 3.0 or later)" "$found"`,
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
 * With selectByDevice: a tagged machine of the scope that no longer shows a selecting device stays tagged
 * when MAAS has no node devices for it at all (commissioned before MAAS 3.0, or its device records deleted:
 * MAAS fills them in only at commissioning), with a warning; untagging it would take a GPU host out of its
 * group for want of data. A machine whose devices MAAS knows, none of them selecting, is untagged, and so is
 * any machine outside the scope (`$all`, the scope's machines).
 */
function keepUnknownLines(site: SiteConfig): string[] {
  return [
    "for id in $current; do",
    '  case " $wanted " in *" $id "*) continue ;; esac',
    '  case " $all " in *" $id "*) ;; *) continue ;; esac',
    `  all_devices=$(${maas(site, "node-devices", "read")} "$id") || maas_failed "${maas(site, "node-devices", "read")} $id" "$all_devices"`,
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
    maasRead(site, "current", "tag", "machines", group.maas.tag),
    `current=$(printf '%s' "$current" | ${SYSTEM_IDS}) || fail "cannot read the tag's machines"`,
  ];
}

/** The vendor:product pairs whose presence selects a machine (`maas.selectByDevice`). */
export function selectingDevices(group: Pick<HostGroup, "devices">): string[] {
  return [...new Set(group.devices.map(deviceId))].sort();
}

/**
 * Tags exactly the selected machines: the configured system IDs (each checked against MAAS first: one it
 * does not have, or outside the pool or zone, stops the step with its key path before anything changes),
 * or (`selectByDevice`) every machine of the pool and/or zone whose MAAS node devices include a configured
 * vendor:product. Adds the missing, removes those no longer selected (a tagged machine outside the scope
 * included); the current set is read from MAAS, so drift made by hand is corrected too. Undefined when MAAS
 * selects by the tag's definition. Deleting it removes nothing: deleting the tag (its own step) drops its
 * machines, and a replaced step must not untag what the new one tagged.
 */
export function maasMachinesCommand(site: SiteConfig, group: HostGroup): CommandSpec | undefined {
  const { machines, selectByDevice, tag } = group.maas;
  if (machines === undefined && selectByDevice !== true) return undefined;
  const login = maasLogin(site);
  const upsert = [
    ...MAAS_FAILED,
    ...login.lines,
    ...selectionLines(site, group),
    ...(selectByDevice === true
      ? [`if [ -z "$wanted" ]; then echo "pci-passthrough: WARNING: no machine${scopeText(group)} has a device of this group ($PCIPT_SELECT_DEVICES): the tag is on none" >&2; fi`]
      : []),
    ...taggedLines(site, group),
    ...(selectByDevice === true ? keepUnknownLines(site) : []),
    "set --",
    // System IDs are [a-z0-9]+ (config and MAAS), so splitting the lists on blanks is safe.
    `for id in $wanted; do case " $current " in *" $id "*) ;; *) set -- "$@" "add=$id" ;; esac; done`,
    `for id in $current; do case " $wanted " in *" $id "*) ;; *) set -- "$@" "remove=$id" ;; esac; done`,
    `if [ "$#" -gt 0 ]; then out=$(${maas(site, "tag", "update-nodes", tag)} "$@") || maas_failed ${shellQuote(maas(site, "tag", "update-nodes", tag))} "$out"; fi`,
    `echo "pci-passthrough: MAAS tag ${tag} is on: $wanted"`,
  ];
  // The scope is in the step's name: the preview and every message say where the machines come from.
  const step = `tag machines${scopeText(group)} with ${tag}`;
  return {
    id: "machines",
    step,
    script: script(step, Object.keys(login.secrets), { upsert }),
    deletes: false,
    environment: { ...login.env, ...selectionEnv(site, group), ...resyncEnv(site) },
    secrets: login.secrets,
  };
}

// ---------------------------------------------------------------------------------------------------
// Juju
//
// How juju answers (juju/cmd cmd.go Main): output on stdout, an error as "ERROR <message>" on stderr with
// exit 1 (2 for refused arguments), whatever the cause: a model or application that is not there and a
// controller that cannot be reached look alike but for the text. So whether a model or an application
// exists is read from `--format json` data (juju/cmd output.go FormatJson): `juju models` lists the
// controller's models, `juju status` the model's applications. A failing call stops the step, with juju's
// own words on stderr.

/** `-m` argument: `controller:model` when a controller is given. */
export function modelRef(site: SiteConfig): string {
  return site.juju.controller ? `${site.juju.controller}:${site.juju.model}` : site.juju.model;
}

/** `juju models [-c CONTROLLER] --format json`: the controller's models. */
export function modelsArgv(site: SiteConfig): string[] {
  return ["juju", "models", ...(site.juju.controller ? ["-c", site.juju.controller] : []), "--format", "json"];
}

/** Reads `juju models --format json` (cmd/juju/controller/listmodels.go ModelSet) on stdin; its argument is
 * the model's name. Prints 1 when one of the models has that short name, else 0. */
export const MODEL_LISTED = `python3 -c 'import json, sys; print(1 if any(m.get("short-name") == sys.argv[1] for m in json.load(sys.stdin).get("models") or []) else 0)'`;

/** Lines that set `$model_exists` (1/0) from `juju models`. */
function modelExistsLines(site: SiteConfig): string[] {
  return [
    `models=$(${shellCommand(modelsArgv(site))}) || fail "juju models failed: cannot tell whether model ${modelRef(site)} exists"`,
    `model_exists=$(printf '%s' "$models" | ${MODEL_LISTED} ${shellQuote(site.juju.model)}) || fail "cannot read juju models' answer"`,
  ];
}

/** `juju status -m MODEL --format json`: the model's applications. */
export function statusArgv(site: SiteConfig): string[] {
  return ["juju", "status", "-m", modelRef(site), "--format", "json"];
}

/** Reads `juju status --format json` (cmd/juju/status formattedStatus: `applications` by name) on stdin; its
 * arguments are application names. Prints those the model does not have, on one line. */
export const APPS_MISSING = `python3 -c 'import json, sys; apps = json.load(sys.stdin).get("applications") or {}; print(" ".join(a for a in sys.argv[1:] if a not in apps))'`;

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
    ...modelExistsLines(site),
    'if [ "$model_exists" = 1 ]; then',
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
        ...modelExistsLines(site),
        'if [ "$model_exists" = 1 ]; then',
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
    `status=$(${shellCommand(statusArgv(site))}) || fail "juju status failed: cannot tell which applications model ${ref} has"`,
    `missing=$(printf '%s' "$status" | ${APPS_MISSING} ${apps.map(shellQuote).join(" ")}) || fail "cannot read juju status' answer"`,
    `for app in $missing; do fail "application $app is not deployed in model ${ref}: deploy OpenStack first (see bundle-overlay.yaml)"; done`,
    ...apps.map((app) => `${shellCommand(["juju", "config", ...m, app])} --file "$cfg" || fail "juju config ${app} failed"`),
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

/** Starts each command's section in the read script's output: `MARK NAME EXIT-CODE`, then one line with the
 * command's stdout in base64 and one with its stderr in base64 (exact bytes, whatever they hold). */
export const READ_MARK = "@@pci-passthrough-read@@";

/** The sections the read script prints, by name. */
export const READS = {
  tags: "maas tags read",
  tagMachines: (tag: string) => `maas tag machines ${tag}`,
  selected: (tag: string) => `selected machines ${tag}`,
  models: "juju models",
  userdata: "juju model-config cloudinit-userdata",
  status: "juju status",
  config: (app: string) => `juju config ${app}`,
} as const;

/**
 * One read-only script that reads every object the maas/juju steps set, on the same runner: MAAS's tags, each
 * group's tagged machines and the machines its selection picks now (selectByDevice), the controller's models,
 * the model's cloudinit-userdata, its applications and each application's charm settings (`juju config APP
 * --format json`: every option of its charm, set or not). It always exits 0 when it ran: each section carries
 * its command's own exit code and output.
 */
export function liveReadCommand(site: SiteConfig, apps: readonly string[]): CommandSpec {
  const ref = modelRef(site);
  const section = (name: string) => `section ${shellQuote(name)} "$rc"`;
  const one = (name: string, argv: string[]) => [`if ${shellCommand(argv)} >"$o" 2>"$e"; then rc=0; else rc=$?; fi`, section(name)];
  const selected = (g: HostGroup) =>
    g.maas.selectByDevice
      ? [
          // The selection's own lines, in a subshell: its fail() ends the subshell, not the script.
          "if (",
          // Each group's selection reads its own values (system IDs and vendor:product ids, no free text).
          ...Object.entries(selectionEnv(site, g)).map(([k, v]) => `  ${k}=${shellQuote(v)}`),
          ...selectionLines(site, g).map((l) => `  ${l}`),
          `  printf '%s' "$wanted"`,
          `) >"$o" 2>"$e"; then rc=0; else rc=$?; fi`,
          section(READS.selected(g.maas.tag)),
        ]
      : [];
  const lines = [
    ...MAAS_FAILED,
    'o=$(mktemp) e=$(mktemp)',
    `trap 'rm -f "$o" "$e"' EXIT`,
    `section() { printf '%s %s %s\\n' '${READ_MARK}' "$1" "$2"; base64 < "$o" | tr -d '\\n'; echo; base64 < "$e" | tr -d '\\n'; echo; }`,
    ...one(READS.tags, ["maas", site.maas.profile, "tags", "read"]),
    ...site.groups.flatMap((g) => [...one(READS.tagMachines(g.maas.tag), ["maas", site.maas.profile, "tag", "machines", g.maas.tag]), ...selected(g)]),
    ...one(READS.models, modelsArgv(site)),
    ...one(READS.userdata, ["juju", "model-config", "-m", ref, "cloudinit-userdata"]),
    ...one(READS.status, statusArgv(site)),
    ...apps.flatMap((app) => one(READS.config(app), ["juju", "config", "-m", ref, app, "--format", "json"])),
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
