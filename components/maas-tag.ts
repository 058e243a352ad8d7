// The MAAS tag that selects the GPU hosts and carries their kernel options (runbook: "MAAS"; docs/domain.md,
// "MAAS"): the tag step and, unless MAAS selects by the tag's definition, the step that tags its machines.
import * as pulumi from "@pulumi/pulumi";
import { formatPath } from "../config/problems";
import { DEFAULT_TAG_COMMENT } from "../config/sections/maas";
import type { RunnerConfig, TagConfig } from "../config/types";
import { maasMachinesCommand, maasTagCommand } from "../render/steps/maas";
import { STACK_ENV } from "../render/steps/maas-claim";
import type { MaasTagInput } from "../render/steps/maas-selection";
import { makeRunner, type CommandResource } from "./step-runner";

/** How a tag finds its machines: exactly one way. */
export type MaasTagSelection =
  /** These machines, by MAAS system ID (`maas PROFILE tag update-nodes`); with `pool` and/or `zone`, each must be
   * there. Every listed machine is checked against MAAS before anything changes. */
  | { readonly machines: readonly string[]; readonly pool?: string; readonly zone?: string }
  /** MAAS tags the machines itself by this XPath over `lshw -xml`, on every machine it has (no scope). */
  | { readonly definition: string }
  /** Every machine of `pool` and/or `zone` (one at least) whose MAAS node devices include one of these
   * vendor:product ids (MAAS 3.0+); `exceptMachines` are machines another tag lists, refused if selected. */
  | {
      readonly devices: readonly string[];
      readonly pool?: string;
      readonly zone?: string;
      readonly exceptMachines?: readonly string[];
    };

export interface MaasPciTagArgs {
  /** The maas CLI profile the commands use (`maas PROFILE ...`): logged in where they run, unless `login` is given. */
  profile: string;
  /** Log the profile in first (`maas login PROFILE URL -`); the API key (`consumer:token:secret`) reaches the step
   * on its standard input only. Default: none (the profile is logged in already). */
  login?: { readonly url: string; readonly apiKey: string };
  /** The tag's name (letters, digits, _ and -). Another name is another MAAS tag: the old one is deleted unless it
   * existed before the stack adopted it. */
  tag: string;
  /** The tag's comment, shown in the MAAS UI; the step appends its claim. Default: DEFAULT_TAG_COMMENT. */
  comment?: string;
  /** The kernel options MAAS gives every later deployment of the tagged machines (the tag's kernel_opts), one line
   * (render/host/kernel.ts kernelCmdline). */
  kernelOptions: string;
  /** How the tag finds its machines. */
  selection: MaasTagSelection;
  /** Delete the tag with the stack even when it existed before the stack adopted it. Default: false (an adopted
   * tag is handed back, its claim taken off). */
  deleteAdoptedTag?: boolean;
  /** Where the maas commands run: the jump host of `pci-passthrough:runner`, over SSH. Default: here. */
  runner?: RunnerConfig;
  /** Any new value re-runs the steps' idempotent update in place (drift repair). Default: none. */
  resync?: string;
  /** Where the tag's keys are in the stack config, named in the messages about listed machines. Default:
   * `pci-passthrough:maas`. */
  keyPath?: string;
}

/** The tag as its steps take it, from the component's arguments. */
function tagInput(args: MaasPciTagArgs): MaasTagInput {
  const s = args.selection;
  const scope = "definition" in s ? {} : { ...(s.pool !== undefined ? { pool: s.pool } : {}), ...(s.zone !== undefined ? { zone: s.zone } : {}) };
  const tag: TagConfig = {
    tag: args.tag,
    comment: args.comment ?? DEFAULT_TAG_COMMENT,
    ...("machines" in s ? { machines: [...s.machines] } : {}),
    ...("definition" in s ? { definition: s.definition } : {}),
    ...("devices" in s ? { selectByDevice: true } : {}),
    ...scope,
    deleteAdoptedTag: args.deleteAdoptedTag ?? false,
  };
  return {
    tag,
    keyPath: args.keyPath ?? formatPath(["maas"]),
    selectingDevices: "devices" in s ? [...new Set(s.devices)].sort() : [],
    otherGroupsMachines: "devices" in s ? [...(s.exceptMachines ?? [])] : [],
  };
}

/** The selection of a configured tag (render/steps/maas-selection.ts tagInputOf), as MaasPciTagArgs take it. */
export function selectionOf(input: MaasTagInput): MaasTagSelection {
  const { machines, definition, pool, zone } = input.tag;
  const scope = { ...(pool !== undefined ? { pool } : {}), ...(zone !== undefined ? { zone } : {}) };
  if (machines !== undefined) return { machines, ...scope };
  if (definition !== undefined) return { definition };
  return { devices: input.selectingDevices, ...scope, exceptMachines: input.otherGroupsMachines };
}

export class MaasPciTag extends pulumi.ComponentResource {
  /** The tag's name, from the tag step (its trigger: a renamed tag replaces the step). */
  public readonly tagName: pulumi.Output<string>;
  /** The kernel options the tag step sets (its environment). */
  public readonly kernelOptions: pulumi.Output<string>;
  public readonly tagCommand: CommandResource;
  /** Absent when MAAS selects the machines by the tag's definition. */
  public readonly machinesCommand?: CommandResource;

  constructor(name: string, args: MaasPciTagArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pci-passthrough:maas:PciTag", name, {}, opts);
    const access = { profile: args.profile, ...(args.login ? { url: args.login.url, apiKey: args.login.apiKey } : {}) };
    const runner = makeRunner(args.runner, args.login ? { "maas.apiKey": args.login.apiKey } : {});
    const input = tagInput(args);
    const tagStep = maasTagCommand(access, input, args.kernelOptions, args.resync);
    const machinesStep = maasMachinesCommand(access, input, args.resync);
    // The tag's claim names the stack, so that another stack never takes the tag over (render/steps/maas-claim.ts).
    const stack = `${pulumi.getProject()}/${pulumi.getStack()}`;
    this.tagCommand = runner.run(`${name}-${tagStep.id}`, tagStep, { parent: this }, { [STACK_ENV]: stack });
    if (machinesStep) {
      // The tag step's ID changes when it is replaced (deleted and created again, in either order): the
      // machines are then tagged again in place.
      this.machinesCommand = runner.run(
        `${name}-${machinesStep.id}`,
        machinesStep,
        { parent: this, dependsOn: [this.tagCommand] },
        { PCIPT_TAG_STEP: this.tagCommand.id },
      );
    }
    this.tagName = this.tagCommand.triggers.apply((t) => String((t ?? [])[0]));
    this.kernelOptions = this.tagCommand.environment.apply((env) => env?.PCIPT_KERNEL_OPTS ?? "");
    this.registerOutputs({ tagName: this.tagName, kernelOptions: this.kernelOptions });
  }
}
