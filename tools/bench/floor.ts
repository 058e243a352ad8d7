// The floor for the render benchmark: the least any program of this shape pays. It loads the three
// Pulumi packages the program uses, registers one resource under Pulumi's mocks, waits for it, and exits.
// Run through tsx, like `npm run render`, so both pay the same loader. `floor.ts N` registers N flavors
// instead of one: what @pulumi/pulumi itself costs per resource under mocks, for the scaling figures.
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import * as command from "@pulumi/command";

async function main(): Promise<void> {
  await pulumi.runtime.setMocks(
    {
      newResource: (args: pulumi.runtime.MockResourceArgs) => ({ id: `${args.name}-id`, state: args.inputs }),
      call: (args: pulumi.runtime.MockCallArgs) => {
        throw new Error(`unexpected provider call ${args.token}`);
      },
    },
    "pci-passthrough",
    "floor",
    true,
  );
  // Touch the command package's resource class too, so its module is loaded as the program's is.
  void command.local.Command;
  await pulumi.runtime.runInPulumiStack(async () => {
    const count = Number(process.argv[2] ?? "1");
    const flavors = Array.from({ length: count }, (_, i) => new openstack.compute.Flavor(`floor-${i}`, { ram: 1, vcpus: 1, disk: 0 }));
    await Promise.all(flavors.map((f) => new Promise<void>((resolve) => f.id.apply(() => resolve()))));
    return {};
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`floor failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
