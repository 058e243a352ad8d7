// The embedding example (docs/examples/embed/index.ts): a site in a larger Pulumi program, importing the package
// by its name. It compiles, and under Pulumi's mocks it registers the site's components and the program's own
// server, which waits for the site's flavors and boots on one of them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { ROOT } from "../helpers";
import { recordProgram } from "../pulumi-emulator";

const EXAMPLE = path.join(ROOT, "docs", "examples", "embed");

test("the embedding example compiles against the package's entry point (tsc)", () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "--noEmit", "-p", EXAMPLE], { cwd: ROOT, encoding: "utf8" });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
});

test("the embedding example previews under mocks: the site's components, and the program's server after its flavors", () => {
  const run = recordProgram({}, "embed", path.join(EXAMPLE, "index.ts"));
  const byName = new Map(run.resources.map((r) => [r.name, r]));
  const site = byName.get("ml");
  assert.equal(site?.type, "pci-passthrough:site:PciPassthrough");
  for (const [name, type] of [
    ["ml-maas", "pci-passthrough:maas:PciTag"],
    ["ml-juju", "pci-passthrough:juju:Model"],
    ["ml-charms", "pci-passthrough:juju:NovaCharmConfig"],
    ["ml-flavors", "pci-passthrough:openstack:GpuFlavors"],
    ["ml-flavors-g1.a100", "openstack:compute/flavor:Flavor"],
  ] as const) {
    assert.equal(byName.get(name)?.type, type, name);
  }
  const trainer = byName.get("ml-trainer");
  assert.equal(trainer?.type, "openstack:compute/instance:Instance");
  assert.equal(trainer.parent, "pci-passthrough-embed", "the program's own resource, not the site's");
  assert.deepEqual(trainer.dependsOn, ["ml-flavors"], "it waits for the site's flavors");
  assert.equal(trainer.inputs.flavorId, "ml-flavors-g1.a100-id", "and boots on the site's GPU flavor");
  assert.deepEqual(run.outputs, { flavorIds: { "g1.a100": "ml-flavors-g1.a100-id" }, gpuTag: "ml-gpu", trainerId: "ml-trainer-id" });
});
