// `pci-passthrough:devices` (and hostGroups[].devices): the PCI devices passed through, their Nova alias, where
// they are on each host, and the functions of their IOMMU groups that go with them (docs/domain.md, "Nova: PCI
// aliases, device specs and flavors").
import { z } from "zod";
import { DEVICE_TYPES, NUMA_POLICIES } from "../../domain/nova-pci";
import { ALWAYS, hex4, mapping, pciAddress, pciId, quote, unique } from "../primitives";

export const deviceSchema = mapping({
  /** Nova PCI alias name that flavors ask for. */
  alias: z
    .string({ error: "expected an alias name" })
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$/, {
      error: (i) => `${quote(i.input)} is not an alias name (letters, digits, _ . -; at most 256)`,
    }),
  vendorId: hex4,
  productId: hex4,
  /** Full PCI addresses of the devices on each GPU host (the hosts of a site are alike). */
  addresses: z
    .array(pciAddress, { error: "expected a list of PCI addresses" })
    .min(1, { error: "list at least one PCI address" }),
  deviceType: z.enum(DEVICE_TYPES, { error: (i) => `${quote(i.input)} is not one of ${DEVICE_TYPES.join(", ")}` }).optional(),
  numaPolicy: z.enum(NUMA_POLICIES, { error: (i) => `${quote(i.input)} is not one of ${NUMA_POLICIES.join(", ")}` }).optional(),
  /** vendor:product of other functions in the same IOMMU group (e.g. a GPU's HDMI audio), bound to
   * vfio-pci too but given no alias. */
  companions: z.array(pciId, { error: "expected a list of vendor:product ids" }).superRefine(unique("companion"), ALWAYS).default([]),
});

/** `pci-passthrough:devices` of a site with one kind of host (hostGroups[].devices with host groups). */
export const devicesSchema = z
  .array(deviceSchema, { error: "expected a list of devices" })
  .min(1, { error: "list at least one device (see `npm run import-lspci`)" });
