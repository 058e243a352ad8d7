// The create / update / delete scripts of the juju steps (render/steps/juju.ts), executed for real against the test
// doubles in test/fakes/, the binding check, and commands.sh end to end.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { requireSiteConfig } from "../../config/parse";
import { renderSite } from "../../render/site";
import { renderRunbook } from "../../render/runbook";
import { renderUserdata } from "../../render/host/userdata";
import { editStack, loadStack } from "../helpers";
import { argvLog, fakeState, ok, openstackBin, world } from "../fakes-world";
import { fakeSeeds } from "../../tools/lab/commands";
import { jujuState, maasState, run } from "./steps-helpers";

test("Juju model: add-model with the rendered userdata, then model-config on re-run (Juju 3)", () => {
  const site = loadStack("dev");
  const a = renderSite(site);
  const w = world();
  ok(run(w, site, a.commands.model));
  const model = jujuState(w).models["openstack-deployment"];
  assert.equal(model.config["cloudinit-userdata"], renderUserdata(site.groups));
  ok(run(w, site, a.commands.model));
  assert.deepEqual(jujuState(w).models["openstack-deployment"], model);
  const log = argvLog(w, "juju");
  assert.deepEqual(log[1]!.slice(0, 4), ["add-model", "openstack-deployment", "--no-switch", "--config"]);
  assert.deepEqual(log[3]!.slice(0, 4), ["model-config", "-m", "openstack-deployment", "--file"]);
  assert.equal(a.commands.model.deletes, false, "deleting the model step never destroys the model");
  assert.equal(a.commands.model.retainOnDelete, true);
});

test("Juju model: userdata with quotes, $(), backticks, newlines and ; arrives verbatim", () => {
  const site = loadStack("dev");
  const hostile = "#cloud-config\nbootcmd_note: \"$(reboot)\" `halt`; echo 'x' && rm -rf /\n";
  const spec = { ...renderSite(site).commands.model, environment: { PCIPT_MODEL_CONFIG: `cloudinit-userdata: ${JSON.stringify(hostile)}\n` } };
  const w = world();
  ok(run(w, site, spec));
  assert.equal(jujuState(w).models["openstack-deployment"].config["cloudinit-userdata"], hostile);
});

test("Juju 2.9 flags: model-config takes the file as an argument, and 3.x flags fail on 2.9", () => {
  const lab = loadStack("lab");
  const w = world({ FAKE_JUJU_VERSION: "2.9", FAKE_JUJU_MODELS: "lab-openstack" });
  ok(run(w, lab, renderSite(lab).commands.model));
  assert.equal(jujuState(w).models["lab-openstack"].config["cloudinit-userdata"], renderUserdata(lab.groups));
  const as3 = requireSiteConfig(editStack("lab", (r) => (r.juju.version = "3")));
  const r = run(w, as3, renderSite(as3).commands.model);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /pci-passthrough: Juju model lab-controller:lab-openstack: juju model-config failed/);
});

test("existingModel: a missing model is an error naming the step, never an add-model", () => {
  const lab = loadStack("lab");
  const w = world({ FAKE_JUJU_VERSION: "2.9" });
  const r = run(w, lab, renderSite(lab).commands.model);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /pci-passthrough: Juju model lab-controller:lab-openstack: model lab-controller:lab-openstack does not exist/);
  assert.ok(!argvLog(w, "juju").some((argv) => argv[0] === "add-model"));
});

test("destroyModelOnDelete: only the protected teardown step destroys the model, with the right flag", () => {
  for (const version of ["3", "2.9"]) {
    const site = requireSiteConfig(editStack("dev", (r) => Object.assign(r.juju, { destroyModelOnDelete: true, version })));
    const c = renderSite(site).commands;
    assert.equal(c.model.deletes, false);
    assert.equal(c.modelTeardown?.protect, true);
    const w = world({ FAKE_JUJU_VERSION: version });
    ok(run(w, site, c.model));
    ok(run(w, site, c.modelTeardown));
    assert.ok(jujuState(w).models["openstack-deployment"], "creating the teardown step destroys nothing");
    ok(run(w, site, c.modelTeardown, "delete"));
    assert.deepEqual(jujuState(w).models, {});
    assert.ok(argvLog(w, "juju").some((argv) => argv[0] === "destroy-model" && argv.includes(version === "3" ? "--no-prompt" : "-y")));
    assert.match(ok(run(w, site, c.modelTeardown, "delete")).stdout, /is already gone/);
  }
  assert.equal(renderSite(loadStack("dev")).commands.modelTeardown, undefined, "no teardown step without destroyModelOnDelete");
});

test("charm options: set as rendered on both apps, other options untouched; deleting the step keeps them", () => {
  const site = loadStack("dev");
  const a = renderSite(site);
  const w = world({ FAKE_JUJU_MODELS: "openstack-deployment" });
  spawnSync("juju", ["config", "-m", "openstack-deployment", "nova-compute", "virt-type=kvm"], { env: w.env });
  ok(run(w, site, a.commands.charmConfig));
  const apps = jujuState(w).models["openstack-deployment"].applications;
  assert.deepEqual(apps["nova-cloud-controller"], renderSite(site).charmOptions["nova-cloud-controller"]);
  assert.deepEqual(apps["nova-compute"], { ...renderSite(site).charmOptions["nova-compute"], "virt-type": "kvm" });
  ok(run(w, site, a.commands.charmConfig, "update"));
  assert.deepEqual(jujuState(w).models["openstack-deployment"].applications, apps);
  assert.equal(a.commands.charmConfig.deletes, false);
  assert.match(ok(run(w, site, a.commands.charmConfig, "delete")).stdout, /deleting this step removes nothing/);
  assert.deepEqual(jujuState(w).models["openstack-deployment"].applications, apps);
});

