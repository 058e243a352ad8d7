#!/bin/sh
# The host-vm test's probe (test only; the project never ships it). Installed into each test machine's
# disk by harness.ts, run by host-vm-probe.service once per boot after cloud-init's final stage. It
# reports what the machine looks like from inside to the second serial port, then powers off.
# Sections start with "@@host-vm@@ NAME"; harness.ts parses them.
set -u
state=/var/lib/host-vm-probe
mkdir -p "$state"
boot=$(($(cat "$state/boots" 2>/dev/null || echo 0) + 1))
echo "$boot" > "$state/boots"

section() {
    printf '\n@@host-vm@@ %s\n' "$*"
}

# exec_probe NAME: the command of host-vm-exec.cmd under bash -s; its exit code, stdout and stderr (base64).
exec_probe() {
    rc=0
    bash -s < /usr/local/etc/host-vm-exec.cmd > "$state/exec.out" 2> "$state/exec.err" || rc=$?
    section "$1 rc"
    echo "$rc"
    section "$1 stdout"
    base64 -w0 < "$state/exec.out"
    echo
    section "$1 stderr"
    base64 -w0 < "$state/exec.err"
    echo
}

{
    section boot
    echo "$boot"
    section cmdline
    cat /proc/cmdline
    section lspci
    lspci -nnk -D
    section modules
    cut -d' ' -f1 /proc/modules
    section iommu_groups
    for d in /sys/kernel/iommu_groups/*/devices/*; do
        [ -e "$d" ] && echo "${d#/sys/kernel/iommu_groups/}"
    done
    section failed_units
    systemctl list-units --failed --plain --no-legend --no-pager
    section failed_units_status
    for u in $(systemctl list-units --failed --plain --no-legend --no-pager | cut -d' ' -f1); do
        systemctl status --no-pager --full "$u"
    done
    section cloud_init_result
    cat /run/cloud-init/result.json
    # What the userdata's commands said (cloud-init's output setting tees its stages' output here).
    section cloud_init_output
    cat /var/log/cloud-init-output.log
    section initramfs
    lsinitramfs "/boot/initrd.img-$(uname -r)" | grep '\.ko'
    section iommu_dmesg
    dmesg | grep -e DMAR -e AMD-Vi
    # The files the userdata wrote: mode, owner and content (base64), listed by the harness.
    while read -r f; do
        section "file $f"
        if [ -e "$f" ]; then
            stat -c '%a %U:%G' "$f"
            base64 -w0 "$f"
            echo
        else
            echo missing
        fi
    done < /usr/local/etc/host-vm-probe.files
    # verify --hosts: the command line `juju exec` / `juju run` would send the unit (the project's host probe),
    # run as the unit agent runs it: as root, bash reading it on stdin. The harness hands its output to the juju
    # fake that answers verify. On the second boot, a change made behind the program's back (host-vm-then.sh),
    # then the same command again.
    if [ -f /usr/local/etc/host-vm-exec.cmd ]; then
        exec_probe exec
        if [ "$boot" = 2 ] && [ -f /usr/local/etc/host-vm-then.sh ]; then
            section change
            sh /usr/local/etc/host-vm-then.sh
            exec_probe exec_after_change
        fi
    fi
    section end
} > "$state/report-$boot" 2>&1

cat "$state/report-$boot" > /dev/ttyS1
sync
systemctl poweroff --no-block --check-inhibitors=no
