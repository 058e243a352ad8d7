// Secrets: render stacks that hold a MAAS API key, an SSH private key and an OpenStack password, in plain
// text and as `secure:` values, and look for them everywhere the program writes: every registered input
// (resources.json), every file of the out dir, everything printed. Then run the rendered MAAS steps
// against the fake CLI with the key and look at what it was given and what the steps printed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { requireSiteConfig } from "../../config/parse";
import { renderSite } from "../../render/site";
import type { RecordedResource } from "../../tools/lib/mock-program";
import { toStackFile } from "../../config/stack";
import { fakeLogText, fakeState, ok, runStep, world } from "../fakes-world";
import { editStack, renderStack, type Rendered } from "../helpers";

const API_KEY = "Pk7consumerAA:Tq9tokenBB:Zs3secretCC44";
const PRIVATE_KEY = [
  "-----BEGIN OPENSSH PRIVATE KEY-----",
  "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
  "QyNTUxOQAAACBx9secretKeyMaterialForTheTestOnlyAAAAAAAAAAAAAAAAAAAAAAAA",
  "-----END OPENSSH PRIVATE KEY-----",
  "",
].join("\n");
const PASSWORD = "Os-P4ss'w\"rd$(x)";
const MAAS_URL = "http://maas.internal:5240/MAAS/";

/** The forms a secret could leak in: as is, JSON-escaped, base64, and each distinctive line. */
function leakForms(secret: string): string[] {
  const forms = [secret, JSON.stringify(secret).slice(1, -1), Buffer.from(secret).toString("base64")];
  for (const line of secret.split("\n")) if (line.length >= 12 && !line.startsWith("-----")) forms.push(line);
  return forms;
}

const SECRETS: Record<string, string> = { "maas.apiKey": API_KEY, "runner.privateKey": PRIVATE_KEY, "openstack:password": PASSWORD };

/** Every place a value could surface: printed output and each rendered file, by name. */
function surfaces(r: Rendered): Record<string, string> {
  const out: Record<string, string> = { stdout: r.stdout, stderr: r.stderr };
  for (const f of readdirSync(r.dir)) out[f] = readFileSync(path.join(r.dir, f), "utf8");
  return out;
}

function assertNoLeak(where: Record<string, string>, secrets: Record<string, string>): void {
  for (const [what, secret] of Object.entries(secrets)) {
    for (const form of leakForms(secret)) {
      for (const [name, text] of Object.entries(where)) assert.ok(!text.includes(form), `${what} leaks into ${name}`);
    }
  }
}

/** The secret-bearing inputs must be Pulumi secrets, recorded as "[secret]". */
function assertSecretInputs(resources: RecordedResource[], stack: string): void {
  const byName = new Map(resources.map((r) => [r.name, r]));
  const tag = byName.get(`${stack}-maas-tag`);
  assert.ok(tag, "the MAAS tag step is registered");
  // The secrets travel on standard input only: stdin is secret, the environment stays readable (a secret
  // inside an input object would make the whole object secret and hide every diff in previews).
  assert.equal(tag.inputs.stdin, "[secret]", "the standard input carrying the API key is secret");
  assert.equal(typeof tag.inputs.environment, "object", "the tag step's environment is readable");
  // Nothing a step prints carries a secret (the steps below prove it), so Pulumi shows its messages: what
  // was created, kept or deleted, also in `pulumi destroy`.
  assert.equal(tag.inputs.logging, undefined, "the step's output is logged");
  assert.equal(tag.options.additionalSecretOutputs, undefined, "its stdout and stderr are readable");
  const commands = resources.filter((r) => r.type.startsWith("command:"));
  assert.equal(commands.length, 5, "every step is a command");
  for (const c of commands) {
    const env = c.inputs.environment as Record<string, string>;
    assert.match(env.PCIPT_STEP ?? "", /ssh "\$@" ubuntu@jump\.internal 'sh -s'/, `${c.name} runs on the jump host`);
    assert.equal(c.inputs.stdin, "[secret]", `${c.name}: the SSH key goes on secret standard input`);
  }
}

function stackWithSecrets(value: (what: string, secret: string) => unknown): string {
  const raw = editStack("dev", (r) => {
    Object.assign(r.maas, { url: MAAS_URL, apiKey: value("maas.apiKey", API_KEY) });
    r.runner = { host: "jump.internal", user: "ubuntu", privateKey: value("runner.privateKey", PRIVATE_KEY) };
  });
  return toStackFile(raw, { "openstack:password": value("openstack:password", PASSWORD), "openstack:authUrl": "http://keystone:5000/v3" });
}

