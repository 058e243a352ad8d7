// Every maas/juju step becomes one command:local:Command, whether it runs here or on the jump host of
// `pci-passthrough:runner` (render/steps/ssh.ts renders the difference: only the environment). Components call
// run() and do not care where.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { RunnerConfig, SecretSource } from "../config/types";
import { secretsStdin, type CommandSpec } from "../render/steps/script";
import { runnerWhere, stepInputs } from "../render/steps/ssh";

export type CommandResource = command.local.Command;

export interface Runner {
  /** Where the commands run, for messages: "local" or "user@host:port". */
  readonly where: string;
  /**
   * One command resource for a rendered step. `extraEnvironment` adds values known only at deployment
   * (e.g. another step's resource ID, so that its replacement re-runs this step).
   */
  run(
    name: string,
    spec: CommandSpec,
    opts: pulumi.CustomResourceOptions,
    extraEnvironment?: Record<string, pulumi.Input<string>>,
  ): CommandResource;
}

/**
 * Stacks made before every step was a local command ran their steps over SSH as command:remote:Command.
 * The alias makes the engine take such a resource as this one (an in-place update) instead of creating
 * this one and deleting the old one, whose delete would run the old program's script.
 */
const FORMER_TYPES: pulumi.Alias[] = [{ type: "command:remote:Command" }];

/**
 * Where the steps run: on the jump host of `runner` over SSH (its private key, when given, on the resource's
 * standard input), or here without one. `secrets` holds the values of the other secret keys the steps may
 * ask for (the MAAS API key): each travels on standard input only.
 */
export function makeRunner(runner: RunnerConfig | undefined, secrets: Partial<Record<SecretSource, string>> = {}): Runner {
  const known: Partial<Record<SecretSource, string>> = { ...secrets, "runner.privateKey": runner?.privateKey };
  return {
    where: runnerWhere(runner),
    run(name, spec, opts, extraEnvironment = {}) {
      // One environment, rendered once: over SSH the wrapper forwards every variable of it.
      const inputs = stepInputs(spec, runner, extraEnvironment);
      const stdin: Record<string, string> = {};
      for (const [env, source] of Object.entries(inputs.secrets)) {
        const value = known[source];
        if (value === undefined) throw new Error(`${source} is needed by step "${spec.step}" but not set`);
        stdin[env] = value;
      }
      return new command.local.Command(
        name,
        {
          create: inputs.create,
          update: inputs.update,
          delete: inputs.delete,
          environment: inputs.environment,
          // Secrets travel on standard input only: the environment stays readable in previews, and nothing a
          // step prints carries a secret, so its messages ("created", "kept", "deleted") are shown.
          stdin: Object.keys(stdin).length > 0 ? pulumi.secret(secretsStdin(stdin)) : undefined,
          interpreter: ["/bin/sh", "-c"],
          triggers: inputs.triggers ? [...inputs.triggers] : undefined,
        },
        {
          ...opts,
          aliases: FORMER_TYPES,
          retainOnDelete: spec.retainOnDelete ?? opts.retainOnDelete,
          protect: spec.protect ?? opts.protect,
        },
      );
    },
  };
}
