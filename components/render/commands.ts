// The maas and juju commands of a site, as data: the create / update / delete scripts that the Pulumi
// command resources run, the offline commands.sh, and the tests against the fakes all come from here.
//
// Rules (DOMAIN.md, "Pulumi facts"):
// - structural names (profile, tag, model, application, option names) are validated by the config and
//   still quoted with shellQuote; free text (comment, kernel options, XPath, userdata, JSON) only ever
//   travels in environment variables and temp files;
// - create and update are the same idempotent script: running it twice leaves the same state;
// - delete runs with the OLD inputs and must be safe after a new create of the same object;
// - secrets (the MAAS API key) are environment values that the components mark secret; they are never
//   in a script's text, never echoed, and the commands that carry them do not log their output.
import type { SiteConfig } from "../config";
import { shellCommand, shellQuote } from "./shell";

/** One command resource: its scripts, the environment they read, and how Pulumi must treat it. */
export interface CommandSpec {
  /** Child resource name suffix, e.g. `tag` -> `<component>-tag`. */
  readonly id: string;
  /** What the step does, as named in errors and in commands.sh. */
  readonly step: string;
  readonly create: string;
  /** Runs on an in-place change; the same idempotent script as create. */
  readonly update: string;
  readonly delete?: string;
  /** Non-secret values the scripts read (free text goes here, never into the script text). */
  readonly environment: Readonly<Record<string, string>>;
  /** Names of environment variables holding secrets, with the config key they come from. */
  readonly secretEnvironment: Readonly<Record<string, SecretSource>>;
  /** Values whose change must replace the resource (create new, then delete old). */
  readonly triggers?: readonly string[];
  /** Keep the object when the resource is deleted (the delete script never runs). */
  readonly retainOnDelete?: boolean;
  /** Output may carry secrets or secret-derived text: do not log it, keep stdout/stderr secret. */
  readonly quiet?: boolean;
}

/** Where a secret environment value comes from in the SiteConfig. */
export type SecretSource = "maas.apiKey";

export function secretValue(site: SiteConfig, source: SecretSource): string | undefined {
  switch (source) {
    case "maas.apiKey":
      return site.maas.apiKey;
  }
}

/** Every script starts like this: stop on errors, and name the step in any failure. */
function preamble(step: string): string[] {
  return [
    "set -eu",
    `step=${shellQuote(step)}`,
    `fail() { printf 'pci-passthrough: %s: %s\\n' "$step" "$1" >&2; exit 1; }`,
  ];
}

function script(step: string, body: readonly string[]): string {
  return [...preamble(step), ...body].join("\n") + "\n";
}

