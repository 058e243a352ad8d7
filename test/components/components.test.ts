// The components as a library: PciPassthrough's components render the very steps renderSite (and commands.sh)
// renders, for every example stack and the variations of runner, login, selection and model; and each component
// used on its own, from its domain arguments (test/components/standalone-program.ts), registers its steps with
// their defaults filled and gives outputs that come from its resources.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { parse } from "yaml";
import { requireSiteConfig } from "../../config/parse";
import { DEFAULT_TAG_COMMENT } from "../../config/sections/maas";
import { renderRunbook } from "../../render/runbook";
import { renderSite } from "../../render/site";
import type { RecordedResource } from "../../tools/lib/mock-program";
import { ROOT, STACKS, editStack, rawStack } from "../helpers";
import { recordProgram } from "../pulumi-emulator";
import { OPTIONS, USERDATA } from "./standalone-program";

const RUNNER = {
  host: "jump.example",
  user: "ops",
  port: 2222,
  privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----\n",
  hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
};

/** The example stacks and variations of what the components are given. */
const SITES: ReadonlyArray<[string, Record<string, unknown>]> = [
  ...STACKS.map((s): [string, Record<string, unknown>] => [s, rawStack(s)]),
  ["dev with a runner, a login and resync", editStack("dev", (r) => Object.assign(r, { runner: RUNNER, resync: "r1", maas: { ...r.maas, url: "http://maas:5240/MAAS", apiKey: "a:b:c" } }))],
  [
    "dev by definition, Juju 2.9 with a controller, destroyed with the stack",
    editStack("dev", (r) => {
      delete r.maas.selectByDevice;
      delete r.maas.pool;
      r.maas.definition = "//node[@class='display']";
      Object.assign(r.juju, { version: "2.9", controller: "ctl", cloud: "maas/default", destroyModelOnDelete: true });
    }),
  ],
  ["mixed in an existing model", editStack("mixed", (r) => Object.assign(r.juju, { existingModel: true, controller: "ctl" }))],
];

/** What a command resource runs: the step's script, here or (with a runner) on the jump host. */
const scriptOf = (r: RecordedResource): string => {
  const env = (r.inputs.environment ?? {}) as Record<string, string>;
  return env.PCIPT_RUNNER_STEP ?? env.PCIPT_STEP ?? "";
};

for (const [what, raw] of SITES) {
  test(`${what}: the components register exactly the steps renderSite renders, each once`, () => {
    const a = renderSite(requireSiteConfig(raw));
    const rendered = [
      ...a.groups.flatMap((g) => [g.commands.tag, g.commands.machines, g.commands.verify]),
      a.commands.model,
      a.commands.modelTeardown,
      a.commands.charmConfig,
    ].flatMap((s) => (s ? [s.script] : []));
    const run = recordProgram(raw, "site");
    const registered = run.resources.filter((r) => r.type === "command:local:Command").map(scriptOf);
    assert.deepEqual([...registered].sort(), [...rendered].sort());
  });
}

