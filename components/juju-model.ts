// The Juju model whose cloudinit-userdata prepares the GPU hosts (runbook: "In Target Changes"; docs/domain.md,
// "Juju models and cloudinit-userdata"): the step that adds the model or sets its config, and, when the model is
// to be destroyed with the stack, the protected step that does it.
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import type { JujuConfig, RunnerConfig } from "../config/types";
import { JUJU_YAML_OPTIONS } from "../domain/juju";
import { renderModelConfig } from "../render/host/userdata";
import { jujuModelCommand, modelTeardownCommand } from "../render/steps/juju";
import { makeRunner, type CommandResource } from "./step-runner";

export interface JujuModelArgs {
  /** The model's name, without controller (lowercase letters, digits and hyphens). */
  name: string;
  /** The controller (`-c`, `controller:model`). Default: the current controller where the commands run. */
  controller?: string;
  /** The cloud and region for `juju add-model` (`cloud[/region]`). Default: the controller's. */
  cloud?: string;
  /** The Juju CLI's major version where the commands run: flags differ between 2.9 and 3. Default: "3". */
  jujuVersion?: JujuConfig["version"];
  /** The model already runs the cloud: only its model-config is set; a missing model is an error, never added.
   * Excludes `destroyOnDelete`. Default: false. */
  existing?: boolean;
  /** Destroy the model when the stack is deleted, through a protected step (`pulumi state unprotect` first).
   * Default: false: the model, which holds the whole cloud, is kept. */
  destroyOnDelete?: boolean;
  /** The model's cloudinit-userdata (render/host/userdata.ts renderUserdata): what every machine Juju provisions
   * in the model runs. */
  cloudinitUserdata: string;
  /** Where the juju commands run: the jump host of `pci-passthrough:runner`, over SSH. Default: here. */
  runner?: RunnerConfig;
  /** Any new value re-runs the steps' idempotent update in place (drift repair). Default: none. */
  resync?: string;
}

export class JujuModel extends pulumi.ComponentResource {
  /** The model's name, as given. */
  public readonly modelName: string;
  /** The cloudinit-userdata the model step sets (its model-config file, from its environment). */
  public readonly cloudinitUserdata: pulumi.Output<string>;
  public readonly modelCommand: CommandResource;
  /** With `destroyOnDelete`: the protected step whose delete destroys the model. */
  public readonly teardownCommand?: CommandResource;

  constructor(name: string, args: JujuModelArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pci-passthrough:juju:Model", name, {}, opts);
    if (args.existing && args.destroyOnDelete) throw new Error(`JujuModel ${name}: destroyOnDelete cannot be true with existing: a model this stack adopted is never destroyed by it`);
    const juju: JujuConfig = {
      model: args.name,
      ...(args.cloud !== undefined ? { cloud: args.cloud } : {}),
      ...(args.controller !== undefined ? { controller: args.controller } : {}),
      version: args.jujuVersion ?? "3",
      existingModel: args.existing ?? false,
      destroyModelOnDelete: args.destroyOnDelete ?? false,
    };
    const runner = makeRunner(args.runner);
    const model = jujuModelCommand(juju, renderModelConfig(args.cloudinitUserdata), args.resync);
    const teardown = modelTeardownCommand(juju, args.resync);
    this.modelCommand = runner.run(`${name}-${model.id}`, model, { parent: this });
    if (teardown) {
      this.teardownCommand = runner.run(`${name}-${teardown.id}`, teardown, { parent: this, dependsOn: [this.modelCommand] });
      // Said on every run: the stack cannot be deleted until this step is unprotected on purpose.
      this.teardownCommand.urn.apply((urn) =>
        pulumi.log.warn(
          `Juju model ${args.name} and everything in it is DESTROYED when this stack is deleted. The step that ` +
            `destroys it is protected: run \`pulumi state unprotect '${urn}'\` first (docs/day2.md, "Deleting the stack")`,
          this,
        ),
      );
    } else {
      // Said on every run so that nobody expects `pulumi destroy` to remove the cloud.
      pulumi.log.info(
        `Juju model ${args.name} is kept when this stack is deleted (set pci-passthrough:juju.destroyModelOnDelete to destroy it)`,
        this,
      );
    }
    this.modelName = args.name;
    this.cloudinitUserdata = this.modelCommand.environment.apply(
      (env) => (parse(env?.PCIPT_MODEL_CONFIG ?? "", { version: JUJU_YAML_OPTIONS.version }) as { "cloudinit-userdata"?: string } | null)?.["cloudinit-userdata"] ?? "",
    );
    this.registerOutputs({ modelName: this.modelName, cloudinitUserdata: this.cloudinitUserdata });
  }
}
