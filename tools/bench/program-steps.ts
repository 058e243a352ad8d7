// `tsx tools/bench/program-steps.ts STACK-FILE`: the program's own path for a stack, without a Pulumi CLI, for
// the bench to set against commands.sh. It runs the program under mocks (as `pulumi up` runs it), then its
// command resources in registration order as the command provider runs them (`/bin/sh -c CREATE` with the
// resource's environment and stdin; pulumi-command provider/pkg/provider/local), then its flavors as the
// OpenStack provider creates them (terraform-provider-openstack openstack/resource_openstack_compute_flavor_v2.go
// Create: the flavor, then its extra specs), from one process over the Compute API, with the OS_* credentials.
// The smoke-test servers are left out (the lab cannot boot them; the bench's sites disable them).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fromStackFile } from "../../config/stack";
import { runProgram, runtimeConfig } from "../lib/mock-program";

const FLAVOR = "openstack:compute/flavor:Flavor";
const COMMAND = "command:local:Command";

// One process, each flavor as the provider creates it: POST /flavors, then POST its extra specs.
const CREATE_FLAVORS = `import json, sys
import openstack
nova = openstack.connect().compute
for f in json.load(sys.stdin):
    flavor = nova.create_flavor(name=f["name"], ram=f["ram"], vcpus=f["vcpus"], disk=f["disk"], is_public=True)
    if f["extraSpecs"]:
        nova.create_flavor_extra_specs(flavor, f["extraSpecs"])
`;

async function main(file: string): Promise<number> {
  process.setSourceMapsEnabled(false);
  const { config, secretKeys } = runtimeConfig(fromStackFile(readFileSync(file, "utf8")));
  const run = await runProgram({ config, secretKeys, stack: "bench", revealSecrets: true });
  if (run.error) throw run.error;
  for (const r of run.resources.filter((x) => x.type === COMMAND)) {
    const i = r.inputs as { create: string; environment?: Record<string, string>; stdin?: string };
    const s = spawnSync("/bin/sh", ["-c", i.create], { env: { ...process.env, ...i.environment }, input: i.stdin ?? "", encoding: "utf8" });
    if (s.status !== 0) {
      process.stderr.write(`${r.name} exited ${s.status}:\n${s.stderr}`);
      return 1;
    }
  }
  const flavors = run.resources.filter((x) => x.type === FLAVOR).map((x) => x.inputs);
  const os = spawnSync("/usr/bin/python3", ["-c", CREATE_FLAVORS], { input: JSON.stringify(flavors), encoding: "utf8" });
  if (os.status !== 0) {
    process.stderr.write(`the flavors: ${os.stderr}`);
    return 1;
  }
  return 0;
}

main(process.argv[2] ?? "").then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`program-steps: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
