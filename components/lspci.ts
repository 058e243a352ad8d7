// lspci import: turns `lspci -nn` / `-nnk` / `-nnvvv` / `-nnkvvv` output (optionally `-D`) into the
// `devices` and `host.blacklistDrivers` of a site configuration. Pure: no Pulumi import, no I/O; the CLI is
// scripts/import-lspci.ts. The runbook derives exactly these values by hand from lspci ("Determine the
// vendor and product ID ... the PCI device IDs ... which driver we are blacklisting ... Kernel modules").
import { Document, Pair, Scalar, YAMLMap, YAMLSeq } from "yaml";
import { NAMESPACE, normalizePciAddress } from "./config";

/** One PCI function as lspci printed it. */
export interface PciFunction {
  /** Full address, `DDDD:BB:SS.F`. */
  readonly address: string;
  /** `DDDD:BB:SS`: functions of one slot usually share an IOMMU group. */
  readonly slot: string;
  /** Class code, 4 lower-case hex digits (`0300`). */
  readonly classCode: string;
  /** Class name as lspci prints it (`VGA compatible controller`). */
  readonly className: string;
  readonly vendorId: string;
  readonly productId: string;
  /** Vendor and device name (`NVIDIA Corporation GP104GL [Quadro P5000]`). */
  readonly description: string;
  /** `-k`: `Kernel driver in use:`. */
  driver?: string;
  /** `-k`: `Kernel modules:`, in lspci's order. */
  modules: string[];
  /** `-k`: `Subsystem:`. */
  subsystem?: string;
  /** -v: its capability list as lspci could read it: `read`, or `denied` when lspci printed
   * `Capabilities: <access denied>` (not root: only the first 64 bytes of config space are readable).
   * Undefined when the input shows no capability line for it (`-nn`, `-nnk`). */
  capabilities?: "read" | "denied";
  /** -v: the "Single Root I/O Virtualization (SR-IOV)" capability, with -vv its `Total VFs`. */
  sriov?: { totalVfs?: number };
}

export interface LspciParse {
  readonly functions: PciFunction[];
  /** Non-blank lines that were neither a device line nor one of its detail lines. */
  readonly skippedLines: number;
}

// lspci lines are a few hundred characters at most; a longer "line" is not lspci output, and the regular
// expressions below need not see it.
const MAX_LINE = 2000;

