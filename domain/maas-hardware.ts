// What MAAS knows about a machine's PCI hardware, as one model per machine, made from the documents its API
// returns (domain/maas-api.ts parses them). Pure: no I/O, no Pulumi.
import type { HostCritical } from "./iommu";
import { BMC_GRAPHICS_VENDORS } from "./pci";
import type { GpuCard, MaasMachine, MachineResources, NetworkCard, NodeDevice } from "./maas-api";

// ---------------------------------------------------------------------------------------------------
// The model

/** What a function is to the machine, as MAAS and LXD sort it: the lists it appears in. */
export type PciRole = "gpu" | "network" | "storage" | "bridge" | "other";

/** One PCI function of a machine, at its latest commissioning. */
export interface PciFunctionInfo {
  /** `DDDD:BB:SS.F`. */
  readonly address: string;
  /** `DDDD:BB:SS`: the card (or on-board device) the function belongs to. */
  readonly slot: string;
  readonly vendorId: string;
  readonly productId: string;
  /** From the PCI ID database the commissioning environment had (`GP104GL [Quadro P5000]`). */
  readonly vendorName?: string;
  readonly productName?: string;
  /** The driver bound while commissioning; undefined when none was. */
  readonly driver?: string;
  /** LXD reports 0 for a device without NUMA affinity (sysfs -1). */
  readonly numaNode: number;
  /** Undefined when not known (see MachineHardware.iommu). */
  readonly iommuGroup?: number;
  readonly role: PciRole;
  /** A class-like name for messages: `USB controller`, `Ethernet controller`, or the product name. */
  readonly label: string;
  /** SR-IOV capable: the PF's `sriov_totalvfs` (> 0) and `sriov_numvfs` at commissioning. */
  readonly sriov?: { readonly totalVfs: number; readonly currentVfs: number };
  /** For a virtual function: its PF's address. */
  readonly physfn?: string;
  /** A network card's port MACs, lower case. */
  readonly macs: readonly string[];
  /** The block devices whose controller it is (`nvme0n1`). */
  readonly disks: readonly string[];
}

/** How much the document says about IOMMU groups. */
export type IommuKnowledge =
  /** Every function has its group. */
  | "known"
  /** Every function reports group 0: the IOMMU was off while commissioning (on Intel, intel_iommu=on was
   * not on the kernel command line), so the kernel made no groups (lxd/resources/pci.go reports 0 then). */
  | "iommu-off"
  /** The document has no `iommu_group` (machine-resources before MAAS 3.0: no `resources_pci_iommu`). */
  | "not-reported";

export interface MachineHardware {
  readonly systemId: string;
  readonly hostname: string;
  readonly pool?: string;
  readonly zone: string;
  readonly tags: readonly string[];
  /** The CPU vendor's IOMMU: `GenuineIntel` -> intel, `AuthenticAMD`/`HygonGenuine` -> amd. */
  readonly iommuVendor?: "intel" | "amd";
  readonly iommu: IommuKnowledge;
  /** Sorted by address; VFs included (each with `physfn`). */
  readonly functions: readonly PciFunctionInfo[];
  /** The interface MAAS boots the machine from, and the PCI function it is a port of (when known). */
  readonly bootInterface?: { readonly name: string; readonly mac?: string; readonly address?: string };
  /** The machine's boot disk (where MAAS installs the OS), and its controller's address (when known: LXD
   * reports none for SATA/SAS disks). */
  readonly bootDisk?: { readonly name: string; readonly address?: string };
  /** False for a machine commissioned before MAAS 3.0: MAAS has no node devices for it (`[]`). */
  readonly hasNodeDevices: boolean;
  /** What the documents disagree on or leave out, each a sentence. */
  readonly notes: readonly string[];
}

// Kernel PCI driver names (each driver's `struct pci_driver .name`) and the lspci class name of what they
// drive; used only to say what a function is in messages. pcieport: drivers/pci/pcie/portdrv.c; xhci_hcd:
// drivers/usb/host/xhci-pci.c (hcd_name); snd_hda_intel: sound/pci/hda/hda_intel.c; nvidia-gpu (the UCSI
// function of NVIDIA Turing cards): drivers/i2c/busses/i2c-nvidia-gpu.c.
const DRIVER_LABELS: Readonly<Record<string, string>> = {
  pcieport: "PCI bridge",
  xhci_hcd: "USB controller",
  ehci_pci: "USB controller",
  snd_hda_intel: "Audio device",
  "nvidia-gpu": "Serial bus controller",
  nvme: "Non-Volatile memory controller",
  ahci: "SATA controller",
  megaraid_sas: "RAID bus controller",
  mpt3sas: "Serial Attached SCSI controller",
};

function labelOf(role: PciRole, driver: string | undefined, productName: string | undefined, infiniband: boolean): string {
  if (role === "gpu") return "display controller";
  if (role === "network") return infiniband ? "Infiniband controller" : "Ethernet controller";
  const byDriver = driver !== undefined ? DRIVER_LABELS[driver] : undefined;
  return byDriver ?? productName ?? "PCI function";
}

