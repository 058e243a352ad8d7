// `npm run verify` against the fakes: in sync after the program ran (exit 0); a tag deleted by hand, an
// option reset, the userdata edited, machines untagged, a flavor's extra spec removed each reported with
// what differs (exit 1); the repair (resync through the program's own steps, in place) brings it back to
// exit 0; unreachable CLIs exit 3; a broken config exits 2.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { requireSiteConfig } from "../../config/parse";
import { renderSite } from "../../render/site";
import { toStackFile } from "../../config/stack";
import { fakeSeeds } from "../../tools/lab/commands";
import { compareFlavor, flavorProperties } from "../../tools/lib/openstack";
import { parseReads } from "../../tools/verify/compare";
import { FAKES, cloneWorld, fakeState, openstackBin, seededMachines, setFakeState, world, type World } from "../fakes-world";
import { ROOT, STACKS, editStack } from "../helpers";
import { EMPTY_STACK, commandResources, recordProgram, up, type StackState } from "../pulumi-emulator";

/** `npm run verify -- <stack>` for a raw config, in a world (fakes on PATH, the openstack double first). */
function verify(w: World, raw: Record<string, unknown>, extraArgs: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const file = path.join(w.dir, "Pulumi.site.yaml");
  writeFileSync(file, toStackFile(raw));
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "tools", "verify", "main.ts"), "site", "--stack-file", file, ...extraArgs], {
    env: w.env,
    encoding: "utf8",
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The flavors as the openstack provider leaves them (it has its own read; no step of ours). */
function createFlavors(w: World, raw: Record<string, unknown>): void {
  for (const f of renderSite(requireSiteConfig(raw)).flavors) {
    const os = (...args: string[]) => assert.equal(spawnSync("openstack", args, { env: w.env }).status, 0, args.join(" "));
    os("flavor", "create", "--ram", String(f.ram), "--vcpus", String(f.vcpus), "--disk", String(f.disk), "--public", f.name);
    os("flavor", "set", ...Object.entries(f.extraSpecs).flatMap(([k, v]) => ["--property", `${k}=${v}`]), f.name);
  }
}

/** The charm-config file the program's step hands to `juju config --file`, in the world's dir. */
function writeCharmConfig(w: World, site: ReturnType<typeof requireSiteConfig>): string {
  const file = path.join(w.dir, "charm-config.yaml");
  writeFileSync(file, renderSite(site).charmConfigYaml);
  return file;
}

const sh = (w: World, cmd: string, ...args: string[]) => assert.equal(spawnSync(cmd, args, { env: w.env }).status, 0, `${cmd} ${args.join(" ")}`);

for (const stack of STACKS) {
  describe(`${stack}: verify`, () => {
    const raw = editStack(stack, () => {});
    const site = requireSiteConfig(raw);
    const program = commandResources(recordProgram(raw, stack));
    let deployed: { w: World; state: StackState } | undefined;
    const start = () => {
      if (!deployed) {
        // One more machine than the site uses, in MAAS's default pool and zone, with a NIC no group has: for
        // tagging by hand.
        const seeds = fakeSeeds(site);
        const w = world({ ...seeds, FAKE_MAAS_MACHINES: `${seeds.FAKE_MAAS_MACHINES},spare1`, FAKE_MAAS_DEVICES: `${seeds.FAKE_MAAS_DEVICES} spare1=8086:1521`.trim() }, [openstackBin()]);
        deployed = { w, state: up(w, EMPTY_STACK, program).state };
        createFlavors(w, raw);
      }
      return { w: cloneWorld(deployed.w), state: deployed.state };
    };

    test("in sync after the program ran: exit 0, every object named", () => {
      const { w } = start();
      const r = verify(w, raw);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      const objects = [
        ...site.groups.flatMap((g) => [`MAAS tag ${g.maas.tag}`, `MAAS tag ${g.maas.tag} machines`, `${g.application} options`]),
        `Juju model ${site.juju.model} cloudinit-userdata`,
        "nova-cloud-controller options",
      ];
      for (const object of objects) {
        assert.match(r.stdout, new RegExp(`^in sync +${object.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m"));
      }
      for (const f of site.flavors) assert.match(r.stdout, new RegExp(`^in sync +flavor ${f.name.replace(".", "\\.")}$`, "m"));
      assert.match(r.stdout, /objects in sync: nothing to do\n$/);
    });

    test("drift made by hand is reported object by object (exit 1), and resync repairs it in place (exit 0)", () => {
      const { w, state } = start();
      const ref = site.juju.controller ? `${site.juju.controller}:${site.juju.model}` : site.juju.model;
      const [machine] = seededMachines(site, site.groups[0]!);
      sh(w, "maas", site.maas.profile, "tag", "update", site.groups[0]!.maas.tag, "kernel_opts=quiet");
      sh(w, "maas", site.maas.profile, "tag", "update-nodes", site.groups[0]!.maas.tag, `remove=${machine}`);
      // The first group's application (the mixed stack has no nova-compute of its own).
      const app = site.groups[0]!.application;
      sh(w, "juju", "config", "-m", ref, app, "--reset", "pci-passthrough-whitelist");
      sh(w, "juju", "config", "-m", ref, "nova-cloud-controller", "console-access-protocol=vnc");
      // Someone changes the first postruncmd entry by hand.
      const userdata = renderSite(site).userdata;
      const edited = userdata.replace(/^(postruncmd:\n {2}- )(.*)$/m, "$1echo edited by hand");
      assert.notEqual(edited, userdata);
      const was = /^postruncmd:\n {2}- (.*)$/m.exec(userdata)![1]!;
      sh(w, "juju", "model-config", "-m", ref, `cloudinit-userdata=${edited}`);
      const flavor = site.flavors[0]!;
      sh(w, "openstack", "flavor", "unset", "--property", "pci_passthrough:alias", flavor.name);
      const r = verify(w, raw);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      const a = renderSite(site);
      const lines = [
        `DRIFT       MAAS tag ${site.groups[0]!.maas.tag}`,
        `              kernel_opts is "quiet", want ${JSON.stringify(a.groups[0]!.kernelOptions)}`,
        `DRIFT       MAAS tag ${site.groups[0]!.maas.tag} machines`,
        `              not tagged: ${machine}`,
        `DRIFT       Juju model ${site.juju.model} cloudinit-userdata`,
        "              differs from the render:",
        `DRIFT       nova-cloud-controller options`,
        `              console-access-protocol is "vnc", want ${JSON.stringify(site.openstack.consoleAccessProtocol)}`,
        `DRIFT       ${app} options`,
        `              pci-passthrough-whitelist is unset, want ${JSON.stringify(a.charmOptions[app]!["pci-passthrough-whitelist"])}`,
        `DRIFT       flavor ${flavor.name}`,
        `              extra spec pci_passthrough:alias is missing, want ${JSON.stringify(a.flavors[0]!.extraSpecs["pci_passthrough:alias"])}`,
      ];
      for (const l of lines) assert.ok(r.stdout.includes(`${l}\n`), `missing line:\n${l}\nin:\n${r.stdout}`);
      assert.match(r.stdout, /^ {14}--- rendered\n {14}\+\+\+ live\n/m, "a unified diff");
      assert.ok(r.stdout.includes(`\n              -  - ${was}\n`), "the userdata diff shows the line that changed");
      assert.ok(r.stdout.includes("\n              +  - echo edited by hand\n"), r.stdout);
      assert.match(r.stdout, /pulumi config set pci-passthrough:resync/);

      // The repair: a new resync value re-runs every step in place; the flavor comes back through
      // `pulumi refresh && pulumi up` (the openstack provider reads and sets its extra specs).
      const resynced = commandResources(recordProgram({ ...raw, resync: "repair-1" }, stack));
      const { ops } = up(w, state, resynced);
      assert.ok(ops.every((o) => o.startsWith("update ")), ops.join(", "));
      sh(w, "openstack", "flavor", "set", "--property", `pci_passthrough:alias=${a.flavors[0]!.extraSpecs["pci_passthrough:alias"]}`, flavor.name);
      const again = verify(w, raw);
      assert.equal(again.status, 0, again.stdout + again.stderr);
    });

    test("a deleted tag and a missing model are drift, not errors", () => {
      const { w } = start();
      const tag = site.groups[0]!.maas.tag;
      sh(w, "maas", site.maas.profile, "tag", "delete", tag);
      sh(w, "juju", "destroy-model", site.juju.version === "2.9" ? "-y" : "--no-prompt", site.juju.model);
      const r = verify(w, raw, ["--no-openstack"]);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.ok(r.stdout.includes(`DRIFT       MAAS tag ${tag}\n              missing\n`), r.stdout);
      if (site.groups[0]!.maas.definition === undefined) {
        assert.ok(r.stdout.includes(`DRIFT       MAAS tag ${tag} machines\n              the tag is missing, so no machine carries it\n`), r.stdout);
      }
      const model = `DRIFT       Juju model ${site.juju.model} cloudinit-userdata\n              the model is missing${site.juju.existingModel ? " (juju.existingModel is true: the program does not create it)" : ""}\n`;
      assert.ok(r.stdout.includes(model), r.stdout);
      for (const app of Object.keys(renderSite(site).charmOptions)) {
        assert.ok(r.stdout.includes(`DRIFT       ${app} options\n              the model is missing: deploy OpenStack in it first (see bundle-overlay.yaml)\n`), r.stdout);
      }
      assert.doesNotMatch(r.stdout, /UNREACHABLE/);
      // Neither can a resync repair the applications: the summary says so instead of promising it.
      assert.match(r.stdout, /objects in sync: drift: .*options first need what is said above \(a resync cannot repair them\)/);
    });

    test("a machine tagged that the selection does not choose is drift, naming it", () => {
      const { w, state } = start();
      const g = site.groups[0]!;
      // A machine with no device of the group and, with selectByDevice, another team's machine with the group's
      // device, outside the pool or zone: neither is the group's.
      const strays = ["spare1", ...(g.maas.selectByDevice ? [`${g.name === undefined ? "gpu" : g.name.replace(/[^a-z0-9]/g, "")}elsewhere`] : [])].sort();
      sh(w, "maas", site.maas.profile, "tag", "update-nodes", g.maas.tag, ...strays.map((s) => `add=${s}`));
      const r = verify(w, raw, ["--no-openstack"]);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.ok(r.stdout.includes(`DRIFT       MAAS tag ${g.maas.tag} machines\n              tagged but not selected: ${strays.join(" ")}\n`), r.stdout);
      // The repair, in place, takes them off again.
      up(w, state, commandResources(recordProgram({ ...raw, resync: "strays" }, stack)));
      assert.ok(!strays.some((s) => fakeState(w, "maas").tags[g.maas.tag].machines.includes(s)));
      assert.equal(verify(w, raw, ["--no-openstack"]).status, 0);
    });

    test("an option the application's charm does not have is not \"unset\": juju refuses it, and no resync is suggested for it", () => {
      const { w } = start();
      const app = site.groups[0]!.application;
      const state = fakeState(w, "juju");
      // The application runs an older revision of the charm, without pci-passthrough-whitelist.
      const options = JSON.parse(readFileSync(path.join(FAKES, "charm-options.json"), "utf8")).charms["nova-compute"];
      delete options["pci-passthrough-whitelist"];
      state.charm_revisions = { "nova-compute-r1": options };
      state.models[site.juju.model].charms[app] = "nova-compute-r1";
      delete state.models[site.juju.model].applications[app]["pci-passthrough-whitelist"];
      setFakeState(w, "juju", state);
      const r = verify(w, raw, ["--no-openstack"]);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.ok(
        r.stdout.includes(
          `DRIFT       ${app} options\n              pci-passthrough-whitelist is not an option of charm nova-compute-r1 (the revision ${app} runs): juju refuses it; refresh ${app} to a charm revision that has it\n`,
        ),
        r.stdout,
      );
      assert.doesNotMatch(r.stdout, /pci-passthrough-whitelist is unset/);
      assert.match(r.stdout, new RegExp(`drift: ${app} options first needs what is said above \\(a resync cannot repair it\\)`));
      // Juju says the same to the program's own step: a resync fails there, it cannot set what the charm lacks.
      const step = spawnSync("juju", ["config", "-m", site.juju.controller ? `${site.juju.controller}:${site.juju.model}` : site.juju.model, app, "--file", writeCharmConfig(w, site)], { env: w.env, encoding: "utf8" });
      assert.equal(step.status, 1);
      assert.equal(step.stderr, 'ERROR unknown option "pci-passthrough-whitelist"\n');
    });

    test("an application that is not deployed is drift that deploying repairs, not resync", () => {
      const { w } = start();
      const state = fakeState(w, "juju");
      delete state.models[site.juju.model].applications["nova-cloud-controller"];
      delete state.models[site.juju.model].charms["nova-cloud-controller"];
      setFakeState(w, "juju", state);
      const r = verify(w, raw, ["--no-openstack"]);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.ok(r.stdout.includes("DRIFT       nova-cloud-controller options\n              the application is not deployed: deploy it first (see bundle-overlay.yaml)\n"), r.stdout);
    });

    test("CLIs that cannot be reached: exit 3, and the objects are UNREACHABLE, not drift", () => {
      const { w } = start();
      const broken = { ...w, env: { ...w.env, PATH: "/usr/bin:/bin" } };
      const r = verify(broken, raw);
      assert.equal(r.status, 3, r.stdout + r.stderr);
      assert.match(r.stdout, /^UNREACHABLE MAAS tag /m);
      assert.match(r.stdout, /^UNREACHABLE Juju model /m);
      assert.match(r.stdout, /^UNREACHABLE flavor /m);
      assert.doesNotMatch(r.stdout, /^DRIFT/m);
    });
  });
}

test("a broken config exits 2 with its key paths, reading nothing", () => {
  const w = world();
  const r = verify(w, editStack("dev", (r) => (r.maas.tag = "bad tag")));
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^pci-passthrough:maas\.tag: "bad tag" is not a MAAS tag name/m);
  assert.equal(r.stdout, "");
});

describe("verify's parsing", () => {
  test("each section keeps its command's exit code, stdout and stderr byte for byte", () => {
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const out = ["@@pci-passthrough-read@@ a b 0", b64("line 1\n\nline 3\n"), b64(""), "@@pci-passthrough-read@@ c 2", b64("No Tag matches the given query."), b64("")].join("\n") + "\n";
    assert.deepEqual([...parseReads(out)], [
      ["a b", { rc: 0, out: "line 1\n\nline 3\n", err: "" }],
      ["c", { rc: 2, out: "No Tag matches the given query.", err: "" }],
    ]);
  });
  test("flavor properties from a mapping or from an older client's k='v' text", () => {
    assert.deepEqual(flavorProperties({ a: "1", "pci_passthrough:alias": "gpu:1" }), { a: "1", "pci_passthrough:alias": "gpu:1" });
    assert.deepEqual(flavorProperties("hw:numa_nodes='1', pci_passthrough:alias='gpu:1,nic:2'"), {
      "hw:numa_nodes": "1",
      "pci_passthrough:alias": "gpu:1,nic:2",
    });
    const f = { name: "g", ram: 1, vcpus: 1, disk: 0, extraSpecs: { "pci_passthrough:alias": "gpu:1" } };
    assert.deepEqual(compareFlavor(f, { id: "1", name: "g", ram: 2, vcpus: 1, disk: 0, properties: { x: "y" } }).details, [
      "ram is 2, want 1",
      'extra spec pci_passthrough:alias is missing, want "gpu:1"',
      'extra spec x="y" is not in the render',
    ]);
  });
});
