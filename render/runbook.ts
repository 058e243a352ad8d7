// commands.sh: the whole deployment of one site as the ordered maas / juju / openstack commands an
// operator could run by hand: the runbook, generated for this site (docs/domain.md, "The runbook and what is
// dated in it"). The maas and juju steps are the very scripts the Pulumi command resources run (render/steps/);
// the openstack step does by hand, in one client process, what the flavor and server resources do
// (render/runbook-openstack.ts).
import type { SiteConfig } from "../config/types";
import { charmResetArgv, destroyModelArgv } from "./steps/juju";
import type { CommandSpec } from "./steps/script";
import type { SiteArtifacts } from "./site";
import { openstackStep } from "./runbook-openstack";
import { shellAssignments, shellCommand } from "./shell";

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

/** The maas reads several steps make alike (each step is the very script `pulumi up` runs, and each reads what
 * it needs): answered once in this run. The steps change neither the machine list nor another group's tag. */
const MAAS_READS_ONCE = [
  "# The steps below are the very scripts `pulumi up` runs, each reading what it needs; a MAAS read several of them",
  "# make alike (`machines read`, `tags read`, a machine's `node-devices read`) is asked of MAAS once in this run and",
  "# kept in $PCIPT_READS: no step changes the machine list, a machine's devices or another step's tag.",
  "PCIPT_READS=$(mktemp -d)",
  `trap 'rm -rf "$PCIPT_READS"' EXIT`,
  "maas() {",
  '  case "$*" in',
  '    *" machines read"*|*" tags read"|*" node-devices read "*) ;;',
  '    *) command maas "$@"; return ;;',
  "  esac",
  `  kept="$PCIPT_READS/$(printf '%s' "$*" | tr -c 'A-Za-z0-9=.-' _)"`,
  '  if [ ! -f "$kept" ]; then',
  '    command maas "$@" >"$kept.new" || { rc=$?; cat "$kept.new"; rm -f "$kept.new"; return "$rc"; }',
  '    mv "$kept.new" "$kept"',
  "  fi",
  '  cat "$kept"',
  "}",
  "",
];

/** The whole commands.sh for a stack. */
export function renderRunbook(site: SiteConfig, a: SiteArtifacts, stack: string): string {
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
    "# the openstack client (python-openstackclient: its openstacksdk does the Nova part) and OS_* credentials.",
    "# SKIP_SMOKE_TEST=1 skips the test servers and the vfio-pci check.",
    "set -eu",
    "",
    ...MAAS_READS_ONCE,
  ];
  for (const g of a.groups) {
    out.push(step(++n, g.commands.tag));
    if (g.commands.machines) out.push(step(++n, g.commands.machines));
  }
  out.push(step(++n, c.model), step(++n, c.charmConfig));
  const verify = a.groups.flatMap((g) => (g.commands.verify ? [g.commands.verify] : []));
  const smoke = site.smokeTest !== undefined && verify.length > 0 ? site.smokeTest : undefined;
  out.push(openstackStep(++n, site.openstack.release, a.flavors, smoke));
  if (smoke) {
    out.push('if [ "${SKIP_SMOKE_TEST:-}" != 1 ]; then', "");
    out.push(verify.map((v) => indent(step(++n, v))).join("\n\n"), "fi", "");
  }
  out.push(...removal(site, a));
  return out.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd() + "\n";
}
