// The real program (index.ts) under Pulumi's mocks, through `npm run render`: which resources each
// example stack registers, with which parents, inputs, dependencies and options; what is written to
// out/<stack>/; invalid config; secrets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import type { RecordedResource } from "../../tools/lib/mock-program";
import { ARTIFACTS } from "../../tools/render/main";
import { toStackFile } from "../../config/stack";
import { expectGolden, loadStack, needTool, rawStack, renderStack, ROOT, STACKS, type Rendered } from "../helpers";
import { kernelCmdline } from "../../render/host/kernel";

const FILES = [...ARTIFACTS].sort();

const resources = (r: Rendered): RecordedResource[] => JSON.parse(readFileSync(path.join(r.dir, "resources.json"), "utf8"));
const byName = (list: RecordedResource[], name: string) => {
  const found = list.find((x) => x.name === name);
  assert.ok(found, `resource ${name} registered`);
  return found;
};

const rendered = new Map<string, Rendered>();
function renderOnce(stack: string): Rendered {
  if (!rendered.has(stack)) rendered.set(stack, renderStack(stack));
  return rendered.get(stack)!;
}

for (const stack of STACKS) {
  test(`${stack}: render exits 0, writes every artifact, matches the golden resources`, () => {
    const r = renderOnce(stack);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(r.dir).sort(), FILES);
    expectGolden(`${stack}-resources.json`, readFileSync(path.join(r.dir, "resources.json"), "utf8"));
    expectGolden(`${stack}-commands.sh`, readFileSync(path.join(r.dir, "commands.sh"), "utf8"));
    expectGolden(`${stack}-graph.mmd`, readFileSync(path.join(r.dir, "graph.mmd"), "utf8"));
    expectGolden(`${stack}-maas-tag.json`, readFileSync(path.join(r.dir, "maas-tag.json"), "utf8"));
    expectGolden(`${stack}-host-files.txt`, readFileSync(path.join(r.dir, "host-files.txt"), "utf8"));
    expectGolden(`${stack}-host-probe.sh`, readFileSync(path.join(r.dir, "host-probe.sh"), "utf8"));
    assert.match(r.stdout, new RegExp(`Previewing stack ${stack} offline`));
    assert.match(r.stdout, /└─ pci-passthrough:site:PciPassthrough/);
  });

  test(`${stack}: the runbook's dependency chain MAAS tags -> model -> charm options -> flavors -> smoke test`, () => {
    const list = resources(renderOnce(stack));
    const top = byName(list, stack);
    assert.equal(top.type, "pci-passthrough:site:PciPassthrough");
    // One tag component per host group; the one group of a site without hostGroups keeps the old name.
    const groups = loadStack(stack).groups;
    const tags = groups.map((g) => (g.name === undefined ? `${stack}-maas` : `${stack}-maas-${g.name}`));
    const chain: Array<[string, string, string[]]> = [
      ...tags.map((t): [string, string, string[]] => ["pci-passthrough:maas:PciTag", t, []]),
      ["pci-passthrough:juju:Model", `${stack}-juju`, [...tags].sort()],
      ["pci-passthrough:juju:NovaCharmConfig", `${stack}-charms`, [`${stack}-juju`]],
      ["pci-passthrough:openstack:GpuFlavors", `${stack}-flavors`, [`${stack}-charms`]],
      ...(rawStack(stack).smokeTest ? [["pci-passthrough:openstack:SmokeTest", `${stack}-smoke`, [`${stack}-flavors`]] as [string, string, string[]]] : []),
    ];
    // Each tag component holds its group's tag step, and its machines step after it (by system ID or device).
    groups.forEach((g, i) => {
      const tag = byName(list, `${tags[i]}-tag`);
      assert.equal(tag.parent, tags[i]);
      assert.deepEqual(tag.inputs.triggers, [g.maas.tag]);
      assert.equal((tag.inputs.environment as Record<string, string>).PCIPT_KERNEL_OPTS, kernelCmdline(g));
      const machines = list.find((r) => r.name === `${tags[i]}-machines`);
      assert.equal(machines !== undefined, g.maas.definition === undefined, `${tags[i]}: a machines step unless MAAS applies a definition`);
      if (machines) {
        assert.equal(machines.parent, tags[i]);
        assert.deepEqual(machines.dependsOn, [`${tags[i]}-tag`]);
        assert.equal((machines.inputs.environment as Record<string, string>).PCIPT_TAG_STEP, `${tags[i]}-tag-id`, "re-runs when the tag step is replaced");
      }
    });
    // With a smoke test, each group's application is checked for vfio-pci on that group's addresses.
    if (rawStack(stack).smokeTest) {
      const checks = list.filter((r) => r.parent === `${stack}-smoke` && r.type === "command:local:Command");
      assert.deepEqual(
        checks.map((c) => /--application ([a-z0-9-]+)/.exec(String((c.inputs.environment as Record<string, string>).PCIPT_STEP))?.[1]),
        groups.map((g) => g.application),
      );
    }
    for (const [type, name, deps] of chain) {
      const c = byName(list, name);
      assert.equal(c.type, type);
      assert.equal(c.parent, stack);
      assert.deepEqual(c.dependsOn, deps);
    }
    for (const c of list.filter((x) => x.custom)) {
      assert.ok(chain.some(([, name]) => c.parent === name), `${c.name} is a child of a component`);
    }
    const flavors = list.filter((x) => x.type === "openstack:compute/flavor:Flavor");
    assert.deepEqual(flavors.map((f) => f.parent), flavors.map(() => `${stack}-flavors`));
    for (const f of flavors) assert.equal(f.options.deleteBeforeReplace, true, "a changed flavor goes before its replacement");
    assert.equal(flavors.length, (rawStack(stack).flavors as unknown[]).length);
  });

  test(`${stack}: deleting and replacing rules keep the model and change config in place`, () => {
    const list = resources(renderOnce(stack));
    const model = byName(list, `${stack}-juju-model`);
    assert.equal(model.options.retainOnDelete, true, "the model is kept on stack removal");
    assert.equal(model.inputs.delete, undefined, "and its step has no delete command");
    assert.equal(model.inputs.triggers, undefined, "no model change is a replacement");
    assert.match(String((model.inputs.environment as Record<string, string>).PCIPT_MODEL_CONFIG), /^cloudinit-userdata: \|/);
    const charms = byName(list, `${stack}-charms-charm-config`);
    assert.equal(charms.inputs.triggers, undefined);
    assert.equal(charms.inputs.delete, undefined, "a replaced step must not reset what its replacement set");
    for (const [i, g] of loadStack(stack).groups.entries()) {
      const tag = byName(list, g.name === undefined ? `${stack}-maas-tag` : `${stack}-maas-${g.name}-tag`);
      assert.deepEqual(tag.inputs.triggers, [g.maas.tag], `group ${i}: a renamed tag is a new MAAS object`);
      assert.equal(tag.inputs.delete, `exec /bin/sh -c "$PCIPT_STEP" 'MAAS tag ${g.maas.tag}' delete`);
    }
    for (const r of list) assert.notEqual(r.options.protect, true, "nothing is protected without destroyModelOnDelete");
    // Every step is the same resource type whichever the runner, with short command lines: the script is in
    // the environment, so a failure's message ("running <command>: <output>") reads well.
    for (const r of list.filter((x) => x.type.startsWith("command:"))) {
      assert.equal(r.type, "command:local:Command");
      assert.match(String(r.inputs.create), /^exec \/bin\/sh -c "\$PCIPT_STEP" '[^']+' create$/);
      assert.deepEqual(r.options.aliases, [{ type: "command:remote:Command" }]);
      // What makes `triggers` a replacement (a renamed tag) is @pulumi/command's own resource option: the SDK
      // merges replaceOnChanges ["triggers[*]"] into every Command (node_modules/@pulumi/command/local/
      // command.js). The day-2 emulator replaces on exactly what is registered here, so an upgrade that
      // changes it fails this test and the renamed-tag tests of test/components/day2.test.ts.
      assert.deepEqual(r.options.replaceOnChanges, ["triggers[*]"], `${r.name}: @pulumi/command registers triggers[*] as replaceOnChanges`);
    }
  });

}

