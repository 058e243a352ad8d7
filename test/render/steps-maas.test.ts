// The create / update / delete scripts of the maas steps (render/steps/maas.ts), executed for real against the test
// doubles in test/fakes/: quoting, idempotency, delete, failures, and secrets kept out of sight.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { requireSiteConfig } from "../../config/parse";
import { renderSite } from "../../render/site";
import { parseTagComment } from "../../render/steps/maas-claim";
import { editStack, loadStack } from "../helpers";
import { argvLog, ok, setFakeState, world } from "../fakes-world";
import { fakeSeeds } from "../../tools/lab/commands";
import { API_KEY, maasState, run, stdoutOf } from "./steps-helpers";

test("MAAS tag: created with comment (and its claim) and kernel options; update is harmless; delete removes it", () => {
  const site = loadStack("dev");
  const a = renderSite(site);
  const w = world(fakeSeeds(site));
  const created = ok(run(w, site, a.groups[0]!.commands.tag));
  const claim = /^pci-passthrough-state: claim=([0-9a-f]{12}) adopted=no definition=none$/m.exec(created.stdout)?.[1];
  assert.ok(claim, created.stdout);
  const first = maasState(w);
  assert.deepEqual(first.tags["pci-pass"], {
    name: "pci-pass",
    comment: `PCI Passthrough kernel parameters [pci-passthrough claim ${claim}]`,
    kernel_opts: "intel_iommu=on vfio_iommu_type1.allow_unsafe_interrupts=1 modprobe.blacklist=nvidiafb,nouveau vfio-pci.ids=10de:10f0,10de:1bb0",
    definition: "",
    machines: [],
  });
  const updated = ok(run(w, site, a.groups[0]!.commands.tag, "update", stdoutOf(created)));
  assert.deepEqual(maasState(w), first);
  assert.equal(stdoutOf(updated).split("\n").pop(), `pci-passthrough-state: claim=${claim} adopted=no definition=none`);
  // Whether the tag exists is read from `tags read` (every tag), never from a failed `tag read`; the scope is
  // checked to exist before anything changes.
  assert.deepEqual(
    argvLog(w, "maas").map((argv) => argv.join(" ")),
    ["admin tags read", "admin machines read pool=openstack", "admin tags create", "admin tags read", "admin machines read pool=openstack", "admin tag update pci-pass"].map(
      (l, i) => (i === 2 ? argvLog(w, "maas")[2]!.join(" ") : i === 5 ? argvLog(w, "maas")[5]!.join(" ") : l),
    ),
  );
  assert.deepEqual(argvLog(w, "maas")[2]!.slice(0, 4), ["admin", "tags", "create", "name=pci-pass"]);
  assert.deepEqual(argvLog(w, "maas")[5]!.slice(0, 4), ["admin", "tag", "update", "pci-pass"]);
  ok(run(w, site, a.groups[0]!.commands.tag, "delete", stdoutOf(updated)));
  assert.deepEqual(maasState(w).tags, {});
  assert.match(ok(run(w, site, a.groups[0]!.commands.tag, "delete", stdoutOf(updated))).stdout, /MAAS tag pci-pass is already gone/);
});

