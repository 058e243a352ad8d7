// The MAAS tag that selects the GPU hosts and carries their kernel options (runbook: "MAAS").
import * as pulumi from "@pulumi/pulumi";
import { STACK_ENV } from "../render/steps/maas-claim";
import type { CommandSpec } from "../render/steps/script";
import type { Runner, CommandResource } from "./runner";

export interface MaasPciTagArgs {
  /** Where the maas commands run. */
  runner: Runner;
  /** The tag's name (default in config: `pci-pass`). */
  tagName: string;
  /** The kernel options the tag carries, as one line. */
  kernelOptions: string;
  /** The rendered tag step (create or adopt, update in place, claim-checked delete). */
  tag: CommandSpec;
  /** The rendered machine selection (system IDs or by device); absent when the tag has a definition. */
  machines?: CommandSpec;
}

export class MaasPciTag extends pulumi.ComponentResource {
  public readonly tagName: pulumi.Output<string>;
  public readonly kernelOptions: pulumi.Output<string>;
  public readonly tagCommand: CommandResource;
  public readonly machinesCommand?: CommandResource;

  constructor(name: string, args: MaasPciTagArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pci-passthrough:maas:PciTag", name, {}, opts);
    // The tag's claim names the stack, so that another stack never takes the tag over (render/commands.ts).
    const stack = `${pulumi.getProject()}/${pulumi.getStack()}`;
    this.tagCommand = args.runner.run(`${name}-${args.tag.id}`, args.tag, { parent: this }, { [STACK_ENV]: stack });
    if (args.machines) {
      // The tag step's ID changes when it is replaced (deleted and created again, in either order): the
      // machines are then tagged again in place.
      this.machinesCommand = args.runner.run(
        `${name}-${args.machines.id}`,
        args.machines,
        { parent: this, dependsOn: [this.tagCommand] },
        { PCIPT_TAG_STEP: this.tagCommand.id },
      );
    }
    this.tagName = pulumi.output(args.tagName);
    this.kernelOptions = pulumi.output(args.kernelOptions);
    this.registerOutputs({ tagName: this.tagName, kernelOptions: this.kernelOptions });
  }
}
