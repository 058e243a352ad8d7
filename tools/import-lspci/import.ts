// One host's capture into the `devices` and `host.blacklistDrivers` of a site configuration, the pure core of
// `npm run import-lspci`: which functions to take, their aliases, companions and device types, and the drivers to
// blacklist. The runbook derives exactly these values by hand from lspci ("Determine the vendor and product ID ...
// the PCI device IDs ... which driver we are blacklisting ... Kernel modules").
import { BMC_GRAPHICS_VENDORS, deviceId } from "../../domain/pci";
import { parseLspci, type LspciParse, type PciFunction } from "./lspci";

/** Which functions to import: any listed class prefix or vendor:product; display controllers by default. */
export interface Selection {
  /** Class code prefixes, 2 or 4 hex digits (`03`, `0300`). */
  readonly classes: readonly string[];
  /** vendor:product ids (`10de:1bb0`). */
  readonly ids: readonly string[];
}

/** Display controllers (class 03xx): what the runbook passes through. */
export const DEFAULT_SELECTION: Selection = { classes: ["03"], ids: [] };

/** Validates a `--class` value; returns it lower-cased, or undefined. */
export function parseClassOption(s: string): string | undefined {
  return /^(?:[0-9a-fA-F]{2}){1,2}$/.test(s) ? s.toLowerCase() : undefined;
}

/** Validates an `--id` value (`vvvv:pppp`); returns it lower-cased, or undefined. */
export function parseIdOption(s: string): string | undefined {
  return /^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$/.test(s) ? s.toLowerCase() : undefined;
}

// A BMC's graphics (domain/pci.ts BMC_GRAPHICS_VENDORS) is the host's own console: a class selection leaves it
// out; `--id` can still ask for it.

// The passthrough drivers themselves (a host already set up shows them in use): never blacklist them.
const PASSTHROUGH_DRIVERS = new Set(["vfio_pci", "pci_stub"]);

/** Module names compare with `-` and `_` alike, as modprobe does. */
export const moduleKey = (m: string): string => m.replace(/-/g, "_");

/** Same rule as host.blacklistDrivers in config/sections/host.ts. */
const MODULE_NAME = /^[A-Za-z0-9_-]+$/;

/** One suggested `devices` entry, in the shape of the site configuration. */
export interface DeviceSuggestion {
  readonly alias: string;
  readonly vendorId: string;
  readonly productId: string;
  readonly addresses: string[];
  readonly companions: string[];
  /** For a comment above the entry: `NVIDIA Corporation GP104GL [Quadro P5000] (VGA compatible controller)`. */
  readonly description: string;
  /** `type-PF` when lspci -v showed the SR-IOV capability: Nova sees such a device as a PF (see sriovWhy). */
  readonly deviceType?: "type-PF";
  /** The capability's `Total VFs` (-vv), for the comment. */
  readonly totalVfs?: number;
}

export interface LspciImport {
  readonly devices: DeviceSuggestion[];
  readonly blacklistDrivers: string[];
  /** From the host bridge's vendor when the input has it (full `lspci -nn`, not `| grep VGA`). */
  readonly iommu?: "intel" | "amd";
  readonly warnings: string[];
  readonly skippedLines: number;
}

export function aliasBase(classCode: string): string {
  if (classCode.startsWith("03")) return "gpu";
  if (classCode.startsWith("02")) return "nic";
  if (classCode === "0108") return "nvme";
  if (classCode.startsWith("01")) return "storage";
  if (classCode.startsWith("04")) return "media";
  if (classCode === "0c03") return "usb";
  if (classCode.startsWith("12")) return "accel";
  return "pci";
}

