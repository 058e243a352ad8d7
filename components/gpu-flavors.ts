// Nova flavors with `pci_passthrough:alias` extra specs (runbook: "Post Deployment"; docs/domain.md, "Nova: PCI
// aliases, device specs and flavors").
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import type { FlavorSpec } from "../render/nova/flavors";

export interface GpuFlavorsArgs {
  /** One public flavor per spec: name, RAM (MB), vCPUs, disk (GB) and extra specs as the Compute API takes them
   * (render/nova/flavors.ts flavorSpecs puts `pci_passthrough:alias` first). A changed flavor is deleted before
   * its replacement is created: Nova flavors are immutable and their names unique. */
  flavors: readonly FlavorSpec[];
}

export class GpuFlavors extends pulumi.ComponentResource {
  /** Flavor resources by flavor name. */
  public readonly flavors: Record<string, openstack.compute.Flavor>;
  /** Flavor IDs by flavor name. */
  public readonly flavorIds: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: GpuFlavorsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pci-passthrough:openstack:GpuFlavors", name, {}, opts);
    this.flavors = {};
    for (const f of args.flavors) {
      this.flavors[f.name] = new openstack.compute.Flavor(
        `${name}-${f.name}`,
        { name: f.name, ram: f.ram, vcpus: f.vcpus, disk: f.disk, isPublic: true, extraSpecs: f.extraSpecs },
        // Nova flavors are immutable and their names unique: a changed flavor must go before its
        // replacement is created, or the create fails on the duplicate name.
        { parent: this, deleteBeforeReplace: true },
      );
    }
    this.flavorIds = pulumi.all(Object.fromEntries(Object.entries(this.flavors).map(([n, f]) => [n, f.id])));
    this.registerOutputs({ flavorIds: this.flavorIds });
  }
}
