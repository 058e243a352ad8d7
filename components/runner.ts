// Where commands run: locally (command.local.Command) or on a jump host over SSH
// (command.remote.Command) when the stack gives `pci-passthrough:runner`. Components call run() and do
// not care which.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { RunnerConfig } from "./config";
import type { CommandSpec } from "./render/commands";
import { shellCommand } from "./render/shell";

/** The one resource type a command step becomes, whichever runner. */
export type CommandResource = command.local.Command | command.remote.Command;

export interface Runner {
  /** Where the commands run, for messages: "local" or "user@host:port". */
  readonly where: string;
  /**
   * One command resource for a rendered step. `secrets` are the values of spec.secretEnvironment,
   * already wrapped with pulumi.secret by the caller.
   */
  run(
    name: string,
    spec: CommandSpec,
    secrets: Readonly<Record<string, pulumi.Input<string>>>,
    opts: pulumi.CustomResourceOptions,
  ): CommandResource;
}

/** The resource options every command step gets from its spec. */
function stepOptions(spec: CommandSpec, opts: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions {
  return {
    ...opts,
    retainOnDelete: spec.retainOnDelete ?? opts.retainOnDelete,
    // stdout/stderr live in state and show in diffs even when inputs are secret (DOMAIN.md).
    additionalSecretOutputs: spec.quiet ? ["stdout", "stderr"] : opts.additionalSecretOutputs,
  };
}

function environment(spec: CommandSpec, secrets: Readonly<Record<string, pulumi.Input<string>>>) {
  for (const name of Object.keys(spec.secretEnvironment)) {
    if (!(name in secrets)) throw new Error(`step "${spec.step}" needs the secret ${name}`);
  }
  return { ...spec.environment, ...secrets };
}

/** The local runner: scripts run with /bin/sh -c on the machine running `pulumi up`. */
function localRunner(): Runner {
  return {
    where: "local",
    run(name, spec, secrets, opts) {
      return new command.local.Command(
        name,
        {
          create: spec.create,
          update: spec.update,
          delete: spec.delete,
          environment: environment(spec, secrets),
          interpreter: ["/bin/sh", "-c"],
          triggers: spec.triggers ? [...spec.triggers] : undefined,
          logging: spec.quiet ? "none" : undefined,
        },
        stepOptions(spec, opts),
      );
    },
  };
}

/** The SSH runner. The script runs under `sh -c` whatever the login shell; its environment is sent as
 * SSH environment variables, so the jump host's sshd must accept them (`AcceptEnv PCIPT_*`). */
function remoteRunner(config: RunnerConfig): Runner {
  const connection = {
    host: config.host,
    user: config.user,
    port: config.port,
    // A secret even when the stack holds it in plain text.
    privateKey: pulumi.secret(config.privateKey),
  };
  const sh = (script: string | undefined) => (script === undefined ? undefined : shellCommand(["sh", "-c", script]));
  return {
    where: `${config.user}@${config.host}:${config.port}`,
    run(name, spec, secrets, opts) {
      return new command.remote.Command(
        name,
        {
          connection,
          create: sh(spec.create),
          update: sh(spec.update),
          delete: sh(spec.delete),
          environment: environment(spec, secrets),
          triggers: spec.triggers ? [...spec.triggers] : undefined,
          logging: spec.quiet ? "none" : undefined,
        },
        stepOptions(spec, opts),
      );
    },
  };
}

/** One factory decides where commands run. */
export function makeRunner(config: RunnerConfig | undefined): Runner {
  return config ? remoteRunner(config) : localRunner();
}