/** Each base as it is when only one id has it, `gpu-1bb0` when several do (vendor too if still ambiguous). */
export function uniqueNames(bases: readonly string[], ids: readonly { vendorId: string; productId: string }[]): string[] {
  const count = (xs: string[], x: string) => xs.filter((y) => y === x).length;
  const withProduct = ids.map((g, i) => (count([...bases], bases[i]!) === 1 ? bases[i]! : `${bases[i]}-${g.productId}`));
  return ids.map((g, i) => (count(withProduct, withProduct[i]!) === 1 ? withProduct[i]! : `${bases[i]}-${g.vendorId}-${g.productId}`));
}

/** `gpu` when one group has that base name, `gpu-1bb0` when several do (vendor too if still ambiguous). */
function suggestAliases(groups: readonly PciFunction[]): string[] {
  return uniqueNames(groups.map((g) => aliasBase(g.classCode)), groups);
}

function hostIommu(functions: readonly PciFunction[]): "intel" | "amd" | undefined {
  // Host bridges (class 0600) on bus 00: Intel's, or AMD's / Hygon's (AMD-Vi IOMMU). From Ice Lake-SP on,
  // Intel's 00:00.0 is no host bridge but a System peripheral (0880), "Ice Lake Memory Map/VT-d"
  // [8086:09a2] (pci.ids; the Ice Lake topologies in linux-pci and kvm list threads): it counts too.
  const rootComplex = (f: PciFunction) =>
    /^[0-9a-f]{4}:00:/.test(f.address) && (f.classCode === "0600" || (f.classCode === "0880" && f.address.endsWith(":00:00.0")));
  const vendors = new Set(functions.filter(rootComplex).map((f) => f.vendorId));
  if (vendors.size !== 1) return undefined;
  const v = [...vendors][0];
  return v === "8086" ? "intel" : v === "1022" || v === "1d94" ? "amd" : undefined;
}

const describe = (f: PciFunction): string => `${f.address} ${f.description} [${deviceId(f)}]`;

// What a capture cannot say about SR-IOV. Several hosts: moot when another capture said it (importHosts).
export const SRIOV_NOT_KNOWN =
  "SR-IOV capability not known: the input has no `Capabilities` lines (use `sudo lspci -nnkvvv`); a device that can do SR-IOV needs deviceType: type-PF";
export const sriovDenied = (addresses: readonly string[]): string =>
  `${addresses.join(", ")}: SR-IOV capability could not be read (lspci printed "Capabilities: <access denied>"): ` +
  `run it as root (sudo lspci -nnkvvv); a device that can do SR-IOV needs deviceType: type-PF`;

/** Selects, groups and explains: the pure core of `npm run import-lspci`. */
export function importLspci(text: string, selection: Selection = DEFAULT_SELECTION): LspciImport {
  return importParsed(parseLspci(text), selection);
}

/** What a selection asks for, as messages say it: `class 03, id 8086:1592`. */
export function describeSelection(selection: Selection): string {
  return [...selection.classes.map((c) => `class ${c}`), ...selection.ids.map((i) => `id ${i}`)].join(", ");
}