const iommuVendorOf = (cpuVendor: string | undefined): "intel" | "amd" | undefined =>
  cpuVendor === "GenuineIntel" ? "intel" : cpuVendor === "AuthenticAMD" || cpuVendor === "HygonGenuine" ? "amd" : undefined;

/**
 * One machine's model from its `machines read` entry, its machine-resources document and (MAAS 3.0+) its
 * node devices. The PCI functions come from the document's `pci.devices` (the only list with IOMMU groups);
 * `gpu.cards`, `network.cards` and `storage.disks` say what each function is to the host, SR-IOV, VFs, MACs
 * and disks. The boot interface is found by MAC among the network cards' ports, the boot disk by name among
 * the disks; node devices (where MAAS links its own interface and block device records to a PCI address)
 * confirm both, and their disagreements become notes.
 */
export function machineHardware(machine: MaasMachine, doc: MachineResources, nodeDevices: readonly NodeDevice[] = []): MachineHardware {
  const r = doc.resources;
  const notes: string[] = [];
  const gpu = new Map<string, GpuCard>();
  const vfOf = new Map<string, string>();
  for (const card of r.gpu.cards) {
    if (card.pci_address !== undefined) gpu.set(card.pci_address, card);
    for (const vf of card.sriov?.vfs ?? []) if (vf.pci_address && card.pci_address) vfOf.set(vf.pci_address, card.pci_address);
  }
  const net = new Map<string, NetworkCard>();
  for (const card of r.network.cards) {
    if (card.pci_address !== undefined) net.set(card.pci_address, card);
    for (const vf of card.sriov?.vfs ?? []) {
      if (vf.pci_address && card.pci_address) {
        vfOf.set(vf.pci_address, card.pci_address);
        net.set(vf.pci_address, vf);
      }
    }
  }
  const disksAt = new Map<string, string[]>();
  for (const d of r.storage.disks) if (d.pci_address !== undefined) disksAt.set(d.pci_address, [...(disksAt.get(d.pci_address) ?? []), d.id]);

  const pciDevices = r.pci?.devices ?? [];
  if (r.pci === undefined || r.pci === null) {
    notes.push("the commissioning data has no PCI device list (machine-resources without LXD's resources_pci): commission the machine again with MAAS 3.0 or later");
  }
  // Known only when every function has its group (a document that gives some and not others is not trusted).
  const reported = pciDevices.length > 0 && pciDevices.every((d) => d.iommu_group !== undefined);
  const allZero = pciDevices.length > 1 && pciDevices.every((d) => (d.iommu_group ?? 0) === 0);
  const iommu: IommuKnowledge = !reported ? "not-reported" : allZero ? "iommu-off" : "known";

  const functions = [...pciDevices]
    .sort((a, b) => (a.pci_address < b.pci_address ? -1 : a.pci_address > b.pci_address ? 1 : 0))
    .map((d): PciFunctionInfo => {
      const driver = d.driver === "" ? undefined : d.driver;
      const g = gpu.get(d.pci_address);
      const n = net.get(d.pci_address);
      const disks = disksAt.get(d.pci_address) ?? [];
      const role: PciRole = g ? "gpu" : n ? "network" : disks.length > 0 ? "storage" : driver === "pcieport" ? "bridge" : "other";
      const sr = (g ?? n)?.sriov;
      const productName = d.product === "" ? undefined : d.product;
      const vendorName = d.vendor === "" ? undefined : d.vendor;
      const physfn = vfOf.get(d.pci_address);
      return {
        address: d.pci_address,
        slot: d.pci_address.slice(0, d.pci_address.lastIndexOf(".")),
        vendorId: d.vendor_id,
        productId: d.product_id,
        ...(vendorName !== undefined ? { vendorName } : {}),
        ...(productName !== undefined ? { productName } : {}),
        ...(driver !== undefined ? { driver } : {}),
        numaNode: d.numa_node,
        ...(iommu === "known" ? { iommuGroup: d.iommu_group! } : {}),
        role,
        label: labelOf(role, driver, productName, (n?.ports ?? []).some((p) => p.protocol === "infiniband")),
        ...(sr !== undefined && sr.maximum_vfs > 0 && physfn === undefined ? { sriov: { totalVfs: sr.maximum_vfs, currentVfs: sr.current_vfs } } : {}),
        ...(physfn !== undefined ? { physfn } : {}),
        macs: (n?.ports ?? []).flatMap((p) => (p.address ? [p.address.toLowerCase()] : [])),
        disks,
      };
    });

  if (iommu === "iommu-off") {
    notes.push("every PCI function reports IOMMU group 0: the IOMMU was off while commissioning, so the groups are not known (commission again with the IOMMU on)");
  } else if (iommu === "not-reported" && pciDevices.some((d) => d.iommu_group !== undefined)) {
    const without = pciDevices.filter((d) => d.iommu_group === undefined).map((d) => d.pci_address);
    notes.push(`the commissioning data gives no IOMMU group for ${without.join(", ")}: its groups are not used (commission again)`);
  } else if (iommu === "not-reported" && pciDevices.length > 0) {
    notes.push("the commissioning data has no IOMMU groups (machine-resources without resources_pci_iommu: commissioned before MAAS 3.0); commission again to know them");
  }

  const bootMac = machine.boot_interface?.mac_address?.toLowerCase() ?? undefined;
  let bootInterface: MachineHardware["bootInterface"];
  if (machine.boot_interface) {
    const byMac = bootMac !== undefined ? functions.find((f) => f.macs.includes(bootMac)) : undefined;
    const byNodeDevice = nodeDevices.find((d) => d.physical_interface?.id === machine.boot_interface!.id)?.pci_address ?? undefined;
    if (byMac && byNodeDevice && byMac.address !== byNodeDevice) {
      notes.push(`boot interface ${machine.boot_interface.name}: its MAC is on ${byMac.address} but MAAS's node devices put it on ${byNodeDevice}`);
    }
    const address = byMac?.address ?? byNodeDevice;
    if (address === undefined) notes.push(`boot interface ${machine.boot_interface.name}: no PCI function has its MAC ${bootMac ?? "(none)"}`);
    bootInterface = { name: machine.boot_interface.name, ...(bootMac !== undefined ? { mac: bootMac } : {}), ...(address !== undefined ? { address } : {}) };
  }

  let bootDisk: MachineHardware["bootDisk"];
  if (machine.boot_disk) {
    const name = machine.boot_disk.name;
    const byName = functions.find((f) => f.disks.includes(name))?.address;
    const byNodeDevice = nodeDevices.find((d) => d.physical_blockdevice?.id === machine.boot_disk!.id)?.pci_address ?? undefined;
    const address = byName ?? byNodeDevice;
    if (address === undefined) {
      notes.push(`boot disk ${name}: its controller's PCI address is not known (LXD reports one for NVMe and virtio disks, not for SATA/SAS disks)`);
    }
    bootDisk = { name, ...(address !== undefined ? { address } : {}) };
  }

  for (const d of nodeDevices) {
    if (d.bus_name !== "PCIE" || d.pci_address === null) continue;
    const f = functions.find((x) => x.address === d.pci_address);
    if (!f) notes.push(`node device ${d.pci_address} (${d.vendor_id}:${d.product_id}) is not in the commissioning data`);
    else if (f.vendorId !== d.vendor_id || f.productId !== d.product_id) {
      notes.push(`node device ${d.pci_address} is ${d.vendor_id}:${d.product_id} but the commissioning data has ${f.vendorId}:${f.productId} there`);
    }
  }

  return {
    systemId: machine.system_id,
    hostname: machine.hostname,
    ...(machine.pool ? { pool: machine.pool.name } : {}),
    zone: machine.zone.name,
    tags: machine.tag_names,
    ...(iommuVendorOf(r.cpu.sockets[0]?.vendor) !== undefined ? { iommuVendor: iommuVendorOf(r.cpu.sockets[0]?.vendor)! } : {}),
    iommu,
    functions,
    ...(bootInterface ? { bootInterface } : {}),
    ...(bootDisk ? { bootDisk } : {}),
    hasNodeDevices: nodeDevices.length > 0,
    notes,
  };
}