test("a stack without smokeTest exports no undefined output (the engine would warn on every run)", () => {
  const raw = structuredClone(rawStack("dev")) as Record<string, unknown>;
  delete raw.smokeTest;
  const r = renderStack("nosmoke", toStackFile(raw));
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /Undefined value/);
  assert.match(r.stdout, /info: Juju model openstack-deployment is kept/, "the program's own messages are shown");
});

test("render is deterministic: two renders give byte-identical files", () => {
  const a = renderOnce("dev");
  const b = renderStack("dev");
  assert.equal(b.status, 0, b.stderr);
  for (const f of FILES) assert.equal(readFileSync(path.join(b.dir, f), "utf8"), readFileSync(path.join(a.dir, f), "utf8"), f);
});

test("commands.sh of both example stacks passes shellcheck", { skip: needTool("shellcheck", "shellcheck") }, () => {
  for (const stack of STACKS) {
    const r = spawnSync("shellcheck", ["-s", "sh", path.join(renderOnce(stack).dir, "commands.sh")], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout);
  }
});

test("invalid config: exit 2, one key-path line per problem, nothing written", () => {
  const raw = structuredClone(rawStack("dev")) as Record<string, any>;
  raw.devices[0].addresses[1] = "83:00";
  raw.juju.model = "Bad_Model";
  raw.flavors[0].pci = { gpu: 1, npu: 1 };
  const r = renderStack("test", toStackFile(raw));
  assert.equal(r.status, 2);
  assert.equal(
    r.stderr,
    [
      'pci-passthrough:juju.model: "Bad_Model" is not a Juju model name (lowercase letters, digits and hyphens, not starting with a hyphen)',
      'pci-passthrough:devices[0].addresses[1]: "83:00" is not a PCI address (expected DDDD:BB:SS.F)',
      'pci-passthrough:flavors[0].pci.npu: alias "npu" is not defined in devices (known: gpu)',
      "3 problem(s) in Pulumi.test.yaml; nothing rendered",
      "",
    ].join("\n"),
  );
  assert.equal(existsSync(r.dir), false);
});

