// The YAML of a site proposal, as the importers write it for Pulumi.<stack>.yaml: `devices` entries under a comment
// naming each device, a `host` mapping, ids and addresses quoted (YAML reads 8086 as a number), one line each.
import { Pair, Scalar, YAMLMap, YAMLSeq } from "yaml";

export function quoted(s: string): Scalar {
  // Hex ids must stay strings (YAML reads 8086 as a number), and a quoted address reads the same everywhere.
  const n = new Scalar(s);
  n.type = Scalar.QUOTE_DOUBLE;
  return n;
}

export function flowSeq(items: readonly (string | Scalar)[]): YAMLSeq {
  const seq = new YAMLSeq();
  seq.flow = true;
  for (const item of items) seq.add(item);
  return seq;
}

export const comment = (lines: readonly string[]): string => lines.map((l) => ` ${l}`).join("\n");

/** One proposed `devices` entry, in the shape of the site configuration. */
export interface ProposedDeviceEntry {
  readonly alias: string;
  readonly vendorId: string;
  readonly productId: string;
  readonly addresses: readonly string[];
  readonly companions: readonly string[];
  /** The comment above the entry, naming the device. */
  readonly description: string;
  readonly deviceType?: string;
  /** More comment lines under the description (why each part of the entry is what it is). */
  readonly notes?: readonly string[];
}

/** A `devices` list in the shape of the site configuration, each entry under a comment naming the device;
 * `deviceTypeWhy` says, above a deviceType, why it is proposed. */
export function devicesSeq<D extends ProposedDeviceEntry>(suggestions: readonly D[], deviceTypeWhy: (d: D) => readonly string[]): YAMLSeq {
  const devices = new YAMLSeq();
  for (const d of suggestions) {
    const m = new YAMLMap();
    m.commentBefore = comment([d.description, ...(d.notes ?? [])]);
    m.set("alias", d.alias);
    m.set("vendorId", quoted(d.vendorId));
    m.set("productId", quoted(d.productId));
    m.set("addresses", flowSeq(d.addresses.map(quoted)));
    if (d.companions.length > 0) m.set("companions", flowSeq(d.companions.map(quoted)));
    if (d.deviceType !== undefined) {
      const key = new Scalar("deviceType");
      key.commentBefore = comment(deviceTypeWhy(d));
      m.add(new Pair(key, d.deviceType));
    }
    devices.add(m);
  }
  return devices;
}

/** A `host` mapping: iommu when known, and the drivers to blacklist. */
export function hostMap(iommu: "intel" | "amd" | undefined, blacklistDrivers: readonly string[]): YAMLMap {
  const host = new YAMLMap();
  if (iommu !== undefined) host.set("iommu", iommu);
  host.set("blacklistDrivers", flowSeq(blacklistDrivers));
  return host;
}

export const YAML_OUTPUT = { lineWidth: 0, flowCollectionPadding: false } as const;