/** Writes an environment variable's text to a temp file removed on exit; the file's path is in `$var`. */
function tempFileFrom(envName: string, pathVar: string): string[] {
  return [`${pathVar}=$(mktemp)`, `trap 'rm -f "$${pathVar}"' EXIT`, `printf '%s' "$${envName}" > "$${pathVar}"`];
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

/** The MAAS tag: created, or adopted and updated when it exists; comment and kernel options in place. */
export function maasTagCommand(site: SiteConfig, kernelOptions: string): CommandSpec {
  const tag = site.maas.tag;
  const login = maasLogin(site);
  const definition = site.maas.definition ?? "";
  const fields = [`comment="$PCIPT_TAG_COMMENT"`, `kernel_opts="$PCIPT_KERNEL_OPTS"`];
  const upsert = script(`MAAS tag ${tag}`, [
    ...login.lines,
    `if ${maas(site, "tag", "read", tag)} >/dev/null 2>&1; then`,
    // definition is always sent on update so that dropping it from config clears it in MAAS.
    `  ${maas(site, "tag", "update", tag)} ${fields.join(" ")} definition="$PCIPT_TAG_DEFINITION" >/dev/null || fail "maas tag update failed"`,
    `  echo "pci-passthrough: MAAS tag ${tag} exists; comment, kernel_opts and definition updated"`,
    "else",
    `  if [ -n "$PCIPT_TAG_DEFINITION" ]; then`,
    `    ${maas(site, "tags", "create", `name=${tag}`)} ${fields.join(" ")} definition="$PCIPT_TAG_DEFINITION" >/dev/null || fail "maas tags create failed"`,
    "  else",
    `    ${maas(site, "tags", "create", `name=${tag}`)} ${fields.join(" ")} >/dev/null || fail "maas tags create failed"`,
    "  fi",
    `  echo "pci-passthrough: MAAS tag ${tag} created"`,
    "fi",
  ]);
  return {
    id: "tag",
    step: `MAAS tag ${tag}`,
    create: upsert,
    update: upsert,
    delete: script(`delete MAAS tag ${tag}`, [
      ...login.lines,
      `if ${maas(site, "tag", "read", tag)} >/dev/null 2>&1; then`,
      `  ${maas(site, "tag", "delete", tag)} >/dev/null || fail "maas tag delete failed"`,
      "fi",
      `echo "pci-passthrough: MAAS tag ${tag} deleted"`,
    ]),
    environment: { ...login.env, PCIPT_TAG_COMMENT: site.maas.comment, PCIPT_KERNEL_OPTS: kernelOptions, PCIPT_TAG_DEFINITION: definition },
    secretEnvironment: login.secrets,
    // A renamed tag is a new MAAS object: create the new one, then delete the old (delete has old inputs).
    triggers: [tag],
    quiet: Object.keys(login.secrets).length > 0,
  };
}

/** Tags exactly the configured machines: adds the missing, removes those no longer listed. The current
 * set is read from MAAS (not from the last run), so drift made by hand is corrected too. */
export function maasMachinesCommand(site: SiteConfig): CommandSpec | undefined {
  const machines = site.maas.machines;
  if (machines === undefined) return undefined;
  const tag = site.maas.tag;
  const login = maasLogin(site);
  const listIds = `python3 -c 'import json, sys; print(" ".join(sorted(m["system_id"] for m in json.load(sys.stdin))))'`;
  const sync = script(`tag machines with ${tag}`, [
    ...login.lines,
    `current=$(${maas(site, "tag", "machines", tag)}) || fail "maas tag machines failed"`,
    `current=$(printf '%s' "$current" | ${listIds}) || fail "could not read the tag's machines"`,
    "set --",
    // System IDs are validated as [a-z0-9]+, so splitting the lists on blanks is safe.
    `for id in $PCIPT_MACHINES; do case " $current " in *" $id "*) ;; *) set -- "$@" "add=$id" ;; esac; done`,
    `for id in $current; do case " $PCIPT_MACHINES " in *" $id "*) ;; *) set -- "$@" "remove=$id" ;; esac; done`,
    `if [ "$#" -gt 0 ]; then ${maas(site, "tag", "update-nodes", tag)} "$@" >/dev/null || fail "maas tag update-nodes failed"; fi`,
    `echo "pci-passthrough: MAAS tag ${tag} is on: $PCIPT_MACHINES"`,
  ]);
  return {
    id: "machines",
    step: `tag machines with ${tag}`,
    create: sync,
    update: sync,
    delete: script(`untag machines from ${tag}`, [
      ...login.lines,
      `if ${maas(site, "tag", "read", tag)} >/dev/null 2>&1; then`,
      "  set --",
      `  for id in $PCIPT_MACHINES; do set -- "$@" "remove=$id"; done`,
      `  ${maas(site, "tag", "update-nodes", tag)} "$@" >/dev/null || fail "maas tag update-nodes failed"`,
      "fi",
      `echo "pci-passthrough: machines untagged from ${tag}"`,
    ]),
    environment: { ...login.env, PCIPT_MACHINES: machines.join(" ") },
    secretEnvironment: login.secrets,
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
 * Its userdata is an environment value, so a change is an in-place update, never a replacement. */
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
    : [
        `  ${shellCommand(addModel)} --config "$cfg" || fail "juju add-model failed"`,
        `  echo "pci-passthrough: Juju model ${ref} added"`,
      ];
  const upsert = script(`Juju model ${ref}`, [
    ...tempFileFrom("PCIPT_MODEL_CONFIG", "cfg"),
    `if ${shellCommand(["juju", "show-model", ref])} >/dev/null 2>&1; then`,
    `  ${modelConfigFromFile(site, "cfg")} || fail "juju model-config failed"`,
    `  echo "pci-passthrough: Juju model ${ref} config set"`,
    "else",
    ...whenMissing,
    "fi",
  ]);
  const destroy = site.juju.destroyModelOnDelete && !site.juju.existingModel;
  return {
    id: "model",
    step: `Juju model ${ref}`,
    create: upsert,
    update: upsert,
    // Kept models have no delete script at all: retainOnDelete skips it, and there is nothing to run.
    delete: destroy
      ? script(`destroy Juju model ${ref}`, [
          `if ${shellCommand(["juju", "show-model", ref])} >/dev/null 2>&1; then`,
          `  ${shellCommand(destroyModelArgv(site))} || fail "juju destroy-model failed"`,
          "fi",
          `echo "pci-passthrough: Juju model ${ref} destroyed"`,
        ])
      : undefined,
    environment: { PCIPT_MODEL_CONFIG: modelConfigYaml },
    secretEnvironment: {},
    retainOnDelete: !destroy,
  };
}

/** The charm options: one `juju config APP --file F` per application (the file holds both sections);
 * delete resets exactly the options that were set, and skips applications that are gone. */
export function charmConfigCommand(
  site: SiteConfig,
  charmConfigYaml: string,
  resetOptions: Readonly<Record<string, readonly string[]>>,
): CommandSpec {
  const ref = modelRef(site);
  const m = ["-m", ref];
  const apply = script(`charm options in ${ref}`, [
    ...tempFileFrom("PCIPT_CHARM_CONFIG", "cfg"),
    ...Object.keys(resetOptions).flatMap((app) => [
      `${shellCommand(["juju", "show-application", ...m, app])} >/dev/null 2>&1 \\`,
      `  || fail "application ${app} is not deployed in model ${ref}: deploy OpenStack first (see bundle-overlay.yaml)"`,
      `${shellCommand(["juju", "config", ...m, app])} --file "$cfg" || fail "juju config ${app} failed"`,
    ]),
    `echo "pci-passthrough: options set on ${Object.keys(resetOptions).join(", ")}"`,
  ]);
  return {
    id: "charm-config",
    step: `charm options in ${ref}`,
    create: apply,
    update: apply,
    delete: script(`reset charm options in ${ref}`, [
      ...Object.entries(resetOptions).flatMap(([app, options]) => [
        `if ${shellCommand(["juju", "show-application", ...m, app])} >/dev/null 2>&1; then`,
        `  ${shellCommand(["juju", "config", ...m, app, "--reset", options.join(",")])} || fail "juju config ${app} --reset failed"`,
        "else",
        `  echo "pci-passthrough: ${app} is gone from ${ref}; nothing to reset"`,
        "fi",
      ]),
      `echo "pci-passthrough: options reset"`,
    ]),
    environment: { PCIPT_CHARM_CONFIG: charmConfigYaml },
    secretEnvironment: {},
  };
}

/** After the smoke test: does each GPU host show `Kernel driver in use: vfio-pci` for each address?
 * `juju exec` in 3.x, `juju run` in 2.9; read-only, so delete does nothing. */
export function verifyBindingCommand(site: SiteConfig, addresses: readonly string[]): CommandSpec {
  const ref = modelRef(site);
  const exec = site.juju.version === "2.9" ? "run" : "exec";
  const remote = `for a in ${addresses.map(shellQuote).join(" ")}; do lspci -nnk -s "$a"; done`;
  const verify = script(`verify vfio-pci binding in ${ref}`, [
    // The remote loop is single-quoted on purpose: $a expands on the GPU host.
    "# shellcheck disable=SC2016",
    `out=$(${shellCommand(["juju", exec, "-m", ref, "--application", "nova-compute", "--", "sh", "-c", remote])}) || fail "juju ${exec} failed"`,
    `printf '%s\\n' "$out"`,
    `bound=$(printf '%s\\n' "$out" | grep -c 'Kernel driver in use: vfio-pci' || true)`,
    `echo "pci-passthrough: vfio-pci bound on $bound device(s); expected ${addresses.length} per GPU host"`,
  ]);
  return {
    id: "verify",
    step: `verify vfio-pci binding in ${ref}`,
    create: verify,
    update: verify,
    environment: {},
    secretEnvironment: {},
  };
}
