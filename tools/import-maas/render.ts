// What `npm run import-maas` prints: the proposal (propose.ts) as YAML to paste under `config:` of
// Pulumi.<stack>.yaml, every decision as a comment line beside what it decided, refusals and left-out machines
// in the header. One kind of host: `maas` (its selection), `host` and `devices`; several: `hostGroups`.
// Nothing here says where the data came from: live and `--from DIR` print the same bytes for the same data.
import { Document, Pair, Scalar, YAMLMap, YAMLSeq } from "yaml";
import { NAMESPACE } from "../../config/problems";
import { deviceId } from "../../domain/pci";
import { YAML_OUTPUT, comment, devicesSeq, flowSeq, hostMap, quoted } from "../lib/proposal-yaml";
import type { Proposal, ProposedDevice, ProposedGroup } from "./propose";

const isSriovReason = (d: ProposedDevice, r: string) => r.startsWith(`${d.vendorId}:${d.productId} can do SR-IOV`);

function devices(g: ProposedGroup): YAMLSeq {
  const entries = g.devices.map((d) => ({
    ...d,
    notes: [`NUMA nodes: ${Object.entries(d.numaNodes).map(([a, n]) => `${a} on ${n}`).join(", ")}`, ...d.reasons.filter((r) => !isSriovReason(d, r))],
  }));
  return devicesSeq(entries, (d) => d.reasons.filter((r) => isSriovReason(d, r)));
}

/** A tag's selection keys, with the reason above them. */
function selection(into: YAMLMap, g: ProposedGroup): void {
  const s = g.selection;
  if ("selectByDevice" in s) {
    const k = new Scalar("selectByDevice");
    k.commentBefore = comment([s.reason]);
    into.add(new Pair(k, true));
    if (s.pool !== undefined) into.set("pool", s.pool);
    if (s.zone !== undefined) into.set("zone", s.zone);
    if (s.pool === undefined && s.zone === undefined) into.comment = comment(["add pool: (this cloud's MAAS resource pool) and/or zone: the config refuses selectByDevice unscoped"]);
  } else {
    const k = new Scalar("machines");
    k.commentBefore = comment([`${s.reason}: ${g.hosts.map((h) => `${h.systemId} ${h.hostname}`).join(", ")}`]);
    into.add(new Pair(k, flowSeq(s.machines.map((m) => quoted(m)))));
  }
}

function host(g: ProposedGroup): YAMLMap {
  const h = hostMap(g.iommu, g.blacklistDrivers);
  if (g.iommu === undefined) h.commentBefore = " set iommu: intel or amd (the CPU vendor is not in the commissioning data)";
  return h;
}

function header(p: Proposal, machines: number, lines: readonly string[]): string[] {
  return [
    `From the commissioning data of ${machines === 1 ? "1 machine" : `${machines} machines`} by \`npm run import-maas\`: paste under \`config:\` in Pulumi.<stack>.yaml`,
    ...lines,
    ...p.refusals.flatMap((r) => r.messages.map((m) => `refused: ${r.hostname} (${r.systemId}) ${r.address} ${r.id}: ${m}`)),
    ...p.leftOut.map((l) => `left out: ${l.hostname} (${l.systemId}): ${l.reason}`),
    ...p.notes.map((n) => `note: ${n}`),
  ];
}

/** The maas access keys: the profile given, or a comment asking for it. */
function access(profile: string | undefined): YAMLMap {
  const maas = new YAMLMap();
  if (profile !== undefined) maas.set("profile", profile);
  else maas.commentBefore = " set profile: the maas CLI profile the steps use";
  return maas;
}

/**
 * The YAML for a proposal with at least one group. `machines`: how many machines were read; `unreadable`:
 * header lines for machines whose data could not be used.
 */
export function renderMaasProposal(p: Proposal, opts: { profile?: string; machines: number; unreadable?: readonly string[] }): string {
  const doc = new Document();
  const root = new YAMLMap();
  const unreadable = (opts.unreadable ?? []).map((u) => `not read: ${u}`);
  if (p.groups.length === 1) {
    const g = p.groups[0]!;
    const maas = access(opts.profile);
    selection(maas, g);
    root.set(`${NAMESPACE}:maas`, maas);
    root.set(`${NAMESPACE}:host`, host(g));
    root.set(`${NAMESPACE}:devices`, devices(g));
    doc.commentBefore = comment([
      ...header(p, opts.machines, [
        "and merge pci-passthrough:maas and host with the ones there (their other keys stay). One kind of host:",
        ...g.reasons,
      ]),
      ...unreadable,
    ]);
  } else {
    root.set(`${NAMESPACE}:maas`, access(opts.profile));
    const groups = new YAMLSeq();
    for (const g of p.groups) {
      const m = new YAMLMap();
      m.commentBefore = comment(g.reasons);
      m.set("name", g.name);
      const tag = new YAMLMap();
      tag.set("tag", g.tag);
      selection(tag, g);
      m.set("maas", tag);
      m.set("application", g.application);
      m.set("host", host(g));
      m.set("devices", devices(g));
      groups.add(m);
    }
    root.set(`${NAMESPACE}:hostGroups`, groups);
    doc.commentBefore = comment([
      ...header(p, opts.machines, [
        `in place of pci-passthrough:host, devices and the tag keys of maas. ${p.groups.length} kinds of host, one host group each: the`,
        "same accepted functions (address and vendor:product) and the same IOMMU vendor. Aliases are one per vendor:product",
        "across the groups (pci-alias is the whole cloud's); each group has its own nova-compute application (docs/host-groups.md).",
      ]),
      ...unreadable,
    ]);
  }
  doc.contents = root;
  return doc.toString(YAML_OUTPUT);
}

/** One line per proposed group for stderr. */
export const groupSummary = (p: Proposal): string =>
  p.groups.map((g) => `${g.name} (${g.hosts.map((h) => h.hostname).join(", ")}: ${g.devices.map((d) => `${d.alias} ${deviceId(d)}`).join(", ")})`).join("; ");
