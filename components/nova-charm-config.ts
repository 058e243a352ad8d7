// The nova-cloud-controller and nova-compute options (runbook: "Deploy OpenStack").
import * as pulumi from "@pulumi/pulumi";
import type { CommandSpec } from "../render/steps/script";
import type { Runner, CommandResource } from "./runner";

export interface NovaCharmConfigArgs {
  /** Where the commands run: locally, or on the jump host of `pci-passthrough:runner` (runner.ts). */
  runner: Runner;
  /** The `pci-alias` text, the same on both applications. */
  aliasJson: string;
  /** Options per application, as rendered. */
  options: Record<string, Record<string, string>>;
  /** The rendered `juju config --file` step; deleting it keeps the options (README "Safety"). */
  config: CommandSpec;
}

export class NovaCharmConfig extends pulumi.ComponentResource {
  public readonly aliasJson: pulumi.Output<string>;
  public readonly options: pulumi.Output<Record<string, Record<string, string>>>;
  public readonly configCommand: CommandResource;

  constructor(name: string, args: NovaCharmConfigArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pci-passthrough:juju:NovaCharmConfig", name, {}, opts);
    this.configCommand = args.runner.run(`${name}-${args.config.id}`, args.config, { parent: this });
    this.aliasJson = pulumi.output(args.aliasJson);
    this.options = pulumi.output(args.options);
    this.registerOutputs({ aliasJson: this.aliasJson, options: this.options });
  }
}
