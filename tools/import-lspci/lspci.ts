// The lspci parser: `lspci -nn` / `-nnk` / `-nnvvv` / `-nnkvvv` output (optionally `-D`) into one record per PCI
// function, with its class, ids, driver and modules, and what -v says of its SR-IOV capability (pciutils lspci.c
// show_terse, ls-caps.c, ls-ecaps.c). Pure: no I/O. import.ts makes a site's devices from it.
import { normalizePciAddress } from "../../domain/pci";

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
/** The SR-IOV capability's name as lspci -v prints it. */
export const SRIOV_NAME = "Single Root I/O Virtualization (SR-IOV)";
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
