// The OpenStack side of a site as pure functions: the charm options of nova-cloud-controller and
// nova-compute (runbook "Deploy OpenStack"), the bundle overlay for fresh deployments, and the flavors'
// extra specs (runbook "Post Deployment"). Everything release-dependent comes from ./releases.
// Formats: DOMAIN.md "Charm options" and "Nova formats"; checked against Nova itself by
// test/nova_conformance.py.
import { Document } from "yaml";
import type { SiteConfig } from "../config";
import { defaultSchedulerFilters, release, whitelistOption } from "./releases";
import { extraSpecsForRelease, usesPciNumaPolicy } from "./extra-specs";

/** The two charms this program configures, by their application names in the OpenStack bundles. */
export const CHARM_APPS = { controller: "nova-cloud-controller", compute: "nova-compute" } as const;

// ---------------------------------------------------------------------------------------------------
// PCI alias and whitelist (nova.conf [pci] alias / device_spec)

/**
 * One Nova `[pci] alias` entry per device, in config order. Devices sharing an alias name give one entry
 * each under that name: Nova ORs entries of the same name (nova/pci/request.py `_get_alias_from_config`;
 * config validation has made them agree on device_type and numa_policy, which Nova requires). Key order is
 * fixed (name, vendor_id, product_id, device_type, numa_policy) so the text is stable; an entry identical to
 * an earlier one (same alias and model listed twice) is left out, it would add nothing.
 *
 * When a name has several entries, each carries `device_type` (`type-PCI` unless configured): Nova compares
 * `spec['dev_type']` of ORed entries without a default, so entries lacking it make the whole alias config
 * invalid ("Invalid PCI alias definition: 'dev_type'", nova/pci/request.py in Zed and still in 2025.x;
 * found by test/nova_conformance.py). type-PCI is what a whole GPU or NIC function is; VFs and PFs are
 * configured explicitly.
 */
export function pciAliasEntries(site: SiteConfig): Array<Record<string, string>> {
  const entries: Array<Record<string, string>> = [];
  const seen = new Set<string>();
  const models = new Map<string, Set<string>>();
  for (const d of site.devices) models.set(d.alias, (models.get(d.alias) ?? new Set()).add(`${d.vendorId}:${d.productId}`));
  for (const d of site.devices) {
    const entry: Record<string, string> = { name: d.alias, vendor_id: d.vendorId, product_id: d.productId };
    const ored = (models.get(d.alias)?.size ?? 0) > 1;
    const deviceType = d.deviceType ?? (ored ? "type-PCI" : undefined);
    if (deviceType !== undefined) entry.device_type = deviceType;
    if (d.numaPolicy !== undefined) entry.numa_policy = d.numaPolicy;
    const key = JSON.stringify(entry);
    if (seen.has(key)) continue;
    seen.add(key);
    entries.push(entry);
  }
  return entries;
}

/**
 * The charms' `pci-alias` text, the same on both applications (a mismatch makes the API refuse flavors
 * with "PCI alias X is not defined"). One entry is a JSON object; several are a JSON list, which both
 * charms split into one `alias =` line per element from Queens on (charm-nova-compute
 * nova_compute_context.py, charm-nova-cloud-controller nova_cc_context.py).
 */
export function pciAliasJson(site: SiteConfig): string {
  const entries = pciAliasEntries(site);
  return JSON.stringify(entries.length === 1 ? entries[0] : entries);
}

/**
 * nova-compute's `pci-passthrough-whitelist`: one `{vendor_id, product_id, address}` per configured
 * address, so another device of the same model in the host (e.g. a GPU kept for the host console) is not
 * handed to guests, unlike the runbook's vendor:product-only whitelist. Always a list, even of one.
 *
 * Companion functions (a GPU's HDMI audio in the same IOMMU group) are deliberately NOT listed: no alias
 * asks for them, so whitelisting them would only make Nova track devices no flavor can request. What
 * passthrough needs from them is that the host leaves them to vfio-pci so the IOMMU group is viable; the
 * host preparation (kernel cmdline / modprobe / binding) does that, not Nova.
 */
