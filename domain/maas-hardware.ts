// What MAAS knows about a machine's PCI hardware, read from the documents its API returns, into one model
// per machine. Pure: no I/O, no Pulumi; the callers read the `maas` CLI or a `--from DIR` of saved files.
//
// The documents (tools/import-maas/DESIGN.md has the calls and their sources):
// - `maas PROFILE machines read`: a JSON list of machines, fields from canonical/maas
//   src/maasserver/api/machines.py DISPLAYED_MACHINE_FIELDS (system_id, hostname, pool, zone, tag_names,
//   boot_interface, boot_disk, ...).
// - The machine-resources document: the output of the commissioning script `50-maas-01-commissioning`
//   (canonical/maas src/provisioningserver/refresh/50-maas-01-commissioning prints the file that
//   20-maas-03-machine-resources wrote), which is host-info's `AllInfo` (src/host-info/pkg/info/info.go:
//   api_extensions, api_version, environment, resources, networks) with LXD's resources API inside
//   (canonical/lxd shared/api/resource.go, at the commit src/host-info/go.mod pins).
// - `maas PROFILE node-devices read SYSTEM_ID` (MAAS 3.0+): a JSON list of node devices
//   (src/maasserver/api/nodedevices.py NodeDeviceHandler.fields, src/maasserver/models/nodedevice.py).
import { z } from "zod";
import type { HostCritical } from "./iommu";

// ---------------------------------------------------------------------------------------------------
// Results

/** A parse result: the value, or every problem found, each `SOURCE: key.path: message`. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problems: readonly string[] };

function issues(source: string, error: z.ZodError): string[] {
  return error.issues.map((i) => {
    const path = i.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "");
    return `${source}: ${path === "" ? "" : `${path}: `}${i.message}`;
  });
}

function parseWith<S extends z.ZodType>(schema: S, json: unknown, source: string): Parsed<z.output<S>> {
  const r = schema.safeParse(json);
  return r.success ? { ok: true, value: r.data } : { ok: false, problems: issues(source, r.error) };
}

// ---------------------------------------------------------------------------------------------------
// `maas PROFILE machines read` (only the fields this project reads; the others pass unread)

const hexId = z.string().regex(/^[0-9a-fA-F]{4}$/, "expected 4 hex digits").transform((s) => s.toLowerCase());
// LXD and MAAS print the kernel's own form, DDDD:BB:SS.F in lower case (lxd/resources/pci.go takes the
// name of the /sys/bus/pci/devices entry).
const pciAddress = z
  .string()
  .regex(/^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[01][0-9a-fA-F]\.[0-7]$/, "expected a PCI address DDDD:BB:SS.F")
  .transform((s) => s.toLowerCase());

const named = z.object({ name: z.string() });

/** An interface as the machine handler embeds it (src/maasserver/api/interfaces.py DISPLAYED_INTERFACE_FIELDS). */
const maasInterface = z.object({ id: z.number().int(), name: z.string(), type: z.string(), mac_address: z.string().nullable() });
/** A block device as embedded (src/maasserver/api/blockdevices.py DISPLAYED_BLOCKDEVICE_FIELDS). */
const maasBlockDevice = z.object({
  id: z.number().int(),
  name: z.string(),
  serial: z.string().nullable().optional(),
  model: z.string().nullable().optional(),
  id_path: z.string().nullable().optional(),
});

const machineSchema = z.object({
  system_id: z.string().regex(/^[a-z0-9]+$/, "expected a MAAS system ID"),
  hostname: z.string(),
  // MachineHandler.pool / zone: ResourcePool and Zone objects; `null` only on machines of other node types.
  pool: named.nullable(),
  zone: named,
  tag_names: z.array(z.string()),
  // machine.get_boot_interface() / get_boot_disk(): the boot interface or the first physical one, the boot
  // disk or the first physical one; null on a machine MAAS has never commissioned.
  boot_interface: maasInterface.nullable(),
  boot_disk: maasBlockDevice.nullable(),
  status_name: z.string(),
  commissioning_status_name: z.string(),
  architecture: z.string().nullable(),
});

export type MaasMachine = z.output<typeof machineSchema>;

/** Reads what `maas PROFILE machines read` prints (also with `pool=`, `zone=`, `tags=`, `id=` filters). */
export function parseMachines(json: unknown, source = "machines.json"): Parsed<MaasMachine[]> {
  return parseWith(z.array(machineSchema), json, source);
}

// ---------------------------------------------------------------------------------------------------
// The machine-resources document (LXD's api.Resources, as host-info's AllInfo wraps it)

