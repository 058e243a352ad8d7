// The host probe: a read-only POSIX sh script that reports what a machine runs for PCI passthrough, its
// parser, and what a host of each group must show (hostExpectations). The script is rendered from the same
// renderers that write the prepare script (components/render/host.ts hostFiles, hostActions, kernelOptions, the
// binding's paths; render/host/marker.ts), so it looks where the prepare script wrote and compares with what it
// wrote: nothing here describes a path, an option or a file a second time. Pure: no Pulumi import; judging the
// output is tools/verify/hosts.ts's.
//
// Output format 1 (PROBE_FORMAT): one `key=value` a line, the value up to the end of the line; a key repeats
// for each item of a list. The values of the record keys (RECORD_KEYS) are a subject (an address or a path)
// followed by space-separated name=value fields. The first line is `pci-passthrough-probe=1`, the last `end=ok`:
// output without it was cut short. Greppable by hand: `grep ^function= HOST.txt`.
import { createHash } from "node:crypto";
import type { Binding, HostGroup } from "../../config/types";
import {
  BIND_UNIT_NAME,
  ID_OF_FUNCTION,
  IN_A_CONTAINER,
  VFIO_MODULES,
  addressIds,
  bindingUnit,
  hostActions,
  hostFiles,
  kernelOptions,
  vfioIds,
  type HostFile,
} from "../../components/render/host";
import { PREPARE_SCRIPT_PATH } from "../../components/render/host-prepare";
import { shellQuote } from "../../components/render/shell";
import { MARKER_PATH, markerGroupName, parseMarker, preparationHash, type Marker } from "./marker";

/** The output format, the value of the first line: a reader refuses a format it does not know. */
export const PROBE_FORMAT = 1;
export const PROBE_NAME = "pci-passthrough-probe";

// Where the outside world keeps what the probe reads (under DESTDIR in tests).
/** grub-mkconfig's output, which update-grub writes from /etc/default/grub and /etc/default/grub.d/*.cfg. */
export const GRUB_CFG_PATH = "/boot/grub/grub.cfg";
/** initramfs-tools' image of a kernel (mkinitramfs -o, update-initramfs), by `uname -r`. */
export const initramfsPath = (kernel: string): string => `/boot/initrd.img-${kernel}`;
/** The modules built into a kernel (kmod's modules.builtin, shipped with the kernel image). */
const MODULES_BUILTIN = (kernelVar: string) => `/lib/modules/${kernelVar}/modules.builtin`;
/** cloud-init's status files (canonical/cloud-init cloudinit/cmd/main.py status_wrapper): status.json from the
 * first stage on, result.json once the last stage (modules-final) ended, with every stage's errors. Both are
 * rewritten at every boot (/run is a tmpfs): the first boot's errors, when the prepare script ran, are gone after
 * a reboot; the marker keeps the prepare script's own result. */
export const CLOUD_INIT_RESULT_PATH = "/run/cloud-init/result.json";
export const CLOUD_INIT_STATUS_PATH = "/run/cloud-init/status.json";
/** Where cloud-init's `output` setting tees the stages' output, the prepare script's messages with it. */
export const CLOUD_INIT_OUTPUT_LOG = "/var/log/cloud-init-output.log";
/** How the prepare script's messages start: its `log` names the script (components/render/host-scripts.ts
 * logAndLeaveContainers, called with the script's file name). */
export const PREPARE_LOG_PREFIX = `${PREPARE_SCRIPT_PATH.slice(PREPARE_SCRIPT_PATH.lastIndexOf("/") + 1)}: `;
/** update-notifier's flag: a package upgrade (a kernel, libc) wants a reboot. */
const REBOOT_REQUIRED_PATH = "/run/reboot-required";

/** The keys whose values are records: a subject, then name=value fields. */
export const RECORD_KEYS = ["function", "found", "file", "line", "link", "initramfs"] as const;

/**
 * The symlink `systemctl enable` makes for the driver-override binding's unit: one in the .wants/ directory of
 * each unit its [Install] section's WantedBy= names (man systemd.unit, "[Install] Section Options"), read from
 * the unit as rendered.
 */
