// A site embedded in a larger Pulumi program: the program builds its SiteConfig (here from a literal; from its own
// config in practice), hands it to PciPassthrough, and adds resources of its own that use the site. Its training
// server waits for the site's flavors and boots on one of them. `npm test` compiles this file and previews it
// under Pulumi's mocks (test/components/embed.test.ts).
import * as openstack from "@pulumi/openstack";
import { PciPassthrough, requireSiteConfig } from "pci-passthrough";

// The same keys as a stack's pci-passthrough:* config (docs/configuration.md); requireSiteConfig throws a
// ConfigError listing every problem with its key path before any resource is registered.
const site = requireSiteConfig({
  maas: { profile: "admin", tag: "ml-gpu", selectByDevice: true, pool: "ml" },
  juju: { model: "openstack" },
  host: { iommu: "intel", blacklistDrivers: ["nouveau"] },
  devices: [{ alias: "a100", vendorId: "10de", productId: "20b5", addresses: ["0000:31:00.0", "0000:ca:00.0"] }],
  openstack: { release: "2024.1" },
  flavors: [{ name: "g1.a100", ram: 65536, vcpus: 16, disk: 200, pci: { a100: 1 } }],
});

const gpu = new PciPassthrough("ml", { site });

// A resource of the program's own: a training server on the site's GPU flavor, created once the flavors exist.
const trainer = new openstack.compute.Instance(
  "ml-trainer",
  {
    name: "ml-trainer",
    flavorId: gpu.flavors.flavors["g1.a100"]!.id,
    imageName: "ubuntu-22.04",
    networks: [{ name: "ml" }],
  },
  { dependsOn: [gpu.flavors] },
);

export const trainerId = trainer.id;
export const flavorIds = gpu.flavors.flavorIds;
export const gpuTag = gpu.maasTags[0]!.tagName;
