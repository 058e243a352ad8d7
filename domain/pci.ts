// The PCI bus as the kernel, lspci, LXD, MAAS and Nova name it: a function's address and its vendor:product
// id, and the graphics a server board keeps for its own console. Pure data and functions.

// `[DDDD:]BB:SS.F`: lspci prints the domain only with -D; the kernel's sysfs names always carry it
// (torvalds/linux drivers/pci/probe.c pci_setup_device: "%04x:%02x:%02x.%d").
const PCI_ADDRESS = /^(?:([0-9a-fA-F]{4}):)?([0-9a-fA-F]{2}):([01][0-9a-fA-F])\.([0-7])$/;

/** Normalises a PCI address to `DDDD:BB:SS.F` (lower case, domain 0000 when left out), or undefined. */
export function normalizePciAddress(s: string): string | undefined {
  const m = PCI_ADDRESS.exec(s.trim());
  if (!m) return undefined;
  return `${m[1] ?? "0000"}:${m[2]}:${m[3]}.${m[4]}`.toLowerCase();
}

/** A function's vendor:product as lspci -nn, sysfs, LXD, MAAS and Nova write it, e.g. 10de:1bb0. */
export const deviceId = (d: { readonly vendorId: string; readonly productId: string }): string => `${d.vendorId}:${d.productId}`;

/** Server boards put the BMC's graphics on the PCI bus as a VGA device (ASPEED AST2x00, Matrox G200e), by PCI
 * vendor id (pci.ids): it is the host's own console, never a passthrough candidate. */
export const BMC_GRAPHICS_VENDORS: Readonly<Record<string, string>> = { "1a03": "ASPEED", "102b": "Matrox" };
