// Generated sites for the scaling benchmark: a large GPU site (64 device addresses over 8 aliases, 200
// flavors, 200 smoke-test servers, 500 machines to tag) and proportional fractions of it. The values
// are valid for parseSiteConfig: distinct addresses, flavors asking at most what a host has, system IDs
// of MAAS's shape.

/** The full generated site; `scale` multiplies every count (at least one of each). */
export const FULL_SITE = { aliases: 8, addressesPerAlias: 8, flavors: 200, servers: 200, machines: 500 } as const;

export interface SiteSize {
  readonly aliases: number;
  readonly addresses: number;
  readonly flavors: number;
  readonly servers: number;
  readonly machines: number;
}

/** The counts of the generated site at `scale` (1 = FULL_SITE). */
export function sizeAt(scale: number): SiteSize {
  const n = (x: number) => Math.max(1, Math.round(x * scale));
  const aliases = n(FULL_SITE.aliases);
  return {
    aliases,
    addresses: aliases * FULL_SITE.addressesPerAlias,
    flavors: n(FULL_SITE.flavors),
    servers: n(FULL_SITE.servers),
    machines: n(FULL_SITE.machines),
  };
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");

/** The raw `pci-passthrough:*` values (namespace stripped) of a generated site of the given size. */
export function generateSite(size: SiteSize): Record<string, unknown> {
  const perAlias = FULL_SITE.addressesPerAlias;
  const devices = Array.from({ length: size.aliases }, (_, a) => ({
    alias: `gpu${a}`,
    vendorId: "10de",
    productId: hex(0x2200 + a, 4),
    // One bus per GPU, as on real boards; two sockets' worth of domains.
    addresses: Array.from({ length: perAlias }, (_, i) => `${hex(Math.floor((a * perAlias + i) / 128), 4)}:${hex(0x10 + ((a * perAlias + i) % 128), 2)}:00.0`),
    companions: [`10de:${hex(0x1a00 + a, 4)}`],
    ...(a % 2 === 0 ? { numaPolicy: "preferred" } : {}),
  }));
  const flavors = Array.from({ length: size.flavors }, (_, i) => ({
    name: `g${i}.gpu${i % size.aliases}`,
    ram: 8192 * (1 + (i % 8)),
    vcpus: 4 * (1 + (i % 8)),
    disk: 100,
    pci: { [`gpu${i % size.aliases}`]: 1 + (i % 4) },
    ...(i % 2 === 0 ? { extraSpecs: { "hw:cpu_policy": "dedicated", "hw:hide_hypervisor_id": "true" } } : {}),
  }));
  return {
    maas: {
      profile: "admin",
      tag: "pci-pass",
      comment: "generated benchmark site",
      machines: Array.from({ length: size.machines }, (_, i) => `m${i.toString(36).padStart(5, "0")}`),
    },
    juju: { model: "openstack-deployment", version: "3" },
    host: { iommu: "intel", iommuPassthrough: true, blacklistDrivers: ["nouveau", "nvidiafb"] },
    devices,
    openstack: { release: "2024.1", consoleAccessProtocol: "spice" },
    flavors,
    smokeTest: {
      image: "ubuntu-24.04",
      network: "internal",
      servers: Array.from({ length: size.servers }, (_, i) => ({ name: `smoke-${i}`, flavor: flavors[i % flavors.length]!.name })),
    },
  };
}

