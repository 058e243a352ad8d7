// Optional smoke test: servers with and without a GPU flavor (runbook: "Boot an instance ..."), and a check on
// each kind of GPU host that vfio-pci holds its devices and their IOMMU groups' configured functions
// (docs/domain.md, "The kernel: IOMMU groups, vfio-pci and companions").
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import type { DeviceConfig, JujuConfig, RunnerConfig } from "../config/types";
import { verifyBindingCommand } from "../render/steps/juju";
import { makeRunner, type CommandResource } from "./step-runner";

/** One kind of GPU host whose binding is checked: the application its hosts run, and its devices. */
export interface BindingCheck {
  /** The nova-compute application whose units are the hosts (`juju exec --application`). */
  readonly application: string;
  /** The host group's name: the check is `verify-NAME`; without one (a site with one kind of host) it is `verify`. */
  readonly name?: string;
  /** The devices the hosts pass through: their addresses and vendor:product ids, and their companions'. */
  readonly devices: readonly DeviceConfig[];
}

export interface SmokeTestArgs {
  /** Glance image name or ID the servers boot. */
  image: string;
  /** Network name or ID for the servers' NIC. */
  network: string;
  /** Nova key pair for the servers. Default: none. */
  keyPair?: string;
  /** The servers, each on a flavor by name. */
  servers: ReadonlyArray<{ readonly name: string; readonly flavor: string }>;
  /** This stack's flavors by name (GpuFlavors.flavors): a server on one of them waits for it; a server whose
   * flavor is not here uses an existing flavor of that name. Default: none. */
  flavors?: Record<string, openstack.compute.Flavor>;
  /** The Juju model the GPU hosts are in: its name, controller and the Juju CLI's version (`juju exec` in 3,
   * `juju run` in 2.9; default "3"). */
  model: { readonly name: string; readonly controller?: string; readonly jujuVersion?: JujuConfig["version"] };
  /** One binding check per kind of GPU host, run after the servers boot. */
  bindingChecks: readonly BindingCheck[];
  /** Where the juju commands run: the jump host of `pci-passthrough:runner`, over SSH. Default: here. */
  runner?: RunnerConfig;
  /** Any new value re-runs the checks in place. Default: none. */
  resync?: string;
}

export class SmokeTest extends pulumi.ComponentResource {
  public readonly serverIds: pulumi.Output<Record<string, string>>;
  /** What `lspci -nnk` said on the GPU hosts, with a vfio-pci count; by application with several checks. */
  public readonly verification: pulumi.Output<string | Record<string, string>>;
  public readonly verifyCommands: CommandResource[];

  constructor(name: string, args: SmokeTestArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pci-passthrough:openstack:SmokeTest", name, {}, opts);
    const { image, network, keyPair } = args;
    const flavors = args.flavors ?? {};
    const servers = args.servers.map((s) => {
      const ours = flavors[s.flavor];
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
    const model = {
      model: args.model.name,
      ...(args.model.controller !== undefined ? { controller: args.model.controller } : {}),
      version: args.model.jujuVersion ?? "3",
    };
    const runner = makeRunner(args.runner);
    const checks = args.bindingChecks.map((c) => verifyBindingCommand(model, { ...c, devices: [...c.devices] }, args.resync));
    this.verifyCommands = checks.map((spec) => runner.run(`${name}-${spec.id}`, spec, { parent: this, dependsOn: servers }));
    this.serverIds = pulumi.all(Object.fromEntries(servers.map((s, i) => [args.servers[i]!.name, s.id])));
    this.verification =
      this.verifyCommands.length === 1
        ? this.verifyCommands[0]!.stdout
        : pulumi.all(Object.fromEntries(this.verifyCommands.map((c, i) => [args.bindingChecks[i]!.application, c.stdout])));
    this.registerOutputs({ serverIds: this.serverIds, verification: this.verification });
  }
}
