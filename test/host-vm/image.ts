// The Debian 12 machine image of the host-vm test, built once by build-image.sh and cached under
// .host-vm/ (git-ignored), keyed by a hash of the package list and the build recipe.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import * as path from "node:path";
import { ROOT } from "../helpers";
import { run } from "./guest";

/** Where built images and each run's disks and logs live (git-ignored). */
export const CACHE_DIR = path.join(ROOT, ".host-vm");

const RECIPE = path.join(__dirname, "build-image.sh");

/**
 * What a GPU host needs to run the userdata and boot again: the kernel, cloud-init, initramfs-tools,
 * grub's update-grub (grub2-common; grub-pc-bin for the modules grub-mkconfig probes), kmod, pciutils
 * (lspci -nnk), udev and systemd. python3-cffi-backend because debootstrap does not resolve the
 * virtual package cloud-init needs.
 */
export const PACKAGES = [
  "linux-image-amd64",
  "cloud-init",
  "python3-cffi-backend",
  "initramfs-tools",
  "grub-pc-bin",
  "grub2-common",
  "kmod",
  "pciutils",
  "udev",
  "systemd-sysv",
] as const;

export interface Image {
  /** The root file system tree (the container's root, read-only: used as an overlay's lower layer). */
  readonly rootfs: string;
  /** The ext4 disk image of the same tree; never booted itself, each machine boots a copy. */
  readonly disk: string;
  /** The installed kernel and initramfs, for the first boot (as the deployed machine boots them). */
  readonly kernel: string;
  readonly initrd: string;
  /** True when this call built it (cold cache). */
  readonly built: boolean;
}

/** The cache key: the package list and the recipe's text. */
export function imageKey(): string {
  return createHash("sha256").update(PACKAGES.join(",")).update("\0").update(readFileSync(RECIPE)).digest("hex").slice(0, 16);
}

function bootFile(rootfs: string, prefix: string): string {
  const names = readdirSync(path.join(rootfs, "boot")).filter((n) => n.startsWith(prefix));
  if (names.length !== 1) throw new Error(`expected one /boot/${prefix}* in the image, found ${names.join(", ") || "none"}`);
  return path.join(rootfs, "boot", names[0]!);
}

/** The cached image for the current key, built first when missing (needs root, debootstrap, network to
 * a Debian mirror; HOST_VM_MIRROR overrides deb.debian.org). */
export async function ensureImage(log: (line: string) => void): Promise<Image> {
  const dir = path.join(CACHE_DIR, `image-${imageKey()}`);
  let built = false;
  if (!existsSync(path.join(dir, "disk.img"))) {
    const tmp = `${dir}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    log(`building the image in ${tmp} (debootstrap; a few minutes)`);
    const r = await run("sh", [RECIPE, tmp, PACKAGES.join(",")], { timeoutMs: 20 * 60_000 });
    if (r.status !== 0) throw new Error(`build-image.sh exited ${r.status}:\n${r.output.slice(-4000)}`);
    renameSync(tmp, dir);
    built = true;
    // Images of other keys (an older recipe or package list) are never used again.
    for (const name of readdirSync(CACHE_DIR)) {
      if (name.startsWith("image-") && path.join(CACHE_DIR, name) !== dir) rmSync(path.join(CACHE_DIR, name), { recursive: true, force: true });
    }
  }
  const rootfs = path.join(dir, "rootfs");
  return { rootfs, disk: path.join(dir, "disk.img"), kernel: bootFile(rootfs, "vmlinuz-"), initrd: bootFile(rootfs, "initrd.img-"), built };
}
