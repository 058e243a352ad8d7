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
  /** Every machine once, each with its `tag_names`: which machines carry each group's tag. */
  machines: "maas machines read",
  selected: (tag: string) => `selected machines ${tag}`,
  models: "juju models",
  userdata: "juju model-config cloudinit-userdata",
  status: "juju status",
  config: (app: string) => `juju config ${app}`,
} as const;

/**
 * One read-only script that reads every object the maas/juju steps set, on the same runner, each kind once:
 * MAAS's tags, its machines (each with the tags it carries: `tag_names`, maasserver/api/machines.py
 * DISPLAYED_MACHINE_FIELDS), the machines each selectByDevice group's selection picks now (the steps' own
 * selection lines), the controller's models, the model's cloudinit-userdata, its applications and each
 * application's charm settings (`juju config APP --format json`: every option of its charm, set or not).
 * The reads are independent and run at once; their sections are printed in order afterwards. The script
 * always exits 0 when it ran: each section carries its command's own exit code and output.
 */
export function liveReadCommand(access: MaasAccess, tags: readonly MaasTagInput[], juju: JujuConfig, apps: readonly string[]): CommandSpec {
  const ref = modelRef(juju);
  const names: string[] = [];
  // Each read runs in the background into $d/N.out, $d/N.err and its exit code into $d/N.rc.
  const read = (name: string, command: string[]) => {
    const n = names.push(name);
    return [`{ if ${command.join("\n")} >"$d/${n}.out" 2>"$d/${n}.err"; then rc=0; else rc=$?; fi; echo "$rc" >"$d/${n}.rc"; } &`];
  };
  const one = (name: string, argv: string[]) => read(name, [shellCommand(argv)]);
  const selected = (t: MaasTagInput) =>
    t.tag.selectByDevice
      ? read(READS.selected(t.tag.tag), [
          // The selection's own lines, in a subshell: its fail() ends the subshell, not the script.
          "(",
          // Each group's selection reads its own values (system IDs and vendor:product ids, no free text).
          ...Object.entries(selectionEnv(t)).map(([k, v]) => `  ${k}=${shellQuote(v)}`),
          ...selectionLines(access.profile, t).map((l) => `  ${l}`),
          `  printf '%s' "$wanted"`,
          ")",
        ])
      : [];
  const reads = [
    ...one(READS.tags, ["maas", access.profile, "tags", "read"]),
    ...one(READS.machines, ["maas", access.profile, "machines", "read"]),
    ...tags.flatMap(selected),
    ...one(READS.models, modelsArgv(juju)),
    ...one(READS.userdata, ["juju", "model-config", "-m", ref, "cloudinit-userdata"]),
    ...one(READS.status, statusArgv(juju)),
    ...apps.flatMap((app) => one(READS.config(app), ["juju", "config", "-m", ref, app, "--format", "json"])),
  ];
  const lines = [
    ...MAAS_FAILED,
    "d=$(mktemp -d)",
    `trap 'rm -rf "$d"' EXIT`,
    `section() { printf '%s %s %s\\n' '${READ_MARK}' "$2" "$(cat "$d/$1.rc")"; base64 < "$d/$1.out" | tr -d '\\n'; echo; base64 < "$d/$1.err" | tr -d '\\n'; echo; }`,
    ...reads,
    "wait",
    ...names.map((name, i) => `section ${i + 1} ${shellQuote(name)}`),
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
