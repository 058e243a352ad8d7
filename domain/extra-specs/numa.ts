// PCI NUMA policies: the flavor key and the alias field that set one, the releases that know each policy,
// and when Nova can apply one at all (docs/domain.md, "Nova: extra specs by release"). Pure data and functions.
import { atLeast, release } from "../releases";
import { pythonInt } from "./python";
import { VALUE_CHANGES, novaLabel } from "./releases";

/** The flavor extra spec that sets a PCI NUMA policy for the whole instance (Ussuri on). */
export const PCI_NUMA_POLICY_KEY = "hw:pci_numa_affinity_policy";

/** Why a `[pci] alias` numa_policy is refused on a release, or undefined: `socket` arrived with the same
 * Wallaby feature as the flavor value (VALUE_CHANGES); an older Nova's alias schema refuses it
 * (nova/pci/request.py, PciInvalidAlias). */
export function aliasNumaPolicyProblem(policy: string, releaseName: string): string | undefined {
  const late = VALUE_CHANGES.find((c) => c.name === PCI_NUMA_POLICY_KEY && c.value === policy && !atLeast(releaseName, c.added));
  return late && `${JSON.stringify(policy)} arrived in ${novaLabel(release(late.added))}; ${novaLabel(release(releaseName))} refuses the [pci] alias with it`;
}

/** Whether a site sets a PCI NUMA policy anywhere: an alias `numa_policy` or a flavor's extra spec. */
export function usesPciNumaPolicy(
  devices: readonly { readonly numaPolicy?: string }[],
  flavors: readonly { readonly extraSpecs: Readonly<Record<string, string>> }[],
): boolean {
  return devices.some((d) => d.numaPolicy !== undefined) || flavors.some((f) => f.extraSpecs[PCI_NUMA_POLICY_KEY] !== undefined);
}

/**
 * Whether Nova gives a guest of this flavor a NUMA topology, from the flavor alone (an image may add
 * hw_numa_nodes or hw_cpu_policy). nova/virt/hardware.py `numa_get_constraints` builds one only for
 * `hw:numa_nodes`, `hw:mem_page_size`, `hw:pmem` labels, or a CPU policy of dedicated or mixed, which
 * `hw:cpu_policy` sets, or a `resources[N]:PCPU` request without it (`_get_vcpu_pcpu_resources`).
 * Checked against Nova's own function by test/nova_conformance.py.
 */
export function flavorHasNumaTopology(specs: Readonly<Record<string, string>>): boolean {
  // Nova reads these with `if not value`: an empty string is unset.
  const set = (k: string) => (specs[k] ?? "") !== "";
  if (set("hw:numa_nodes") || set("hw:mem_page_size")) return true;
  if ((specs["hw:pmem"] ?? "").split(",").some((label) => label.trim() !== "")) return true;
  const policy = specs["hw:cpu_policy"];
  if (policy !== undefined && policy !== "") return policy === "dedicated" || policy === "mixed";
  // re.match('resources([1-9][0-9]*)?:PCPU', key): a prefix match; unparsable counts are skipped.
  const pcpus = Object.entries(specs)
    .filter(([k]) => /^resources([1-9][0-9]*)?:PCPU/.test(k))
    .reduce((sum, [, v]) => sum + (pythonInt(v) ?? 0), 0);
  return pcpus !== 0;
}

/** What gives a guest a NUMA topology, for messages. */
export const NUMA_TOPOLOGY_HINT =
  "add hw:numa_nodes (or hw:cpu_policy dedicated or mixed, hw:mem_page_size, hw:pmem, resources:PCPU; " +
  "nova/virt/hardware.py numa_get_constraints), or set hw_numa_nodes or hw_cpu_policy on the image";
