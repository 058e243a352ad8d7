// The MAAS tag that selects the GPU hosts and carries their kernel options (runbook: "MAAS").
import * as pulumi from "@pulumi/pulumi";
import type { CommandSpec } from "./render/commands";
import type { Runner, CommandResource } from "./runner";

export interface MaasPciTagArgs {
  /** Where the maas commands run. */
  runner: Runner;
  /** The tag's name (default in config: `pci-pass`). */
  tagName: string;
  /** The kernel options the tag carries, as one line. */
  kernelOptions: string;
  /** The rendered create/update/delete of the tag. */
  tag: CommandSpec;
  /** The rendered machine tagging, when the config lists system IDs (excludes a tag definition). */
  machines?: CommandSpec;
  /** Values of the steps' secret environment (the MAAS API key), already pulumi.secret. */
  secrets: Record<string, pulumi.Input<string>>;
}

export class MaasPciTag extends pulumi.ComponentResource {
  public readonly tagName: pulumi.Output<string>;
  public readonly kernelOptions: pulumi.Output<string>;
  public readonly tagCommand: CommandResource;
  public readonly machinesCommand?: CommandResource;

  constructor(name: string, args: MaasPciTagArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pci-passthrough:maas:PciTag", name, {}, opts);
    this.tagCommand = args.runner.run(`${name}-${args.tag.id}`, args.tag, args.secrets, { parent: this });
    if (args.machines) {
      this.machinesCommand = args.runner.run(`${name}-${args.machines.id}`, args.machines, args.secrets, {
        parent: this,
        dependsOn: [this.tagCommand],
      });
    }
    this.tagName = pulumi.output(args.tagName);
    this.kernelOptions = pulumi.output(args.kernelOptions);
    this.registerOutputs({ tagName: this.tagName, kernelOptions: this.kernelOptions });
  }
}