export function bindUnitLinks(): string[] {
  const unit = bindingUnit("driver-override") ?? "";
  const wanted = /^WantedBy=(.+)$/m.exec(unit)?.[1]?.trim().split(/\s+/) ?? [];
  return wanted.map((target) => `/etc/systemd/system/${target}.wants/${BIND_UNIT_NAME}`);
}

const unique = <T>(items: readonly T[]): T[] => [...new Set(items)];

/** The lines of a file the prepare script appends to that matter: neither comments nor blank. */
export const meaningfulLines = (content: string): string[] => content.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));

const sha256 = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex");

/** A file a host of the group must have as the prepare script wrote it. */
export interface ExpectedFile {
  readonly path: string;
  /** Mode bits, e.g. 0o644. */
  readonly mode: number;
  /** Written whole: its SHA-256. */
  readonly sha256?: string;
  /** Appended to the distribution's file: the lines it must hold. */
  readonly lines?: readonly string[];
}

/** What a host of one group must show, as data (tools/verify/hosts.ts judges a probe's output against it). */
export interface HostExpectations {
  /** The group as the prepare script and the marker name it. */
  readonly group: string;
  /** The group's nova-compute application, whose units are its hosts. */
  readonly application: string;
  /** The application is not added by the bundle overlay (the bundle's own nova-compute, or the operator's): it
   * may have units on compute hosts that are in no group, which hold none of the group's devices. */
  readonly sharedApplication: boolean;
  readonly binding: Binding;
  /** The group's kernel options (the MAAS tag's kernel_opts and the grub drop-in's). */
  readonly kernelOptions: readonly string[];
  /** preparationHash of the group's preparation: the marker of a host prepared by this render. */
  readonly render: string;
  /** Each configured address with the vendor:product configured there. */
  readonly devices: ReadonlyArray<{ readonly address: string; readonly id: string }>;
  /** Every vendor:product vfio-pci must have: the devices' and their companions'. */
  readonly vfioIds: readonly string[];
  /** The vfio modules the initramfs must hold. */
  readonly vfioModules: readonly string[];
  readonly files: readonly ExpectedFile[];
  /** Links that must exist (the binding unit enabled). */
  readonly links: readonly string[];
}

function expectedFile(f: HostFile): ExpectedFile {
  const mode = parseInt(f.permissions, 8);
  return f.append ? { path: f.path, mode, lines: meaningfulLines(f.content) } : { path: f.path, mode, sha256: sha256(f.content) };
}

/** What a host of `group` must show once prepared by this render and rebooted. */
export function hostExpectations(group: HostGroup): HostExpectations {
  const files = hostFiles(group);
  return {
    group: markerGroupName(group),
    application: group.application,
    sharedApplication: !group.addToBundle,
    binding: group.host.binding,
    kernelOptions: kernelOptions(group),
    render: preparationHash({ group, files, actions: hostActions(group) }),
    devices: addressIds(group.devices).map(([address, id]) => ({ address, id })),
    vfioIds: vfioIds(group.devices),
    vfioModules: [...VFIO_MODULES],
    files: files.map(expectedFile),
    links: group.host.binding === "driver-override" ? bindUnitLinks() : [],
  };
}

// ---------------------------------------------------------------------------------------------------
// The script

/** The script, for every host group of a site: it reports the configured addresses of all of them (the host
 * does not know its group; the marker and the analysis do). */
