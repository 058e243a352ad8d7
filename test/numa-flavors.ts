// Flavors and whether Nova gives their guests a NUMA topology (nova/virt/hardware.py numa_get_constraints,
// from the flavor alone). test/domain/extra-specs.test.ts holds flavorHasNumaTopology to these answers;
// test/render/nova-extra-specs.test.ts holds Nova itself to them, so the expectations are Nova's, not ours.
export const NUMA_FLAVORS: ReadonlyArray<{ readonly specs: Readonly<Record<string, string>>; readonly topology: boolean }> = [
  { specs: {}, topology: false },
  { specs: { "hw:numa_nodes": "1" }, topology: true },
  { specs: { "hw:numa_nodes": "2" }, topology: true },
  { specs: { "hw:numa_nodes": "" }, topology: false },
  { specs: { "hw:mem_page_size": "large" }, topology: true },
  { specs: { "hw:mem_page_size": "small" }, topology: true },
  { specs: { "hw:pmem": "LARGE,SMALL" }, topology: true },
  { specs: { "hw:pmem": " , " }, topology: false },
  { specs: { "hw:cpu_policy": "dedicated" }, topology: true },
  { specs: { "hw:cpu_policy": "shared" }, topology: false },
  { specs: { "hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "^0" }, topology: true },
  { specs: { "resources:PCPU": "8" }, topology: true },
  { specs: { "resources1:PCPU": "4", "resources2:PCPU": "4" }, topology: true },
  { specs: { "resources:VCPU": "8" }, topology: false },
  { specs: { "hw:pci_numa_affinity_policy": "required" }, topology: false },
  { specs: { "hw:hide_hypervisor_id": "true", "pci_passthrough:alias": "gpu:1" }, topology: false },
];
