// commands.sh: the whole deployment of one site as the ordered maas / juju / openstack commands an
// operator could run by hand: the runbook, generated for this site (docs/domain.md, "The runbook and what is
// dated in it"). The maas and juju steps are the very scripts the Pulumi command resources run (render/steps/);
// the openstack steps do by hand what the flavor and server resources do.
import type { SiteConfig, SmokeTestConfig } from "../config/types";
import { charmResetArgv, destroyModelArgv } from "./steps/juju";
import type { CommandSpec } from "./steps/script";
import type { FlavorSpec } from "./nova/flavors";
import type { SiteArtifacts } from "./site";
import { EXTRA_SPEC_VALIDATION_MICROVERSION, validatesExtraSpecs } from "../domain/releases";
import { shellAssignments, shellCommand, shellQuote } from "./shell";

function indent(text: string, by = "  "): string {
  return text
    .trimEnd()
    .split("\n")
    .map((l) => (l === "" ? l : by + l))
    .join("\n");
}

/** A maas/juju step in a subshell with its environment exported, its script inline with the phase
 * (`create`) as its argument. Secrets are not in the file: the operator exports them, the step stops with a
 * message when one is missing, and they reach the script on its standard input as under Pulumi. */
function step(n: number, spec: CommandSpec): string {
  const secrets = Object.entries(spec.secrets);
  const checks = secrets.map(([name, source]) => `: "\${${name}:?export ${name} with the value of pci-passthrough:${source} first}"`);
  const stdin = secrets.map(([name]) => `printf '${name}=%s\\n' "$(printf '%s' "$${name}" | base64 | tr -d '\\n')"`);
  // Assignments are not indented: a multi-line quoted value (userdata, YAML) must stay byte for byte.
  const env = shellAssignments(spec.environment).map((a) => `export ${a}`);
  const body = ["set -- create", spec.script.trimEnd()].join("\n");
  if (stdin.length === 0) return [`# ${n}. ${spec.step}`, "(", ...env, indent(body), ")", ""].join("\n");
  return [`# ${n}. ${spec.step}`, ...checks, `{ ${stdin.join("; ")}; } | (`, ...env, indent(body), ")", ""].join("\n");
}

/** The `openstack` prefix: microversion 2.86+ makes Nova validate extra specs (Ussuri and later). */
function openstackCli(release: string): { argv: string[]; note: string } {
  if (validatesExtraSpecs(release)) {
    return {
      argv: ["openstack", "--os-compute-api-version", EXTRA_SPEC_VALIDATION_MICROVERSION],
      note: `# Compute API microversion ${EXTRA_SPEC_VALIDATION_MICROVERSION}: Nova validates the extra specs and refuses a bad one with HTTP 400.`,
    };
  }
  return {
    argv: ["openstack"],
    note:
      `# ${release} predates compute microversion ${EXTRA_SPEC_VALIDATION_MICROVERSION} (Ussuri): the API cannot validate extra specs,\n` +
      "# so a malformed one is only found when a server boots. pci-passthrough validated them before rendering.",
  };
}

// Reads `openstack flavor show -f json` on stdin; prints "ram vcpus disk" then one property key a line.
const FLAVOR_STATE = `python3 -c 'import json, sys; f = json.load(sys.stdin); p = f.get("properties") or {}; p = p if isinstance(p, dict) else dict(kv.split("=", 1) for kv in p.replace("\\x27", "").split(", ") if "=" in kv); print(f["ram"], f["vcpus"], f["disk"]); [print(k) for k in sorted(p)]'`;

/** One flavor, idempotently: Nova flavors are immutable, so a changed size deletes and recreates it
 * (one flavor of that name remains); extra specs are set, and stale ones unset. */
function flavorStep(n: number, f: FlavorSpec, cli: string[]): string {
  const os = (...args: string[]) => shellCommand([...cli, ...args]);
  const size = `${f.ram} ${f.vcpus} ${f.disk}`;
  const name = shellQuote(f.name);
  const props = Object.entries(f.extraSpecs).flatMap(([k, v]) => ["--property", `${k}=${v}`]);
  const wanted = Object.keys(f.extraSpecs).sort();
  return [
    `# ${n}. flavor ${f.name}: ${f.ram} MB RAM, ${f.vcpus} vCPUs, ${f.disk} GB disk`,
    "(",
    indent(
      [
        "set -eu",
        `state=$( (${os("flavor", "show", "-f", "json", f.name)} | ${FLAVOR_STATE}) 2>/dev/null) || state=""`,
        `if [ -n "$state" ] && [ "$(printf '%s\\n' "$state" | head -n 1)" != ${shellQuote(size)} ]; then`,
        `  printf 'flavor %s changed size: deleting it to recreate it\\n' ${name}`,
        `  ${os("flavor", "delete", f.name)}`,
        `  state=""`,
        "fi",
        `if [ -z "$state" ]; then`,
        `  ${os("flavor", "create", "--ram", String(f.ram), "--vcpus", String(f.vcpus), "--disk", String(f.disk), "--public", f.name)} >/dev/null`,
        "fi",
        `for key in $(printf '%s\\n' "$state" | tail -n +2); do`,
        `  case "$key" in ${wanted.map(shellQuote).join("|")}) ;; *) ${os("flavor", "unset", "--property")} "$key" ${name} ;; esac`,
        "done",
        `${os("flavor", "set", ...props, f.name)}`,
      ].join("\n"),
    ),
    ")",
    "",
  ].join("\n");
}