test("charm options: an application that is not deployed is an error that says what to do", () => {
  const site = loadStack("dev");
  const w = world({ FAKE_JUJU_MODELS: "openstack-deployment", FAKE_JUJU_APPS: "nova-compute" });
  const r = run(w, site, renderSite(site).commands.charmConfig);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /application nova-cloud-controller is not deployed in model openstack-deployment: deploy OpenStack first/);
});

test("verification: counts the devices and companions lspci shows on vfio-pci, and fails when one is not", () => {
  const site = loadStack("dev");
  const fn = (addr: string, what: string, id: string, driver: string) => [`${addr} ${what} [${id}] (rev a1)`, `\tKernel driver in use: ${driver}`];
  const gpu = "VGA compatible controller [0300]: NVIDIA Corporation GP104GL [Quadro P5000]";
  const audio = "Audio device [0403]: NVIDIA Corporation GP104 High Definition Audio Controller";
  const bound = [
    ...fn("0000:83:00.0", gpu, "10de:1bb0", "vfio-pci"),
    ...fn("0000:83:00.1", audio, "10de:10f0", "vfio-pci"),
    ...fn("0000:84:00.0", gpu, "10de:1bb0", "vfio-pci"),
    ...fn("0000:84:00.1", audio, "10de:10f0", "vfio-pci"),
  ];
  const w = world({ FAKE_JUJU_MODELS: "openstack-deployment", FAKE_JUJU_LSPCI: bound.join("\n") });
  const r = ok(run(w, site, renderSite(site).groups[0]!.commands.verify));
  assert.match(r.stdout, /pci-passthrough: vfio-pci bound on 4 of 4 function\(s\): the devices \(2 per GPU host\) and their IOMMU groups' functions with a configured vendor:product\n$/);
  const argv = argvLog(w, "juju")[0]!;
  assert.deepEqual(argv.slice(0, 7), ["exec", "-m", "openstack-deployment", "--application", "nova-compute", "--", "sh"]);
  // A companion left on its host driver: the step fails, naming the count.
  const left = [...bound.slice(0, 6), ...fn("0000:84:00.1", audio, "10de:10f0", "snd_hda_intel")];
  const w2 = world({ FAKE_JUJU_MODELS: "openstack-deployment", FAKE_JUJU_LSPCI: left.join("\n") });
  const r2 = run(w2, site, renderSite(site).groups[0]!.commands.verify);
  assert.equal(r2.status, 1);
  assert.match(r2.stdout, /vfio-pci bound on 3 of 4 function\(s\)/);
  assert.match(r2.stderr, /pci-passthrough: verify vfio-pci binding in openstack-deployment: 1 function\(s\) above are not on vfio-pci: QEMU refuses their devices \(group not viable\) until they are\n$/);
});

test("commands.sh runs end to end against the fakes, twice, and leaves what the program would", () => {
  for (const stack of ["dev", "lab"]) {
    const site = loadStack(stack);
    const a = renderSite(site);
    // Seeded as `npm run lab -- apply` seeds them: the profile logged in, an adopted model present.
    const w = world({ ...fakeSeeds(site), SKIP_SMOKE_TEST: "1" }, [openstackBin()]);
    const script = path.join(w.dir, "commands.sh");
    writeFileSync(script, renderRunbook(site, a, stack));
    for (let run = 0; run < 2; run++) {
      const r = spawnSync("/bin/sh", [script], { env: w.env, encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
    }
    assert.equal(maasState(w).tags[site.groups[0]!.maas.tag].kernel_opts, a.groups[0]!.kernelOptions);
    const model = jujuState(w).models[site.juju.model];
    assert.equal(model.config["cloudinit-userdata"], a.userdata);
    assert.deepEqual(model.applications, a.charmOptions);
    const flavors = fakeState(w, "openstack").flavors;
    assert.deepEqual(
      Object.values(flavors).map(({ id, ...f }: any) => (assert.match(id, /^[0-9a-f-]{36}$/), f)),
      a.flavors.map((f) => ({ ram: f.ram, vcpus: f.vcpus, disk: f.disk, properties: f.extraSpecs, name: f.name })),
    );
    const os = argvLog(w, "openstack").map((argv) => argv.join(" ")).join("\n");
    assert.ok(!os.includes("create_server") && !os.includes("find_server"), "SKIP_SMOKE_TEST skips the servers");
  }
});

test("commands.sh: one openstack process asks Nova for microversion 2.86 from Ussuri on, and for none before; no MAAS read twice", () => {
  for (const [release, options] of [
    ["yoga", ["compute_default_microversion=2.86"]],
    ["train", []],
  ] as const) {
    // Train's charms come with bionic, and its scheduler filters are its own: the release's defaults.
    const raw = editStack("dev", (r) => {
      r.openstack.release = release;
      delete r.openstack.schedulerFilters;
    });
    const site = requireSiteConfig(raw);
    const w = world({ ...fakeSeeds(site), SKIP_SMOKE_TEST: "1" }, [openstackBin()]);
    const script = path.join(w.dir, "commands.sh");
    writeFileSync(script, renderRunbook(site, renderSite(site), "dev"));
    const r = spawnSync("/bin/sh", [script], { env: w.env, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const sdk = argvLog(w, "openstack").filter((argv) => argv[1] === "connect");
    assert.deepEqual(sdk, [["sdk", "connect", ...options]], `${release}: one connection`);
    const maas = argvLog(w, "maas").map((argv) => argv.join(" "));
    assert.deepEqual(maas.filter((call, i) => maas.indexOf(call) !== i), [], `${release}: no maas call twice`);
  }
});
