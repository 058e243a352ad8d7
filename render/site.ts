// Everything rendered for one site, computed once: renderSite calls each renderer with the piece of the site it
// needs (a group, the groups, the devices, the release, the flavors), and nothing calls back up. The offline
// render (out/<stack>/), commands.sh (runbook.ts), `npm run verify` and the tests take their artifacts from
// here; the Pulumi components render their own steps from the same renderers and the same pieces.
import type { HostGroup, SiteConfig } from "../config/types";
import { CHARM_APPS } from "../domain/charms";
import { hostExpectations, type HostExpectations } from "./host/expectations";
import { kernelCmdline } from "./host/kernel";
import { renderProbe } from "./host/probe";
import { renderModelConfig, renderUserdata } from "./host/userdata";
import { charmOptions, charmResetOptions, renderCharmConfig, type CharmOptions } from "./nova/charm-options";
import { flavorSpecs, type FlavorSpec } from "./nova/flavors";
import { renderBundleOverlay } from "./nova/overlay";
import { charmConfigCommand, jujuModelCommand, modelTeardownCommand, verifyBindingCommand } from "./steps/juju";
import { maasMachinesCommand, maasTagCommand } from "./steps/maas";
import { tagInputOf, type MaasTagInput } from "./steps/maas-selection";
import type { CommandSpec } from "./steps/script";

/** What one host group gets: its tag's kernel options and its maas steps and binding check. */
export interface GroupArtifacts {
  readonly group: HostGroup;
  readonly kernelOptions: string;
  /** What a host of the group must show once prepared by this render and rebooted (`verify --hosts`). */
  readonly expectations: HostExpectations;
  /** The group's tag as its steps (and the read script) take it. */
  readonly tag: MaasTagInput;
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
  /** The host probe (host-probe.sh): what a machine runs, for every group, read-only (`verify --hosts`). */
  readonly probe: string;
  /** The file for `juju add-model --config` / `juju model-config --file`. */
  readonly modelConfigYaml: string;
  readonly aliasJson: string;
  readonly charmOptions: CharmOptions;
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
  const tag = tagInputOf(site.groups, group);
  return {
    group,
    kernelOptions,
    expectations: hostExpectations(group),
    tag,
    commands: {
      tag: maasTagCommand(site.maas, tag, kernelOptions, site.resync),
      machines: maasMachinesCommand(site.maas, tag, site.resync),
      verify: site.smokeTest ? verifyBindingCommand(site.juju, group, site.resync) : undefined,
    },
  };
}

function computeSite(site: SiteConfig): SiteArtifacts {
  const userdata = renderUserdata(site.groups);
  const modelConfigYaml = renderModelConfig(userdata);
  const options = charmOptions(site.openstack, site.groups, site.flavors);
  const charmConfigYaml = renderCharmConfig(options);
  const resetOptions = charmResetOptions(options);
  return {
    groups: site.groups.map((g) => computeGroup(site, g)),
    userdata,
    probe: renderProbe(site.groups),
    modelConfigYaml,
    // The alias text the options carry: computed once, by charmOptions.
    aliasJson: options[CHARM_APPS.controller]!["pci-alias"]!,
    charmOptions: options,
    charmConfigYaml,
    charmResetOptions: resetOptions,
    bundleOverlay: renderBundleOverlay({ openstack: site.openstack, jujuVersion: site.juju.version, groups: site.groups, options }),
    flavors: flavorSpecs(site.flavors),
    commands: {
      model: jujuModelCommand(site.juju, modelConfigYaml, site.resync),
      modelTeardown: modelTeardownCommand(site.juju, site.resync),
      charmConfig: charmConfigCommand(site.juju, charmConfigYaml, Object.keys(resetOptions), site.resync),
    },
  };
}
