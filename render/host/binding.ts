// The shell text shipped to the hosts: the functions that bind a machine's devices to vfio-pci now (shared by the
// prepare script and the binding script), the binding script (driver-override and rc-local), its systemd unit,
// and the guard that keeps every script off containers. Pure: no Pulumi import.
import type { Binding, DeviceConfig } from "../../config/types";
import { addressIds, vfioIds, type HostPrep } from "./kernel";

/** Where the driver-override binding script and its unit are installed. */
export const BIND_SCRIPT_PATH = "/usr/local/sbin/pci-passthrough-bind";
export const BIND_UNIT_NAME = "pci-passthrough-bind.service";
export const BIND_UNIT_PATH = `/etc/systemd/system/${BIND_UNIT_NAME}`;
/** The runbook's binding method: systemd's rc-local.service runs it when it is executable. */
export const RC_LOCAL_PATH = "/etc/rc.local";

/** True (exit 0) inside a container: `systemd-detect-virt --container` exits 0 inside one. */
export const IN_A_CONTAINER = "systemd-detect-virt --container >/dev/null 2>&1";

/** A POSIX sh function printing the vendor:product of a PCI function's sysfs directory, shared by the
 * scripts that look at what a machine has. */
export const ID_OF_FUNCTION = `# id_of DIR: the vendor:product of a PCI function, e.g. 10de:1bb0.
id_of() {
    vendor=$(cat "$1/vendor" 2>/dev/null || true)
    device=$(cat "$1/device" 2>/dev/null || true)
    printf '%s:%s\\n' "\${vendor#0x}" "\${device#0x}"
}`;

/** The start every shipped script shares: a `log` function that names the script in each message, and the
 * stop in a container (model userdata reaches LXD containers too, and they see the host's PCI devices
 * read-only). `task` completes "nothing to ...". */
export function logAndLeaveContainers(script: string, task: string): string {
  return `log() {
    printf '${script}: %s\\n' "$*"
}

# Model userdata reaches LXD containers too, and they see the host's PCI devices read-only.
if ${IN_A_CONTAINER}; then
    log "running in a container, nothing to ${task}"
    exit 0
fi`;
}

/** The prepare script's and the binding scripts' function that binds now (BIND_FUNCTIONS). */
export const BIND_NOW = "bind_now";

/**
 * POSIX sh functions that hand the configured devices of a machine to vfio-pci now: the runbook's vfiobind,
 * repaired, shared by the binding script (driver-override, rc-local) and the prepare script (every binding).
 * Per-address driver_override instead of vfio-pci/new_id (new_id takes every device with that vendor:product);
 * existence checks; a function taken only when it is the device configured at its address (the model's
 * userdata reaches every machine of the model, and another machine may hold something else there); and every
 * other function of the device's IOMMU group whose vendor:product is configured (a device's or a companion's)
 * bound too, whatever driver has it: all functions of a group must use vfio-pci or QEMU reports "group N is
 * not viable", and vfio-pci's own `ids=` (kernel command line, modprobe.d) takes only functions that have no
 * driver yet (torvalds/linux drivers/vfio/pci/vfio_pci.c vfio_pci_fill_ids adds them with pci_add_dynid, whose
 * driver_attach binds only devices without a driver, drivers/base/dd.c), so an HDMI audio function that
 * snd_hda_intel took on the first boot stays with it until it is rebound. Uses PCI (the sysfs bus/pci
 * directory), VFIO_IDS (every configured vendor:product, space-separated), `log` and `id_of`. `bind_now ADDRESS ID...` returns 1 when a function could not be handed
 * over; each message says which and why.
 */
