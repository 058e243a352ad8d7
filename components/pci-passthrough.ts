// The whole site: MAAS tag -> Juju model -> charm options -> flavors -> smoke test, the runbook's order. Each
// component renders its own steps from the site's pieces; renderSite gives the site's artifacts (the userdata,
// the options, the flavors, the bundle overlay) once.
import * as pulumi from "@pulumi/pulumi";
import { formatProblems, type ConfigProblem } from "../config/problems";
import type { SiteConfig } from "../config/types";
import { renderSite, type SiteArtifacts } from "../render/site";
import { runnerWhere } from "../render/steps/ssh";
import { GpuFlavors } from "./gpu-flavors";
import { JujuModel } from "./juju-model";
import { MaasPciTag, selectionOf } from "./maas-tag";
import { NovaCharmConfig } from "./nova-charm-config";
import { SmokeTest } from "./smoke-test";

export interface PciPassthroughArgs {
  /** The validated site (config/parse.ts parseSiteConfig or requireSiteConfig). */
  site: SiteConfig;
  /** Config warnings (ParseResult.warnings), logged on this component on every run. Default: none. */
  warnings?: readonly ConfigProblem[];
}

export class PciPassthrough extends pulumi.ComponentResource {
  /** Everything rendered for the site (render/site.ts): the userdata, charm options, bundle overlay, flavors. */
  public readonly artifacts: SiteArtifacts;
  /** One per host group, in config order. */
  public readonly maasTags: MaasPciTag[];
  public readonly model: JujuModel;
  public readonly charmConfig: NovaCharmConfig;
  public readonly flavors: GpuFlavors;
  /** With `smokeTest` in the config. */
  public readonly smokeTest?: SmokeTest;

  constructor(name: string, args: PciPassthroughArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pci-passthrough:site:PciPassthrough", name, {}, opts);
    const site = args.site;
    for (const w of args.warnings ?? []) pulumi.log.warn(formatProblems([w]), this);
    const a = renderSite(site);
    this.artifacts = a;
    if (site.runner && !site.runner.hostKey) {
      // Said on every run until the key is pinned: without it ssh accepts whatever host answers.
      pulumi.log.warn(
        `runner.hostKey is not set: the identity of the jump host ${runnerWhere(site.runner)} is not checked. Pin it: ` +
          `pulumi config set --path runner.hostKey "$(ssh-keyscan -t ed25519 -p ${site.runner.port} ${site.runner.host} | cut -d' ' -f2-)"`,
        this,
      );
    }
    const where = { ...(site.runner ? { runner: site.runner } : {}), ...(site.resync !== undefined ? { resync: site.resync } : {}) };
    const { url, apiKey } = site.maas;

    // One tag per host group, each with its own kernel options and selection.
    this.maasTags = a.groups.map(
      (g) =>
        new MaasPciTag(
          g.group.name === undefined ? `${name}-maas` : `${name}-maas-${g.group.name}`,
          {
            profile: site.maas.profile,
            ...(url !== undefined && apiKey !== undefined ? { login: { url, apiKey } } : {}),
            tag: g.tag.tag.tag,
            comment: g.tag.tag.comment,
            kernelOptions: g.kernelOptions,
            selection: selectionOf(g.tag),
            deleteAdoptedTag: g.tag.tag.deleteAdoptedTag,
            keyPath: g.tag.keyPath,
            ...where,
          },
          { parent: this },
        ),
    );
    const juju = site.juju;
    const model = { name: juju.model, ...(juju.controller !== undefined ? { controller: juju.controller } : {}) };
    this.model = new JujuModel(
      `${name}-juju`,
      {
        ...model,
        ...(juju.cloud !== undefined ? { cloud: juju.cloud } : {}),
        jujuVersion: juju.version,
        existing: juju.existingModel,
        destroyOnDelete: juju.destroyModelOnDelete,
        cloudinitUserdata: a.userdata,
        ...where,
      },
      { parent: this, dependsOn: this.maasTags },
    );
    this.charmConfig = new NovaCharmConfig(
      `${name}-charms`,
      { model: model.name, ...(model.controller !== undefined ? { controller: model.controller } : {}), options: a.charmOptions, ...where },
      { parent: this, dependsOn: [this.model] },
    );
    // An alias must exist on the controller before a flavor asks for it.
    this.flavors = new GpuFlavors(`${name}-flavors`, { flavors: a.flavors }, { parent: this, dependsOn: [this.charmConfig] });
    if (site.smokeTest && site.groups.length > 0) {
      const st = site.smokeTest;
      this.smokeTest = new SmokeTest(
        `${name}-smoke`,
        {
          image: st.image,
          network: st.network,
          ...(st.keyPair !== undefined ? { keyPair: st.keyPair } : {}),
          servers: st.servers,
          flavors: this.flavors.flavors,
          model: { ...model, jujuVersion: juju.version },
          bindingChecks: site.groups.map((g) => ({ application: g.application, ...(g.name !== undefined ? { name: g.name } : {}), devices: g.devices })),
          ...where,
        },
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