export function pciWhitelistJson(site: SiteConfig): string {
  const specs = site.devices.flatMap((d) =>
    d.addresses.map((address) => ({ vendor_id: d.vendorId, product_id: d.productId, address })),
  );
  return JSON.stringify(specs);
}

/**
 * The scheduler filter list: the config's own list (config validation has checked it against the release
 * and for PciPassthroughFilter, and for NUMATopologyFilter when a PCI NUMA policy is set) or the release's
 * default from the release table, with NUMATopologyFilter when a PCI NUMA policy is set.
 */
export function schedulerFilters(site: SiteConfig): string[] {
  return (
    site.openstack.schedulerFilters ??
    defaultSchedulerFilters(site.openstack.release, { pciNumaPolicy: usesPciNumaPolicy(site.devices, site.flavors) })
  );
}

// ---------------------------------------------------------------------------------------------------
// Charm options (`juju config APP --file F`, `juju config APP --reset a,b`)

/** Charm option values per application; every value is a string, as `juju config` stores them. */
export type CharmOptions = Record<string, Record<string, string>>;

/** The options this program sets on each charm (runbook "Deploy OpenStack", DOMAIN.md "Charm options"). */
export function charmOptions(site: SiteConfig): CharmOptions {
  const alias = pciAliasJson(site);
  return {
    [CHARM_APPS.controller]: {
      "pci-alias": alias,
      // Replaces the charm's whole default list, so it must carry PciPassthroughFilter itself.
      "scheduler-default-filters": schedulerFilters(site).join(","),
      "console-access-protocol": site.openstack.consoleAccessProtocol,
    },
    [CHARM_APPS.compute]: {
      "pci-alias": alias,
      "pci-passthrough-whitelist": pciWhitelistJson(site),
    },
  };
}

// Long JSON values stay on one line: folding them is valid YAML but unreadable and hard to diff.
const YAML_OPTIONS = { lineWidth: 0 } as const;

/** The file for `juju config APP --file F`: `APP: {option: value}` for both applications. */
export function renderCharmConfig(site: SiteConfig): string {
  return new Document(charmOptions(site)).toString(YAML_OPTIONS);
}

/** Per application, the option names this program sets: what `juju config APP --reset` resets on delete. */
export function charmResetOptions(site: SiteConfig): Record<string, string[]> {
  return Object.fromEntries(Object.entries(charmOptions(site)).map(([app, options]) => [app, Object.keys(options)]));
}

// ---------------------------------------------------------------------------------------------------
// Bundle overlay (`juju deploy ./bundle.yaml --overlay F`)

/**
 * Ubuntu version of each series in the release table, for Juju 3 bundles which name a machine's OS as a
 * base (`ubuntu@22.04`). Bases in bundles arrived in Juju 3.3 (juju/juju PR 15725); Juju 2.9 only knows
 * `series`. Kept here, not in releases.ts, because only the bundle needs it.
 */
const UBUNTU_VERSIONS: Readonly<Record<string, string>> = {
  bionic: "18.04",
  focal: "20.04",
  jammy: "22.04",
  noble: "24.04",
};

/** The OS field of a bundle machine for the site's release and Juju version. */
export function bundleMachineOs(site: SiteConfig): { series: string } | { base: string } {
  const series = release(site.openstack.release).series;
  if (site.juju.version === "2.9") return { series };
  const version = UBUNTU_VERSIONS[series];
  if (version === undefined) throw new Error(`no Ubuntu version known for series "${series}"`);
  return { base: `ubuntu@${version}` };
}