test("each component on its own: its steps from its domain arguments, defaults filled, outputs from its resources", () => {
  const run = recordProgram({}, "lib", path.join(ROOT, "test", "components", "standalone-program.ts"));
  const byName = new Map(run.resources.map((r) => [r.name, r]));
  const env = (name: string) => (byName.get(name)?.inputs.environment ?? assert.fail(`no resource ${name}`)) as Record<string, string>;
  assert.deepEqual(
    run.resources.map((r) => `${r.type} ${r.name} <- ${r.parent}${r.dependsOn.length > 0 ? ` after ${r.dependsOn.join(", ")}` : ""}`),
    [
      "pci-passthrough:maas:PciTag gpu <- pci-passthrough-lib",
      "command:local:Command gpu-tag <- gpu",
      "command:local:Command gpu-machines <- gpu after gpu-tag",
      "pci-passthrough:maas:PciTag listed <- pci-passthrough-lib",
      "command:local:Command listed-tag <- listed",
      "command:local:Command listed-machines <- listed after listed-tag",
      "pci-passthrough:maas:PciTag defined <- pci-passthrough-lib",
      "command:local:Command defined-tag <- defined",
      "pci-passthrough:juju:Model ml <- pci-passthrough-lib after defined, gpu, listed",
      "command:local:Command ml-model <- ml",
      "command:local:Command ml-model-teardown <- ml after ml-model",
      "pci-passthrough:juju:NovaCharmConfig ml-charms <- pci-passthrough-lib after ml",
      "command:local:Command ml-charms-charm-config <- ml-charms",
      "pci-passthrough:openstack:GpuFlavors ml-flavors <- pci-passthrough-lib after ml-charms",
      "openstack:compute/flavor:Flavor ml-flavors-g1.a100 <- ml-flavors",
      "pci-passthrough:openstack:SmokeTest ml-smoke <- pci-passthrough-lib after ml-flavors",
      "openstack:compute/instance:Instance ml-smoke-t1 <- ml-smoke after ml-flavors-g1.a100",
      "command:local:Command ml-smoke-verify-a100 <- ml-smoke after ml-smoke-t1",
    ],
  );

  // MaasPciTag: the comment's default, the selection by device in its pool, the other tags' machines refused, the
  // login's key on standard input only.
  assert.equal(env("gpu-tag").PCIPT_TAG_COMMENT, DEFAULT_TAG_COMMENT);
  assert.equal(env("gpu-tag").PCIPT_MAAS_URL, "http://maas.example:5240/MAAS");
  assert.deepEqual([env("gpu-machines").PCIPT_SELECT_DEVICES, env("gpu-machines").PCIPT_OTHER_GROUPS_MACHINES], ["10de:20b5", "abc123"]);
  assert.match(env("gpu-machines").PCIPT_STEP!, /^step='tag machines in pool ml with gpu-a100'$/m);
  const key = Buffer.from("k3y:t0ken:s3cret").toString("base64");
  for (const name of ["gpu-tag", "gpu-machines"]) {
    const r = byName.get(name)!;
    assert.equal(r.inputs.stdin, `PCIPT_MAAS_API_KEY=${key}\n`, name);
    assert.doesNotMatch(JSON.stringify({ ...r.inputs, stdin: "" }), /k3y:t0ken:s3cret/, `${name}: the key only on stdin`);
  }
  // Listed machines: checked under the default key path; a definition: MAAS selects, no machines step.
  assert.equal(env("listed-tag").PCIPT_MACHINES, "m1 m2");
  assert.match(env("listed-tag").PCIPT_STEP!, / pci-passthrough:maas '' az1 \$PCIPT_MACHINES\)/);
  assert.deepEqual([env("defined-tag").PCIPT_TAG_DEFINITION, env("defined-tag").PCIPT_TAG_COMMENT], ["//node[@class='display']", "by XPath"]);
  assert.equal(byName.has("defined-machines"), false);

  // JujuModel: Juju 2.9's flags, the controller, the protected teardown.
  assert.match(env("ml-model").PCIPT_STEP!, /juju model-config -m ctl:ml-cloud "\$cfg"/);
  assert.equal(byName.get("ml-model-teardown")!.options.protect, true);
  assert.match(env("ml-model-teardown").PCIPT_STEP!, /juju destroy-model -y --release-storage ctl:ml-cloud/);
  assert.deepEqual(parse(env("ml-model").PCIPT_MODEL_CONFIG!, { version: "1.1" }), { "cloudinit-userdata": USERDATA });

  // The outputs, each read back from the resource that set it.
  assert.deepEqual(run.outputs, {
    aliasJson: OPTIONS["nova-compute-a100"]["pci-alias"],
    flavorIds: { "g1.a100": "ml-flavors-g1.a100-id" },
    kernelOptions: "intel_iommu=on vfio-pci.ids=10de:20b5",
    modelName: "ml-cloud",
    options: OPTIONS,
    tagName: "gpu-a100",
    userdata: USERDATA,
    verification: "",
  });
});

test("smokeTest.enabled: false registers no server and no vfio-pci check, and the flavors still; commands.sh creates no server", () => {
  const on = recordProgram(rawStack("dev"), "dev").resources;
  const off = recordProgram(editStack("dev", (r) => (r.smokeTest.enabled = false)), "dev").resources;
  const smoke = (rs: readonly RecordedResource[]) => rs.filter((r) => r.type === "openstack:compute/instance:Instance" || r.name.includes("-smoke")).map((r) => r.name);
  assert.ok(smoke(on).length > 0, "dev has a smoke test");
  assert.deepEqual(smoke(off), []);
  const flavors = (rs: readonly RecordedResource[]) => rs.filter((r) => r.type === "openstack:compute/flavor:Flavor").map((r) => r.name);
  assert.deepEqual(flavors(off), flavors(on));
  assert.ok(flavors(off).length > 0);
  const site = requireSiteConfig(editStack("dev", (r) => (r.smokeTest.enabled = false)));
  const commands = renderRunbook(site, renderSite(site), "dev");
  assert.match(commands, /^export PCIPT_SERVERS='\[\]'$/m);
  assert.doesNotMatch(commands, /SKIP_SMOKE_TEST:-|juju exec/);
});

test("PciPassthrough's outputs come from its components' resources: the stack outputs of the example stacks", () => {
  const run = recordProgram(rawStack("mixed"), "mixed");
  const a = renderSite(requireSiteConfig(rawStack("mixed")));
  assert.deepEqual(run.outputs.tags, Object.fromEntries(a.groups.map((g) => [g.group.name, g.group.maas.tag])));
  assert.deepEqual(run.outputs.kernelOptions, Object.fromEntries(a.groups.map((g) => [g.group.name, g.kernelOptions])));
  assert.equal(run.outputs.aliasJson, a.aliasJson);
  assert.equal(run.outputs.model, "openstack");
  assert.equal(run.outputs.bundleOverlay, a.bundleOverlay);
});
