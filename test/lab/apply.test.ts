// `npm run lab -- apply <stack>` end to end: render the example stacks, run their commands.sh with maas
// and juju as test doubles and the real openstack client against a real Nova, then read every flavor back
// through the Compute API. Its own lab (state folder and ports), so it can run next to lab.test.ts.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { spawnSync } from "node:child_process";
import { labPaths, readState, REPO } from "../../tools/lab/paths";
import { clientEnv, fakeSeeds } from "../../tools/lab/commands";
import { loadSite } from "../../tools/lab/stack";
import { labSkipReason, openstack, openstackJson, runImportFlavors, runLab, runRender } from "../../tools/lab/harness";
import { toStackFile } from "../../config/stack";
import { generateSite, sizeAt } from "../../tools/bench/site";
import { STACKS } from "../helpers";

const STATE = path.join(REPO, ".lab", "test-apply");
const PORTS = ["--keystone-port", "25000", "--nova-port", "28774"];
const skip = labSkipReason();
// `npm run render` comes with issue 6; without it there is no commands.sh to apply.
const todo = existsSync(path.join(REPO, "tools", "render", "main.ts")) ? undefined : "needs render (issue 6)";
const opts = { skip, todo, timeout: 120_000 };

/** An entry of out/<stack>/flavors.json. */
interface Flavor {
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
  extraSpecs: Record<string, string>;
}

/** What `openstack flavor show -f json` gives (python-openstackclient 6: properties as a mapping). */
interface Shown {
  id: string;
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
  properties: Record<string, string>;
}

function ok(r: { code: number; stdout: string; stderr: string }, what: string): void {
  assert.equal(r.code, 0, `${what} exited ${r.code}:\n${r.stderr}${r.stdout}`);
}

const flavorsJson = (stack: string): Flavor[] => JSON.parse(readFileSync(path.join(REPO, "out", stack, "flavors.json"), "utf8"));
const listNames = (): string[] => openstackJson<Array<{ Name: string }>>(STATE, ["flavor", "list", "--all"]).map((f) => f.Name).sort();
const show = (name: string): Shown => openstackJson<Shown>(STATE, ["flavor", "show", name]);

/** Every flavor of the stack, read back through the API, equals flavors.json; no other flavor exists. */
function assertLabHolds(expected: readonly Flavor[]): Shown[] {
  assert.deepEqual(listNames(), expected.map((f) => f.name).sort(), "the lab holds exactly the stack's flavors");
  return expected.map((f) => {
    const s = show(f.name);
    assert.deepEqual(
      { name: s.name, ram: s.ram, vcpus: s.vcpus, disk: s.disk, extraSpecs: s.properties },
      { name: f.name, ram: f.ram, vcpus: f.vcpus, disk: f.disk, extraSpecs: f.extraSpecs },
      `flavor ${f.name} as Nova has it`,
    );
    return s;
  });
}

function deleteAllFlavors(): void {
  const names = listNames();
  if (names.length > 0) ok(openstack(STATE, ["flavor", "delete", ...names]), "flavor delete");
}

before(() => {
  if (skip || todo) return;
  const r = runLab(STATE, ["up", ...PORTS]);
  ok(r, "lab up");
});

after(() => {
  if (skip) return;
  runLab(STATE, ["down"]);
  rmSync(STATE, { recursive: true, force: true });
  // The changed-RAM test rendered a variant into out/dev: leave the real render behind.
  if (!todo) runRender(["dev"]);
  rmSync(path.join(REPO, "out", BIG), { recursive: true, force: true });
});