test("MAAS tag: a delete that cannot tell the tag is its own keeps it, and says how to delete it", () => {
  const site = loadStack("dev");
  const spec = renderSite(site).groups[0]!.commands.tag;
  const w = world(fakeSeeds(site));
  const created = ok(run(w, site, spec));
  // After `pulumi refresh` the step may have lost its output, and with it its claim.
  const lost = ok(run(w, site, spec, "delete"));
  assert.match(lost.stdout, /kept MAAS tag pci-pass: this step's state has no claim \(after pulumi refresh\?\); to delete it: maas admin tag delete pci-pass/);
  // Someone edited the comment by hand, dropping the claim: a delete keeps the tag rather than guess.
  spawnSync("maas", ["admin", "tag", "update", "pci-pass", "comment=edited by hand"], { env: w.env });
  assert.match(ok(run(w, site, spec, "delete", stdoutOf(created))).stdout, /kept MAAS tag pci-pass: its comment carries no claim \(edited by hand\?\), so it may not be this step's; to delete it: maas admin tag delete pci-pass/);
  assert.ok(maasState(w).tags["pci-pass"]);
});

test("MAAS tag: an existing tag is adopted, its options updated in place, and kept when the stack goes", () => {
  const site = loadStack("dev");
  const w = world(fakeSeeds(site));
  ok(spawnSync("maas", ["admin", "tags", "create", "name=pci-pass", "comment=old", "kernel_opts=quiet", "definition=//node[@id='x']"], { env: w.env, encoding: "utf8" }) as never);
  const changed = requireSiteConfig(editStack("dev", (r) => (r.host.iommuPassthrough = true)));
  const spec = renderSite(changed).groups[0]!.commands.tag;
  const r = ok(run(w, changed, spec));
  assert.match(r.stdout, /MAAS tag pci-pass updated \(it existed before this stack\)/);
  const tag = maasState(w).tags["pci-pass"];
  assert.match(tag.kernel_opts, /^intel_iommu=on iommu=pt /);
  assert.match(tag.comment, new RegExp(`^${site.groups[0]!.maas.comment} \\[pci-passthrough claim [0-9a-f]{12} adopted\\]$`));
  assert.equal(tag.definition, "//node[@id='x']", "a definition this stack never set is left alone");
  const kept = ok(run(w, changed, spec, "delete", stdoutOf(r)));
  assert.match(kept.stdout, /kept MAAS tag pci-pass: it existed before this stack \(maas.deleteAdoptedTag is false\); this stack's claim is taken off it/);
  // Handed back as it was found: the comment without the claim, so that a later stack may adopt it.
  assert.equal(maasState(w).tags["pci-pass"].comment, site.groups[0]!.maas.comment);
  const readopted = ok(run(w, changed, spec));
  assert.match(readopted.stdout, /MAAS tag pci-pass updated \(it existed before this stack\)/);
  // With deleteAdoptedTag the operator asks for it to go anyway.
  const going = requireSiteConfig(editStack("dev", (r) => (r.maas.deleteAdoptedTag = true)));
  const again = ok(run(w, going, renderSite(going).groups[0]!.commands.tag, "update", stdoutOf(readopted)));
  ok(run(w, going, renderSite(going).groups[0]!.commands.tag, "delete", stdoutOf(again)));
  assert.deepEqual(maasState(w).tags, {});
});

test("MAAS tag: a definition this stack set is cleared when config drops it, never one it did not set", () => {
  const w = world({ FAKE_MAAS_PROFILES: "admin", FAKE_MAAS_MACHINES: "abc123" });
  const withDef = requireSiteConfig(editStack("dev", (r) => Object.assign(r.maas, { definition: "//node[@class='display']", selectByDevice: undefined, pool: undefined })));
  const created = ok(run(w, withDef, renderSite(withDef).groups[0]!.commands.tag));
  assert.equal(maasState(w).tags["pci-pass"].definition, "//node[@class='display']");
  const noDef = requireSiteConfig(editStack("dev", (r) => Object.assign(r.maas, { machines: ["abc123"], selectByDevice: undefined, pool: undefined })));
  const cleared = ok(run(w, noDef, renderSite(noDef).groups[0]!.commands.tag, "update", stdoutOf(created)));
  assert.equal(maasState(w).tags["pci-pass"].definition, "");
  // Someone sets a definition by hand: the next update leaves it.
  spawnSync("maas", ["admin", "tag", "update", "pci-pass", "definition=//node[@id='hand']"], { env: w.env });
  ok(run(w, noDef, renderSite(noDef).groups[0]!.commands.tag, "update", stdoutOf(cleared)));
  assert.equal(maasState(w).tags["pci-pass"].definition, "//node[@id='hand']");
});

test("MAAS machines: the tagged set follows config, drift included", () => {
  const site = loadStack("lab");
  const w = world({ FAKE_MAAS_PROFILES: "lab-admin", FAKE_MAAS_MACHINES: "4y3h7n 8fbxqa q7rr2m" });
  const a = renderSite(site);
  ok(run(w, site, a.groups[0]!.commands.tag));
  ok(run(w, site, a.groups[0]!.commands.machines));
  assert.deepEqual(maasState(w).tags["gpu-lab"].machines, ["4y3h7n", "8fbxqa"]);
  ok(run(w, site, a.groups[0]!.commands.machines));
  assert.deepEqual(maasState(w).tags["gpu-lab"].machines, ["4y3h7n", "8fbxqa"]);
  // Someone tags a third machine by hand; config drops one.
  spawnSync("maas", ["lab-admin", "tag", "update-nodes", "gpu-lab", "add=q7rr2m"], { env: w.env });
  const fewer = requireSiteConfig(editStack("lab", (r) => (r.maas.machines = ["8fbxqa"])));
  ok(run(w, fewer, renderSite(fewer).groups[0]!.commands.machines, "update"));
  assert.deepEqual(maasState(w).tags["gpu-lab"].machines, ["8fbxqa"]);
  // Deleting the step removes nothing: deleting the tag drops its machines, and a replaced step must not
  // untag what its replacement tagged.
  assert.equal(renderSite(fewer).groups[0]!.commands.machines?.deletes, false);
});

test("MAAS machines by device: exactly the machines of the scope that have a configured device, following changes", () => {
  const site = requireSiteConfig(editStack("lab", (r) => Object.assign(r.maas, { machines: undefined, selectByDevice: true, pool: "lab" })));
  const a = renderSite(site);
  // ee55 has the GPU too, but stands in another team's pool: MAAS would give it the tag's kernel options.
  const w = world({
    FAKE_MAAS_PROFILES: "lab-admin",
    FAKE_MAAS_MACHINES: "aa11:lab bb22:lab cc33:lab dd44:lab ee55:other-team",
    FAKE_MAAS_DEVICES: "aa11=10de:2230,10de:1aef bb22=8086:1592 cc33=1af4:1000 dd44= ee55=10de:2230",
  });
  ok(run(w, site, a.groups[0]!.commands.tag));
  ok(run(w, site, a.groups[0]!.commands.machines));
  assert.deepEqual(maasState(w).tags["gpu-lab"].machines, ["aa11", "bb22"]);
  assert.equal(a.groups[0]!.commands.machines?.step, "tag machines in pool lab with gpu-lab", "the step says where its machines come from");
  assert.deepEqual(a.groups[0]!.commands.machines?.environment.PCIPT_SELECT_DEVICES, "10de:2230 8086:1592");
  // A GPU moves from aa11 to cc33 (hardware change, recommissioned): the next run follows.
  const state = maasState(w);
  state.devices.aa11 = ["8086:1521"];
  state.devices.cc33 = ["10de:2230"];
  setFakeState(w, "maas", state);
  ok(run(w, site, a.groups[0]!.commands.machines, "update"));
  assert.deepEqual(maasState(w).tags["gpu-lab"].machines, ["bb22", "cc33"]);
  const calls = argvLog(w, "maas").filter((argv) => argv[1] === "node-devices");
  assert.deepEqual(calls[0], ["lab-admin", "node-devices", "read", "aa11", "vendor_id=10de", "product_id=2230"]);
  // MAAS loses bb22's device records (deleted, or an upgrade from before 3.0 without recommissioning):
  // without data the machine stays tagged, and the step says why.
  const lost = maasState(w);
  lost.devices.bb22 = [];
  setFakeState(w, "maas", lost);
  const kept = ok(run(w, site, a.groups[0]!.commands.machines, "update"));
  assert.deepEqual(maasState(w).tags["gpu-lab"].machines, ["bb22", "cc33"]);
  assert.match(kept.stderr, /WARNING: MAAS has no node devices for machine bb22 .*it stays tagged/);
  // Tagged by hand outside the scope: untagged, even with no device records (the scope wins over the doubt).
  const outside = maasState(w);
  outside.devices.ee55 = [];
  setFakeState(w, "maas", outside);
  spawnSync("maas", ["lab-admin", "tag", "update-nodes", "gpu-lab", "add=ee55"], { env: w.env });
  const scoped = ok(run(w, site, a.groups[0]!.commands.machines, "update"));
  assert.deepEqual(maasState(w).tags["gpu-lab"].machines, ["bb22", "cc33"]);
  assert.doesNotMatch(scoped.stderr, /ee55/);
});

test("free text reaches the CLIs verbatim and never executes", () => {
  const canary = path.join(tmpdir(), `pcipt-canary-${process.pid}`);
  const hostile = `it's "quoted" $(touch ${canary}) \`touch ${canary}\` ; touch ${canary} \\ $HOME\nsecond line & | > <`;
  const raw = editStack("dev", (r) => (r.maas.comment = hostile));
  const site = requireSiteConfig(raw);
  const a = renderSite(site);
  const w = world(fakeSeeds(site));
  const created = ok(run(w, site, a.groups[0]!.commands.tag));
  assert.equal(parseTagComment(maasState(w).tags["pci-pass"].comment).comment, hostile);
  ok(run(w, site, a.groups[0]!.commands.tag, "update", stdoutOf(created)));
  assert.equal(parseTagComment(maasState(w).tags["pci-pass"].comment).comment, hostile);
  assert.equal(existsSync(canary), false, "the comment executed");
  assert.ok(!a.groups[0]!.commands.tag.script.includes(hostile), "free text is not in the script text");
});

test("maas login: the API key goes through stdin, never argv, script text or error output", () => {
  const site = requireSiteConfig(editStack("dev", (r) => Object.assign(r.maas, { url: "http://10.0.0.2:5240/MAAS/", apiKey: API_KEY })));
  const a = renderSite(site);
  const w = world({ FAKE_MAAS_POOLS: "openstack" });
  const created = ok(run(w, site, a.groups[0]!.commands.tag));
  assert.equal(maasState(w).profiles.admin.key, API_KEY);
  // Nothing a step prints carries the key, so its messages are shown (no `logging: none`).
  assert.match(created.stdout, /^pci-passthrough: MAAS tag pci-pass created$/m);
  assert.deepEqual(argvLog(w, "maas")[0], ["login", "admin", "http://10.0.0.2:5240/MAAS/", "-"]);
  for (const spec of [a.groups[0]!.commands.tag, a.commands.model, a.commands.charmConfig]) {
    assert.ok(!spec.script.includes(API_KEY));
    assert.ok(!JSON.stringify(spec.environment).includes(API_KEY));
  }
  assert.deepEqual(a.groups[0]!.commands.tag.secrets, { PCIPT_MAAS_API_KEY: "maas.apiKey" });
  assert.ok(!readFileSync(path.join(w.dir, "maas.log"), "utf8").includes(API_KEY));
});

test("a failing CLI names the step and prints no secret", () => {
  const site = requireSiteConfig(editStack("dev", (r) => Object.assign(r.maas, { url: "http://10.0.0.2:5240/MAAS/", apiKey: API_KEY })));
  const a = renderSite(site);
  const w = world({ FAKE_MAAS_POOLS: "openstack" });
  // A key MAAS cannot read: login fails, and its error (which repeats the key) is not shown.
  const bad = { ...site, maas: { ...site.maas, apiKey: "not-a-key" } };
  const r = run(w, bad, a.groups[0]!.commands.tag);
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim(), "pci-passthrough: MAAS tag pci-pass: maas login failed (check maas.url and maas.apiKey)");
  // An unknown profile: maascli's argparse error on stderr, and the step names the call that failed.
  const unknownProfile = requireSiteConfig(editStack("dev", (r) => (r.maas.profile = "nobody")));
  const r2 = run(w, unknownProfile, renderSite(unknownProfile).groups[0]!.commands.tag);
  assert.equal(r2.status, 1);
  assert.match(r2.stderr, /invalid choice: 'nobody'/);
  assert.match(r2.stderr, /pci-passthrough: MAAS tag pci-pass: maas nobody tags read failed\n$/);
  assert.ok(!(r.stderr + r.stdout + r2.stderr + r2.stdout).includes(API_KEY));
});

test("a MAAS region that cannot be reached is never a missing tag: create, update and delete stop, nothing changes", () => {
  const site = loadStack("dev");
  const spec = renderSite(site).groups[0]!.commands.tag;
  const w = world(fakeSeeds(site));
  const created = ok(run(w, site, spec));
  const before = maasState(w);
  const down = { ...w, env: { ...w.env, FAKE_MAAS_UNREACHABLE: "1" } };
  for (const phase of ["create", "update", "delete"] as const) {
    const r = run(down, site, spec, phase, stdoutOf(created));
    assert.equal(r.status, 1, phase);
    assert.match(r.stderr, /\[Errno 111\] Connection refused\npci-passthrough: MAAS tag pci-pass: maas admin tags read failed\n$/, phase);
    assert.doesNotMatch(r.stdout, /created|already gone|deleted/, phase);
  }
  assert.deepEqual(maasState(w), before);
  // Back up: the tag is there, and a delete removes it; run again, it says it is gone, and exits 0.
  assert.match(ok(run(w, site, spec, "delete", stdoutOf(created))).stdout, /MAAS tag pci-pass deleted/);
  assert.match(ok(run(w, site, spec, "delete", stdoutOf(created))).stdout, /MAAS tag pci-pass is already gone/);
});

test("a listed machine MAAS does not have, or one outside the pool, is refused with its key path before anything changes", () => {
  const w = world({ FAKE_MAAS_PROFILES: "lab-admin", FAKE_MAAS_MACHINES: "4y3h7n:lab 8fbxqa:lab q7rr2m:other-team" });
  for (const [edit, message] of [
    [(r: any) => (r.maas.machines = ["4y3h7n", "8fbxqz"]), "pci-passthrough:maas.machines[1]: MAAS has no machine 8fbxqz"],
    [(r: any) => Object.assign(r.maas, { machines: ["4y3h7n", "q7rr2m"], pool: "lab" }), `pci-passthrough:maas.machines[1]: machine q7rr2m is in resource pool other-team, not in pci-passthrough:maas.pool lab`],
  ] as const) {
    const site = requireSiteConfig(editStack("lab", edit));
    const a = renderSite(site);
    for (const spec of [a.groups[0]!.commands.tag, a.groups[0]!.commands.machines!]) {
      const r = run(w, site, spec);
      assert.equal(r.status, 1, spec.step);
      assert.ok(r.stderr.startsWith(`${message}`), r.stderr);
      assert.match(r.stderr, /MAAS does not have these machines where the config says; nothing was changed\n$/);
    }
    // The fake saves its state on the first change: none was made.
    assert.equal(existsSync(path.join(w.dir, "maas.json")), false, "no tag created, no machine tagged");
    assert.ok(!argvLog(w, "maas").some((argv) => argv.includes("update-nodes") || argv.includes("create")));
  }
  // The same machines where the config says: tagged.
  const site = requireSiteConfig(editStack("lab", (r) => Object.assign(r.maas, { machines: ["4y3h7n", "8fbxqa"], pool: "lab" })));
  ok(run(w, site, renderSite(site).groups[0]!.commands.tag));
  ok(run(w, site, renderSite(site).groups[0]!.commands.machines));
  assert.deepEqual(maasState(w).tags["gpu-lab"].machines, ["4y3h7n", "8fbxqa"]);
});
