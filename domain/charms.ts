// The OpenStack charms this program configures (docs/domain.md, "The OpenStack charms"): their applications in
// the OpenStack bundles, and the nova-compute charm as a bundle sees it: its relation endpoints, its Charmhub
// channel for an OpenStack release, and the relations the openstack-base bundle gives it. Config validation
// checks `openstack.computeRelations` against these; the bundle overlay uses them to add a host group's
// application that is not in the operator's bundle (render/nova/overlay.ts renderBundleOverlay).
import { atLeast, release } from "./releases";

/** The two charms this program configures, by their application names in the OpenStack bundles: every
 * OpenStack bundle has both (openstack-charmers/openstack-bundles openstack-base). A site with one kind of host
 * uses the bundle's nova-compute; a host group's application defaults to it. */
export const CHARM_APPS = { controller: "nova-cloud-controller", compute: "nova-compute" } as const;

/** The charm a host group's added application is deployed from. It also stands, in
 * `openstack.computeRelations`, for each application the overlay adds. */
export const COMPUTE_CHARM = "nova-compute";

/**
 * nova-compute's relation endpoints: `provides` and `requires` of charm-nova-compute metadata.yaml, plus
 * `juju-info`, which every charm provides implicitly (juju/charm bundledata.go, infoRelation). The peer
 * relation (compute-peer) is left out: a bundle never names it. `storage-backend` (a subordinate storage
 * backend) arrived in 2024.1 (openstack/charm-nova-compute stable/2024.1 commit 31df8c6 "Add storage-backend
 * subordinate relation"; stable/2023.2's metadata.yaml has none).
 */
export function computeEndpoints(releaseName: string): string[] {
  return [
    "cloud-compute",
    "nrpe-external-master",
    "amqp",
    "image-service",
    "ceph",
    "lxd",
    "nova-ceilometer",
    "nova-vgpu",
    "neutron-plugin",
    "ephemeral-backend",
    "ceph-access",
    "cloud-credentials",
    "secrets-storage",
    "ironic-api",
    ...(atLeast(releaseName, "2024.1") ? ["storage-backend"] : []),
    "juju-info",
  ];
}

/** A Charmhub track of the OpenStack charms (nova-compute, nova-cloud-controller) and the risk a bundle takes
 * from it. */
export interface CharmTrack {
  readonly track: string;
  /** `stable`, or `candidate` where the track has no stable channel. */
  readonly risk: "stable" | "candidate";
}

/** The last OpenStack release the charms were released for: their repositories have no branch after
 * stable/2024.1 and their masters default `openstack-origin` to caracal (openstack/charm-nova-compute and
 * openstack/charm-nova-cloud-controller config.yaml on master), and Charmhub lists no nova-compute or
 * nova-cloud-controller track after 2024.1. */
export const LAST_CHARM_RELEASE = "2024.1";

/** The first release whose track has a stable channel: Charmhub lists queens ... train of nova-compute and
 * nova-cloud-controller at candidate and edge only (charmhub.io/nova-compute, /nova-cloud-controller), and the
 * charm guide marks rocky, stein and train EOL (charm-guide doc/source/project/charm-delivery.rst, "Tracks for
 * the OpenStack Charms project"). */
export const FIRST_STABLE_CHARM_RELEASE = "ussuri";

/**
 * The Charmhub track of the OpenStack charms for a release, named after it: the codename up to zed, the
 * year-based name from 2023.1 on (charm-delivery.rst, "Tracks": nova-compute yoga, zed, 2023.1), exactly the
 * release names of domain/releases.ts; undefined for a release the charms do not have (after LAST_CHARM_RELEASE).
 */
export function charmTrack(releaseName: string): CharmTrack | undefined {
  const r = release(releaseName);
  if (!atLeast(LAST_CHARM_RELEASE, r.name)) return undefined;
  return { track: r.name, risk: atLeast(r.name, FIRST_STABLE_CHARM_RELEASE) ? "stable" : "candidate" };
}

/**
 * The Charmhub channel of the nova-compute charm for a release, `<track>/<risk>` (charmTrack; config refuses a
 * release without one). The channel also sets what the charm installs: a charm from a release's track defaults
 * `openstack-origin` to that release (charm-nova-compute config.yaml on a stable branch, e.g. `default: bobcat`),
 * so an added application without a channel would get the charm's default track (yoga/stable since August 2023,
 * charm-delivery.rst) and with it another Nova than the cloud's.
 */
export function computeChannel(releaseName: string): string {
  const t = charmTrack(releaseName);
  if (!t) throw new Error(`the OpenStack charms have no track for ${releaseName}`);
  return `${t.track}/${t.risk}`;
}

/** One relation of nova-compute: its own endpoint and the other side, `APP:ENDPOINT`. */
export interface ComputeRelation {
  readonly endpoint: string;
  readonly remote: string;
}

/**
 * The relations the openstack-base bundle gives nova-compute (openstack-charmers/openstack-bundles):
 * rabbitmq-server, glance, nova-cloud-controller, ceph-mon, cinder-ceph (ceph-access) and ntp (juju-info) in
 * every release; the Neutron agent on the compute hosts is neutron-openvswitch up to train
 * (development/openstack-base-bionic-queens, -bionic-train) and the OVN chassis from ussuri on, when the bundle
 * moved to OVN (development/openstack-base-focal-ussuri-ovn, -jammy-zed, stable/openstack-base for 2024.1).
 * Relations written there as `[ceph-mon:client, nova-compute:ceph]` are given from nova-compute's side.
 */
export function openstackBaseComputeRelations(releaseName: string): ComputeRelation[] {
  const neutron = atLeast(releaseName, "ussuri") ? "ovn-chassis:nova-compute" : "neutron-openvswitch:neutron-plugin";
  return [
    { endpoint: "amqp", remote: "rabbitmq-server:amqp" },
    { endpoint: "image-service", remote: "glance:image-service" },
    { endpoint: "cloud-compute", remote: "nova-cloud-controller:cloud-compute" },
    { endpoint: "ceph", remote: "ceph-mon:client" },
    { endpoint: "ceph-access", remote: "cinder-ceph:ceph-access" },
    { endpoint: "juju-info", remote: "ntp:juju-info" },
    { endpoint: "neutron-plugin", remote: neutron },
  ];
}

/** The relations of an added application: the configured `openstack.computeRelations`, else openstack-base's
 * for the release. */
export function computeRelations(openstack: { readonly release: string; readonly computeRelations?: readonly ComputeRelation[] }): readonly ComputeRelation[] {
  return openstack.computeRelations ?? openstackBaseComputeRelations(openstack.release);
}