export function renderProbe(groups: readonly HostGroup[]): string {
  const names = groups.map(markerGroupName);
  const addresses = unique(groups.flatMap((g) => addressIds(g.devices).map(([a]) => a)));
  const ids = unique(groups.flatMap((g) => vfioIds(g.devices))).sort();
  const allFiles = groups.flatMap((g) => hostFiles(g));
  const paths = unique(allFiles.map((f) => f.path));
  const appended = unique(allFiles.filter((f) => f.append).map((f) => f.path));
  const links = groups.some((g) => g.host.binding === "driver-override") ? bindUnitLinks() : [];
  const q = shellQuote;
  return `#!/bin/sh
# ${PROBE_NAME}: what this machine runs for PCI passthrough, as key=value lines. Read-only: it changes nothing.
# Generated by pci-passthrough (host groups: ${names.join(", ")}) from the renderers of the prepare script.
# \`npm run verify -- STACK --hosts\` runs it on every unit of the groups' applications through Juju and judges
# what it prints. By hand, on a host without Juju access: sudo sh host-probe.sh > HOST.txt (then --from DIR).
#
# Output format ${PROBE_FORMAT}: one key=value a line, the value up to the end of the line; a key repeats for each
# item of a list. The values of ${RECORD_KEYS.map((k) => `${k}=`).join(", ")} are a subject (an address or a path)
# followed by space-separated name=value fields. The first line is ${PROBE_NAME}=${PROBE_FORMAT}, the last end=ok:
# output without it was cut short.
#
# SYSFS_ROOT (default /sys), PROC_ROOT (/proc) and DESTDIR (the root of every other file read) redirect what it
# reads, so tests can run it against fake trees.
set -u
SYSFS_ROOT="\${SYSFS_ROOT:-/sys}"
PROC_ROOT="\${PROC_ROOT:-/proc}"
DESTDIR="\${DESTDIR:-}"
PCI="$SYSFS_ROOT/bus/pci"

# say KEY VALUE: one line of the report.
say() {
    printf '%s=%s\\n' "$1" "$2"
}

# each KEY: every line of standard input as KEY=line.
each() {
    while IFS= read -r line || [ -n "$line" ]; do
        say "$1" "$line"
    done
}

say ${PROBE_NAME} ${PROBE_FORMAT}

# Model userdata reaches LXD containers too: there is nothing of a GPU host to see in one.
if ${IN_A_CONTAINER}; then
    say container yes
    say end ok
    exit 0
fi

if ! cmdline=$(cat "$PROC_ROOT/cmdline" 2>/dev/null); then
    printf '${PROBE_NAME}: cannot read %s\\n' "$PROC_ROOT/cmdline" >&2
    exit 1
fi
kernel=$(cat "$PROC_ROOT/sys/kernel/osrelease" 2>/dev/null)
say hostname "$(cat "$PROC_ROOT/sys/kernel/hostname" 2>/dev/null)"
say kernel "$kernel"
# When this boot started, in seconds since the epoch (proc(5): btime in /proc/stat).
say booted "$(sed -n 's/^btime //p' "$PROC_ROOT/stat" 2>/dev/null)"
say cmdline "$cmdline"

# The command lines of the next boots: every linux line of grub.cfg, the default entry first.
if [ -f "$DESTDIR${GRUB_CFG_PATH}" ]; then
    say grub_cfg present
    sed -n 's/^[[:space:]]*linux[[:space:]][[:space:]]*//p' "$DESTDIR${GRUB_CFG_PATH}" | each grub_linux
else
    say grub_cfg absent
fi

# The vfio modules loaded now (proc(5): the name is the first field of /proc/modules), vfio-pci's driver, and
# the vfio modules built into the kernel (never in /proc/modules, nor needed in an initramfs).
sed -n 's/^\\(vfio[^ ]*\\) .*$/\\1/p' "$PROC_ROOT/modules" 2>/dev/null | each module
if [ -d "$PCI/drivers/vfio-pci" ]; then
    say vfio_pci_driver yes
else
    say vfio_pci_driver no
fi
if [ -f "$DESTDIR${MODULES_BUILTIN("$kernel")}" ]; then
    grep '/vfio[^/]*\\.ko$' "$DESTDIR${MODULES_BUILTIN("$kernel")}" | each builtin
fi

# The running kernel's initramfs: when it was written, and the vfio modules in it (lsinitramfs, from
# initramfs-tools-core; without it, list=unknown).
initrd="${initramfsPath("$kernel")}"
if [ ! -f "$DESTDIR$initrd" ]; then
    say initramfs "$initrd present=no"
elif ! command -v lsinitramfs >/dev/null 2>&1; then
    say initramfs "$initrd mtime=$(stat -c %Y "$DESTDIR$initrd") list=unknown"
elif listing=$(lsinitramfs "$DESTDIR$initrd" 2>/dev/null); then
    say initramfs "$initrd mtime=$(stat -c %Y "$DESTDIR$initrd") list=ok"
    printf '%s\\n' "$listing" | grep '/vfio[^/]*\\.ko' | each initramfs_file
else
    say initramfs "$initrd mtime=$(stat -c %Y "$DESTDIR$initrd") list=failed"
fi

# What the prepare script recorded at its end (the marker, line by line), whether it is installed, and what
# it said on the first boot (cloud-init's output log).
if [ -f "$DESTDIR${MARKER_PATH}" ]; then
    say marker_file present
    grep -v '^#' "$DESTDIR${MARKER_PATH}" | each marker
else
    say marker_file absent
fi
if [ -f "$DESTDIR${PREPARE_SCRIPT_PATH}" ]; then
    say prepare_script present
else
    say prepare_script absent
fi
if [ -f "$DESTDIR${CLOUD_INIT_OUTPUT_LOG}" ]; then
    grep ${q(`^${PREPARE_LOG_PREFIX}`)} "$DESTDIR${CLOUD_INIT_OUTPUT_LOG}" | tail -n 200 | each prepare_log
fi

# cloud-init: finished (with result.json, every line of it), running, or absent; and whether a package asked
# for a reboot.
if [ -f "$DESTDIR${CLOUD_INIT_RESULT_PATH}" ]; then
    say cloud_init finished
    each cloud_init_result < "$DESTDIR${CLOUD_INIT_RESULT_PATH}"
elif [ -f "$DESTDIR${CLOUD_INIT_STATUS_PATH}" ]; then
    say cloud_init running
else
    say cloud_init absent
fi
if [ -f "$DESTDIR${REBOOT_REQUIRED_PATH}" ]; then
    say reboot_required yes
else
    say reboot_required no
fi

# The files the prepare script writes (mode, SHA-256), the lines of those it appends to (comments and blank
# lines left out), and the links its commands make.
describe_file() {
    if [ -f "$DESTDIR$1" ]; then
        say file "$1 mode=$(stat -c %a "$DESTDIR$1") sha256=$(sha256sum < "$DESTDIR$1" | cut -d ' ' -f 1)"
    else
        say file "$1 present=no"
    fi
}
describe_lines() {
    if [ -f "$DESTDIR$1" ]; then
        grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$DESTDIR$1" | while IFS= read -r l; do say line "$1 $l"; done
    fi
}
describe_link() {
    if [ -L "$DESTDIR$1" ]; then
        say link "$1 present=yes"
    else
        say link "$1 present=no"
    fi
}
${[...paths.map((p) => `describe_file ${q(p)}`), ...appended.map((p) => `describe_lines ${q(p)}`), ...links.map((l) => `describe_link ${q(l)}`)].join("\n")}

${ID_OF_FUNCTION}

# describe KEY ADDRESS [FIELD]: one PCI function: its vendor:product, class, driver in use and IOMMU group.
describe() {
    dev="$PCI/devices/$2"
    if [ ! -e "$dev" ]; then
        say "$1" "$2\${3:+ $3} present=no"
        return 0
    fi
    driver=-
    if [ -e "$dev/driver" ]; then
        driver=$(readlink "$dev/driver")
        driver=\${driver##*/}
    fi
    group=-
    if [ -e "$dev/iommu_group" ]; then
        group=$(readlink "$dev/iommu_group")
        group=\${group##*/}
    fi
    class=$(cat "$dev/class" 2>/dev/null || echo -)
    say "$1" "$2\${3:+ $3} id=$(id_of "$dev") class=$class driver=$driver iommu_group=$group"
}

# Each configured address of every host group, then every other function of its IOMMU group.
for addr in ${addresses.join(" ")}; do
    describe function "$addr" "of=$addr"
    for member in "$PCI/devices/$addr"/iommu_group/devices/*; do
        [ -e "$member" ] || continue
        [ "\${member##*/}" = "$addr" ] && continue
        describe function "\${member##*/}" "of=$addr"
    done
done

# Every function with one of the groups' vendor:product ids, wherever it is (a device at another address).
ids=" ${ids.join(" ")} "
for dev in "$PCI/devices"/*; do
    [ -e "$dev" ] || continue
    case "$ids" in
        *" $(id_of "$dev") "*) describe found "\${dev##*/}" ;;
    esac
done

say end ok
`;
}

