// Everything rendered for one site, computed once. The Pulumi components, the offline render
// (out/<stack>/) and the tests all take their artifacts from here.
import type { SiteConfig } from "../config";
import { kernelCmdline, renderModelConfig, renderUserdata, configuredAddresses } from "./host";
import {
  charmOptions,
  charmResetOptions,
  flavorSpecs,
  pciAliasJson,
  renderBundleOverlay,
  renderCharmConfig,
  type FlavorSpec,
} from "./nova";
import {
  charmConfigCommand,
  jujuModelCommand,
  maasMachinesCommand,
  maasTagCommand,
  modelTeardownCommand,
  verifyBindingCommand,
  type CommandSpec,
} from "./commands";

export interface SiteArtifacts {
  readonly kernelOptions: string;
  readonly userdata: string;
  /** The file for `juju add-model --config` / `juju model-config --file`. */
  readonly modelConfigYaml: string;
  readonly aliasJson: string;
  readonly charmOptions: Record<string, Record<string, string>>;
  /** The file for `juju config APP --file`. */
  readonly charmConfigYaml: string;
  readonly charmResetOptions: Record<string, string[]>;
  readonly bundleOverlay: string;
  readonly flavors: FlavorSpec[];
  /** The maas and juju steps, in the runbook's order. */
  readonly commands: {
    readonly tag: CommandSpec;
    readonly machines?: CommandSpec;
    readonly model: CommandSpec;
    /** With juju.destroyModelOnDelete: the protected step whose delete destroys the model. */
    readonly modelTeardown?: CommandSpec;
    readonly charmConfig: CommandSpec;
    readonly verify?: CommandSpec;
  };
}

/** renderSite is pure; the offline render asks twice for the same site (the program, then the files), so
 * the last result is kept, keyed by the site's JSON. */
let last: { key: string; artifacts: SiteArtifacts } | undefined;

export function renderSite(site: SiteConfig): SiteArtifacts {
  const key = JSON.stringify(site);
  if (last?.key !== key) last = { key, artifacts: computeSite(site) };
  return last.artifacts;
}

function computeSite(site: SiteConfig): SiteArtifacts {
  const kernelOptions = kernelCmdline(site);
  const modelConfigYaml = renderModelConfig(site);
  const charmConfigYaml = renderCharmConfig(site);
  const resetOptions = charmResetOptions(site);
  return {
    kernelOptions,
    userdata: renderUserdata(site),
    modelConfigYaml,
    aliasJson: pciAliasJson(site),
    charmOptions: charmOptions(site),
    charmConfigYaml,
    charmResetOptions: resetOptions,
    bundleOverlay: renderBundleOverlay(site),
    flavors: flavorSpecs(site),
    commands: {
      tag: maasTagCommand(site, kernelOptions),
      machines: maasMachinesCommand(site),
      model: jujuModelCommand(site, modelConfigYaml),
      modelTeardown: modelTeardownCommand(site),
      charmConfig: charmConfigCommand(site, charmConfigYaml, Object.keys(resetOptions)),
      verify: site.smokeTest ? verifyBindingCommand(site, configuredAddresses(site)) : undefined,
    },
  };
}
