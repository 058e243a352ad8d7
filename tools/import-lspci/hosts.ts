// Several hosts' captures: one host group per kind of host (`import-lspci FILE...` proposes one group per distinct
// device set). Pure: no I/O.
import { deviceId } from "../../domain/pci";
import { modelName } from "../lib/names";
import {
  DEFAULT_SELECTION,
  SRIOV_NOT_KNOWN,
  aliasBase,
  describeSelection,
  importParsed,
  moduleKey,
  sriovDenied,
  uniqueNames,
  type DeviceSuggestion,
  type LspciImport,
  type Selection,
} from "./import";
import { parseLspci, type PciFunction } from "./lspci";

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

/** Group names: lower-case letters, digits and hyphens, at most 32 (config/sections/host-groups.ts groupSchema). */
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