// ---------------------------------------------------------------------------------------------------
// Reading its output

/** One PCI function as the probe saw it. */
export interface ProbedFunction {
  readonly address: string;
  /** The configured address whose IOMMU group it was reported for (function= only). */
  readonly of?: string;
  readonly present: boolean;
  readonly id?: string;
  /** sysfs class, e.g. 0x030200; undefined when unreadable. */
  readonly class?: string;
  /** The driver in use; undefined when none. */
  readonly driver?: string;
  /** Its IOMMU group; undefined when it has none (no IOMMU). */
  readonly iommuGroup?: string;
}

export interface ProbedFile {
  readonly path: string;
  readonly present: boolean;
  readonly mode?: number;
  readonly sha256?: string;
}

export interface ProbeOutput {
  readonly format: number;
  /** Ended with end=ok. */
  readonly complete: boolean;
  readonly container: boolean;
  readonly hostname?: string;
  readonly kernel?: string;
  /** This boot's start, seconds since the epoch. */
  readonly booted?: number;
  /** /proc/cmdline, split at blanks. */
  readonly cmdline: readonly string[];
  readonly grubCfg: boolean;
  /** Each linux line of grub.cfg (kernel image, then its arguments), the default entry first. */
  readonly grubLinux: readonly string[];
  /** vfio modules loaded, as /proc/modules names them. */
  readonly modules: readonly string[];
  readonly vfioPciDriver: boolean;
  /** vfio modules built into the kernel, as module names. */
  readonly builtin: readonly string[];
  readonly initramfs: {
    readonly path?: string;
    readonly present: boolean;
    /** Last written, seconds since the epoch. */
    readonly mtime?: number;
    readonly list: "ok" | "unknown" | "failed";
    /** vfio modules in it, as module names (vfio-pci.ko.zst -> vfio_pci). */
    readonly modules: readonly string[];
  };
  /** The marker's lines; undefined when there is no marker file. */
  readonly markerText?: string;
  readonly marker?: Marker;
  /** Why the marker could not be read. */
  readonly markerProblem?: string;
  readonly prepareScript: boolean;
  readonly prepareLog: readonly string[];
  readonly cloudInit: { readonly state: "finished" | "running" | "absent"; readonly errors: readonly string[]; readonly problem?: string };
  readonly rebootRequired: boolean;
  readonly functions: readonly ProbedFunction[];
  readonly found: readonly ProbedFunction[];
  readonly files: readonly ProbedFile[];
  /** Lines of the files the prepare script appends to, by path. */
  readonly lines: ReadonlyMap<string, readonly string[]>;
  readonly links: ReadonlyMap<string, boolean>;
}

