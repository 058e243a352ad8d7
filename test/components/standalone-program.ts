// A Pulumi program that uses the components on their own, each from its domain arguments, without PciPassthrough
// or a SiteConfig (test/components/components.test.ts runs it under mocks).
import { GpuFlavors, JujuModel, MaasPciTag, NovaCharmConfig, SmokeTest } from "../../components";

export const USERDATA = "#cloud-config\npackages: [pciutils]\n";
export const OPTIONS = { "nova-compute-a100": { "pci-alias": '{"name":"a100","vendor_id":"10de","product_id":"20b5"}', "pci-passthrough-whitelist": "[]" } };

export default () => {
  const tag = new MaasPciTag("gpu", {
    profile: "ops",
    login: { url: "http://maas.example:5240/MAAS", apiKey: "k3y:t0ken:s3cret" },
    tag: "gpu-a100",
    kernelOptions: "intel_iommu=on vfio-pci.ids=10de:20b5",
    selection: { devices: ["10de:20b5"], pool: "ml", exceptMachines: ["abc123"] },
  });
  const listed = new MaasPciTag("listed", { profile: "ops", tag: "gpu-listed", kernelOptions: "", selection: { machines: ["m1", "m2"], zone: "az1" } });
  const defined = new MaasPciTag("defined", { profile: "ops", tag: "gpu-xpath", comment: "by XPath", kernelOptions: "iommu=pt", selection: { definition: "//node[@class='display']" } });
  const model = new JujuModel(
    "ml",
    { name: "ml-cloud", controller: "ctl", jujuVersion: "2.9", destroyOnDelete: true, cloudinitUserdata: USERDATA },
    { dependsOn: [tag, listed, defined] },
  );
  const charms = new NovaCharmConfig("ml-charms", { model: "ml-cloud", controller: "ctl", options: OPTIONS }, { dependsOn: [model] });
  const flavors = new GpuFlavors(
    "ml-flavors",
    { flavors: [{ name: "g1.a100", ram: 65536, vcpus: 16, disk: 100, extraSpecs: { "pci_passthrough:alias": "a100:1" } }] },
    { dependsOn: [charms] },
  );
  const smoke = new SmokeTest(
    "ml-smoke",
    {
      image: "jammy",
      network: "ml",
      servers: [{ name: "t1", flavor: "g1.a100" }],
      flavors: flavors.flavors,
      model: { name: "ml-cloud", controller: "ctl", jujuVersion: "2.9" },
      bindingChecks: [{ application: "nova-compute-a100", name: "a100", devices: [{ alias: "a100", vendorId: "10de", productId: "20b5", addresses: ["0000:31:00.0"], companions: [] }] }],
    },
    { dependsOn: [flavors] },
  );
  return {
    tagName: tag.tagName,
    kernelOptions: tag.kernelOptions,
    modelName: model.modelName,
    userdata: model.cloudinitUserdata,
    options: charms.options,
    aliasJson: charms.aliasJson,
    flavorIds: flavors.flavorIds,
    verification: smoke.verification,
  };
};
