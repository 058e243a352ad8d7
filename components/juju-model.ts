// The Juju model whose cloudinit-userdata prepares the GPU hosts (runbook: "In Target Changes").
import * as pulumi from "@pulumi/pulumi";
import type { CommandSpec } from "../render/steps/script";
import type { Runner, CommandResource } from "./runner";

export interface JujuModelArgs {
  /** Where the commands run: locally, or on the jump host of `pci-passthrough:runner` (runner.ts). */
  runner: Runner;
  /** The model's name (without controller). */
  modelName: string;
  /** The rendered `cloudinit-userdata` text. */
  cloudinitUserdata: string;
  /** The rendered add-model / model-config step; deleting it never destroys the model. */
  model: CommandSpec;
  /** With juju.destroyModelOnDelete: the protected step whose delete destroys the model. */
  teardown?: CommandSpec;
}

export class JujuModel extends pulumi.ComponentResource {
  public readonly modelName: pulumi.Output<string>;
  public readonly cloudinitUserdata: pulumi.Output<string>;
  public readonly modelCommand: CommandResource;
  public readonly teardownCommand?: CommandResource;

  constructor(name: string, args: JujuModelArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pci-passthrough:juju:Model", name, {}, opts);
    this.modelCommand = args.runner.run(`${name}-${args.model.id}`, args.model, { parent: this });
    if (args.teardown) {
      this.teardownCommand = args.runner.run(`${name}-${args.teardown.id}`, args.teardown, { parent: this, dependsOn: [this.modelCommand] });
      // Said on every run: the stack cannot be deleted until this step is unprotected on purpose.
      this.teardownCommand.urn.apply((urn) =>
        pulumi.log.warn(
          `Juju model ${args.modelName} and everything in it is DESTROYED when this stack is deleted. The step that ` +
            `destroys it is protected: run \`pulumi state unprotect '${urn}'\` first (README "Deleting the stack")`,
          this,
        ),
      );
    } else {
      // Said on every run so that nobody expects `pulumi destroy` to remove the cloud.
      pulumi.log.info(
        `Juju model ${args.modelName} is kept when this stack is deleted (set pci-passthrough:juju.destroyModelOnDelete to destroy it)`,
        this,
      );
    }
    this.modelName = pulumi.output(args.modelName);
    this.cloudinitUserdata = pulumi.output(args.cloudinitUserdata);
    this.registerOutputs({ modelName: this.modelName, cloudinitUserdata: this.cloudinitUserdata });
  }
}