// ResourcesPCIDevice: `driver` is "" when none is bound, `numa_node` is 0 when the kernel says -1,
// `iommu_group` is 0 when the device has no iommu_group link (lxd/resources/pci.go GetPCI); the field
// itself only exists since the `resources_pci_iommu` extension (MAAS 3.0's machine-resources).
const pciDevice = z.object({
  driver: z.string(),
  numa_node: z.number().int().nonnegative(),
  pci_address: pciAddress,
  vendor: z.string().optional(),
  vendor_id: hexId,
  product: z.string().optional(),
  product_id: hexId,
  iommu_group: z.number().int().nonnegative().optional(),
});

const sriov = z.object({ current_vfs: z.number().int().nonnegative(), maximum_vfs: z.number().int().nonnegative() });

// What GPU and network cards share (ResourcesGPUCard, ResourcesNetworkCard): pci_address is omitted for a
// USB card; a PF's VFs are listed under its sriov.vfs, found by their physfn link, not as cards of their
// own, and `vfs` is null when there are none (lxd/resources/gpu.go GetGPU, network.go GetNetwork).
interface Card<Self> {
  pci_address?: string;
  vendor_id?: string;
  product_id?: string;
  driver?: string;
  numa_node: number;
  sriov?: { current_vfs: number; maximum_vfs: number; vfs: Self[] | null };
}
const cardFields = <Self>(self: () => z.ZodType<Self>) => ({
  pci_address: pciAddress.optional(),
  vendor_id: hexId.optional(),
  product_id: hexId.optional(),
  driver: z.string().optional(),
  numa_node: z.number().int().nonnegative(),
  sriov: sriov.extend({ vfs: z.array(z.lazy(self)).nullable() }).optional(),
});

type GpuCard = Card<GpuCard>;
const gpuCard: z.ZodType<GpuCard> = z.lazy(() => z.object(cardFields(() => gpuCard)));

// ResourcesNetworkCard: ports[].address is the MAC (lxd/resources/network.go networkAddDeviceInfo).
interface NetworkCard extends Card<NetworkCard> {
  ports?: { id: string; address?: string; protocol: string }[];
}
const networkCard: z.ZodType<NetworkCard> = z.lazy(() =>
  z.object({
    ...cardFields(() => networkCard),
    ports: z.array(z.object({ id: z.string(), address: z.string().optional(), protocol: z.string() })).optional(),
  }),
);

// ResourcesStorageDisk: pci_address (extension resources_disk_address) only when the disk's `device` links
// lead to a PCI device: NVMe and virtio disks, not SATA/SAS disks behind a SCSI host (lxd/resources/utils.go
// pciAddress).
const disk = z.object({ id: z.string(), pci_address: pciAddress.optional(), serial: z.string().optional(), model: z.string().optional() });

const resourcesSchema = z.object({
  api_extensions: z.array(z.string()),
  api_version: z.string(),
  environment: z.object({ kernel_version: z.string().optional(), server: z.string().optional(), server_version: z.string().optional() }),
  resources: z.object({
    cpu: z.object({ sockets: z.array(z.object({ socket: z.number().int(), vendor: z.string().optional(), name: z.string().optional() })) }),
    gpu: z.object({ cards: z.array(gpuCard) }),
    network: z.object({ cards: z.array(networkCard) }),
    storage: z.object({ disks: z.array(disk) }),
    pci: z.object({ devices: z.array(pciDevice) }),
  }),
});

export type MachineResources = z.output<typeof resourcesSchema>;

/** Reads the machine-resources document as MAAS stores it (what `50-maas-01-commissioning` printed). */
export function parseMachineResources(json: unknown, source: string): Parsed<MachineResources> {
  return parseWith(resourcesSchema, json, source);
}

// ---------------------------------------------------------------------------------------------------
// `maas PROFILE node-script-result read SYSTEM_ID current-commissioning include_output=true
//  filters=50-maas-01-commissioning` (src/maasserver/api/scriptresults.py NodeScriptResultHandler.results:
//  with include_output, each result carries `output`, `stdout`, `stderr`, `result`, base64-encoded)

/** The commissioning script whose output is the machine-resources document (src/provisioningserver/refresh/
 * node_info_scripts.py COMMISSIONING_OUTPUT_NAME; LXD_OUTPUT_NAME in MAAS 2.8/2.9). */
export const COMMISSIONING_OUTPUT_NAME = "50-maas-01-commissioning";