// `(rev a1)` and `(prog-if 00 [VGA controller])` follow the ids (lspci.c show_terse).
const SUFFIX = /\s*\((?:rev [0-9a-fA-F]{2}|prog-if [0-9a-fA-F]{2}(?: \[[^\]]*\])?)\)\s*$/;
const IDS_AT_END = /^(.*?)\s*\[([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\]$/;
const CLASS = /^(.*?)\s*\[([0-9a-fA-F]{4})\]:\s*(.*)$/;
const DETAIL = /^\s+(Subsystem|Kernel driver in use|Kernel modules):\s*(.*?)\s*$/;
// One capability of -v: `Capabilities: [160] NAME`, with -vv `[160 v1]`; as non-root lspci cannot read the
// list and prints `Capabilities: <access denied>` once (pciutils ls-caps.c show_caps, ls-ecaps.c
// show_ext_caps, cap_sriov).
const CAPABILITY = /^\s+Capabilities: (?:\[[0-9a-fA-F]+(?: v\d+)?\] (.*?)|(<access denied>))\s*$/;
const SRIOV_NAME = "Single Root I/O Virtualization (SR-IOV)";
// -vv, inside the SR-IOV capability: `Initial VFs: 128, Total VFs: 128, Number of VFs: 0, ...`.
const TOTAL_VFS = /^\s+Initial VFs: \d+, Total VFs: (\d+),/;

/** Parses one device line of `lspci -nn`, or undefined when it is not one. */
function parseDeviceLine(line: string): PciFunction | undefined {
  const space = line.search(/\s/);
  if (space <= 0) return undefined;
  const address = normalizePciAddress(line.slice(0, space));
  if (address === undefined) return undefined;
  const cls = CLASS.exec(line.slice(space).trim());
  if (!cls) return undefined;
  let rest = cls[3]!;
  for (let m = SUFFIX.exec(rest); m; m = SUFFIX.exec(rest)) rest = rest.slice(0, m.index);
  const ids = IDS_AT_END.exec(rest.trim());
  if (!ids) return undefined;
  return {
    address,
    slot: address.slice(0, address.lastIndexOf(".")),
    classCode: cls[2]!.toLowerCase(),
    className: cls[1]!,
    vendorId: ids[2]!.toLowerCase(),
    productId: ids[3]!.toLowerCase(),
    description: ids[1]!,
    modules: [],
  };
}

/** Takes what a detail line of -v says about the capability list, if anything. */
function readCapability(f: PciFunction, line: string): void {
  const cap = CAPABILITY.exec(line);
  if (cap) {
    if (cap[2] !== undefined) f.capabilities = "denied";
    else {
      f.capabilities ??= "read";
      if (cap[1] === SRIOV_NAME) f.sriov = {};
    }
    return;
  }
  const vfs = TOTAL_VFS.exec(line);
  if (vfs && f.sriov && f.sriov.totalVfs === undefined) f.sriov.totalVfs = Number(vfs[1]);
}

/**
 * Reads `lspci -nn` or `lspci -nnk` output, also with `-D` and `-v` / `-vv` / `-vvv`. Never throws: a
 * line that is not lspci's is counted in `skippedLines`, and detail lines attach only to the device line
 * right above them.
 */
export function parseLspci(text: string): LspciParse {
  const functions: PciFunction[] = [];
  let skippedLines = 0;
  let current: PciFunction | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.length > MAX_LINE ? "" : raw;
    if (line.trim() === "") {
      if (raw.length > MAX_LINE) skippedLines++;
      current = undefined;
      continue;
    }
    if (/^\s/.test(line)) {
      const d = DETAIL.exec(line);
      if (current && d) {
        const value = d[2]!;
        if (d[1] === "Subsystem") current.subsystem = value;
        else if (d[1] === "Kernel driver in use") current.driver = value || undefined;
        else current.modules = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
      } else if (current) readCapability(current, line);
      else skippedLines++;
      // Other detail lines of -v (Flags, Memory at ...) are lspci's but carry nothing we need.
      continue;
    }
    current = parseDeviceLine(line);
    if (current) functions.push(current);
    else skippedLines++;
  }
  return { functions, skippedLines };
}

// ---------------------------------------------------------------------------------------------------
// Selection

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

const idOf = (f: { vendorId: string; productId: string }): string => `${f.vendorId}:${f.productId}`;

// Server boards put the BMC's graphics (ASPEED AST2x00, Matrox G200e) on the PCI bus as a VGA device: it
// is the host's own console, never a passthrough candidate. A class selection leaves it out; `--id` can
// still ask for it.
const BMC_GRAPHICS_VENDORS: Readonly<Record<string, string>> = { "1a03": "ASPEED", "102b": "Matrox" };

// The passthrough drivers themselves (a host already set up shows them in use): never blacklist them.
const PASSTHROUGH_DRIVERS = new Set(["vfio_pci", "pci_stub"]);

/** Module names compare with `-` and `_` alike, as modprobe does. */
const moduleKey = (m: string): string => m.replace(/-/g, "_");

/** Same rule as host.blacklistDrivers in components/config.ts. */
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

function aliasBase(classCode: string): string {
  if (classCode.startsWith("03")) return "gpu";
  if (classCode.startsWith("02")) return "nic";
  if (classCode === "0108") return "nvme";
  if (classCode.startsWith("01")) return "storage";
  if (classCode.startsWith("04")) return "media";
  if (classCode === "0c03") return "usb";
  if (classCode.startsWith("12")) return "accel";
  return "pci";
}

/** `gpu` when one group has that base name, `gpu-1bb0` when several do (vendor too if still ambiguous). */
function suggestAliases(groups: readonly PciFunction[]): string[] {
  const bases = groups.map((g) => aliasBase(g.classCode));
  const count = (xs: string[], x: string) => xs.filter((y) => y === x).length;
  const withProduct = groups.map((g, i) => (count(bases, bases[i]!) === 1 ? bases[i]! : `${bases[i]}-${g.productId}`));
  return groups.map((g, i) => (count(withProduct, withProduct[i]!) === 1 ? withProduct[i]! : `${bases[i]}-${g.vendorId}-${g.productId}`));
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

const describe = (f: PciFunction): string => `${f.address} ${f.description} [${idOf(f)}]`;

/** Selects, groups and explains: the pure core of `npm run import-lspci`. */
export function importLspci(text: string, selection: Selection = DEFAULT_SELECTION): LspciImport {
  const { functions, skippedLines } = parseLspci(text);
  const warnings: string[] = [];
  // An address seen twice (two captures pasted together) counts once.
  const unique = functions.filter((f, i) => functions.findIndex((g) => g.address === f.address) === i);

  const byId = (f: PciFunction) => selection.ids.includes(idOf(f));
  const byClass = (f: PciFunction) => selection.classes.some((c) => f.classCode.startsWith(c));
  const selected = unique.filter((f) => {
    if (byId(f)) return true;
    if (!byClass(f)) return false;
    const bmc = BMC_GRAPHICS_VENDORS[f.vendorId];
    if (bmc !== undefined && f.classCode.startsWith("03")) {
      warnings.push(`left out ${describe(f)}: ${bmc} BMC graphics is the host's own console (select it with --id ${idOf(f)} if you mean it)`);
      return false;
    }
    return true;
  });
  const selectedAddresses = new Set(selected.map((f) => f.address));

  // Group by vendor:product in order of first appearance.
  const groups = new Map<string, PciFunction[]>();
  for (const f of selected) groups.set(idOf(f), [...(groups.get(idOf(f)) ?? []), f]);
  const firsts = [...groups.values()].map((g) => g[0]!);
  const aliases = suggestAliases(firsts);

  const devices = firsts.map((first, i): DeviceSuggestion => {
    const members = groups.get(idOf(first))!;
    const companions: string[] = [];
    for (const m of members) {
      // Other functions of the slot (a GPU's HDMI audio, USB-C controller) are almost always in its
      // IOMMU group, and every function of a group must go to vfio-pci (DOMAIN.md, "Early binding").
      for (const other of unique.filter((o) => o.slot === m.slot && !selectedAddresses.has(o.address))) {
        const id = idOf(other);
        warnings.push(
          `${other.address} ${other.description} [${id}] shares slot ${m.slot} with ${m.address}: likely in its IOMMU group, ` +
            `suggested as a companion (check /sys/bus/pci/devices/${m.address}/iommu_group/devices)`,
        );
        if (id !== idOf(first) && !companions.includes(id)) companions.push(id);
      }
    }
    const denied = members.filter((m) => m.capabilities === "denied");
    if (denied.length > 0) {
      warnings.push(
        `${denied.map((m) => m.address).join(", ")}: SR-IOV capability could not be read (lspci printed "Capabilities: <access denied>"): ` +
          `run it as root (sudo lspci -nnkvvv); a device that can do SR-IOV needs deviceType: type-PF`,
      );
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
    warnings.push(
      "SR-IOV capability not known: the input has no `Capabilities` lines (use `sudo lspci -nnkvvv`); a device that can do SR-IOV needs deviceType: type-PF",
    );
  }
  for (const name of blacklist) {
    const users = unique.filter((f) => !selectedAddresses.has(f.address) && f.driver !== undefined && moduleKey(f.driver) === moduleKey(name));
    for (const u of users) warnings.push(`blacklisting ${name} also keeps it off ${describe(u)}, which is not selected`);
  }
  return { devices, blacklistDrivers: blacklist, iommu: hostIommu(unique), warnings, skippedLines };
}

// ---------------------------------------------------------------------------------------------------
// Output

function quoted(s: string): Scalar {
  // Hex ids must stay strings (YAML reads 8086 as a number), and a quoted address reads the same everywhere.
  const n = new Scalar(s);
  n.type = Scalar.QUOTE_DOUBLE;
  return n;
}

function flowSeq(items: readonly (string | Scalar)[]): YAMLSeq {
  const seq = new YAMLSeq();
  seq.flow = true;
  for (const item of items) seq.add(item);
  return seq;
}

const comment = (lines: readonly string[]): string => lines.map((l) => ` ${l}`).join("\n");

/** Why an SR-IOV capable device is proposed as `type-PF`: the comment above it in the snippet. */
function sriovWhy(totalVfs: number | undefined): string[] {
  return [
    `SR-IOV capable (lspci: "${SRIOV_NAME}"${totalVfs !== undefined ? `, Total VFs: ${totalVfs}` : ""}): libvirt reports a`,
    "device with sriov_totalvfs > 0 as having VFs even when none are created, Nova's libvirt driver then",
    "records it as type-PF (nova/virt/libvirt, _get_pcidev_info), and PciDeviceStats drops PFs from every",
    "request that does not ask for type-PF (nova/pci/stats.py): without it no flavor asking for this alias",
    "is ever scheduled.",
  ];
}

/**
 * The YAML snippet to paste under `config:` of Pulumi.<stack>.yaml: `pci-passthrough:devices` and
 * `pci-passthrough:host` (its blacklistDrivers, and iommu when the input showed the host bridge).
 */
export function renderSnippet(result: LspciImport, source = "lspci"): string {
  const doc = new Document();
  const root = new YAMLMap();
  const devices = new YAMLSeq();
  for (const d of result.devices) {
    const m = new YAMLMap();
    m.commentBefore = ` ${d.description}`;
    m.set("alias", d.alias);
    m.set("vendorId", quoted(d.vendorId));
    m.set("productId", quoted(d.productId));
    m.set("addresses", flowSeq(d.addresses.map(quoted)));
    if (d.companions.length > 0) m.set("companions", flowSeq(d.companions.map(quoted)));
    if (d.deviceType !== undefined) {
      const key = new Scalar("deviceType");
      key.commentBefore = comment(sriovWhy(d.totalVfs));
      m.add(new Pair(key, d.deviceType));
    }
    devices.add(m);
  }
  root.set(`${NAMESPACE}:devices`, devices);
  const host = new YAMLMap();
  if (result.iommu !== undefined) host.set("iommu", result.iommu);
  host.set("blacklistDrivers", flowSeq(result.blacklistDrivers));
  root.set(`${NAMESPACE}:host`, host);
  doc.contents = root;
  doc.commentBefore = comment([
    `From ${source} by \`npm run import-lspci\`: paste under \`config:\` in Pulumi.<stack>.yaml and merge`,
    `pci-passthrough:host with the one there${result.iommu === undefined ? " (set its iommu: intel or amd)" : ""}.`,
    ...result.warnings.map((w) => `warning: ${w}`),
  ]);
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
