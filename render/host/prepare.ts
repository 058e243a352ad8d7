// The model's userdata: one cloudinit-userdata for the whole model in which every machine prepares itself for
// its own host group only, chosen by what it has (the vendor:product found at the group's addresses, and for a
// group whose tag lists its machines, the machine's system ID), and does nothing on machines of no group or in
// containers. The same for a site with one group as for several. Pure: no Pulumi import.
//
// cloud-init's write_files writes on every machine of the model (runbook note: containers included), so the
// groups' files cannot be write_files entries of their own: they would land on controllers and containers too,
// and two groups write the same paths with other contents (/etc/modprobe.d/pci-passthrough.conf, the grub
// drop-in). write_files ships one script that holds every group's files, and postruncmd runs it; the script
// installs the files of the machine's group only and runs that group's commands (hostFiles, hostActions in
// host.ts): this module only chooses among them on the machine. The script handles its failures itself (each
// command runs, each failure is said, exit 1 at the end): Juju runs postruncmd inside cloud-init's runcmd script
// after its own commands, which it starts with `set -xe` ("ensure we run all the scripts or abort", juju/juju
// cloudconfig/userdatacfg_unix.go ConfigureBasic); only later releases put a `set +xe` before postruncmd
// (LP #1978454), so under an older Juju 2.9 one failing postruncmd line skipped every line after it. One entry,
// its own process, its own flags: Juju's do not matter.
import type { DeviceConfig, HostGroup } from "../../config/types";
import { deviceId } from "../../domain/pci";
import type { GroupPreparation, HostAction, HostFile } from "./files";
import { BIND_FUNCTIONS, ID_OF_FUNCTION, logAndLeaveContainers } from "./binding";
import { vfioIds } from "./kernel";
import { shellCommand, shellQuote } from "../shell";
import { MARKER_PATH, WRITE_MARKER, WRITE_MARKER_FUNCTION, markerGroupName, preparationHash } from "./marker";

/** Where the userdata installs the script that prepares a machine for its group. */
export const PREPARE_SCRIPT_PATH = "/usr/local/sbin/pci-passthrough-prepare";

/** Ends each file embedded in the script (a quoted here-document: its text is taken verbatim). */
const END_OF_FILE = "PCI_PASSTHROUGH_EOF";


/** How the script names a group, in its messages and in the marker (marker.ts markerGroupName): its name
 * (hostGroups[].name), or for the one unnamed group of a site written without hostGroups its MAAS tag (the only
 * group there; tag names are shell words, config.ts MAAS_TAG_NAME). */
const nameOf = markerGroupName;

/** The groups, as the script's comments and messages name them. */
function groupsLabel(groups: readonly HostGroup[]): string {
  const only = groups.length === 1 ? groups[0]! : undefined;
  return only?.name === undefined && only ? `one host group, named after its MAAS tag: ${nameOf(only)}` : `host groups: ${groups.map(nameOf).join(", ")}`;
}

/** The POSIX sh condition true when the machine holds one of the group's devices at one of its addresses. */
function holdsCondition(name: string, devices: readonly DeviceConfig[]): string {
  return devices.map((d) => shellCommand(["holds", name, deviceId(d), ...d.addresses])).join(" || ");
}

/** The detection of one group: the machine holds one of its devices and, for a group whose tag lists its
 * machines, is one of them. Devices alone cannot tell a listed group's host from another machine of the
 * model with such a device (a controller with the same NIC) or from a host of another group that has it too
 * (a GPU host with that NIC); the MAAS system ID, cloud-init's instance-id on a machine MAAS deployed, can. */
function detection(group: HostGroup): string {
  const name = nameOf(group);
  const ids = group.devices.map((d) => `${deviceId(d)} at ${d.addresses.join(" ")}`).join("; ");
  const machines = group.maas.machines;
  const lines = [`# Host group ${name} (MAAS tag ${group.maas.tag}): ${ids}.`, `if ${holdsCondition(name, group.devices)}; then`];
  if (machines === undefined) {
    lines.push(`    FOUND="$FOUND ${name}"`);
  } else {
    lines.push(
      `    # Its tag lists its machines: ${machines.join(" ")}.`,
      `    if ${shellCommand(["listed", ...machines])}; then`,
      `        FOUND="$FOUND ${name}"`,
      "    else",
      `        log "but this machine (system ID \${SYSTEM_ID:-unknown}) is not one of host group ${name}'s machines: not in ${name}"`,
      "    fi",
    );
  }
  lines.push("fi");
  return lines.join("\n");
}

