// The real program (index.ts) under Pulumi's mocks, through `npm run render`: which resources each
// example stack registers, with which parents, inputs, dependencies and options; what is written to
// out/<stack>/; invalid config; secrets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import type { RecordedResource } from "../scripts/mock-program";
import { ARTIFACTS } from "../scripts/render";
import { expectGolden, needTool, rawStack, ROOT, STACKS } from "./helpers";

const FILES = [...ARTIFACTS].sort();

interface Render {
  status: number | null;
  stdout: string;
  stderr: string;
  dir: string;
}

/** `npm run render -- <stack>` into a temp dir, optionally from another stack file. */
function render(stack: string, stackFile?: string): Render {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), "pcipt-render-")), stack);
  const args = ["--import", "tsx", path.join(ROOT, "scripts", "render.ts"), stack, "--out", dir];
  if (stackFile) args.push("--stack-file", stackFile);
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, dir };
}

/** A stack file from raw `pci-passthrough:*` values plus other namespaces' keys. */
function stackFile(raw: Record<string, unknown>, other: Record<string, unknown> = {}): string {
  const config: Record<string, unknown> = { ...other };
  for (const [k, v] of Object.entries(raw)) config[`pci-passthrough:${k}`] = v;
  const file = path.join(mkdtempSync(path.join(tmpdir(), "pcipt-stack-")), "Pulumi.test.yaml");
  writeFileSync(file, stringify({ config }));
  return file;
}

const resources = (r: Render): RecordedResource[] => JSON.parse(readFileSync(path.join(r.dir, "resources.json"), "utf8"));
const byName = (list: RecordedResource[], name: string) => {
  const found = list.find((x) => x.name === name);
  assert.ok(found, `resource ${name} registered`);
  return found;
};

const rendered = new Map<string, Render>();
function renderOnce(stack: string): Render {
  if (!rendered.has(stack)) rendered.set(stack, render(stack));
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
    assert.match(r.stdout, new RegExp(`Previewing stack ${stack} offline`));
    assert.match(r.stdout, /└─ pci-passthrough:site:PciPassthrough/);
  });

  test(`${stack}: the runbook's dependency chain MAAS tag -> model -> charm options -> flavors -> smoke test`, () => {
    const list = resources(renderOnce(stack));
    const top = byName(list, stack);
    assert.equal(top.type, "pci-passthrough:site:PciPassthrough");
    const chain = [
      ["pci-passthrough:maas:PciTag", `${stack}-maas`, []],
      ["pci-passthrough:juju:Model", `${stack}-juju`, [`${stack}-maas`]],
      ["pci-passthrough:juju:NovaCharmConfig", `${stack}-charms`, [`${stack}-juju`]],
      ["pci-passthrough:openstack:GpuFlavors", `${stack}-flavors`, [`${stack}-charms`]],
      ["pci-passthrough:openstack:SmokeTest", `${stack}-smoke`, [`${stack}-flavors`]],
    ] as const;
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
    assert.equal(model.options.retainOnDelete, true, "the model is kept on stack removal by default");
    assert.equal(model.inputs.delete, undefined, "and has no delete command");
    assert.equal(model.inputs.triggers, undefined, "no model change is a replacement");
    assert.match(String((model.inputs.environment as Record<string, string>).PCIPT_MODEL_CONFIG), /^cloudinit-userdata: \|/);
    const charms = byName(list, `${stack}-charms-charm-config`);
    assert.equal(charms.inputs.triggers, undefined);
    assert.match(String(charms.inputs.delete), /--reset/);
    const tag = byName(list, `${stack}-maas-tag`);
    assert.deepEqual(tag.inputs.triggers, [(rawStack(stack).maas as { tag: string }).tag]);
    for (const r of list) assert.notEqual(r.options.protect, true);
  });
}

test("render is deterministic: two renders give byte-identical files", () => {
  const a = renderOnce("dev");
  const b = render("dev");
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
  const r = render("broken", stackFile(raw));
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

test("invalid config stops the program before any resource is registered", () => {
  const code = `
    const { runProgram } = require(${JSON.stringify(path.join(ROOT, "scripts", "mock-program.ts"))});
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

const SECRETS = {
  apiKey: "Xk2consumerQ:Tt0kenZZ9:S3cretValue77",
  privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAC2hvbGRtZQ\n-----END OPENSSH PRIVATE KEY-----\n",
  password: "0penStack-Passw0rd!",
};

test("secrets written in plain text are still Pulumi secrets: never in inputs, files or output", () => {
  const raw = structuredClone(rawStack("dev")) as Record<string, any>;
  raw.maas.url = "http://maas.internal:5240/MAAS/";
  raw.maas.apiKey = SECRETS.apiKey;
  raw.runner = { host: "jump.internal", user: "ubuntu", privateKey: SECRETS.privateKey };
  const r = render("secrets", stackFile(raw, { "openstack:password": SECRETS.password, "openstack:authUrl": "http://keystone:5000/v3" }));
  assert.equal(r.status, 0, r.stderr);
  const texts = [r.stdout, r.stderr, ...FILES.map((f) => readFileSync(path.join(r.dir, f), "utf8"))];
  for (const [what, value] of Object.entries(SECRETS)) {
    for (const line of value.split("\n").filter((l) => l.length > 8 && !l.startsWith("-----"))) {
      assert.ok(!texts.some((t) => t.includes(line)), `${what} leaked`);
    }
  }
  const list = resources(r);
  const commands = list.filter((x) => x.type === "command:remote:Command");
  assert.equal(commands.length, 4, "every step runs on the jump host");
  // A secret inside an input object makes the whole object secret (Pulumi's propagation).
  for (const c of commands) assert.equal(c.inputs.connection, "[secret]");
  const tag = byName(list, "secrets-maas-tag");
  assert.equal(tag.inputs.environment, "[secret]");
  // Steps without the key keep their environment readable in previews.
  assert.equal(typeof byName(list, "secrets-juju-model").inputs.environment, "object");
  assert.deepEqual(tag.options.additionalSecretOutputs?.slice(0, 2), ["stdout", "stderr"]);
  assert.equal(tag.inputs.logging, "none");
});

test("secure: values are never needed: they render as [secret]", () => {
  const raw = structuredClone(rawStack("dev")) as Record<string, any>;
  raw.maas.url = "http://maas.internal:5240/MAAS/";
  raw.maas.apiKey = { secure: "v1:c2VjcmV0IG5vdCBkZWNyeXB0ZWQ=" };
  const r = render("secure", stackFile(raw));
  assert.equal(r.status, 0, r.stderr);
  const tag = byName(resources(r), "secure-maas-tag");
  assert.equal(tag.inputs.environment, "[secret]");
  assert.ok(!readFileSync(path.join(r.dir, "resources.json"), "utf8").includes("v1:c2Vj"));
});