for (const stack of STACKS) {
  test(`apply ${stack}: the lab then holds exactly the stack's flavors, and a second apply changes nothing`, opts, () => {
    ok(runRender([stack]), `npm run render -- ${stack}`);
    // A fresh Nova for each stack, so "exactly the stack's flavors" is checked, not a union.
    deleteAllFlavors();
    ok(runLab(STATE, ["apply", stack]), `lab apply ${stack}`);
    const expected = flavorsJson(stack);
    assert.ok(expected.length > 0);
    const first = assertLabHolds(expected);
    ok(runLab(STATE, ["apply", stack]), `second lab apply ${stack}`);
    const second = assertLabHolds(expected);
    assert.deepEqual(
      second.map((f) => f.id),
      first.map((f) => f.id),
      "the second apply kept the same flavors (nothing deleted and recreated)",
    );
    // Every object of the stack (each group's tag and application, the flavors in Nova) reads back in sync.
    const v = runLab(STATE, ["verify", stack]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.doesNotMatch(v.stdout, /^(DRIFT|UNREACHABLE)/m);
  });
}

test("apply of a changed flavor RAM leaves exactly one flavor of that name, with the new RAM", opts, () => {
  ok(runRender(["dev"]), "npm run render -- dev");
  deleteAllFlavors();
  ok(runLab(STATE, ["apply", "dev"]), "lab apply dev");
  const [original] = flavorsJson("dev");
  assert.ok(original !== undefined);

  // The same stack with the first flavor's RAM halved, rendered into out/dev as a user's edit would be.
  const doc = parseDocument(readFileSync(path.join(REPO, "Pulumi.dev.yaml"), "utf8"));
  const newRam = original.ram / 2;
  doc.setIn(["config", "pci-passthrough:flavors", 0, "ram"], newRam);
  mkdirSync(STATE, { recursive: true });
  const changed = path.join(STATE, "Pulumi.dev-ram.yaml");
  writeFileSync(changed, doc.toString());
  ok(runRender(["dev", "--stack-file", changed]), "render of the changed stack");
  assert.equal(flavorsJson("dev")[0]?.ram, newRam);

  ok(runLab(STATE, ["apply", "dev"]), "lab apply dev (changed RAM)");
  const named = openstackJson<Array<{ Name: string; RAM: number }>>(STATE, ["flavor", "list", "--all"]).filter((f) => f.Name === original.name);
  assert.deepEqual(named.map((f) => f.RAM), [newRam], `exactly one ${original.name}, with ${newRam} MB`);
  assertLabHolds(flavorsJson("dev"));
});

test("verify after apply: in sync (exit 0); an extra spec removed through the API is drift (exit 1); apply repairs it", opts, () => {
  ok(runRender(["dev"]), "npm run render -- dev");
  deleteAllFlavors();
  ok(runLab(STATE, ["apply", "dev"]), "lab apply dev");
  const synced = runLab(STATE, ["verify", "dev"]);
  assert.equal(synced.code, 0, synced.stdout + synced.stderr);
  const [flavor] = flavorsJson("dev");
  assert.ok(flavor !== undefined);
  assert.match(synced.stdout, new RegExp(`^in sync +flavor ${flavor.name.replace(".", "\\.")}$`, "m"));

  ok(openstack(STATE, ["flavor", "unset", "--property", "pci_passthrough:alias", flavor.name]), "flavor unset");
  const drift = runLab(STATE, ["verify", "dev"]);
  assert.equal(drift.code, 1, drift.stdout + drift.stderr);
  assert.ok(
    drift.stdout.includes(`DRIFT       flavor ${flavor.name}\n              extra spec pci_passthrough:alias is missing, want "${flavor.extraSpecs["pci_passthrough:alias"]}"\n`),
    drift.stdout,
  );
  ok(runLab(STATE, ["apply", "dev"]), "lab apply dev again");
  const repaired = runLab(STATE, ["verify", "dev"]);
  assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
});

test("flavors made by commands.sh move under the program: import-flavors writes their real Nova IDs for `pulumi import --file`", opts, () => {
  ok(runRender(["mixed"]), "npm run render -- mixed");
  deleteAllFlavors();
  ok(runLab(STATE, ["apply", "mixed"]), "lab apply mixed");
  const expected = flavorsJson("mixed");
  const ids = new Map(assertLabHolds(expected).map((s) => [s.name, s.id]));
  const out = path.join(STATE, "import.json");
  const r = runImportFlavors(STATE, ["mixed", "--out", out]);
  ok(r, "import-flavors mixed");
  const file = JSON.parse(readFileSync(path.join(out), "utf8")) as { resources: Array<{ type: string; name: string; id?: string; parent?: string; component?: boolean }> };
  const flavors = file.resources.filter((x) => x.type === "openstack:compute/flavor:Flavor");
  assert.deepEqual(
    flavors.map((x) => [x.name, x.id, x.parent]),
    expected.map((f) => [`mixed-flavors-${f.name}`, ids.get(f.name), "mixed-flavors"]),
    "each flavor by the ID Nova gave it, under the program's GpuFlavors component",
  );
  assert.deepEqual(
    file.resources.filter((x) => x.component).map((x) => [x.type, x.name, x.parent ?? null]),
    [
      ["pci-passthrough:site:PciPassthrough", "mixed", null],
      ["pci-passthrough:openstack:GpuFlavors", "mixed-flavors", "mixed"],
    ],
  );
  // A flavor changed through the API is refused: Pulumi would not import it as the stack declares it.
  ok(openstack(STATE, ["flavor", "set", "--property", "hw:numa_nodes=1", expected[0]!.name]), "flavor set");
  const refused = runImportFlavors(STATE, ["mixed"]);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, new RegExp(`DRIFT {7}flavor ${expected[0]!.name.replace(".", "\\.")}\n {14}extra spec hw:numa_nodes="1" is not in the render\n`));
  assert.equal(refused.stdout, "");
});