function serverStep(n: number, st: SmokeTestConfig, server: { name: string; flavor: string }, cli: string[]): string {
  const create = shellCommand([
    ...cli,
    "server",
    "create",
    ...(st.keyPair ? ["--key-name", st.keyPair] : []),
    "--image",
    st.image,
    "--network",
    st.network,
    "--flavor",
    server.flavor,
    "--wait",
    server.name,
  ]);
  return [
    `# ${n}. smoke-test server ${server.name} on flavor ${server.flavor}`,
    `${shellCommand([...cli, "server", "show", server.name])} >/dev/null 2>&1 || ${create}`,
    "",
  ].join("\n");
}

/** What removing the site by hand takes, as comments: what `pulumi destroy` does and what it keeps
 * (docs/day2.md, "Deleting the stack"). */
function removal(site: SiteConfig, a: SiteArtifacts): string[] {
  const c = a.commands;
  return [
    "# Removing this site later (`pulumi destroy` does the first two and keeps the rest):",
    ...a.flavors.map((f) => `#   ${shellCommand(["openstack", "flavor", "delete", f.name])}`),
    ...site.groups.map((g) => `#   ${shellCommand(["maas", site.maas.profile, "tag", "delete", g.maas.tag])}   # only if this stack created the tag`),
    ...Object.entries(a.charmResetOptions).map(([app, options]) => `#   ${shellCommand(charmResetArgv(site.juju, app, options))}`),
    c.modelTeardown
      ? `#   ${shellCommand(destroyModelArgv(site.juju))}   # destroys the whole cloud (juju.destroyModelOnDelete)`
      : `#   the Juju model ${site.juju.model} is kept (juju.destroyModelOnDelete is false)`,
  ];
}

/** The whole commands.sh for a stack. */
export function renderRunbook(site: SiteConfig, a: SiteArtifacts, stack: string): string {
  const { argv: cli, note } = openstackCli(site.openstack.release);
  let n = 0;
  const c = a.commands;
  // Steps of several host groups export the same variables, each in its own subshell, on purpose.
  const exported = a.groups.flatMap((g) => [g.commands.tag, g.commands.machines].flatMap((spec) => Object.keys(spec?.environment ?? {})));
  const repeated = exported.length !== new Set(exported).size;
  const out: string[] = [
    "#!/bin/sh",
    "# Single-quoted values below are literal on purpose (userdata, remote commands): nothing expands here.",
    "# shellcheck disable=SC2016",
    ...(repeated ? ["# Each step exports its own values in its own subshell: the same names in several steps are meant.", "# shellcheck disable=SC2030,SC2031"] : []),
    `# pci-passthrough: the deployment of stack "${stack}" as the commands an operator would run by hand,`,
    "# in the runbook's order (MAAS tag -> Juju model -> charm options -> flavors -> smoke test).",
    "# Generated by `npm run render`; `pulumi up` runs the same maas and juju steps. Safe to run again.",
    "# Needs: maas (profile logged in, or PCIPT_MAAS_API_KEY exported when maas.url is set), juju, and",
    "# openstack with OS_* credentials. SKIP_SMOKE_TEST=1 skips the test servers and the vfio-pci check.",
    "set -eu",
    "",
  ];
  for (const g of a.groups) {
    out.push(step(++n, g.commands.tag));
    if (g.commands.machines) out.push(step(++n, g.commands.machines));
  }
  out.push(step(++n, c.model), step(++n, c.charmConfig), note, "");
  for (const f of a.flavors) out.push(flavorStep(++n, f, cli));
  const verify = a.groups.flatMap((g) => (g.commands.verify ? [g.commands.verify] : []));
  if (site.smokeTest && verify.length > 0) {
    out.push('if [ "${SKIP_SMOKE_TEST:-}" != 1 ]; then', "");
    for (const s of site.smokeTest.servers) out.push(indent(serverStep(++n, site.smokeTest, s, cli)), "");
    out.push(verify.map((v) => indent(step(++n, v))).join("\n\n"), "fi", "");
  }
  out.push(...removal(site, a));
  return out.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd() + "\n";
}
