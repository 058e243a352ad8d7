// `npm run import-flavors`: the flavors commands.sh made, under the program. Against the openstack double
// here (test/lab/apply.test.ts does the same against a real Nova): the `pulumi import --file` document names
// each flavor as the program registers it (type, name, parent), by the ID Nova has, with the program's
// components; a flavor that is not as the stack declares it is refused; one Nova lacks is left to `pulumi up`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { requireSiteConfig } from "../../config/parse";
import { toStackFile } from "../../config/stack";
import { renderSite } from "../../render/site";
import { fakeState, openstackBin, world, type World } from "../fakes-world";
import { ROOT, editStack } from "../helpers";
import { recordProgram } from "../pulumi-emulator";

function importFlavors(w: World, raw: Record<string, unknown>, stack: string) {
  const file = path.join(w.dir, `Pulumi.${stack}.yaml`);
  writeFileSync(file, toStackFile(raw));
  return spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "tools", "import-flavors", "main.ts"), stack, "--stack-file", file], { env: w.env, encoding: "utf8" });
}

/** As commands.sh leaves them: each flavor created, then its extra specs set. */
function createFlavors(w: World, raw: Record<string, unknown>, only?: (name: string) => boolean): void {
  for (const f of renderSite(requireSiteConfig(raw)).flavors.filter((x) => only?.(x.name) ?? true)) {
    const os = (...args: string[]) => assert.equal(spawnSync("openstack", args, { env: w.env }).status, 0, args.join(" "));
    os("flavor", "create", "--ram", String(f.ram), "--vcpus", String(f.vcpus), "--disk", String(f.disk), "--public", f.name);
    os("flavor", "set", ...Object.entries(f.extraSpecs).flatMap(([k, v]) => ["--property", `${k}=${v}`]), f.name);
  }
}

test("the import document names every flavor Nova has as the program registers it, by Nova's ID, under its components", () => {
  const raw = editStack("mixed", () => {});
  const w = world({}, [openstackBin()]);
  // One flavor is not in Nova yet: `pulumi up` creates it.
  createFlavors(w, raw, (name) => name !== "n1.cx6");
  const r = importFlavors(w, raw, "mixed");
  assert.equal(r.status, 0, r.stderr);
  const file = JSON.parse(r.stdout) as { nameTable: Record<string, string>; resources: Array<Record<string, unknown>> };
  const program = recordProgram(raw, "mixed").resources;
  const registered = (name: string) => program.find((x) => x.name === name) ?? assert.fail(`the program registers no ${name}`);
  const nova = fakeState(w, "openstack").flavors as Record<string, { id: string }>;
  assert.deepEqual(file.nameTable, {});
  assert.deepEqual(file.resources, [
    { type: "pci-passthrough:site:PciPassthrough", name: "mixed", component: true },
    { type: "pci-passthrough:openstack:GpuFlavors", name: "mixed-flavors", component: true, parent: "mixed" },
    ...["g1.a100", "g2.a100", "g1.l40s"].map((f) => ({ type: "openstack:compute/flavor:Flavor", name: `mixed-flavors-${f}`, id: nova[f]!.id, parent: "mixed-flavors", version: "3.15.2" })),
  ]);
  for (const x of file.resources) {
    const p = registered(String(x.name));
    assert.equal(p.type, x.type, `${x.name}: the type the program registers`);
    assert.equal(p.parent, x.parent ?? "pci-passthrough-mixed", `${x.name}: the parent the program gives it`);
  }
  assert.match(r.stderr, /^import-flavors: Nova has no flavor n1\.cx6: `pulumi up` creates it$/m);
  assert.match(r.stderr, /pulumi import --file import\.json --protect=false --generate-code=false --yes/);
});

test("a flavor Nova has otherwise than the stack declares is refused (exit 1), nothing written; no flavor at all, nothing to do", () => {
  const raw = editStack("dev", () => {});
  const w = world({}, [openstackBin()]);
  const none = importFlavors(w, raw, "dev");
  assert.equal(none.status, 0, none.stderr);
  assert.equal(none.stdout, "");
  assert.match(none.stderr, /import-flavors: no flavor to import\n$/);
  createFlavors(w, raw);
  assert.equal(spawnSync("openstack", ["flavor", "set", "--property", "hw:cpu_policy=dedicated", "m1.gpu"], { env: w.env }).status, 0);
  const r = importFlavors(w, raw, "dev");
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^DRIFT {7}flavor m1\.gpu\n {14}extra spec hw:cpu_policy="dedicated" is not in the render\n/);
  assert.match(r.stderr, /Pulumi would refuse to import them as they are/);
});

test("without an openstack client nothing is read or written (exit 3); a broken config exits 2", () => {
  const raw = editStack("dev", () => {});
  const w = world();
  const r = importFlavors({ ...w, env: { ...w.env, PATH: "/usr/bin:/bin" } }, raw, "dev");
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.stdout, "");
  const bad = importFlavors(w, editStack("dev", (x) => (x.maas.tag = "bad tag")), "dev");
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^pci-passthrough:maas\.tag: "bad tag" is not a MAAS tag name/m);
});
