// Optional smoke test: servers with and without a GPU flavor (runbook: "Boot an instance ..."), and
// a check that the GPU hosts have vfio-pci bound.
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import type { SmokeTestConfig } from "../config/types";
import type { CommandSpec } from "../render/steps/script";
import type { Runner, CommandResource } from "./runner";

export interface SmokeTestArgs {
  /** Where the commands run: locally, or on the jump host of `pci-passthrough:runner` (runner.ts). */
  runner: Runner;
  /** Image, network, key pair and servers from config. */
  smokeTest: SmokeTestConfig;
  /** This stack's flavors by name; a server whose flavor is not here uses an existing flavor by name. */
  flavors: Record<string, openstack.compute.Flavor>;
  /** The rendered `juju exec ... lspci -nnk` check of each host group's application. */
  verify: Array<{ application: string; spec: CommandSpec }>;
}

export class SmokeTest extends pulumi.ComponentResource {
  public readonly serverIds: pulumi.Output<Record<string, string>>;
  /** What `lspci -nnk` said on the GPU hosts, with a vfio-pci count; by application with several groups. */
  public readonly verification: pulumi.Output<string | Record<string, string>>;
  public readonly verifyCommands: CommandResource[];

  constructor(name: string, args: SmokeTestArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pci-passthrough:openstack:SmokeTest", name, {}, opts);
    const { image, network, keyPair } = args.smokeTest;
    const servers = args.smokeTest.servers.map((s) => {
      const ours = args.flavors[s.flavor];
      return new openstack.compute.Instance(
        `${name}-${s.name}`,
        {
          name: s.name,
          flavorName: ours ? ours.name : s.flavor,
          imageName: image,
          keyPair,
          networks: [{ name: network }],
        },
        { parent: this, dependsOn: ours ? [ours] : [] },
      );
    });
    this.verifyCommands = args.verify.map((v) => args.runner.run(`${name}-${v.spec.id}`, v.spec, { parent: this, dependsOn: servers }));
    this.serverIds = pulumi.all(Object.fromEntries(servers.map((s, i) => [args.smokeTest.servers[i]!.name, s.id])));
    this.verification =
      this.verifyCommands.length === 1
        ? this.verifyCommands[0]!.stdout
        : pulumi.all(Object.fromEntries(this.verifyCommands.map((c, i) => [args.verify[i]!.application, c.stdout])));
    this.registerOutputs({ serverIds: this.serverIds, verification: this.verification });
  }
}