/** A module's name from its file (kmod: '-' and '_' are the same in a name): .../vfio-pci.ko.zst -> vfio_pci. */
export function moduleName(file: string): string {
  const base = file.slice(file.lastIndexOf("/") + 1);
  return base.replace(/\.ko(\.(zst|xz|gz))?$/, "").replace(/-/g, "_");
}

/** A record value: its subject and its fields. */
function record(value: string): { subject: string; fields: Map<string, string> } {
  const [subject = "", ...rest] = value.split(" ").filter((w) => w !== "");
  const fields = new Map<string, string>();
  for (const w of rest) {
    const eq = w.indexOf("=");
    if (eq > 0) fields.set(w.slice(0, eq), w.slice(eq + 1));
  }
  return { subject, fields };
}

const orUndefined = (v: string | undefined): string | undefined => (v === undefined || v === "-" || v === "" ? undefined : v);
const num = (v: string | undefined): number | undefined => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);

function probedFunction(value: string): ProbedFunction {
  const { subject, fields } = record(value);
  const of = fields.get("of");
  if (fields.get("present") === "no") return { address: subject, ...(of ? { of } : {}), present: false };
  return {
    address: subject,
    ...(of ? { of } : {}),
    present: true,
    id: orUndefined(fields.get("id")),
    class: orUndefined(fields.get("class")),
    driver: orUndefined(fields.get("driver")),
    iommuGroup: orUndefined(fields.get("iommu_group")),
  };
}

