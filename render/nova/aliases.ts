// nova.conf's `[pci] alias` and `device_spec` (formerly passthrough_whitelist) as the charms' `pci-alias` and
// `pci-passthrough-whitelist` options take them (docs/domain.md, "Nova: PCI aliases, device specs and flavors");
// checked against Nova itself by test/nova_conformance.py.
import type { DeviceConfig } from "../../config/types";
import { deviceId } from "../../domain/pci";

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
