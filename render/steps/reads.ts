// Reading back (`npm run verify`): the objects the maas and juju steps set, read-only, where the steps run, as
// one script whose output carries each command's exit code and exact bytes.
import type { JujuConfig, MaasAccess } from "../../config/types";
import { shellCommand, shellQuote } from "../shell";
import { modelRef, modelsArgv, statusArgv } from "./juju";
import { MAAS_FAILED } from "./maas-cli";
import { selectionEnv, selectionLines, type MaasTagInput } from "./maas-selection";
import { script, type CommandSpec } from "./script";

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
export function liveReadCommand(access: MaasAccess, tags: readonly MaasTagInput[], juju: JujuConfig, apps: readonly string[]): CommandSpec {
  const ref = modelRef(juju);
  const section = (name: string) => `section ${shellQuote(name)} "$rc"`;
  const one = (name: string, argv: string[]) => [`if ${shellCommand(argv)} >"$o" 2>"$e"; then rc=0; else rc=$?; fi`, section(name)];
  const selected = (t: MaasTagInput) =>
    t.tag.selectByDevice
      ? [
          // The selection's own lines, in a subshell: its fail() ends the subshell, not the script.
          "if (",
          // Each group's selection reads its own values (system IDs and vendor:product ids, no free text).
          ...Object.entries(selectionEnv(t)).map(([k, v]) => `  ${k}=${shellQuote(v)}`),
          ...selectionLines(access.profile, t).map((l) => `  ${l}`),
          `  printf '%s' "$wanted"`,
          `) >"$o" 2>"$e"; then rc=0; else rc=$?; fi`,
          section(READS.selected(t.tag.tag)),
        ]
      : [];
  const lines = [
    ...MAAS_FAILED,
    'o=$(mktemp) e=$(mktemp)',
    `trap 'rm -f "$o" "$e"' EXIT`,
    `section() { printf '%s %s %s\\n' '${READ_MARK}' "$1" "$2"; base64 < "$o" | tr -d '\\n'; echo; base64 < "$e" | tr -d '\\n'; echo; }`,
    ...one(READS.tags, ["maas", access.profile, "tags", "read"]),
    ...tags.flatMap((t) => [...one(READS.tagMachines(t.tag.tag), ["maas", access.profile, "tag", "machines", t.tag.tag]), ...selected(t)]),
    ...one(READS.models, modelsArgv(juju)),
    ...one(READS.userdata, ["juju", "model-config", "-m", ref, "cloudinit-userdata"]),
    ...one(READS.status, statusArgv(juju)),
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