/** cloud-init's result.json: {"v1": {"datasource": ..., "errors": [...]}} (cloudinit/cmd/main.py status_wrapper). */
function cloudInitErrors(json: string): { errors: string[]; problem?: string } {
  try {
    const v1 = (JSON.parse(json) as { v1?: { errors?: unknown } }).v1;
    const errors = Array.isArray(v1?.errors) ? v1.errors.map(String) : undefined;
    return errors ? { errors } : { errors: [], problem: "result.json has no v1.errors" };
  } catch (e) {
    return { errors: [], problem: `result.json is not JSON: ${(e as Error).message}` };
  }
}

/** Reads the probe's output. Lines it does not know are skipped (a newer probe may say more); another format,
 * or no first line, is refused. */
export function parseProbe(text: string): { ok: true; probe: ProbeOutput } | { ok: false; problem: string } {
  const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
  const start = lines.findIndex((l) => l.startsWith(`${PROBE_NAME}=`));
  if (start < 0) return { ok: false, problem: `no ${PROBE_NAME}= line: not the probe's output` };
  const format = lines[start]!.slice(PROBE_NAME.length + 1);
  if (format !== String(PROBE_FORMAT)) return { ok: false, problem: `probe output format ${format}; this verify reads format ${PROBE_FORMAT} (render the probe again)` };
  const all = new Map<string, string[]>();
  for (const line of lines.slice(start + 1)) {
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    all.set(key, [...(all.get(key) ?? []), line.slice(eq + 1)]);
  }
  const list = (key: string): string[] => all.get(key) ?? [];
  const one = (key: string): string | undefined => all.get(key)?.[0];
  const initramfs = record(one("initramfs") ?? "");
  const markerText = one("marker_file") === "present" ? list("marker").join("\n") : undefined;
  const marker = markerText === undefined ? undefined : parseMarker(markerText);
  const cloudState = one("cloud_init");
  const cloud = cloudState === "finished" ? cloudInitErrors(list("cloud_init_result").join("\n")) : { errors: [] };
  const lineMap = new Map<string, string[]>();
  for (const v of list("line")) {
    const sp = v.indexOf(" ");
    const path = sp < 0 ? v : v.slice(0, sp);
    lineMap.set(path, [...(lineMap.get(path) ?? []), sp < 0 ? "" : v.slice(sp + 1)]);
  }
  return {
    ok: true,
    probe: {
      format: PROBE_FORMAT,
      complete: one("end") === "ok",
      container: one("container") === "yes",
      hostname: orUndefined(one("hostname")),
      kernel: orUndefined(one("kernel")),
      booted: num(one("booted")),
      cmdline: (one("cmdline") ?? "").split(/\s+/).filter((w) => w !== ""),
      grubCfg: one("grub_cfg") === "present",
      grubLinux: list("grub_linux"),
      modules: list("module"),
      vfioPciDriver: one("vfio_pci_driver") === "yes",
      builtin: list("builtin").map(moduleName),
      initramfs: {
        ...(initramfs.subject ? { path: initramfs.subject } : {}),
        present: initramfs.subject !== "" && initramfs.fields.get("present") !== "no",
        mtime: num(initramfs.fields.get("mtime")),
        list: (["ok", "failed"] as const).find((s) => s === initramfs.fields.get("list")) ?? "unknown",
        modules: unique(list("initramfs_file").map(moduleName)),
      },
      ...(markerText !== undefined ? { markerText } : {}),
      ...(marker?.ok ? { marker: marker.marker } : {}),
      ...(marker && !marker.ok ? { markerProblem: marker.problem } : {}),
      prepareScript: one("prepare_script") === "present",
      prepareLog: list("prepare_log"),
      cloudInit: { state: cloudState === "finished" || cloudState === "running" ? cloudState : "absent", ...cloud },
      rebootRequired: one("reboot_required") === "yes",
      functions: list("function").map(probedFunction),
      found: list("found").map(probedFunction),
      files: list("file").map((v) => {
        const { subject, fields } = record(v);
        const mode = fields.get("mode");
        return fields.get("present") === "no"
          ? { path: subject, present: false }
          : { path: subject, present: true, mode: mode !== undefined && /^[0-7]+$/.test(mode) ? parseInt(mode, 8) : undefined, sha256: fields.get("sha256") };
      }),
      lines: lineMap,
      links: new Map(list("link").map((v) => [record(v).subject, record(v).fields.get("present") === "yes"])),
    },
  };
}