export function importParsed({ functions, skippedLines }: LspciParse, selection: Selection): LspciImport {
  const warnings: string[] = [];
  // An address seen twice (two captures pasted together) counts once.
  const unique = functions.filter((f, i) => functions.findIndex((g) => g.address === f.address) === i);

  const byId = (f: PciFunction) => selection.ids.includes(deviceId(f));
  const byClass = (f: PciFunction) => selection.classes.some((c) => f.classCode.startsWith(c));
  const selected = unique.filter((f) => {
    if (byId(f)) return true;
    if (!byClass(f)) return false;
    const bmc = BMC_GRAPHICS_VENDORS[f.vendorId];
    if (bmc !== undefined && f.classCode.startsWith("03")) {
      warnings.push(`left out ${describe(f)}: ${bmc} BMC graphics is the host's own console (select it with --id ${deviceId(f)} if you mean it)`);
      return false;
    }
    return true;
  });
  const selectedAddresses = new Set(selected.map((f) => f.address));

  // Group by vendor:product in order of first appearance.
  const groups = new Map<string, PciFunction[]>();
  for (const f of selected) groups.set(deviceId(f), [...(groups.get(deviceId(f)) ?? []), f]);
  const firsts = [...groups.values()].map((g) => g[0]!);
  const aliases = suggestAliases(firsts);

  const devices = firsts.map((first, i): DeviceSuggestion => {
    const members = groups.get(deviceId(first))!;
    const companions: string[] = [];
    for (const m of members) {
      // Other functions of the slot (a GPU's HDMI audio, USB-C controller) are almost always in its
      // IOMMU group, and every function of a group must go to vfio-pci (docs/domain.md, "The kernel: IOMMU
      // groups, vfio-pci and companions").
      for (const other of unique.filter((o) => o.slot === m.slot && !selectedAddresses.has(o.address))) {
        const id = deviceId(other);
        warnings.push(
          `${other.address} ${other.description} [${id}] shares slot ${m.slot} with ${m.address}: likely in its IOMMU group, ` +
            `suggested as a companion (check /sys/bus/pci/devices/${m.address}/iommu_group/devices)`,
        );
        if (id !== deviceId(first) && !companions.includes(id)) companions.push(id);
      }
    }
    const denied = members.filter((m) => m.capabilities === "denied");
    if (denied.length > 0) {
      warnings.push(sriovDenied(denied.map((m) => m.address)));
    }
    const sriov = members.filter((m) => m.sriov !== undefined);
    const totalVfs = Math.max(0, ...sriov.map((m) => m.sriov!.totalVfs ?? 0));
    return {
      alias: aliases[i]!,
      vendorId: first.vendorId,
      productId: first.productId,
      addresses: members.map((m) => m.address),
      companions,
      description: `${first.description} (${first.className})`,
      ...(sriov.length > 0 ? { deviceType: "type-PF" as const } : {}),
      ...(totalVfs > 0 ? { totalVfs } : {}),
    };
  });

  // The runbook blacklists the modules lspci -k lists for the GPU ("Kernel modules", then the driver in
  // use). Only GPUs need it: "Most PCI devices can be hot unbound and then bound via vfio-pci ... GPU
  // devices do require blacklisting." A NIC's driver usually also runs the host's own ports.
  const blacklist: string[] = [];
  for (const f of selected) {
    const names = [...f.modules, ...(f.driver !== undefined ? [f.driver] : [])];
    for (const name of names) {
      if (PASSTHROUGH_DRIVERS.has(moduleKey(name)) || blacklist.some((b) => moduleKey(b) === moduleKey(name))) continue;
      if (!MODULE_NAME.test(name)) {
        warnings.push(`${f.address}: ignored kernel module ${JSON.stringify(name)} (not a module name)`);
      } else if (!f.classCode.startsWith("03")) {
        if (!warnings.some((w) => w.startsWith(`not blacklisted: ${name} `))) {
          warnings.push(`not blacklisted: ${name} (${f.className} at ${f.address}): the runbook blacklists GPU drivers only; other devices are unbound and handed to vfio-pci`);
        }
      } else blacklist.push(name);
    }
  }
  if (selected.some((f) => f.classCode.startsWith("03")) && selected.every((f) => f.driver === undefined && f.modules.length === 0)) {
    warnings.push("no drivers to blacklist: the input has no `Kernel driver in use` / `Kernel modules` lines (use `lspci -nnk`)");
  }
  if (selected.length > 0 && selected.every((f) => f.capabilities === undefined)) {
    warnings.push(SRIOV_NOT_KNOWN);
  }
  for (const name of blacklist) {
    const users = unique.filter((f) => !selectedAddresses.has(f.address) && f.driver !== undefined && moduleKey(f.driver) === moduleKey(name));
    for (const u of users) warnings.push(`blacklisting ${name} also keeps it off ${describe(u)}, which is not selected`);
  }
  return { devices, blacklistDrivers: blacklist, iommu: hostIommu(unique), warnings, skippedLines };
}
