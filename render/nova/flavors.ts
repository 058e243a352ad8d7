// The GPU flavors (runbook "Post Deployment": `openstack flavor set m1.gpu --property pci_passthrough:alias=gpu:1`;
// docs/domain.md, "Nova: PCI aliases, device specs and flavors"), as the Compute API takes them.
import type { FlavorConfig } from "../../config/types";

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
export function flavorSpecs(flavors: readonly FlavorConfig[]): FlavorSpec[] {
  return flavors.map((f) => ({
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