test("a failing OpenStack call stops commands.sh (exit 1) in one line, and the password is never printed", opts, () => {
  ok(runRender(["dev"]), "npm run render -- dev");
  const p = labPaths(STATE);
  const state = readState(p);
  assert.ok(state !== undefined);
  const password = "not-the-password-4711";
  mkdirSync(path.join(STATE, "fakes", "wrong-password"), { recursive: true });
  const env = clientEnv(p, state, {
    ...fakeSeeds(loadSite("dev")),
    PATH: `${path.join(REPO, "test", "fakes")}${path.delimiter}${process.env.PATH ?? ""}`,
    FAKE_STATE_DIR: path.join(STATE, "fakes", "wrong-password"),
    SKIP_SMOKE_TEST: "1",
    OS_PASSWORD: password,
  });
  const r = spawnSync("sh", [path.join(REPO, "out", "dev", "commands.sh")], { env, encoding: "utf8" });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /^pci-passthrough: openstack: The request you have made requires authentication\. \(HTTP 401\)/m);
  assert.ok(!(r.stdout + r.stderr).includes(password));
});

/** The bench's full generated site: 200 flavors, 64 device addresses over 8 aliases, 500 machines listed. */
const BIG = "lab-test-full-site";

test("the full generated site: commands.sh applies through the lab, verify says in sync; an extra spec removed through the API is drift", { ...opts, timeout: 600_000 }, () => {
  mkdirSync(STATE, { recursive: true });
  const file = path.join(STATE, `Pulumi.${BIG}.yaml`);
  writeFileSync(file, toStackFile(generateSite(sizeAt(1))));
  ok(runRender([BIG, "--stack-file", file]), "render of the full site");
  deleteAllFlavors();
  const applied = runLab(STATE, ["apply", BIG, "--stack-file", file]);
  ok(applied, "lab apply of the full site");
  const expected = flavorsJson(BIG);
  assert.equal(expected.length, 200);
  assert.deepEqual(listNames(), expected.map((f) => f.name).sort(), "the lab holds exactly the site's flavors");
  const synced = runLab(STATE, ["verify", BIG, "--stack-file", file]);
  assert.equal(synced.code, 0, synced.stdout + synced.stderr);
  assert.match(synced.stdout, /^205 of 205 objects in sync: nothing to do$/m, "the tag, its machines, the model, two applications' options and 200 flavors");
  process.stderr.write(`full site: apply ${(applied.ms / 1000).toFixed(1)} s, verify ${(synced.ms / 1000).toFixed(1)} s\n`);

  const flavor = expected[17]!;
  ok(openstack(STATE, ["flavor", "unset", "--property", "pci_passthrough:alias", flavor.name]), "flavor unset");
  const drift = runLab(STATE, ["verify", BIG, "--stack-file", file]);
  assert.equal(drift.code, 1, drift.stdout + drift.stderr);
  assert.ok(
    drift.stdout.includes(`DRIFT       flavor ${flavor.name}\n              extra spec pci_passthrough:alias is missing, want "${flavor.extraSpecs["pci_passthrough:alias"]}"\n`),
    drift.stdout,
  );
  assert.equal(drift.stdout.match(/^DRIFT/gm)?.length, 1, "only that flavor");
  assert.match(drift.stdout, /^204 of 205 objects in sync: drift: repair it in place with /m);
});

test("apply without a rendered commands.sh says to render first and exits 2", () => {
  const r = runLab(STATE, ["apply", "no-such-stack"]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, "lab: out/no-such-stack/commands.sh does not exist: run `npm run render -- no-such-stack` first\n");
});
