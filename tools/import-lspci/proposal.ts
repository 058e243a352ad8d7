// What `npm run import-lspci` prints: the proposal as a YAML snippet to paste under `config:` of Pulumi.<stack>.yaml,
// `devices` and `host` for one kind of host, `hostGroups` for several, with every warning as a comment.
import { Document, Pair, Scalar, YAMLMap, YAMLSeq } from "yaml";
import { NAMESPACE } from "../../config/problems";
import { CHARM_APPS } from "../../domain/charms";
import { deviceId } from "../../domain/pci";
import { YAML_OUTPUT, comment, devicesSeq, hostMap } from "../lib/proposal-yaml";
import type { SiteImport } from "./hosts";
import type { LspciImport } from "./import";
import { SRIOV_NAME } from "./lspci";

const uniqueItems = <T>(items: readonly T[]): T[] => [...new Set(items)];

/** Why an SR-IOV capable device is proposed as `type-PF` (docs/domain.md, "SR-IOV devices are PFs to Nova"): the
 * comment above it in the snippet. */
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
 * `agreed`: lines said after the first two of the header (which hosts the snippet stands for).
 */
export function renderSnippet(result: LspciImport, source = "lspci", agreed: readonly string[] = []): string {
  const doc = new Document();
  const root = new YAMLMap();
  root.set(`${NAMESPACE}:devices`, devicesSeq(result.devices, (d) => sriovWhy(d.totalVfs)));
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

/** The MAAS resource pool and/or zone a selection by device is scoped to (import-lspci --pool, --zone). */
export interface SelectionScope {
  readonly pool?: string;
  readonly zone?: string;
}

/**
 * The snippet for the captures of several hosts. All of one kind: today's `devices` and `host`, saying
 * which hosts agreed. Several kinds: `pci-passthrough:hostGroups`, one group per kind.
 */
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
    g.set("devices", devicesSeq(k.devices, (d) => sriovWhy(d.totalVfs)));
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
