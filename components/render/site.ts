// Everything rendered for one site, computed once. The Pulumi components, the offline render
// (out/<stack>/) and the tests all take their artifacts from here.
import { allDevices, type HostGroup, type SiteConfig } from "../../config/types";
import { kernelCmdline, renderModelConfig, renderUserdata } from "./host";
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

/** What one host group gets: its tag's kernel options and its maas steps and binding check. */
export interface GroupArtifacts {
  readonly group: HostGroup;
  readonly kernelOptions: string;
  readonly commands: {
    readonly tag: CommandSpec;
    /** Absent when MAAS selects the tag's machines by its definition. */
    readonly machines?: CommandSpec;
    /** With a smoke test: does each host of the group have vfio-pci on its devices? */
    readonly verify?: CommandSpec;
  };
}

export interface SiteArtifacts {
  /** One per host group, in config order. */
  readonly groups: readonly GroupArtifacts[];
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
  /** The juju steps, in the runbook's order (the maas steps are the groups'). */
  readonly commands: {
    readonly model: CommandSpec;
    /** With juju.destroyModelOnDelete: the protected step whose delete destroys the model. */
    readonly modelTeardown?: CommandSpec;
    readonly charmConfig: CommandSpec;
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

function computeGroup(site: SiteConfig, group: HostGroup): GroupArtifacts {
  const kernelOptions = kernelCmdline(group);
  return {
    group,
    kernelOptions,
    commands: {
      tag: maasTagCommand(site, group, kernelOptions),
      machines: maasMachinesCommand(site, group),
      verify: site.smokeTest ? verifyBindingCommand(site, group) : undefined,
    },
  };
}

function computeSite(site: SiteConfig): SiteArtifacts {
  const modelConfigYaml = renderModelConfig(site.groups);
  const charmConfigYaml = renderCharmConfig(site);
  const resetOptions = charmResetOptions(site);
  return {
    groups: site.groups.map((g) => computeGroup(site, g)),
    userdata: renderUserdata(site.groups),
    modelConfigYaml,
    aliasJson: pciAliasJson(allDevices(site)),
    charmOptions: charmOptions(site),
    charmConfigYaml,
    charmResetOptions: resetOptions,
    bundleOverlay: renderBundleOverlay(site),
    flavors: flavorSpecs(site),
    commands: {
      model: jujuModelCommand(site, modelConfigYaml),
      modelTeardown: modelTeardownCommand(site),
      charmConfig: charmConfigCommand(site, charmConfigYaml, Object.keys(resetOptions)),
    },
  };
}