test("plain-text secrets in the stack file appear nowhere: not in inputs, files, nor printed output", () => {
  const r = renderStack("plain", stackWithSecrets((_what, secret) => secret));
  assert.equal(r.status, 0, r.stderr);
  const where = surfaces(r);
  // Every file the render says it wrote is scanned.
  const wrote = /Wrote (\d+) files to .*?: (.*)\n/.exec(r.stdout);
  assert.ok(wrote, r.stdout);
  assert.deepEqual(Object.keys(where).filter((k) => k !== "stdout" && k !== "stderr").sort(), wrote[2]!.split(", ").sort());
  assert.ok(Number(wrote[1]) >= 8 && where["resources.json"] !== undefined && where["commands.sh"] !== undefined);
  assertNoLeak(where, SECRETS);
  assertSecretInputs(JSON.parse(where["resources.json"]!) as RecordedResource[], "plain");
  // commands.sh asks the operator for the key instead of holding it.
  assert.match(where["commands.sh"]!, /: "\$\{PCIPT_MAAS_API_KEY:\?export PCIPT_MAAS_API_KEY with the value of pci-passthrough:maas\.apiKey first\}"/);
});

test("secure: secrets are never decrypted or copied: neither value nor ciphertext appears", () => {
  const ciphertexts: Record<string, string> = {};
  const text = stackWithSecrets((what) => {
    ciphertexts[what] = `v1:${Buffer.from(`ciphertext of ${what}`).toString("base64")}`;
    return { secure: ciphertexts[what] };
  });
  const r = renderStack("secure", text);
  assert.equal(r.status, 0, r.stderr);
  const where = surfaces(r);
  assertNoLeak(where, { ...SECRETS, ...Object.fromEntries(Object.entries(ciphertexts).map(([k, v]) => [`${k} ciphertext`, v])) });
  assertSecretInputs(JSON.parse(where["resources.json"]!) as RecordedResource[], "secure");
});

test("the rendered MAAS steps log in with the key without showing it to the CLI's argv, its log or any output", () => {
  const site = requireSiteConfig(editStack("lab", (r) => Object.assign(r.maas, { url: MAAS_URL, apiKey: API_KEY })));
  const a = renderSite(site);
  const w = world({ FAKE_MAAS_MACHINES: "4y3h7n 8fbxqa" });
  const created = ok(runStep(w, site, a.groups[0]!.commands.tag));
  const results = [created, ok(runStep(w, site, a.groups[0]!.commands.machines)), ok(runStep(w, site, a.groups[0]!.commands.tag, "update", created.stdout.trimEnd()))];
  results.push(ok(runStep(w, site, a.groups[0]!.commands.tag, "delete", results[2]!.stdout.trimEnd())));
  // The steps' own messages are what the operator sees.
  assert.deepEqual(
    results.map((r) => r.stdout.split("\n").find((l) => l.startsWith("pci-passthrough: "))),
    ["pci-passthrough: MAAS tag gpu-lab created", "pci-passthrough: MAAS tag gpu-lab is on: 4y3h7n 8fbxqa", "pci-passthrough: MAAS tag gpu-lab updated (created by this stack)", "pci-passthrough: MAAS tag gpu-lab deleted"],
  );
  // Failures too: a region that cannot be reached, a listed machine MAAS does not have, a wrong key.
  const down = { ...w, env: { ...w.env, FAKE_MAAS_UNREACHABLE: "1" } };
  results.push(runStep(down, site, a.groups[0]!.commands.tag), runStep(down, site, a.groups[0]!.commands.machines!));
  const typo = requireSiteConfig(editStack("lab", (r) => Object.assign(r.maas, { url: MAAS_URL, apiKey: API_KEY, machines: ["4y3h7n", "zzzzzz"] })));
  results.push(runStep(w, typo, renderSite(typo).groups[0]!.commands.machines!));
  results.push(runStep(w, { ...site, maas: { ...site.maas, apiKey: `${API_KEY}:extra` } }, a.groups[0]!.commands.tag));
  assert.ok(results.slice(4).every((r) => r.status === 1), results.slice(4).map((r) => r.stderr).join("\n"));
  // The key did arrive: the fake stored it from stdin.
  assert.equal(fakeState(w, "maas").profiles["lab-admin"].key, API_KEY);
  const log = fakeLogText(w, "maas");
  assert.ok(log.split("\n").filter((l) => l.includes('"login"')).length >= 4, "every phase logs in");
  const where: Record<string, string> = { "maas.log (argv and PCIPT_* environment)": log };
  results.forEach((r, i) => Object.assign(where, { [`step ${i} stdout`]: r.stdout, [`step ${i} stderr`]: r.stderr }));
  for (const spec of [a.groups[0]!.commands.tag, a.groups[0]!.commands.machines!]) {
    where[`${spec.step} script`] = spec.script;
    where[`${spec.step} environment`] = JSON.stringify(spec.environment);
  }
  assertNoLeak(where, { "maas.apiKey": API_KEY });
});
