// The nova-cloud-controller and nova-compute options (runbook: "Deploy OpenStack"; docs/domain.md, "The OpenStack
// charms"): one step that sets each application's options with `juju config APP --file F`.
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import type { RunnerConfig } from "../config/types";
import { renderCharmConfig, type CharmOptions } from "../render/nova/charm-options";
import { charmConfigCommand } from "../render/steps/juju";
import { makeRunner, type CommandResource } from "./step-runner";

export interface NovaCharmConfigArgs {
  /** The model the applications are deployed in (its name, without controller). */
  model: string;
  /** The model's controller. Default: the current controller where the commands run. */
  controller?: string;
  /** The options per application, every value a string as `juju config` stores them
   * (render/nova/charm-options.ts charmOptions). Every application must be deployed: the step refuses otherwise.
   * Deleting the step keeps the options. */
  options: CharmOptions;
  /** Where the juju commands run: the jump host of `pci-passthrough:runner`, over SSH. Default: here. */
  runner?: RunnerConfig;
  /** Any new value re-runs the step's idempotent update in place (drift repair). Default: none. */
  resync?: string;
}

export class NovaCharmConfig extends pulumi.ComponentResource {
  /** The `pci-alias` option the applications share (the first application's that has one), as the step sets it. */
  public readonly aliasJson: pulumi.Output<string | undefined>;
  /** The options per application, as the step sets them (its charm config file, from its environment). */
  public readonly options: pulumi.Output<CharmOptions>;
  public readonly configCommand: CommandResource;

  constructor(name: string, args: NovaCharmConfigArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pci-passthrough:juju:NovaCharmConfig", name, {}, opts);
    const model = { model: args.model, ...(args.controller !== undefined ? { controller: args.controller } : {}) };
    const config = charmConfigCommand(model, renderCharmConfig(args.options), Object.keys(args.options), args.resync);
    this.configCommand = makeRunner(args.runner).run(`${name}-${config.id}`, config, { parent: this });
    this.options = this.configCommand.environment.apply((env) => (parse(env?.PCIPT_CHARM_CONFIG ?? "") ?? {}) as CharmOptions);
    this.aliasJson = this.options.apply((o) => Object.values(o).find((x) => x["pci-alias"] !== undefined)?.["pci-alias"]);
    this.registerOutputs({ aliasJson: this.aliasJson, options: this.options });
  }
}
