// The kernel's rule for handing an IOMMU group to a guest, and what a host must keep for itself. Pure:
// plain structures in, findings (data with their exact messages) out.
//
// VFIO gives a group to userspace (QEMU) only when it is "viable": every device of the group is
//  - bound to no driver, or
//  - bound to a vfio driver (vfio-pci and its variants), or
//  - bound to a driver allowed to share the group: pci-stub, and the drivers of PCI bridges, which only route.
// Before Linux 5.19 this was drivers/vfio/vfio.c vfio_dev_viable / vfio_dev_driver_allowed (the allowed list
// `{ "pci-stub" }`, and any device whose header type is not a normal one, i.e. a bridge). From 5.19 on the
// IOMMU core enforces it: binding a group for DMA by userspace (drivers/iommu/iommu.c
// iommu_group_claim_dma_owner) fails while any device of the group has a driver that does not set
// `driver_managed_dma` (include/linux/device/driver.h), which vfio-pci, pci-stub and the PCIe port driver
// (drivers/pci/pcie/portdrv.c, "pcieport") set. QEMU then fails with "group N is not viable".
//
// So a passthrough device's group is viable on the host when every other function in it is either bound to
// vfio-pci too (the configured devices and their companions), or one of the above. A function with a host
// driver that nobody rebinds (a NIC, a USB controller) makes the group unusable; a host-critical function
// (the boot NIC, the root disk's controller, the console) must never be taken from the host at all.

/** One function of an IOMMU group, as much as the check needs. */
export interface GroupMember {
  readonly address: string;
  readonly vendorId: string;
  readonly productId: string;
  /** Bound driver; undefined for none. */
  readonly driver?: string;
  /** For messages: `USB controller`, `Ethernet controller`, a product name. */
  readonly label: string;
}

/** Drivers the kernel lets share a group that is handed to userspace (see above). */
export const GROUP_SAFE_DRIVERS: readonly string[] = ["vfio-pci", "pci-stub", "pcieport"];

/** True when a function bound to this driver (or none) does not stop its group from being viable. */
export function driverKeepsGroupViable(driver: string | undefined): boolean {
  // vfio-pci's variant drivers (mlx5_vfio_pci, nvgrace_gpu_vfio_pci, xe-vfio-pci: drivers/vfio/pci/*) set
  // driver_managed_dma too.
  return driver === undefined || GROUP_SAFE_DRIVERS.includes(driver) || /[-_]vfio[-_]pci$/.test(driver);
}

/** `0000:41:00.2 (10de:1ad8, USB controller, driver xhci_hcd)`. */
export function describeMember(m: GroupMember): string {
  return `${m.address} (${m.vendorId}:${m.productId}, ${m.label}, ${m.driver !== undefined ? `driver ${m.driver}` : "no driver"})`;
}

/** Why a function is the host's own: said after its description in messages. */
export interface HostCritical {
  readonly address: string;
  /** `the machine's boot interface eno1 (MAC 3c:fd:fe:..)`, `the controller of the root disk nvme0n1`. */
  readonly what: string;
}

export type GroupFinding =
  /** A function with a host driver, neither configured nor a companion: the group is not viable. */
  | { readonly kind: "shares"; readonly group: number; readonly device: string; readonly member: GroupMember; readonly message: string }
  /** The group holds a function the host needs for itself: refused outright. */
  | { readonly kind: "host-critical"; readonly group: number; readonly device: string; readonly member: GroupMember; readonly what: string; readonly message: string }
  /** A function without a driver at commissioning, neither configured nor a companion: viable now, but a
   * driver the deployed host loads for it would take the group away. */
  | { readonly kind: "unbound"; readonly group: number; readonly device: string; readonly member: GroupMember; readonly message: string };

export interface GroupCheck {
  readonly group: number;
  /** The passthrough device the group is checked for. */
  readonly device: GroupMember;
  /** What the device is in messages: `GPU`, `NIC`, `device`. */
  readonly deviceNoun: string;
  /** Every function of the group, the device included. */
  readonly members: readonly GroupMember[];
  /** Addresses that will be bound to vfio-pci: the configured devices and their companions. */
  readonly claimed: ReadonlySet<string>;
  /** The host's own functions, by address. */
  readonly critical: readonly HostCritical[];
}

/**
 * The findings for one device's IOMMU group: each host-critical function in it (whatever its driver), each
 * function with a host driver that is not claimed (bridges and group-safe drivers pass, as the kernel lets
 * them), and each claimed-by-nobody function without a driver. An empty list means the group is viable
 * once the claimed functions are on vfio-pci.
 */
export function checkGroup(c: GroupCheck): GroupFinding[] {
  const out: GroupFinding[] = [];
  const at = `IOMMU group ${c.group} with the ${c.deviceNoun} at ${c.device.address}`;
  for (const m of c.members) {
    if (m.address === c.device.address) continue;
    const critical = c.critical.find((h) => h.address === m.address);
    if (critical !== undefined) {
      out.push({
        kind: "host-critical",
        group: c.group,
        device: c.device.address,
        member: m,
        what: critical.what,
        message: `${describeMember(m)}, ${critical.what}, shares ${at}: the host cannot give it up, so the ${c.deviceNoun} cannot be passed through (move the card to a slot with its own group)`,
      });
      continue;
    }
    if (c.claimed.has(m.address)) continue;
    if (m.driver === undefined) {
      out.push({
        kind: "unbound",
        group: c.group,
        device: c.device.address,
        member: m,
        message: `${describeMember(m)} shares ${at}: it had no driver while commissioning, which keeps the group viable; a driver the deployed host loads for it would not`,
      });
    } else if (!driverKeepsGroupViable(m.driver)) {
      out.push({ kind: "shares", group: c.group, device: c.device.address, member: m, message: `${describeMember(m)} shares ${at}` });
    }
  }
  return out;
}

/** A device's own critical role, when the device itself is one of the host's functions. */
export function criticalSelf(device: GroupMember, critical: readonly HostCritical[]): HostCritical | undefined {
  return critical.find((h) => h.address === device.address);
}

// ---------------------------------------------------------------------------------------------------
// Kernel command line: which value of a parameter the kernel takes

/** The command line split into its parameters, in order (`key=value` or a bare `key`). */
export function kernelParams(cmdline: string): { key: string; value?: string }[] {
  return cmdline
    .split(/\s+/)
    .filter((w) => w !== "")
    .map((w) => {
      const eq = w.indexOf("=");
      return eq < 0 ? { key: w } : { key: w.slice(0, eq), value: w.slice(eq + 1) };
    });
}

/**
 * The value the kernel ends up with for a parameter given several times: the last one. The early parameters
 * this project checks are parsed once per occurrence, each overwriting the one before: intel_iommu
 * (drivers/iommu/intel/iommu.c intel_iommu_setup: `on` clears dmar_disabled, `off` sets it), amd_iommu
 * (drivers/iommu/amd/init.c parse_amd_iommu_options), and a built-in module's parameter such as
 * vfio-pci.ids (kernel/params.c parse_args sets a charp parameter again for each occurrence).
 */
export function effectiveParam(cmdline: string, key: string): string | undefined {
  let value: string | undefined;
  for (const p of kernelParams(cmdline)) if (sameParam(p.key, key)) value = p.value ?? "";
  return value;
}

/** Parameter names compare with `-` and `_` alike (kernel/params.c parameq). */
export const sameParam = (a: string, b: string): boolean => a.replace(/-/g, "_") === b.replace(/-/g, "_");
