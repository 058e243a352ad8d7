// The nova-compute charm as a bundle sees it: its relation endpoints, its Charmhub channel for an OpenStack
// release, and the relations the openstack-base bundle gives it. Config validation checks
// `openstack.computeRelations` against these; the bundle overlay uses them to add a host group's application
// that is not in the operator's bundle (render/nova.ts renderBundleOverlay).
import { atLeast, release } from "./releases";

/** The charm a host group's added application is deployed from. It also stands, in
 * `openstack.computeRelations`, for each application the overlay adds. */
export const COMPUTE_CHARM = "nova-compute";

/**
 * nova-compute's relation endpoints: `provides` and `requires` of charm-nova-compute metadata.yaml, plus
 * `juju-info`, which every charm provides implicitly (juju/charm bundledata.go, infoRelation). The peer
 * relation (compute-peer) is left out: a bundle never names it.
 */
export const COMPUTE_ENDPOINTS: readonly string[] = [
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
  "juju-info",
];

/**
 * The Charmhub channel of the nova-compute charm for a release: `<release>/stable`. The OpenStack charms name
 * their tracks after the upstream release, the codename up to zed and the year-based name from 2023.1 on
 * (openstack/charm-guide doc/source/project/charm-delivery.rst, "Tracks": nova-compute yoga, zed, 2023.1),
 * exactly the release names of releases.ts. The channel also sets what the charm installs: a charm from a
 * release's track defaults `openstack-origin` to that release (charm-nova-compute config.yaml on a stable
 * branch, e.g. `default: bobcat`), so an added application without a channel would get the charm's default
 * track (yoga/stable since August 2023, charm-delivery.rst) and with it another Nova than the cloud's.
 */
export function computeChannel(releaseName: string): string {
  return `${release(releaseName).name}/stable`;
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
