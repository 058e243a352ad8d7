// The OpenStack side of a site as pure functions: the charm options of nova-cloud-controller and
// nova-compute (runbook "Deploy OpenStack"), the bundle overlay for fresh deployments, and the flavors'
// extra specs (runbook "Post Deployment"). Everything release-dependent comes from ./releases.
// Formats: DOMAIN.md "Charm options" and "Nova formats"; checked against Nova itself by
// test/nova_conformance.py.
import { Document, isSeq } from "yaml";
import { CHARM_APPS, COMPUTE_CHARM, computeChannel, computeRelations } from "../../domain/charms";
import { allDevices, type DeviceConfig, type SiteConfig } from "../../config/types";
import { deviceId } from "../../domain/pci";
import { defaultSchedulerFilters, release, ubuntuFor, whitelistOption } from "../../domain/releases";
import { usesPciNumaPolicy } from "../../domain/extra-specs/numa";

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
export function pciAliasEntries(devices: readonly DeviceConfig[]): Array<Record<string, string>> {
  const entries: Array<Record<string, string>> = [];
  const seen = new Set<string>();
  const models = new Map<string, Set<string>>();
  for (const d of devices) models.set(d.alias, (models.get(d.alias) ?? new Set()).add(deviceId(d)));
  for (const d of devices) {
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
export function pciAliasJson(devices: readonly DeviceConfig[]): string {
  const entries = pciAliasEntries(devices);
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
export function pciWhitelistJson(devices: readonly DeviceConfig[]): string {
  const specs = devices.flatMap((d) =>
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
    defaultSchedulerFilters(site.openstack.release, { pciNumaPolicy: usesPciNumaPolicy(allDevices(site), site.flavors) })
  );
}

// ---------------------------------------------------------------------------------------------------
// Charm options (`juju config APP --file F`, `juju config APP --reset a,b`)

/** Charm option values per application; every value is a string, as `juju config` stores them. */
export type CharmOptions = Record<string, Record<string, string>>;

/**
 * The options this program sets on each charm (runbook "Deploy OpenStack", DOMAIN.md "Charm options"):
 * nova-cloud-controller, then each host group's nova-compute application with its own whitelist. `pci-alias`
 * holds every group's aliases on all of them (Nova refuses a flavor whose alias the API or the compute
 * service does not know); the scheduler filters are the controller's, once.
 */
export function charmOptions(site: SiteConfig): CharmOptions {
  const alias = pciAliasJson(allDevices(site));
  const options: CharmOptions = {
    [CHARM_APPS.controller]: {
      "pci-alias": alias,
      // Replaces the charm's whole default list, so it must carry PciPassthroughFilter itself.
      "scheduler-default-filters": schedulerFilters(site).join(","),
      "console-access-protocol": site.openstack.consoleAccessProtocol,
    },
  };
  for (const g of site.groups) options[g.application] = { "pci-alias": alias, "pci-passthrough-whitelist": pciWhitelistJson(g.devices) };
  return options;
}

// Long JSON values stay on one line: folding them is valid YAML but unreadable and hard to diff.
const LONG_LINES = { lineWidth: 0 } as const;

/** The file for `juju config APP --file F`: `APP: {option: value}` for both applications. */
export function renderCharmConfig(site: SiteConfig): string {
  return new Document(charmOptions(site)).toString(LONG_LINES);
}

/** Per application, the option names this program sets: what `juju config APP --reset` resets on delete. */
export function charmResetOptions(site: SiteConfig): Record<string, string[]> {
  return Object.fromEntries(Object.entries(charmOptions(site)).map(([app, options]) => [app, Object.keys(options)]));
}

// ---------------------------------------------------------------------------------------------------
// Bundle overlay (`juju deploy ./bundle.yaml --overlay F`)

/** An application in the bundle overlay: options for one the bundle has; the charm, channel, units and
 * constraints too for one the overlay adds. Keys in the order bundles write them. */
interface OverlayApplication {
  charm?: string;
  channel?: string;
  num_units?: number;
  constraints?: string;
  options: Record<string, string>;
}

/**
 * A real YAML overlay for the runbook's bundle snippet (which is not YAML: `scheduler-default-filters="..."`):
 * the options of nova-cloud-controller and of each host group's application, and the applications of the groups
 * that the operator's bundle does not have (hostGroups[].addToBundle).
 *
 * Juju merges an overlay onto the operator's bundle by juju/charm's rules (overlay.go, ReadAndMergeBundleData;
 * checked with that code by test/bundle-overlay.test.ts): an overlay's `machines` replace the bundle's whole
 * machines map, an application's scalar and list fields (`num_units`, `to`, `constraints`, `series`, `base`)
 * overwrite the bundle's, and only maps such as `options` are merged key by key. So for the bundle's own
 * applications the overlay carries no machines, unit counts, placements or constraints: they are the operator's.
 * Neither does it state the OS: a top-level `series` overwrites the bundle's for every application, a
 * `default-base` is silently dropped by the merge (applyOverlay copies only `series`), and a per-application
 * `series` or `base` overwrites nova-compute's own. The base it was rendered for is said in its header instead.
 *
 * An application the overlay adds is new to the bundle, so nothing of the operator's is overwritten: `charm:
 * nova-compute` from the release's channel (compute-charm.ts computeChannel), `constraints: tags=<group tag>`,
 * its options, no `to:` (it would name the operator's machines) and `num_units` only when the group asks for
 * units: juju/charm places units without `to` on new machines ("new" is replicated, bundledata.go), which Juju
 * provisions with the application's constraints, i.e. hosts MAAS finds by the tag; BundleData.Verify accepts
 * 0 units (only negative counts are refused) and Juju then deploys the application without units, for
 * `juju add-unit APP -n N` later. It runs on the bundle's own base (default-base or series). Its relations are
 * appended to the bundle's (overlay relations are added, never replaced): nova-compute's relations in the
 * bundle, from openstack.computeRelations or openstack-base's (compute-charm.ts).
 */
export function renderBundleOverlay(site: SiteConfig): string {
  const rel = release(site.openstack.release);
  const ubuntu = ubuntuFor(rel.name, site.openstack.base);
  const own = ubuntuFor(rel.name);
  const options = charmOptions(site);
  const channel = computeChannel(rel.name);
  const added = site.groups.filter((g) => g.addToBundle);
  const relations = computeRelations(site.openstack);
  const applications: Record<string, OverlayApplication> = {};
  for (const g of site.groups) {
    applications[g.application] = g.addToBundle
      ? {
          charm: COMPUTE_CHARM,
          channel,
          ...(g.units > 0 ? { num_units: g.units } : {}),
          constraints: `tags=${g.maas.tag}`,
          options: options[g.application]!,
        }
      : { options: options[g.application]! };
  }
  applications[CHARM_APPS.controller] = { options: options[CHARM_APPS.controller]! };
  const pairs = added.flatMap((g) => relations.map((r) => [`${g.application}:${r.endpoint}`, r.remote]));
  const overlay = pairs.length > 0 ? { applications, relations: pairs } : { applications };
  // The bundle's OS as the operator's Juju writes it: Juju 2.9 knows only series, Juju 3 bases.
  const [osKey, osOther] =
    site.juju.version === "2.9" ? [`series: ${ubuntu.series}`, `ubuntu@${ubuntu.version}`] : [`default-base: ubuntu@${ubuntu.version}`, ubuntu.series];
  const why = ubuntu === own ? `the base the charms are built for on ${rel.name}` : `set by openstack.base; the charms' base for ${rel.name} is ubuntu@${own.version}`;
  const option = whitelistOption(rel.name);
  const doc = new Document(overlay);
  // Relation pairs on one line each, as bundles write them.
  const seq = doc.get("relations", true);
  if (isSeq(seq)) for (const pair of seq.items) if (isSeq(pair)) pair.flow = true;
  const names = (apps: readonly string[]) => (apps.length > 1 ? `${apps.slice(0, -1).join(", ")} and ${apps.at(-1)}` : apps.join(""));
  const configured = [...site.groups.filter((g) => !g.addToBundle).map((g) => g.application), CHARM_APPS.controller];
  doc.commentBefore = [
    ` Bundle overlay generated by pci-passthrough: PCI passthrough options for OpenStack ${rel.name} (Nova ${rel.nova}).`,
    ` Use: juju deploy ./openstack-bundle.yaml --overlay ./THIS-FILE`,
    ` Meant for a bundle with \`${osKey}\` (${osOther}, ${why}).`,
    ...(added.length === 0
      ? [` It sets options only: the bundle's machines, placements, unit counts, constraints and base stay as they are.`]
      : [
          ` It sets options on ${names(configured)}, and adds ${names(added.map((g) => g.application))}, which the bundle does not have:`,
          ` the bundle's own machines, placements, unit counts, constraints and base stay as they are.`,
        ]),
    ...site.groups.flatMap((g) => {
      const tag = g.maas.tag;
      const app = g.application;
      const hosts = ` GPU hosts${g.name === undefined ? "" : ` of group ${g.name}`} are chosen by MAAS tag ${tag}`;
      if (g.addToBundle) {
        const units = g.units > 0 ? `${g.units} unit${g.units === 1 ? "" : "s"}, each` : `no units (\`juju add-unit ${app} -n N\` adds them), each`;
        return [
          `${hosts}: the overlay adds ${app}, charm ${COMPUTE_CHARM} from ${channel},`,
          ` with \`constraints: tags=${tag}\` and ${units} on a new machine MAAS finds by the tag.`,
          ` Give the machines that must not be GPU hosts \`tags=^${tag}\`.`,
        ];
      }
      return [
        `${hosts}: in the bundle, give the machines ${app} goes onto`,
        ` \`constraints: tags=${tag}\` (units without a placement take ${app}'s own constraints, as with`,
        ` \`juju deploy ${app} --constraints tags=${tag}\`), and the machines that must not be GPU hosts \`tags=^${tag}\`.`,
      ];
    }),
    ...(added.length === 0
      ? []
      : [
          site.openstack.computeRelations
            ? ` The added applications are related as openstack.computeRelations says;`
            : ` The added applications are related as openstack-base relates ${COMPUTE_CHARM} (openstack.computeRelations: your bundle's);`,
          ` the bundle must have ${names([...new Set(relations.map((r) => r.remote.split(":")[0]!))])}.`,
        ]),
    ` nova-compute's pci-passthrough-whitelist becomes nova.conf [pci] ${option} on ${rel.name}` +
      (option === "device_spec"
        ? " (the charm writes passthrough_whitelist, Nova's deprecated name for device_spec since zed)."
        : " (renamed device_spec in zed)."),
    ` pci-alias is one [pci] alias line per list element, identical on both applications.`,
  ].join("\n");
  return doc.toString({ ...LONG_LINES, flowCollectionPadding: false });
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
 * extra specs as written (config validation keeps them from setting pci_passthrough:alias themselves, and has
 * refused what the release cannot take and what the scheduler filters would refuse every host for).
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
      ...f.extraSpecs,
    },
  }));
}
