// The marker of a prepared machine: which render of the userdata prepared it, for which host group, and how it
// went. The prepare script writes it at its end (write_marker, below); the host probe prints it back verbatim
// (render/host/probe.ts) and parseMarker reads it. This module is the only one that knows its path and its
// format. Pure: no Pulumi import.
//
// Why a marker: the model's cloudinit-userdata reaches only machines provisioned after it changed (Juju passes
// it to a machine when the machine is created), so a host may run what an older render wrote, or nothing of
// ours at all. The render's hash in the marker tells; the files alone cannot (a render may change only a
// command, or another group's part).
import { createHash } from "node:crypto";
import type { HostGroup } from "../../config/types";
import type { GroupPreparation } from "./files";
import { vfioIds } from "./kernel";

/** Where the prepare script records how it prepared the machine (under DESTDIR in tests). */
export const MARKER_PATH = "/var/lib/pci-passthrough/prepared";

/** The marker's format, its `format=` line: a reader refuses a format it does not know. */
export const MARKER_FORMAT = 1;

/**
 * What the prepare script found and did:
 * - `ok`: the machine is of `group`, every file written and every command run;
 * - `failed`: the machine is of `group`, and the commands in `failed` failed (the others ran);
 * - `no-group`: none of the groups' devices at their addresses (or a listed group's machine that is not
 *   listed): nothing changed;
 * - `several-groups`: the devices of the groups in `group` (space-separated): nothing changed.
 */
export const MARKER_RESULTS = ["ok", "failed", "no-group", "several-groups"] as const;
export type MarkerResult = (typeof MARKER_RESULTS)[number];

export interface Marker {
  readonly format: number;
  readonly result: MarkerResult;
  /** The group the machine was prepared for; the groups found for `several-groups`; empty for `no-group`. */
  readonly group: string;
  /** preparationHash of the group's preparation, as rendered; empty unless the machine is of one group. */
  readonly render: string;
  /** The commands that failed, as the prepare script lists them (`[update-grub] [bind_now ...]`); empty when none. */
  readonly failed: string;
  /** When the script ended, UTC (ISO 8601). */
  readonly time: string;
}

/** How the prepare script names a group in its messages and in the marker: its name, or for the one unnamed
 * group of a site written without hostGroups its MAAS tag (render/host/prepare.ts nameOf, which
 * phase B makes use this). */
export function markerGroupName(group: Pick<HostGroup, "name" | "maas">): string {
  return group.name ?? group.maas.tag;
}

/**
 * The hash of what a machine of one group gets: the group's files (path, mode, how written, content), its
 * commands and the vendor:product ids its binding takes, in the order the prepare script writes and runs them.
 * Another group's part, the script's comments or its detection do not enter: a host is "prepared by this
 * render" when it got exactly what this render gives its group. 16 hex digits of SHA-256.
 */
export function preparationHash(prep: GroupPreparation): string {
  const canonical = JSON.stringify({
    files: prep.files.map((f) => [f.path, f.permissions, f.append, f.script, f.content]),
    actions: prep.actions.map((a) => a.argv),
    vfioIds: vfioIds(prep.group.devices),
  });
  return createHash("sha256").update(canonical, "utf8").digest("hex").slice(0, 16);
}

/** The prepare script's function that writes the marker. */
export const WRITE_MARKER = "write_marker";

/**
 * POSIX sh: `write_marker RESULT GROUP RENDER FAILED` writes the marker under DESTDIR (replacing it: the last
 * run of the script is what the machine has), the file first and then renamed, so a reader never sees half of
 * it. A marker that cannot be written is said (through the script's `log`) and fails nothing: the machine is
 * prepared either way, and the probe then reports no marker.
 */
export const WRITE_MARKER_FUNCTION = `# ${WRITE_MARKER} RESULT GROUP RENDER FAILED: records in ${MARKER_PATH} which render prepared this machine,
# for which host group, and how it went (\`npm run verify -- STACK --hosts\` reads it back).
${WRITE_MARKER}() {
    marker="$DESTDIR${MARKER_PATH}"
    if mkdir -p "\${marker%/*}" && printf '%s\\n' \\
        "# Written by pci-passthrough-prepare: which render prepared this machine, and how it went." \\
        "format=${MARKER_FORMAT}" "result=$1" "group=$2" "render=$3" "failed=$4" \\
        "time=$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$marker.new" && mv -f "$marker.new" "$marker"; then
        log "recorded in ${MARKER_PATH}: $1"
    else
        log "WARNING: cannot write ${MARKER_PATH}"
    fi
}`;

const isResult = (s: string): s is MarkerResult => (MARKER_RESULTS as readonly string[]).includes(s);

/** Reads a marker's text (comments and blank lines skipped); a problem names what is wrong with it. */
export function parseMarker(text: string): { ok: true; marker: Marker } | { ok: false; problem: string } {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) return { ok: false, problem: `${MARKER_PATH}: not a key=value line: ${JSON.stringify(line)}` };
    fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const format = fields.get("format");
  if (format !== String(MARKER_FORMAT)) {
    return { ok: false, problem: `${MARKER_PATH}: format ${format ?? "(none)"}, this verify reads format ${MARKER_FORMAT}` };
  }
  const result = fields.get("result") ?? "";
  if (!isResult(result)) return { ok: false, problem: `${MARKER_PATH}: unknown result ${JSON.stringify(result)}` };
  return {
    ok: true,
    marker: {
      format: MARKER_FORMAT,
      result,
      group: fields.get("group") ?? "",
      render: fields.get("render") ?? "",
      failed: fields.get("failed") ?? "",
      time: fields.get("time") ?? "",
    },
  };
}