export const BIND_FUNCTIONS = `# Addresses handled so far, so a function is never bound twice; those that could not be handed over.
DONE=" "
BIND_FAILED=""

# vfiobind ADDRESS: hand one present function to vfio-pci: driver_override, unbind, probe.
vfiobind() {
    dev="$1"
    path="$PCI/devices/$dev"
    DONE="$DONE$dev "
    current=""
    if [ -e "$path/driver" ]; then
        current=$(readlink "$path/driver")
        current=\${current##*/}
    fi
    if [ "$current" = vfio-pci ]; then
        log "$dev already uses vfio-pci"
        return 0
    fi
    if ! printf 'vfio-pci\\n' > "$path/driver_override"; then
        log "WARNING: cannot write driver_override of $dev"
        BIND_FAILED="$BIND_FAILED $dev"
        return 0
    fi
    if [ -n "$current" ] && ! printf '%s\\n' "$dev" > "$path/driver/unbind"; then
        log "WARNING: cannot unbind $dev from $current"
        BIND_FAILED="$BIND_FAILED $dev"
        return 0
    fi
    if ! printf '%s\\n' "$dev" > "$PCI/drivers_probe"; then
        log "WARNING: cannot probe $dev"
        BIND_FAILED="$BIND_FAILED $dev"
        return 0
    fi
    log "$dev handed to vfio-pci (driver before: \${current:-none})"
}

# bind_group ADDRESS ID: the device configured at ADDRESS when the machine has it there (vendor:product
# ID), then the members of its IOMMU group whose vendor:product is in VFIO_IDS.
bind_group() {
    case "$DONE" in
        *" $1 "*) return 0 ;;
    esac
    if [ ! -e "$PCI/devices/$1" ]; then
        log "$1 is not present on this machine, skipped"
        return 0
    fi
    found=$(id_of "$PCI/devices/$1")
    if [ "$found" != "$2" ]; then
        log "$1 holds $found, not the configured $2: left alone"
        return 0
    fi
    vfiobind "$1"
    for member in "$PCI/devices/$1"/iommu_group/devices/*; do
        [ -e "$member" ] || continue
        addr=\${member##*/}
        case "$DONE" in
            *" $addr "*) continue ;;
        esac
        id=$(id_of "$member")
        case " $VFIO_IDS " in
            *" $id "*) vfiobind "$addr" ;;
            *) log "$addr ($id) shares the IOMMU group of $1 but is not a configured id, left alone" ;;
        esac
    done
}

# ${BIND_NOW} ADDRESS ID...: each configured device and its group's configured functions, now.
${BIND_NOW}() {
    if [ ! -d "$PCI/drivers/vfio-pci" ]; then
        modprobe vfio-pci || log "WARNING: cannot load vfio-pci"
    fi
    while [ "$#" -ge 2 ]; do
        bind_group "$1" "$2"
        shift 2
    done
    if [ -n "$BIND_FAILED" ]; then
        log "WARNING: not handed to vfio-pci:$BIND_FAILED"
        return 1
    fi
}`;

/** The arguments of `bind_now` for a group's devices: each configured address with its vendor:product. */
export function bindNowArgs(devices: readonly DeviceConfig[]): string[] {
  return addressIds(devices).flat();
}

// The body of the driver-override script and /etc/rc.local: bind now, at every boot, and exit 0 so that a
// missing device or a failed bind never fails the boot (each is said).
function scriptBody(devices: readonly DeviceConfig[]): string {
  return `set -eu

# SYSFS_ROOT redirects every sysfs path, so tests can run this script against a fake tree.
SYSFS_ROOT="\${SYSFS_ROOT:-/sys}"
PCI="$SYSFS_ROOT/bus/pci"
# Every vendor:product vfio-pci may take: the configured devices and their companions.
VFIO_IDS="${vfioIds(devices).join(" ")}"

${logAndLeaveContainers("pci-passthrough-bind", "bind")}

${ID_OF_FUNCTION}

${BIND_FUNCTIONS}

${BIND_NOW} ${bindNowArgs(devices).join(" ")} || true
exit 0
`;
}

/**
 * The script shipped for the `driver-override` (run by BIND_UNIT_NAME) and `rc-local` (installed as
 * /etc/rc.local) bindings; undefined for `modprobe`, which needs no script. Both share one body; only
 * the header differs. Honours SYSFS_ROOT (default /sys).
 */
export function bindingScript(prep: HostPrep): string | undefined {
  const binding = prep.host.binding;
  if (binding === "modprobe") return undefined;
  const header =
    binding === "driver-override"
      ? [
          `# ${BIND_SCRIPT_PATH}: hands the PCI passthrough devices to vfio-pci by address.`,
          `# Generated by pci-passthrough (binding: driver-override); run once per boot by ${BIND_UNIT_NAME},`,
          "# before libvirt and nova-compute start.",
        ]
      : [
          `# ${RC_LOCAL_PATH}: hands the PCI passthrough devices to vfio-pci by address.`,
          "# Generated by pci-passthrough (binding: rc-local): the runbook's rc.local, repaired with a shebang,",
          "# mode 0755 (rc-local.service runs it only when executable), existence checks and exit 0.",
        ];
  return ["#!/bin/sh", ...header, scriptBody(prep.devices)].join("\n");
}

/**
 * The systemd unit of the driver-override binding: a oneshot after the vfio modules are loaded
 * (systemd-modules-load, /etc/modules-load.d) and before libvirt and nova-compute look at the devices.
 * undefined for the other bindings.
 */
export function bindingUnit(binding: Binding): string | undefined {
  if (binding !== "driver-override") return undefined;
  return `[Unit]
Description=Hand the PCI passthrough devices to vfio-pci (pci-passthrough)
After=systemd-modules-load.service
Before=libvirtd.service nova-compute.service
ConditionVirtualization=!container

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${BIND_SCRIPT_PATH}

[Install]
WantedBy=multi-user.target
`;
}
