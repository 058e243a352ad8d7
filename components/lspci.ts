// lspci import: turns `lspci -nn` / `-nnk` / `-nnvvv` / `-nnkvvv` output (optionally `-D`) into the
// `devices` and `host.blacklistDrivers` of a site configuration. Pure: no Pulumi import, no I/O; the CLI is
// scripts/import-lspci.ts. The runbook derives exactly these values by hand from lspci ("Determine the
// vendor and product ID ... the PCI device IDs ... which driver we are blacklisting ... Kernel modules").
import { Document, Pair, Scalar, YAMLMap, YAMLSeq } from "yaml";
import { NAMESPACE } from "../config/problems";
import { CHARM_APPS } from "../domain/charms";
import { BMC_GRAPHICS_VENDORS, deviceId, normalizePciAddress } from "../domain/pci";

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

// A BMC's graphics (domain/pci.ts BMC_GRAPHICS_VENDORS) is the host's own console: a class selection leaves it
// out; `--id` can still ask for it.

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

/** Each base as it is when only one id has it, `gpu-1bb0` when several do (vendor too if still ambiguous). */
function uniqueNames(bases: readonly string[], ids: readonly { vendorId: string; productId: string }[]): string[] {
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
const SRIOV_NOT_KNOWN =
  "SR-IOV capability not known: the input has no `Capabilities` lines (use `sudo lspci -nnkvvv`); a device that can do SR-IOV needs deviceType: type-PF";
const sriovDenied = (addresses: readonly string[]): string =>
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

function importParsed({ functions, skippedLines }: LspciParse, selection: Selection): LspciImport {
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
      // IOMMU group, and every function of a group must go to vfio-pci (DOMAIN.md, "Early binding").
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

// ---------------------------------------------------------------------------------------------------
// Several hosts: one host group per kind of host (issue 14: `import-lspci` takes the captures of several
// hosts and proposes one group per distinct device set)

/** One host's capture: where it came from (the file name, for messages) and lspci's text. */
export interface HostCapture {
  readonly source: string;
  readonly text: string;
}

/** One kind of host: the hosts whose captures show the same devices (see importHosts). */
export interface HostKind {
  /** The suggested group name, unique among the kinds: its devices' aliases. */
  readonly name: string;
  /** Its hosts, in input order. */
  readonly sources: readonly string[];
  /** Undefined when no capture of its hosts showed the host bridge. */
  readonly iommu?: "intel" | "amd";
  /** Its devices; with several kinds, under the site's aliases (one per vendor:product). */
  readonly devices: readonly DeviceSuggestion[];
  readonly blacklistDrivers: readonly string[];
  /** Its hosts' warnings, each once, prefixed with the hosts it is about when not all of them. */
  readonly warnings: readonly string[];
  /** Its devices' vendor:product ids that other kinds have too, with those kinds' names: selectByDevice
   * cannot tell their hosts apart, so the group must list its machines. */
  readonly sharedIds: ReadonlyArray<{ readonly id: string; readonly kinds: readonly string[] }>;
}

export interface SiteImport {
  /** How many captures were read. */
  readonly hosts: number;
  /** In order of their first host. */
  readonly kinds: readonly HostKind[];
  /** What is about the site rather than one kind: hosts left out, hosts that disagree. */
  readonly warnings: readonly string[];
  /** Per capture, its lines that were not lspci's. */
  readonly skipped: ReadonlyArray<{ readonly source: string; readonly lines: number }>;
}

interface HostRead {
  readonly index: number;
  readonly source: string;
  readonly functions: readonly PciFunction[];
  /** Its import; its SR-IOV warnings are dropped when other captures answered them. */
  result: LspciImport;
}

const uniqueItems = <T>(items: readonly T[]): T[] => [...new Set(items)];

/** What makes hosts the same kind: the selected functions (address and vendor:product). */
const devicesKey = (devices: readonly DeviceSuggestion[]): string =>
  devices.flatMap((d) => d.addresses.map((a) => `${a}=${deviceId(d)}`)).sort().join(" ");

/** Each warning once, in order of first appearance; prefixed with its hosts when not every host has it. */
function mergeWarnings(hosts: readonly HostRead[]): string[] {
  return uniqueItems(hosts.flatMap((h) => h.result.warnings)).map((w) => {
    const who = hosts.filter((h) => h.result.warnings.includes(w)).map((h) => h.source);
    return who.length === hosts.length ? w : `${who.join(", ")}: ${w}`;
  });
}

/**
 * A device's model as a name (`a100` from "NVIDIA Corporation GA100 [A100 PCIe 80GB]", `l40s`, `connectx6`,
 * `e810c`, `p5000`): the first word with letters and digits, in the last bracket of lspci's name (pci.ids
 * puts the marketing name there) or else in the whole name; lower-case, letters and digits only, so that
 * it is an alias, a group name and a part of a Juju application name (juju/names: every part of a name
 * between hyphens holds a letter). Undefined when no such word exists ("Virtio 1.0 network device").
 */
export function modelName(description: string): string | undefined {
  const bracket = /\[([^\]]+)\]\s*$/.exec(description);
  const places = bracket ? [bracket[1]!, description.slice(0, bracket.index)] : [description];
  for (const place of places) {
    for (const word of place.split(/[\s/,;]+/)) {
      const w = word.toLowerCase().replace(/[^a-z0-9]/g, "");
      if (/[a-z]/.test(w) && /[0-9]/.test(w) && w.length <= 16) return w;
    }
  }
  return undefined;
}

/** Group names: lower-case letters, digits and hyphens, at most 32 (components/config.ts groupSchema). */
const GROUP_NAME_MAX = 32;

/** A name whose every hyphen-separated part holds a letter (a part without one joins the one before). */
function jujuSafe(name: string): string {
  const parts: string[] = [];
  for (const part of name.split("-").filter((p) => p !== "")) {
    if (/[a-z]/.test(part) || parts.length === 0) parts.push(part);
    else parts[parts.length - 1] += part;
  }
  return parts.join("-");
}

const fit = (name: string, room: number): string => name.slice(0, room).replace(/-+$/, "");

/** Group names from the kinds' aliases, made unique by IOMMU vendor (`a100-amd`) and then by `-v2`, `-v3`. */
function kindNames(kinds: readonly { devices: readonly DeviceSuggestion[]; iommu?: string }[]): string[] {
  const bases = kinds.map((k) => {
    const joined = uniqueItems(k.devices.map((d) => d.alias)).join("-");
    return jujuSafe(fit(joined.length <= GROUP_NAME_MAX ? joined : k.devices[0]!.alias, GROUP_NAME_MAX));
  });
  const clash = (names: string[], i: number) => names.filter((n) => n === names[i]).length > 1;
  const byIommu = bases.map((b, i) => {
    const vendors = new Set(kinds.filter((_, j) => bases[j] === b).map((k) => k.iommu));
    const iommu = kinds[i]!.iommu;
    return clash(bases, i) && vendors.size > 1 && iommu !== undefined ? `${fit(b, GROUP_NAME_MAX - iommu.length - 1)}-${iommu}` : b;
  });
  return byIommu.map((n, i) => {
    const before = byIommu.slice(0, i).filter((m) => m === n).length;
    return before === 0 ? n : `${fit(n, GROUP_NAME_MAX - 3)}-v${before + 1}`;
  });
}

/** A device without what one capture said about SR-IOV: the site decides that per vendor:product. */
const withoutSriov = ({ deviceType: _t, totalVfs: _v, ...rest }: DeviceSuggestion): Omit<DeviceSuggestion, "deviceType" | "totalVfs"> => rest;

/**
 * Groups the captures of several hosts into kinds of host, the pure core of `import-lspci FILE...`.
 *
 * Two hosts are the same kind when lspci shows them the same selected functions, address and
 * vendor:product (a group's addresses and whitelist are its hosts' own, and the model userdata picks a
 * machine's group by the vendor:product at the group's addresses), and the same IOMMU vendor (a group's
 * MAAS tag carries its kernel options, `intel_iommu=on` or none). A capture that does not show the host
 * bridge (IOMMU unknown) joins the kind with its functions when there is one such kind, and is left out
 * when there are several. What does not make a kind: the drivers (the group blacklists every host's),
 * the companions (the group takes every host's: vfio-pci.ids matches nothing on a host without one), and
 * whether a capture showed the SR-IOV capability (an alias has one device_type across the cloud: type-PF
 * when any host showed it). A host with no selected function is left out. Every leaving-out and
 * disagreement is a warning.
 */
export function importHosts(captures: readonly HostCapture[], selection: Selection = DEFAULT_SELECTION): SiteImport {
  const warnings: string[] = [];
  const read = captures.map((c, index): HostRead => {
    const parse = parseLspci(c.text);
    return { index, source: c.source, functions: parse.functions, result: importParsed(parse, selection) };
  });
  const usable = read.filter((h) => {
    if (h.result.devices.length > 0) return true;
    warnings.push(`${h.source}: left out of every group: no PCI function matched ${describeSelection(selection)}`);
    warnings.push(...h.result.warnings.map((w) => `${h.source}: ${w}`));
    return false;
  });

  // Kinds by devices and IOMMU vendor, then the hosts of unknown IOMMU into the kind with their devices.
  const kinds: { key: string; iommu?: "intel" | "amd"; hosts: HostRead[]; notes: string[] }[] = [];
  for (const h of usable) {
    const key = devicesKey(h.result.devices);
    const kind = kinds.find((k) => k.key === key && k.iommu === h.result.iommu);
    if (kind) kind.hosts.push(h);
    else kinds.push({ key, ...(h.result.iommu !== undefined ? { iommu: h.result.iommu } : {}), hosts: [h], notes: [] });
  }
  for (const unknown of kinds.filter((k) => k.iommu === undefined)) {
    const known = kinds.filter((k) => k.key === unknown.key && k.iommu !== undefined);
    if (known.length === 0) continue;
    const sources = unknown.hosts.map((h) => h.source).join(", ");
    kinds.splice(kinds.indexOf(unknown), 1);
    if (known.length === 1) {
      const into = known[0]!;
      into.notes.push(
        `${sources}: IOMMU vendor not known (the capture shows no host bridge on bus 00): taken as ${into.iommu}, ` +
          `as ${into.hosts.map((h) => h.source).join(", ")}, which have the same devices`,
      );
      into.hosts.push(...unknown.hosts);
      into.hosts.sort((a, b) => a.index - b.index);
    } else {
      const which = known.map((k) => `${k.iommu} (${k.hosts.map((h) => h.source).join(", ")})`).join(" and ");
      warnings.push(
        `${sources}: left out of every group: the same devices as hosts with ${which} IOMMUs, and the capture shows no host ` +
          `bridge to tell which (capture the whole \`lspci -nnk\`)`,
      );
    }
  }
  kinds.sort((a, b) => a.hosts[0]!.index - b.hosts[0]!.index);

  // One device_type per vendor:product across the site: type-PF when any host showed SR-IOV.
  const allDevices = kinds.flatMap((k) => k.hosts.flatMap((h) => h.result.devices.map((d) => ({ h, d }))));
  const ids = uniqueItems(allDevices.map(({ d }) => deviceId(d)));
  const sriov = new Map<string, { deviceType?: "type-PF"; totalVfs?: number }>();
  /** Per id, the captures that read its capability list. */
  const readSomewhere = new Map<string, string[]>();
  for (const id of ids) {
    const seen = allDevices.filter(({ d }) => deviceId(d) === id);
    const fns = (h: HostRead, d: DeviceSuggestion) => h.functions.filter((f) => d.addresses.includes(f.address));
    const withSriov = uniqueItems(seen.filter(({ h, d }) => fns(h, d).some((f) => f.sriov)).map(({ h }) => h.source));
    const without = uniqueItems(seen.filter(({ h, d }) => fns(h, d).some((f) => f.capabilities === "read" && !f.sriov)).map(({ h }) => h.source));
    const totalVfs = Math.max(0, ...seen.map(({ d }) => d.totalVfs ?? 0));
    sriov.set(id, { ...(withSriov.length > 0 ? { deviceType: "type-PF" as const } : {}), ...(totalVfs > 0 ? { totalVfs } : {}) });
    if (withSriov.length + without.length > 0) readSomewhere.set(id, uniqueItems([...withSriov, ...without]));
    if (withSriov.length > 0 && without.length > 0) {
      warnings.push(
        `${id}: SR-IOV capable on ${withSriov.join(", ")} but not on ${without.join(", ")} (whose capability lists were read): ` +
          `proposed as type-PF, since an alias has one device_type across the cloud; Nova records the others' as type-PCI, ` +
          `which this alias never matches (check SR-IOV in their firmware settings)`,
      );
    }
  }

  // A capture that could not say SR-IOV, for devices another capture read: its warning is moot, a note says
  // where the answer came from.
  const hostNotes = new Map<HostRead, string[]>();
  for (const h of kinds.flatMap((k) => k.hosts)) {
    const unread = h.result.devices.filter((d) => h.functions.some((f) => d.addresses.includes(f.address) && f.capabilities !== "read"));
    const from = uniqueItems(unread.flatMap((d) => readSomewhere.get(deviceId(d)) ?? []));
    if (unread.length === 0 || !unread.every((d) => readSomewhere.has(deviceId(d)))) continue;
    const moot = [SRIOV_NOT_KNOWN, ...unread.map((d) => sriovDenied(h.functions.filter((f) => d.addresses.includes(f.address) && f.capabilities === "denied").map((f) => f.address)))];
    h.result = { ...h.result, warnings: h.result.warnings.filter((w) => !moot.includes(w)) };
    hostNotes.set(h, [`${h.source}: its capture does not show the SR-IOV capability: taken from ${from.join(", ")}`]);
  }

  const merged = kinds.map((k) => {
    const first = k.hosts[0]!.result;
    const notes = [...k.notes, ...k.hosts.flatMap((h) => hostNotes.get(h) ?? [])];
    const devices = first.devices.map((d): DeviceSuggestion => {
      const same = k.hosts.map((h) => ({ h, d: h.result.devices.find((e) => deviceId(e) === deviceId(d))! }));
      const companions = uniqueItems(same.flatMap((s) => s.d.companions));
      for (const c of companions) {
        const lacking = same.filter((s) => !s.d.companions.includes(c)).map((s) => s.h.source);
        if (lacking.length > 0) {
          const having = same.filter((s) => s.d.companions.includes(c)).map((s) => s.h.source);
          notes.push(
            `${c}: next to ${deviceId(d)} on ${having.join(", ")} but not on ${lacking.join(", ")}: a companion for the whole group ` +
              "(vfio-pci.ids matches nothing on a host without it)",
          );
        }
      }
      return { ...withoutSriov(d), companions, ...sriov.get(deviceId(d)) };
    });
    const blacklist: string[] = [];
    for (const name of k.hosts.flatMap((h) => h.result.blacklistDrivers)) {
      if (!blacklist.some((b) => moduleKey(b) === moduleKey(name))) blacklist.push(name);
    }
    return { k, devices, blacklist, warnings: [...notes, ...mergeWarnings(k.hosts)] };
  });

  // Several kinds: aliases across the site, one per vendor:product, named after the model where lspci names it.
  let named = merged.map((m) => m.devices);
  if (merged.length > 1) {
    const described = ids.map((id) => allDevices.find(({ d }) => deviceId(d) === id)!);
    const fn = (x: { h: HostRead; d: DeviceSuggestion }) => x.h.functions.find((f) => f.address === x.d.addresses[0])!;
    const aliases = uniqueNames(
      described.map((x) => modelName(fn(x).description) ?? aliasBase(fn(x).classCode)),
      described.map((x) => x.d),
    );
    named = merged.map((m) => m.devices.map((d) => ({ ...d, alias: aliases[ids.indexOf(deviceId(d))]! })));
  }
  const names = kindNames(merged.map((m, i) => ({ devices: named[i]!, ...(m.k.iommu !== undefined ? { iommu: m.k.iommu } : {}) })));
  const result = merged.map(
    (m, i): HostKind => ({
      name: names[i]!,
      sources: m.k.hosts.map((h) => h.source),
      ...(m.k.iommu !== undefined ? { iommu: m.k.iommu } : {}),
      devices: named[i]!,
      blacklistDrivers: m.blacklist,
      warnings: m.warnings,
      sharedIds: uniqueItems(named[i]!.map(deviceId)).flatMap((id) => {
        const others = names.filter((_, j) => j !== i && named[j]!.some((d) => deviceId(d) === id));
        return others.length > 0 ? [{ id, kinds: others }] : [];
      }),
    }),
  );
  return { hosts: captures.length, kinds: result, warnings, skipped: read.map((h) => ({ source: h.source, lines: h.result.skippedLines })) };
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

/** A `devices` list in the shape of the site configuration, each entry under a comment naming the device. */
function devicesSeq(suggestions: readonly DeviceSuggestion[]): YAMLSeq {
  const devices = new YAMLSeq();
  for (const d of suggestions) {
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
  return devices;
}

/** A `host` mapping: iommu when known, and the drivers to blacklist. */
function hostMap(iommu: "intel" | "amd" | undefined, blacklistDrivers: readonly string[]): YAMLMap {
  const host = new YAMLMap();
  if (iommu !== undefined) host.set("iommu", iommu);
  host.set("blacklistDrivers", flowSeq(blacklistDrivers));
  return host;
}

const YAML_OUTPUT = { lineWidth: 0, flowCollectionPadding: false } as const;

/**
 * The YAML snippet to paste under `config:` of Pulumi.<stack>.yaml: `pci-passthrough:devices` and
 * `pci-passthrough:host` (its blacklistDrivers, and iommu when the input showed the host bridge).
 * `agreed`: lines said after the first two of the header (which hosts the snippet stands for).
 */
export function renderSnippet(result: LspciImport, source = "lspci", agreed: readonly string[] = []): string {
  const doc = new Document();
  const root = new YAMLMap();
  root.set(`${NAMESPACE}:devices`, devicesSeq(result.devices));
  root.set(`${NAMESPACE}:host`, hostMap(result.iommu, result.blacklistDrivers));
  doc.contents = root;
  doc.commentBefore = comment([
    `From ${source} by \`npm run import-lspci\`: paste under \`config:\` in Pulumi.<stack>.yaml and merge`,
    `pci-passthrough:host with the one there${result.iommu === undefined ? " (set its iommu: intel or amd)" : ""}.`,
    ...agreed,
    ...result.warnings.map((w) => `warning: ${w}`),
  ]);
  return doc.toString(YAML_OUTPUT);
}

const hostCount = (n: number): string => (n === 1 ? "1 host" : `${n} hosts`);

/**
 * The snippet for the captures of several hosts. All of one kind: today's `devices` and `host`, saying
 * which hosts agreed. Several kinds: `pci-passthrough:hostGroups`, one group per kind.
 */
/** The MAAS resource pool and/or zone a selection by device is scoped to (import-lspci --pool, --zone). */
export interface SelectionScope {
  readonly pool?: string;
  readonly zone?: string;
}

export function renderProposal(site: SiteImport, scope: SelectionScope = {}): string {
  if (site.kinds.length === 1) {
    const k = site.kinds[0]!;
    const list = k.sources.join(", ");
    const agreed =
      k.sources.length === site.hosts
        ? `${site.hosts} hosts agreed: the same selected functions at the same addresses, the same IOMMU vendor (${list}).`
        : `${k.sources.length} of ${site.hosts} hosts agreed (${list}); the others are left out, see the warnings.`;
    const result: LspciImport = {
      devices: [...k.devices],
      blacklistDrivers: [...k.blacklistDrivers],
      ...(k.iommu !== undefined ? { iommu: k.iommu } : {}),
      warnings: [...site.warnings, ...k.warnings],
      skippedLines: site.skipped.reduce((n, s) => n + s.lines, 0),
    };
    return renderSnippet(result, hostCount(site.hosts), [agreed]);
  }
  return renderHostGroups(site, scope);
}

/** `pci-passthrough:hostGroups` with one group per kind of host (see importHosts for what a kind is). */
function renderHostGroups(site: SiteImport, scope: SelectionScope): string {
  const groups = new YAMLSeq();
  for (const k of site.kinds) {
    const g = new YAMLMap();
    g.commentBefore = comment([`${k.name}: ${hostCount(k.sources.length)}: ${k.sources.join(", ")}`, ...k.warnings.map((w) => `warning: ${w}`)]);
    g.set("name", k.name);
    const maas = new YAMLMap();
    maas.set("tag", `pci-pass-${k.name}`);
    const ids = uniqueItems(k.devices.map(deviceId));
    if (k.sharedIds.length === 0) {
      const key = new Scalar("selectByDevice");
      const where =
        scope.pool !== undefined || scope.zone !== undefined
          ? "among this cloud's machines (its pool and/or zone)"
          : "among this cloud's machines: add pool: (its MAAS resource pool) and/or zone:, or run again with --pool / --zone";
      key.commentBefore = ` Tags the machines whose MAAS node devices include ${ids.join(", ")} (MAAS 3.0+): no other group has ${ids.length === 1 ? "it" : "them"};\n ${where}.`;
      maas.add(new Pair(key, true));
      if (scope.pool !== undefined) maas.set("pool", scope.pool);
      if (scope.zone !== undefined) maas.set("zone", scope.zone);
    } else {
      const shared = k.sharedIds.map((s) => `${s.id} is also in ${s.kinds.join(", ")}`).join("; ");
      maas.comment = comment([
        `machines: [...]: list these hosts' MAAS system IDs (maas PROFILE machines read). No selectByDevice: ${shared},`,
        "so MAAS could not tell their hosts apart by device.",
      ]);
    }
    g.set("maas", maas);
    g.set("application", `${CHARM_APPS.compute}-${k.name}`);
    const host = hostMap(k.iommu, k.blacklistDrivers);
    if (k.iommu === undefined) host.commentBefore = " Set iommu: intel or amd: no capture of these hosts shows the host bridge.";
    g.set("host", host);
    g.set("devices", devicesSeq(k.devices));
    groups.add(g);
  }
  const doc = new Document();
  const root = new YAMLMap();
  root.set(`${NAMESPACE}:hostGroups`, groups);
  doc.contents = root;
  doc.commentBefore = comment([
    `From ${hostCount(site.hosts)} by \`npm run import-lspci\`: ${site.kinds.length} kinds of host, one host group each. Paste under \`config:\` in`,
    "Pulumi.<stack>.yaml in place of pci-passthrough:host, pci-passthrough:devices and the tag keys of",
    "pci-passthrough:maas (each group has its own tag; maas keeps profile, url and apiKey).",
    "Hosts are one kind when lspci shows them the same selected functions (address and vendor:product) and the",
    "same IOMMU vendor; a capture without the host bridge joins the kind with its functions.",
    "Aliases are one per vendor:product across the groups: pci-alias is the whole cloud's.",
    `Each group gets its own application, ${CHARM_APPS.compute}-<group> (the nova-compute charm deployed with`,
    "constraints tags=<its tag>): an application has one whitelist for all its units, and the bundle's own",
    `${CHARM_APPS.compute} keeps the compute hosts of no group. A group may take application: ${CHARM_APPS.compute}`,
    "instead only with selectByDevice (its tag then follows the devices); config refuses it otherwise.",
    ...site.warnings.map((w) => `warning: ${w}`),
  ]);
  return doc.toString(YAML_OUTPUT);
}
