// The whole site: MAAS tag -> Juju model -> charm options -> flavors -> smoke test, the runbook's order.
import * as pulumi from "@pulumi/pulumi";
import { formatProblems, type ConfigProblem } from "../config/problems";
import type { SiteConfig } from "../config/types";
import { renderSite } from "../render/site";
import type { SiteArtifacts } from "../render/site";
import { makeRunner } from "./runner";
import { MaasPciTag } from "./maas-tag";
import { JujuModel } from "./juju-model";
import { NovaCharmConfig } from "./nova-charm-config";
import { GpuFlavors } from "./gpu-flavors";
import { SmokeTest } from "./smoke-test";

export interface PciPassthroughArgs {
  /** The validated site (components/config.ts). */
  site: SiteConfig;
  /** Config warnings (ParseResult.warnings), logged on this component on every run. */
  warnings?: readonly ConfigProblem[];
}

export class PciPassthrough extends pulumi.ComponentResource {
  public readonly artifacts: SiteArtifacts;
  /** One per host group, in config order. */
  public readonly maasTags: MaasPciTag[];
  public readonly model: JujuModel;
  public readonly charmConfig: NovaCharmConfig;
  public readonly flavors: GpuFlavors;
  public readonly smokeTest?: SmokeTest;

  constructor(name: string, args: PciPassthroughArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pci-passthrough:site:PciPassthrough", name, {}, opts);
    const site = args.site;
    for (const w of args.warnings ?? []) pulumi.log.warn(formatProblems([w]), this);
    const a = renderSite(site);
    this.artifacts = a;
    const runner = makeRunner(site);
    if (site.runner && !site.runner.hostKey) {
      // Said on every run until the key is pinned: without it ssh accepts whatever host answers.
      pulumi.log.warn(
        `runner.hostKey is not set: the identity of the jump host ${runner.where} is not checked. Pin it: ` +
          `pulumi config set --path runner.hostKey "$(ssh-keyscan -t ed25519 -p ${site.runner.port} ${site.runner.host} | cut -d' ' -f2-)"`,
        this,
      );
    }

    // One tag per host group, each with its own kernel options and selection.
    this.maasTags = a.groups.map(
      (g) =>
        new MaasPciTag(
          g.group.name === undefined ? `${name}-maas` : `${name}-maas-${g.group.name}`,
          { runner, tagName: g.group.maas.tag, kernelOptions: g.kernelOptions, tag: g.commands.tag, machines: g.commands.machines },
          { parent: this },
        ),
    );
    this.model = new JujuModel(
      `${name}-juju`,
      { runner, modelName: site.juju.model, cloudinitUserdata: a.userdata, model: a.commands.model, teardown: a.commands.modelTeardown },
      { parent: this, dependsOn: this.maasTags },
    );
    this.charmConfig = new NovaCharmConfig(
      `${name}-charms`,
      { runner, aliasJson: a.aliasJson, options: a.charmOptions, config: a.commands.charmConfig },
      { parent: this, dependsOn: [this.model] },
    );
    // An alias must exist on the controller before a flavor asks for it.
    this.flavors = new GpuFlavors(`${name}-flavors`, { flavors: a.flavors }, { parent: this, dependsOn: [this.charmConfig] });
    const verify = a.groups.flatMap((g) => (g.commands.verify ? [{ application: g.group.application, spec: g.commands.verify }] : []));
    if (site.smokeTest && verify.length > 0) {
      this.smokeTest = new SmokeTest(
        `${name}-smoke`,
        { runner, smokeTest: site.smokeTest, flavors: this.flavors.flavors, verify },
        { parent: this, dependsOn: [this.flavors] },
      );
    }
    this.registerOutputs({
      tags: this.maasTags.map((t) => t.tagName),
      model: this.model.modelName,
      aliasJson: this.charmConfig.aliasJson,
      flavorIds: this.flavors.flavorIds,
    });
  }
}
