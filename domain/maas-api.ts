// The documents MAAS's API returns about a machine's hardware, as zod schemas and parsers (only the fields
// this project reads; the others pass unread). Pure: no I/O, no Pulumi; the callers read the `maas` CLI or a
// `--from DIR` of saved files, and domain/maas-hardware.ts makes one model per machine from what parsed.
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
const maasInterface = z.object({ id: z.number().int(), name: z.string(), type: z.string().optional(), mac_address: z.string().nullable() });
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
  // (pool: MAAS 2.5+; absent before.)
  pool: named.nullable().optional(),
  zone: named,
  tag_names: z.array(z.string()).nullable().default([]).transform((t) => t ?? []),
  // machine.get_boot_interface() / get_boot_disk(): the boot interface or the first physical one, the boot
  // disk or the first physical one; null on a machine MAAS has never commissioned.
  boot_interface: maasInterface.nullable().optional(),
  boot_disk: maasBlockDevice.nullable().optional(),
  // "New" for a machine never commissioned: it has no commissioning data to read.
  status_name: z.string().optional(),
  commissioning_status_name: z.string().optional(),
  architecture: z.string().nullable().optional(),
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
// Go writes a nil slice as null: every list below may be null, and is read as empty.
const list = <T extends z.ZodType>(item: T) => z.array(item).nullable().optional().transform((xs) => xs ?? []);

const pciDevice = z.object({
  driver: z.string().nullable().optional().transform((d) => d ?? ""),
  // -1 (no NUMA affinity) is reported as 0 by LXD; an older or hand-made document may still carry -1.
  numa_node: z.number().int().optional().transform((n) => (n === undefined || n < 0 ? 0 : n)),
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
  sriov?: { current_vfs: number; maximum_vfs: number; vfs?: Self[] | null };
}
const cardFields = <Self>(self: () => z.ZodType<Self>) => ({
  pci_address: pciAddress.optional(),
  vendor_id: hexId.optional(),
  product_id: hexId.optional(),
  driver: z.string().optional(),
  numa_node: z.number().int().optional().transform((n) => (n === undefined || n < 0 ? 0 : n)),
  sriov: sriov.extend({ vfs: z.array(z.lazy(self)).nullable().optional() }).nullable().optional().transform((s) => s ?? undefined),
});

export type GpuCard = Card<GpuCard>;
const gpuCard: z.ZodType<GpuCard> = z.lazy(() => z.object(cardFields(() => gpuCard)));

// ResourcesNetworkCard: ports[].address is the MAC (lxd/resources/network.go networkAddDeviceInfo).
export interface NetworkCard extends Card<NetworkCard> {
  ports?: { id: string; address?: string; protocol?: string }[];
}
const networkCard: z.ZodType<NetworkCard> = z.lazy(() =>
  z.object({
    ...cardFields(() => networkCard),
    ports: z.array(z.object({ id: z.string(), address: z.string().optional(), protocol: z.string().optional() })).nullable().optional().transform((p) => p ?? undefined),
  }),
);

// ResourcesStorageDisk: pci_address (extension resources_disk_address) only when the disk's `device` links
// lead to a PCI device: NVMe and virtio disks, not SATA/SAS disks behind a SCSI host (lxd/resources/utils.go
// pciAddress).
const disk = z.object({ id: z.string(), pci_address: pciAddress.optional(), serial: z.string().optional(), model: z.string().optional() });

// Sections an older machine-resources lacks (or a Go nil written as null) are read as empty: `pci` came with
// LXD's resources_pci extension, and a document without it says nothing about PCI devices (hasPciList).
const section = <S extends z.ZodRawShape>(shape: S, empty: z.output<z.ZodObject<S>>) =>
  z.object(shape).nullable().optional().transform((v) => v ?? empty);

const resourcesSchema = z.object({
  api_extensions: list(z.string()),
  api_version: z.string().optional(),
  environment: z.object({ kernel_version: z.string().optional(), server: z.string().optional(), server_version: z.string().optional() }).nullable().optional(),
  resources: z.object({
    cpu: section({ sockets: list(z.object({ socket: z.number().int().optional(), vendor: z.string().optional(), name: z.string().optional() })) }, { sockets: [] }),
    gpu: section({ cards: list(gpuCard) }, { cards: [] }),
    network: section({ cards: list(networkCard) }, { cards: [] }),
    storage: section({ disks: list(disk) }, { disks: [] }),
    pci: z.object({ devices: list(pciDevice) }).nullable().optional(),
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
  // Node, CPU, Memory, Storage, Network, GPU today; read as text so that a later MAAS's new kind still parses.
  hardware_type_name: z.string(),
  numa_node: z.number().int().nonnegative().nullable().optional(),
  vendor_id: hexId,
  product_id: hexId,
  vendor_name: z.string().nullable().optional(),
  product_name: z.string().nullable().optional(),
  commissioning_driver: z.string().nullable().optional(),
  pci_address: pciAddress.nullable(),
  physical_interface: z.object({ id: z.number().int(), name: z.string() }).nullable().optional(),
  physical_blockdevice: z.object({ id: z.number().int(), name: z.string() }).nullable().optional(),
});

export type NodeDevice = z.output<typeof nodeDeviceSchema>;

/** Reads what `maas PROFILE node-devices read SYSTEM_ID` prints: `[]` for a machine commissioned before 3.0. */
export function parseNodeDevices(json: unknown, source: string): Parsed<NodeDevice[]> {
  return parseWith(z.array(nodeDeviceSchema), json, source);
}
