// The Pulumi program: one site per stack. The stack's `pci-passthrough:*` config is validated first;
// an invalid config stops the program with every problem listed, before any resource is registered.
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseSiteConfig } from "./components/config";
import { fromRuntimeConfig } from "./components/config-source";
import { PciPassthrough } from "./components/pci-passthrough";

const parsed = parseSiteConfig(fromRuntimeConfig(pulumi.runtime.allConfig()));
if (!parsed.ok) throw new ConfigError(parsed.problems);
const deployment = new PciPassthrough(pulumi.getStack(), { site: parsed.config, warnings: parsed.warnings });

export const tag = deployment.maasTag.tagName;
export const kernelOptions = deployment.maasTag.kernelOptions;
export const model = deployment.model.modelName;
export const aliasJson = deployment.charmConfig.aliasJson;
export const flavorIds = deployment.flavors.flavorIds;
export const bundleOverlay = deployment.artifacts.bundleOverlay;
export const verification = deployment.smokeTest?.verification;
