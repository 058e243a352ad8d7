// The bundle overlay for a fresh deployment (`juju deploy ./bundle.yaml --overlay F`; docs/domain.md, "Juju
// bundles and overlays"): the options of the bundle's applications, and the applications of the host groups the
// operator's bundle does not have, with their charm channel, constraints and relations.
import { Document, isSeq } from "yaml";
import type { HostGroup, JujuConfig, OpenStackConfig } from "../../config/types";
import { CHARM_APPS, COMPUTE_CHARM, computeChannel, computeRelations } from "../../domain/charms";
import { release, ubuntuFor, whitelistOption } from "../../domain/releases";
import { LONG_LINES, type CharmOptions } from "./charm-options";

/** What the overlay is made of: the release and its base, the Juju CLI's version (series or base), the groups
 * (their applications, tags and units) and the options of each application (charm-options.ts charmOptions). */
export interface OverlayInput {
  readonly openstack: Pick<OpenStackConfig, "release" | "base" | "computeRelations">;
  readonly jujuVersion: JujuConfig["version"];
  readonly groups: readonly Pick<HostGroup, "name" | "application" | "addToBundle" | "units" | "maas">[];
  readonly options: CharmOptions;
}

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
 * checked with that code by test/render/bundle-overlay.test.ts): an overlay's `machines` replace the bundle's whole
 * machines map, an application's scalar and list fields (`num_units`, `to`, `constraints`, `series`, `base`)
 * overwrite the bundle's, and only maps such as `options` are merged key by key. So for the bundle's own
 * applications the overlay carries no machines, unit counts, placements or constraints: they are the operator's.
 * Neither does it state the OS: a top-level `series` overwrites the bundle's for every application, a
 * `default-base` is silently dropped by the merge (applyOverlay copies only `series`), and a per-application
 * `series` or `base` overwrites nova-compute's own. The base it was rendered for is said in its header instead.
 *
 * An application the overlay adds is new to the bundle, so nothing of the operator's is overwritten: `charm:
 * nova-compute` from the release's channel (domain/charms.ts computeChannel), `constraints: tags=<group tag>`,
 * its options, no `to:` (it would name the operator's machines) and `num_units` only when the group asks for
 * units: juju/charm places units without `to` on new machines ("new" is replicated, bundledata.go), which Juju
 * provisions with the application's constraints, i.e. hosts MAAS finds by the tag; BundleData.Verify accepts
 * 0 units (only negative counts are refused) and Juju then deploys the application without units, for
 * `juju add-unit APP -n N` later. It runs on the bundle's own base (default-base or series). Its relations are
 * appended to the bundle's (overlay relations are added, never replaced): nova-compute's relations in the
 * bundle, from openstack.computeRelations or openstack-base's (domain/charms.ts).
 */
export function renderBundleOverlay({ openstack, jujuVersion, groups, options }: OverlayInput): string {
  const rel = release(openstack.release);
  const ubuntu = ubuntuFor(rel.name, openstack.base);
  const own = ubuntuFor(rel.name);
  const channel = computeChannel(rel.name);
  const added = groups.filter((g) => g.addToBundle);
  const relations = computeRelations(openstack);
  const applications: Record<string, OverlayApplication> = {};
  for (const g of groups) {
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
    jujuVersion === "2.9" ? [`series: ${ubuntu.series}`, `ubuntu@${ubuntu.version}`] : [`default-base: ubuntu@${ubuntu.version}`, ubuntu.series];
  const why = ubuntu === own ? `the base the charms are built for on ${rel.name}` : `set by openstack.base; the charms' base for ${rel.name} is ubuntu@${own.version}`;
  const option = whitelistOption(rel.name);
  const doc = new Document(overlay);
  // Relation pairs on one line each, as bundles write them.
  const seq = doc.get("relations", true);
  if (isSeq(seq)) for (const pair of seq.items) if (isSeq(pair)) pair.flow = true;
  const names = (apps: readonly string[]) => (apps.length > 1 ? `${apps.slice(0, -1).join(", ")} and ${apps.at(-1)}` : apps.join(""));
  const configured = [...groups.filter((g) => !g.addToBundle).map((g) => g.application), CHARM_APPS.controller];
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
    ...groups.flatMap((g) => {
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
          openstack.computeRelations
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