/** The functions of one IOMMU group, when groups are known. */
export function iommuGroupOf(machine: MachineHardware, group: number): PciFunctionInfo[] {
  return machine.functions.filter((f) => f.iommuGroup === group);
}

// ---------------------------------------------------------------------------------------------------
// What the host needs for itself

// A BMC's graphics (domain/pci.ts BMC_GRAPHICS_VENDORS) or Intel's integrated graphics, at 00:02.0 of the root
// bus: either is the firmware's boot console, the host's own.
const INTEGRATED_GRAPHICS = /^[0-9a-f]{4}:00:02\.0$/;

/** The machine's console, when the data shows it: a BMC's VGA or a CPU's integrated graphics. */
export function consoleFunctions(m: MachineHardware): { fn: PciFunctionInfo; what: string }[] {
  return m.functions.flatMap((f) => {
    if (f.role !== "gpu" || f.physfn !== undefined) return [];
    const bmc = BMC_GRAPHICS_VENDORS[f.vendorId];
    if (bmc !== undefined) return [{ fn: f, what: `the machine's console (${bmc} BMC graphics)` }];
    if (f.vendorId === "8086" && INTEGRATED_GRAPHICS.test(f.address)) return [{ fn: f, what: "the machine's console (the CPU's integrated graphics)" }];
    return [];
  });
}

/** Everything the host needs for itself: boot NIC, boot disk controller, console. */
export function hostCritical(m: MachineHardware): HostCritical[] {
  const out: HostCritical[] = [];
  if (m.bootInterface?.address !== undefined) {
    out.push({ address: m.bootInterface.address, what: `the machine's boot interface ${m.bootInterface.name}${m.bootInterface.mac ? ` (MAC ${m.bootInterface.mac})` : ""}` });
  }
  if (m.bootDisk?.address !== undefined) out.push({ address: m.bootDisk.address, what: `the controller of the machine's boot disk ${m.bootDisk.name}` });
  for (const c of consoleFunctions(m)) out.push({ address: c.fn.address, what: c.what });
  return out;
}
