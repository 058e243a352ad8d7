// What the GPU host's kernel must be told: the IOMMU and blacklist options (the MAAS tag's kernel_opts and
// the grub drop-in share them), and the vendor:product ids vfio-pci takes. Pure: no Pulumi import.
import type { DeviceConfig, HostGroup } from "../../config/types";
import { deviceId } from "../../domain/pci";

/** What preparing a host takes: how (host) and for which devices. */
export type HostPrep = Pick<HostGroup, "host" | "devices">;

/** The vfio modules loaded at boot and put into the initramfs. vfio_virqfd is left out: it is pulled in
 * by vfio_pci on kernels that still have it (before 6.2) and does not exist after. */
export const VFIO_MODULES = ["vfio", "vfio_iommu_type1", "vfio_pci"] as const;

const unique = (items: readonly string[]): string[] => [...new Set(items)];

/**
 * Every vendor:product handed to vfio-pci: each device's own id and its companions (other functions of
 * the same IOMMU group, e.g. a GPU's HDMI audio; all functions of a group must go to vfio-pci or QEMU
 * fails with "group N is not viable"; docs/domain.md, "The kernel: IOMMU groups, vfio-pci and companions").
 * Sorted, no duplicates. The kernel
 * options, the modprobe file and the binding scripts all take their ids from here.
 */
export function vfioIds(devices: readonly DeviceConfig[]): string[] {
  return unique(devices.flatMap((d) => [deviceId(d), ...d.companions])).sort();
}


/** Each configured address with the vendor:product configured there, in config order: what the binding
 * scripts check a machine holds before they take a function from its driver. */
export function addressIds(devices: readonly DeviceConfig[]): Array<[address: string, id: string]> {
  const seen = new Map<string, string>();
  for (const d of devices) for (const a of d.addresses) if (!seen.has(a)) seen.set(a, deviceId(d));
  return [...seen];
}

/** Every configured PCI address, in config order (normalised DDDD:BB:SS.F by the config schema). */
export function configuredAddresses(devices: readonly DeviceConfig[]): string[] {
  return addressIds(devices).map(([address]) => address);
}

/**
 * The kernel options for the MAAS tag's kernel_opts (and the grub drop-in), in a stable order:
 * `intel_iommu=on` on Intel; nothing for the IOMMU itself on AMD, where it is on by default when the
 * firmware reports one, and `amd_iommu=on` is no option at all (drivers/iommu/amd/init.c
 * parse_amd_iommu_options knows fullflush, force_enable, off, force_isolation, pgtbl_v1/v2, ... but no
 * "on", and logs "Unknown option"); `iommu=pt` when asked, on either vendor; the unsafe-interrupts opt-in
 * only when asked (a security trade-off for platforms without interrupt remapping, which the runbook sets
 * unconditionally); the driver blacklist; and for the `modprobe` binding `vfio-pci.ids` so vfio-pci claims
 * the devices as soon as it loads. Can be empty (AMD, nothing asked, no blacklist, no modprobe binding).
 */
export function kernelOptions(prep: HostPrep): string[] {
  const h = prep.host;
  const opts: string[] = [];
  if (h.iommu === "intel") opts.push("intel_iommu=on");
  if (h.iommuPassthrough) opts.push("iommu=pt");
  if (h.allowUnsafeInterrupts) opts.push("vfio_iommu_type1.allow_unsafe_interrupts=1");
  const drivers = unique(h.blacklistDrivers);
  if (drivers.length > 0) opts.push(`modprobe.blacklist=${drivers.join(",")}`);
  if (h.binding === "modprobe") opts.push(`vfio-pci.ids=${vfioIds(prep.devices).join(",")}`);
  return unique(opts);
}

/** The kernel command line fragment: the MAAS tag's `kernel_opts` value. */
export function kernelCmdline(prep: HostPrep): string {
  return kernelOptions(prep).join(" ");
}
