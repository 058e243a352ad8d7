// `pci-passthrough:host` (and hostGroups[].host): how a GPU host is prepared, its IOMMU, the drivers kept off its
// devices and how vfio-pci claims them (docs/domain.md, "The kernel: IOMMU groups, vfio-pci and companions").
import { z } from "zod";
import { ALWAYS, bool, mapping, quote, unique } from "../primitives";

export const BINDINGS = ["modprobe", "driver-override", "rc-local"] as const;

export const hostSchema = mapping({
  /** CPU vendor: `intel` adds `intel_iommu=on`; `amd` adds nothing (the AMD IOMMU is on by default, and
   * the kernel knows no `amd_iommu=on`). */
  iommu: z.enum(["intel", "amd"], { error: (i) => `${quote(i.input)} is not intel or amd` }),
  /** Adds `iommu=pt` (passthrough mode for host devices). */
  iommuPassthrough: bool.default(false),
  /** Adds `vfio_iommu_type1.allow_unsafe_interrupts=1`: a security opt-in for platforms without
   * interrupt remapping (the runbook sets it). */
  allowUnsafeInterrupts: bool.default(false),
  /** Kernel modules kept off the devices (`modprobe.blacklist=`), e.g. nouveau, nvidiafb. */
  blacklistDrivers: z
    .array(
      z.string({ error: "expected a kernel module name" }).regex(/^[A-Za-z0-9_-]+$/, {
        error: (i) => `${quote(i.input)} is not a kernel module name`,
      }),
      { error: "expected a list of kernel module names" },
    )
    .superRefine(unique("driver"), ALWAYS)
    .default([]),
  /** How vfio-pci claims the devices: modprobe options (default), per-address driver_override from a
   * systemd unit, or the runbook's rc.local (repaired). */
  binding: z.enum(BINDINGS, { error: (i) => `${quote(i.input)} is not one of ${BINDINGS.join(", ")}` }).default("modprobe"),
});