test("config warnings: render prints each on stderr and succeeds, the program logs them; the example stacks have none", () => {
  for (const stack of STACKS) assert.equal(renderOnce(stack).stderr, "", stack);
  const raw = structuredClone(rawStack("dev")) as Record<string, any>;
  raw.flavors[0].extraSpecs = { "hw:pci_numa_affinity_policy": "preferred" };
  const r = renderStack("test", toStackFile(raw));
  assert.equal(r.status, 0, r.stderr);
  const warning =
    'pci-passthrough:flavors[0].extraSpecs["hw:pci_numa_affinity_policy"]: PCI NUMA policy "preferred" acts only on a guest with a NUMA ' +
    "topology, and this flavor gives it none: add hw:numa_nodes (or hw:cpu_policy dedicated or mixed, hw:mem_page_size, hw:pmem, " +
    "resources:PCPU; nova/virt/hardware.py numa_get_constraints), or set hw_numa_nodes or hw_cpu_policy on the image";
  assert.equal(r.stderr, `warning: ${warning}\n`);
  // pulumi.log.warn in the program, which `pulumi preview` shows as a diagnostic on the site component.
  assert.ok(r.stdout.split("\n").includes(`warn: ${warning}`), r.stdout);
  assert.match(readFileSync(path.join(r.dir, "charm-config.yaml"), "utf8"), /PciPassthroughFilter,NUMATopologyFilter\n/);
});

test("invalid config stops the program before any resource is registered", () => {
  const code = `
    const { runProgram } = require(${JSON.stringify(path.join(ROOT, "tools", "lib", "mock-program.ts"))});
    runProgram({ stack: "broken", config: { "pci-passthrough:maas": "{}", "pci-passthrough:host": "{\\"iommu\\":\\"arm\\"}" } })
      .then((r) => console.log(JSON.stringify({ n: r.resources.length, error: r.error && r.error.message })));`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", code], { cwd: ROOT, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
  assert.equal(out.n, 0);
  assert.match(out.error, /^invalid stack configuration:\n/);
  assert.match(out.error, /\npci-passthrough:maas\.profile: is required\n/);
  assert.match(out.error, /\npci-passthrough:host\.iommu: "arm" is not intel or amd\n/);
  assert.match(out.error, /\npci-passthrough:juju: is required/);
});

test("the SSH runner: a warning on every run until runner.hostKey pins the jump host", () => {
  const runner = { host: "jump.example", user: "ubuntu", port: 2222 };
  const raw = structuredClone(rawStack("dev")) as Record<string, unknown>;
  const unpinned = renderStack("jump", toStackFile({ ...raw, runner }));
  assert.equal(unpinned.status, 0, unpinned.stderr);
  assert.match(unpinned.stdout, /warn: runner\.hostKey is not set: the identity of the jump host ubuntu@jump\.example:2222 is not checked/);
  assert.match(unpinned.stdout, /ssh-keyscan -t ed25519 -p 2222 jump\.example/);
  const key = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
  const pinned = renderStack("jump", toStackFile({ ...raw, runner: { ...runner, hostKey: `ssh-ed25519 ${key}` } }));
  assert.equal(pinned.status, 0, pinned.stderr);
  assert.doesNotMatch(pinned.stdout, /runner\.hostKey is not set/);
  const tag = resources(pinned).find((r) => r.name === "jump-maas-tag")!;
  assert.equal((tag.inputs.environment as Record<string, string>).PCIPT_SSH_HOST_KEY, `ssh-ed25519 ${key}`);
});

