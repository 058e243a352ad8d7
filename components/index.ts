// The package's entry point (package.json "main" and "types"): the components, each with its Args type, and the
// config functions that make the SiteConfig PciPassthrough takes. A Pulumi program embeds a site with
//   const site = requireSiteConfig(raw);  new PciPassthrough("gpu", { site });
// or builds any part on its own (docs/examples/embed/index.ts). The stack program of this repository is index.ts.
export { PciPassthrough, type PciPassthroughArgs } from "./pci-passthrough";
export { MaasPciTag, selectionOf, type MaasPciTagArgs, type MaasTagSelection } from "./maas-tag";
export { JujuModel, type JujuModelArgs } from "./juju-model";
export { NovaCharmConfig, type NovaCharmConfigArgs } from "./nova-charm-config";
export { GpuFlavors, type GpuFlavorsArgs } from "./gpu-flavors";
export { SmokeTest, type BindingCheck, type SmokeTestArgs } from "./smoke-test";
export { makeRunner, type CommandResource, type Runner } from "./step-runner";
export { ConfigError, formatProblems, formatWarnings, type ConfigProblem } from "../config/problems";
export { parseSiteConfig, requireSiteConfig, type ParseResult } from "../config/parse";
export type { DeviceConfig, HostGroup, JujuConfig, RunnerConfig, SiteConfig } from "../config/types";
export type { CharmOptions } from "../render/nova/charm-options";
export type { FlavorSpec } from "../render/nova/flavors";
export { renderSite, type SiteArtifacts } from "../render/site";