const scriptSetSchema = z.object({
  system_id: z.string(),
  type_name: z.string(),
  results: z.array(z.object({ name: z.string(), status_name: z.string(), exit_status: z.number().int().nullable(), stdout: z.string().optional(), output: z.string().optional() })),
});

/**
 * The machine-resources document inside a `node-script-result read ... include_output=true` answer: the
 * `50-maas-01-commissioning` result's stdout, base64-decoded and parsed as JSON (then give it to
 * parseMachineResources). Problems: no such result (the filter left it out, or commissioning never ran it),
 * a result that did not pass, no output (include_output missing), output that is not JSON.
 */
export function resourcesFromScriptResults(json: unknown, source: string): Parsed<unknown> {
  const set = parseWith(scriptSetSchema, json, source);
  if (!set.ok) return set;
  const result = set.value.results.find((r) => r.name === COMMISSIONING_OUTPUT_NAME);
  if (result === undefined) {
    return { ok: false, problems: [`${source}: no ${COMMISSIONING_OUTPUT_NAME} result in the ${set.value.type_name} script set (filters=${COMMISSIONING_OUTPUT_NAME})`] };
  }
  if (result.status_name !== "Passed") {
    return { ok: false, problems: [`${source}: ${COMMISSIONING_OUTPUT_NAME} ${result.status_name.toLowerCase()} (exit ${result.exit_status}): commission the machine again`] };
  }
  // stdout holds the document; the combined output is the same when the script wrote nothing to stderr.
  const encoded = result.stdout || result.output;
  if (encoded === undefined) {
    return { ok: false, problems: [`${source}: ${COMMISSIONING_OUTPUT_NAME} has no output: read it with include_output=true`] };
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.from(encoded, "base64").toString("utf8")) as unknown };
  } catch (e) {
    return { ok: false, problems: [`${source}: ${COMMISSIONING_OUTPUT_NAME}'s output is not JSON: ${(e as Error).message}`] };
  }
}

// ---------------------------------------------------------------------------------------------------
// `maas PROFILE node-devices read SYSTEM_ID` (MAAS 3.0+)

// hardware_type: src/maascommon/enums/node.py HardwareDeviceTypeEnum; bus: NodeDeviceBus (1 PCIE, 2 USB).
const nodeDeviceSchema = z.object({
  id: z.number().int(),
  bus_name: z.enum(["PCIE", "USB"]),
  hardware_type_name: z.enum(["Node", "CPU", "Memory", "Storage", "Network", "GPU"]),
  numa_node: z.number().int().nonnegative(),
  vendor_id: hexId,
  product_id: hexId,
  vendor_name: z.string(),
  product_name: z.string(),
  commissioning_driver: z.string(),
  pci_address: pciAddress.nullable(),
  physical_interface: z.object({ id: z.number().int(), name: z.string() }).nullable(),
  physical_blockdevice: z.object({ id: z.number().int(), name: z.string() }).nullable(),
});

export type NodeDevice = z.output<typeof nodeDeviceSchema>;

/** Reads what `maas PROFILE node-devices read SYSTEM_ID` prints: `[]` for a machine commissioned before 3.0. */
export function parseNodeDevices(json: unknown, source: string): Parsed<NodeDevice[]> {
  return parseWith(z.array(nodeDeviceSchema), json, source);
}

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

  const reported = r.pci.devices.some((d) => d.iommu_group !== undefined);
  const allZero = r.pci.devices.length > 1 && r.pci.devices.every((d) => (d.iommu_group ?? 0) === 0);
  const iommu: IommuKnowledge = !reported ? "not-reported" : allZero ? "iommu-off" : "known";

  const functions = [...r.pci.devices]
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
  } else if (iommu === "not-reported") {
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

/** `vvvv:pppp`. */
export const functionId = (f: { readonly vendorId: string; readonly productId: string }): string => `${f.vendorId}:${f.productId}`;

/** The functions of one IOMMU group, when groups are known. */
export function iommuGroupOf(machine: MachineHardware, group: number): PciFunctionInfo[] {
  return machine.functions.filter((f) => f.iommuGroup === group);
}

// ---------------------------------------------------------------------------------------------------
// What the host needs for itself

// Server boards put the BMC's graphics on the PCI bus (ASPEED AST2x00, Matrox G200e); Intel's integrated
// graphics is at 00:02.0 of the root bus. Either is the firmware's boot console: the host's own.
const BMC_GRAPHICS_VENDORS: Readonly<Record<string, string>> = { "1a03": "ASPEED", "102b": "Matrox" };
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