/** A file as a here-document for `put` (replace) or `append`, its text verbatim. */
function embed(f: HostFile): string {
  const lines = f.content.split("\n");
  // A here-document always ends its text with a newline and stops at the first line equal to its word.
  if (!f.content.endsWith("\n")) throw new Error(`${f.path}: content must end with a newline to be embedded`);
  if (lines.includes(END_OF_FILE)) throw new Error(`${f.path}: content holds the line ${END_OF_FILE}`);
  return `        ${f.append ? "append" : "put"} ${f.permissions} ${shellQuote(f.path)} <<'${END_OF_FILE}'\n${f.content}${END_OF_FILE}`;
}

/** A command of the group: a path the script installed is found under DESTDIR, anything else on PATH. */
function action(a: HostAction): string {
  const [first = "", ...rest] = a.argv;
  const command = first.startsWith("/") ? `"$DESTDIR"${shellQuote(first)}` : shellQuote(first);
  return `        run ${[command, ...rest.map(shellQuote)].join(" ")}`;
}

/** The machine's system ID and `listed`, for the groups whose tag lists its machines. */
const LISTED_FUNCTION = `# The machine's MAAS system ID: cloud-init's instance-id on a machine MAAS deployed (CLOUD_DATA redirects
# it for tests).
SYSTEM_ID=$(cat "\${CLOUD_DATA:-/var/lib/cloud/data}/instance-id" 2>/dev/null || true)

# listed SYSTEM_ID...: true when this machine's system ID is one of them.
listed() {
    for id in "$@"; do
        if [ "$id" = "$SYSTEM_ID" ]; then
            return 0
        fi
    done
    return 1
}`;