/**
 * A real YAML overlay for the runbook's bundle snippet (which is not YAML: `scheduler-default-filters="..."`).
 * Machines: one per `maas.machines` system ID (else one) with the MAAS tag as constraint, for nova-compute;
 * one without the tag (`tags=^TAG`) that hosts nova-cloud-controller in a LXD container, as in the runbook.
 * No `charm:` keys: the overlay merges into the OpenStack bundle that already names the charms.
 */
export function renderBundleOverlay(site: SiteConfig): string {
  const rel = release(site.openstack.release);
  const tag = site.maas.tag;
  const os = bundleMachineOs(site);
  const tagged = Math.max(site.maas.machines?.length ?? 1, 1);
  const machines: Record<string, Record<string, string>> = {};
  for (let i = 0; i < tagged; i++) machines[String(i)] = { ...os, constraints: `tags=${tag}` };
  const untagged = String(tagged);
  machines[untagged] = { ...os, constraints: `tags=^${tag}` };
  const options = charmOptions(site);
  const overlay = {
    machines,
    applications: {
      [CHARM_APPS.compute]: {
        num_units: tagged,
        options: options[CHARM_APPS.compute],
        to: Object.keys(machines).slice(0, tagged),
      },
      [CHARM_APPS.controller]: {
        num_units: 1,
        options: options[CHARM_APPS.controller],
        to: [`lxd:${untagged}`],
      },
    },
  };
  const option = whitelistOption(rel.name);
  const nova = `nova.conf [pci] ${option}`;
  const doc = new Document(overlay);
  doc.commentBefore = [
    ` Bundle overlay generated by pci-passthrough for OpenStack ${rel.name} (Nova ${rel.nova}) on ${"base" in os ? os.base : os.series}.`,
    ` Use: juju deploy ./openstack-bundle.yaml --overlay ./THIS-FILE`,
    ` nova-compute's pci-passthrough-whitelist becomes ${nova} on ${rel.name}` +
      (option === "device_spec"
        ? " (the charm writes passthrough_whitelist, Nova's deprecated name for device_spec since zed)."
        : " (renamed device_spec in zed)."),
    ` pci-alias is one [pci] alias line per list element, identical on both applications.`,
    ` ${tagged === 1 ? "Machine 0 needs" : `Machines 0-${tagged - 1} need`} MAAS tag ${tag} (GPU hosts, nova-compute);` +
      ` machine ${untagged} must not have it (nova-cloud-controller in LXD).`,
  ].join("\n");
  return doc.toString(YAML_OPTIONS);
}

// ---------------------------------------------------------------------------------------------------
// Flavors (runbook "Post Deployment": `openstack flavor set m1.gpu --property pci_passthrough:alias=gpu:1`)

/** A flavor to create, with its extra specs as the Compute API takes them. */
export interface FlavorSpec {
  name: string;
  /** MB */
  ram: number;
  vcpus: number;
  /** GB */
  disk: number;
  extraSpecs: Record<string, string>;
}

/**
 * Per configured flavor: `pci_passthrough:alias` = `ALIAS:COUNT[,ALIAS:COUNT]` in the order of the
 * flavor's `pci` mapping (the format of nova/api/validation/extra_specs/pci_passthrough.py), then the user's
 * extra specs (config validation keeps them from setting pci_passthrough:alias themselves) as the release
 * knows them: e.g. `hw:hide_hypervisor_id` is written `hide_hypervisor_id` up to ussuri (extra-specs.ts;
 * config validation refused what the release cannot take and warned about what is translated).
 */
export function flavorSpecs(site: SiteConfig): FlavorSpec[] {
  return site.flavors.map((f) => ({
    name: f.name,
    ram: f.ram,
    vcpus: f.vcpus,
    disk: f.disk,
    extraSpecs: {
      "pci_passthrough:alias": Object.entries(f.pci)
        .map(([alias, count]) => `${alias}:${count}`)
        .join(","),
      ...extraSpecsForRelease(f.extraSpecs, site.openstack.release).specs,
    },
  }));
}
