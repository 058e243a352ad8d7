#!/bin/sh
# Builds the Debian 12 machine the host-vm test boots: a root file system made with debootstrap from
# Debian's packages, and an ext4 disk image of it made with `mkfs.ext4 -d` (nothing is mounted).
# Usage (as root): build-image.sh OUT_DIR PACKAGES   (PACKAGES comma-separated, for debootstrap --include)
# Writes OUT_DIR/rootfs (the tree, also the container's root) and OUT_DIR/disk.img.
# image.ts keys the cache by a hash of this file and the package list: any edit here rebuilds.
set -eu

out="$1"
packages="$2"
mirror="${HOST_VM_MIRROR:-http://deb.debian.org/debian}"
root="$out/rootfs"

# minbase: only Essential packages plus what we name. --include does not resolve virtual packages,
# hence python3-cffi-backend for cloud-init (issue #13).
debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror"

# update-initramfs under software emulation: with Debian's defaults (MODULES=most, zstd) it had not
# finished after 10 minutes; MODULES=dep with gzip takes about a minute (issue #13). MODULES=dep still
# adds every module listed in /etc/initramfs-tools/modules, which is what the userdata relies on.
sed -i 's/^MODULES=.*/MODULES=dep/; s/^COMPRESS=.*/COMPRESS=gzip/' "$root/etc/initramfs-tools/initramfs.conf"

echo '/dev/vda / ext4 errors=remount-ro 0 1' > "$root/etc/fstab"
echo host-vm > "$root/etc/hostname"

# What grub-pc's postinst installs as /etc/default/grub (grub-pc itself would also install the boot
# loader; the test boots the kernel directly with the command line update-grub generated). The
# harness then edits GRUB_CMDLINE_LINUX_DEFAULT per machine as curtin does on a MAAS deployment.
cp "$root/usr/share/grub/default/grub" "$root/etc/default/grub"
mkdir -p "$root/boot/grub"

# cloud-init reads its seed from the disk (NoCloud). The image has no network service to configure and
# no `locales` package: C.UTF-8 is built into glibc and needs no generation, while cloud-init's default
# (en_US.UTF-8) fails its locale module on this minimal system.
mkdir -p "$root/var/lib/cloud/seed/nocloud"
cat > "$root/etc/cloud/cloud.cfg.d/90-host-vm.cfg" <<'EOF'
datasource_list: [ NoCloud, None ]
network: {config: disabled}
locale: C.UTF-8
EOF

# Downloaded packages are not needed in the image.
rm -f "$root"/var/cache/apt/archives/*.deb

mkfs.ext4 -q -F -L host-vm -d "$root" "$out/disk.img" 3G
