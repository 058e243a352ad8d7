// The Pulumi program: one site per stack. The stack's `pci-passthrough:*` config is validated first;
// an invalid config stops the program with every problem listed, before any resource is registered.
// The program is an exported function (Pulumi calls it and takes its result as the stack outputs) so that
// an output that does not apply, such as the smoke test's, is left out rather than exported as undefined.
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, PciPassthrough, parseSiteConfig } from "./components";
import { fromRuntimeConfig } from "./config/stack";

export = async (): Promise<Record<string, unknown>> => {
  const parsed = parseSiteConfig(fromRuntimeConfig(pulumi.runtime.allConfig()));
  if (!parsed.ok) throw new ConfigError(parsed.problems);
  const deployment = new PciPassthrough(pulumi.getStack(), { site: parsed.config, warnings: parsed.warnings });
  // One kind of host: the tag and its kernel options; host groups: both by group name.
  const [first] = deployment.maasTags;
  const named = parsed.config.groups[0]!.name !== undefined;
  const byGroup = <T>(pick: (t: (typeof deployment.maasTags)[number]) => T) =>
    Object.fromEntries(deployment.maasTags.map((t, i) => [parsed.config.groups[i]!.name!, pick(t)]));
  return {
    ...(named ? { tags: byGroup((t) => t.tagName), kernelOptions: byGroup((t) => t.kernelOptions) } : { tag: first!.tagName, kernelOptions: first!.kernelOptions }),
    model: deployment.model.modelName,
    aliasJson: deployment.charmConfig.aliasJson,
    flavorIds: deployment.flavors.flavorIds,
    bundleOverlay: deployment.artifacts.bundleOverlay,
    ...(deployment.smokeTest ? { verification: deployment.smokeTest.verification } : {}),
  };
};