/** The script: finds the machine's group, then installs that group's files and runs its commands. */
export function prepareScript(groups: readonly GroupPreparation[]): string {
  const names = groups.map((g) => nameOf(g.group));
  const detect = groups.map((g) => detection(g.group));
  const arms = groups.map((g) =>
    [
      `    ${shellQuote(nameOf(g.group))})`,
      // What the marker records: which render of this group's preparation ran here.
      `        RENDER=${preparationHash(g)}`,
      ...g.files.map(embed),
      // What bind_now may take besides the devices: every configured vendor:product of the group.
      `        VFIO_IDS=${shellQuote(vfioIds(g.group.devices).join(" "))}`,
      ...g.actions.map(action),
      "        ;;",
    ].join("\n"),
  );
  const these = groups.length === 1 ? `host group ${names[0]} at its addresses` : `host groups ${names.join(", ")} at their addresses`;
  return `#!/bin/sh
# ${PREPARE_SCRIPT_PATH}: prepares this machine for its own host group.
# Generated by pci-passthrough (${groupsLabel(groups.map((g) => g.group))}).
# The Juju model's cloudinit-userdata writes it on every machine of the model and runs it once, after Juju's
# own commands (postruncmd). It finds the machine's group by the vendor:product at the group's addresses (two
# groups may use the same slots) and, for a group whose tag lists its machines, by the machine's MAAS system
# ID; writes that group's files and runs its commands, binding the devices and their companions to vfio-pci
# now. It changes nothing in a container, on a machine of no group, or on a machine of two groups (an error,
# exit 1). A failing command is said, the next still runs, and the script exits 1 at the end: whatever shell
# flags Juju runs postruncmd with, every step is tried. Outside a container it ends by recording what it found
# and did, with its group's render hash, in ${MARKER_PATH} (\`npm run verify -- STACK --hosts\`).

# The group's commands run through \`run\`, which shellcheck cannot follow into the functions it calls.
# shellcheck disable=SC2317
set -eu

# SYSFS_ROOT redirects every sysfs path and DESTDIR every file written, so tests can run this script
# against a fake tree and a fake root.
SYSFS_ROOT="\${SYSFS_ROOT:-/sys}"
DESTDIR="\${DESTDIR:-}"
PCI="$SYSFS_ROOT/bus/pci"

${logAndLeaveContainers("pci-passthrough-prepare", "prepare")}

${ID_OF_FUNCTION}

# holds GROUP ID ADDRESS...: true, and says so, when one of the addresses holds a function of that
# vendor:product. The address alone says nothing: two groups may use the same slots.
holds() {
    group="$1"
    want="$2"
    shift 2
    for addr in "$@"; do
        if [ -e "$PCI/devices/$addr" ] && [ "$(id_of "$PCI/devices/$addr")" = "$want" ]; then
            log "$addr holds $want, a device of host group $group"
            return 0
        fi
    done
    return 1
}

${WRITE_MARKER_FUNCTION}

${groups.some((g) => g.group.maas.machines !== undefined) ? `${LISTED_FUNCTION}\n\n` : ""}FOUND=""
${detect.join("\n")}

case "$FOUND" in
    "")
        log "no device of ${these}: this machine is in no group, nothing to prepare"
        ${WRITE_MARKER} no-group "" "" ""
        exit 0
        ;;
    *" "*" "*)
        log "ERROR: this machine has devices of several host groups (\${FOUND# }); the groups' MAAS tags must give a machine one group only. Nothing changed." >&2
        ${WRITE_MARKER} several-groups "\${FOUND# }" "" ""
        exit 1
        ;;
esac
GROUP="\${FOUND# }"

# put MODE PATH: standard input becomes PATH with MODE, replacing the file (cloud-init's write_files).
put() {
    mkdir -p "$(dirname "$DESTDIR$2")"
    cat > "$DESTDIR$2"
    chmod "$1" "$DESTDIR$2"
    log "wrote $2"
}

# append MODE PATH: standard input goes to the end of PATH (write_files with append: true), unless PATH
# already has each of its lines (the script run again by hand).
append() {
    mkdir -p "$(dirname "$DESTDIR$2")"
    block=$(mktemp)
    cat > "$block"
    if [ -f "$DESTDIR$2" ] && ! grep -vxF -f "$DESTDIR$2" "$block" >/dev/null; then
        log "$2 already has what this appends"
    else
        cat "$block" >> "$DESTDIR$2"
        log "appended to $2"
    fi
    rm -f "$block"
    chmod "$1" "$DESTDIR$2"
}

${BIND_FUNCTIONS}

# run COMMAND...: one of the group's commands. A failure is said and the next command still runs; the script
# then exits 1.
FAILED=""
run() {
    log "running $*"
    if ! "$@"; then
        FAILED="$FAILED [$*]"
        log "WARNING: $* failed"
    fi
}

log "preparing this machine for host group $GROUP"
RENDER=""
case "$GROUP" in
${arms.join("\n")}
esac

if [ -n "$FAILED" ]; then
    ${WRITE_MARKER} failed "$GROUP" "$RENDER" "\${FAILED# }"
    log "ERROR: host group $GROUP: failed:$FAILED" >&2
    exit 1
fi
${WRITE_MARKER} ok "$GROUP" "$RENDER" ""
log "host group $GROUP: prepared"
exit 0
`;
}

/** The files and postruncmd entries of the model's userdata: the prepare script, and running it. */
export function prepareUserdataParts(groups: readonly GroupPreparation[]): { files: HostFile[]; commands: string[]; header: string } {
  return {
    files: [{ path: PREPARE_SCRIPT_PATH, content: prepareScript(groups), permissions: "0755", script: true, append: false }],
    commands: [PREPARE_SCRIPT_PATH],
    header:
      ` Juju model cloudinit-userdata, generated by pci-passthrough (${groupsLabel(groups.map((g) => g.group))}).\n` +
      " It runs on every machine of the model, containers included: it writes one script and runs it, and the\n" +
      " script prepares a machine for the one group whose devices (vendor:product at the group's addresses) it\n" +
      " has; it changes nothing in a container or on a machine of no group.",
  };
}
