// `npm run preview-all`: offline rendering of every example stack when no pulumi CLI is on PATH, the
// Automation API path against a fake `pulumi` (its `version` answers, every workspace call fails), and
// the pieces (stack listing, CLI detection, mode choice, summary) in isolation.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ROOT, STACKS, exampleProject } from "../helpers";
import { ARTIFACTS } from "../../tools/render/main";
import { chooseMode, detectPulumiCli, listStacks, renderOffline, summarize, type PulumiCli } from "../../tools/preview-all/main";

const SCRIPT = path.join(ROOT, "tools", "preview-all", "main.ts");

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), "preview-all-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** PATH without any directory that holds a `pulumi`, so the real CLI (if installed) cannot leak in. */
const PATH_WITHOUT_PULUMI = (process.env.PATH ?? "")
  .split(path.delimiter)
  .filter((d) => d !== "" && !existsSync(path.join(d, "pulumi")))
  .join(path.delimiter);

/** A fake `pulumi` in `dir`: logs "<cwd> <argv>" to `<dir>/calls`, answers `version` as given, fails the rest. */
function fakePulumi(dir: string, version: { out: string; code: number }): string {
  const bin = path.join(dir, "pulumi");
  writeFileSync(
    bin,
    [
      "#!/bin/sh",
      `echo "$(pwd) $*" >> '${path.join(dir, "calls")}'`,
      `if [ "$1" = version ]; then echo '${version.out}'; exit ${version.code}; fi`,
      'echo "error: fake pulumi has no backend ($1 $2)" >&2',
      "exit 255",
      "",
    ].join("\n"),
  );
  chmodSync(bin, 0o755);
  return bin;
}

function runPreviewAll(args: string[], PATH: string) {
  return spawnSync(process.execPath, ["--import", "tsx", SCRIPT, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, PATH },
  });
}

test("listStacks: every Pulumi.<stack>.yaml, not the project file, sorted", (t) => {
  assert.deepEqual(listStacks(exampleProject()), [...STACKS]);
  const dir = tempDir(t);
  for (const f of ["Pulumi.yaml", "Pulumi.zz.yaml", "Pulumi.a.b.yaml", "Pulumi.c.yml", "pulumi.d.yaml"]) writeFileSync(path.join(dir, f), "");
  assert.deepEqual(listStacks(dir), ["a.b", "zz"]);
});

test("detectPulumiCli: absent, failing `pulumi version`, working", (t) => {
  const empty = tempDir(t);
  assert.deepEqual(detectPulumiCli({ PATH: empty }), { found: false, reason: "pulumi CLI not found" });

  const broken = tempDir(t);
  fakePulumi(broken, { out: "boom", code: 3 });
  assert.deepEqual(detectPulumiCli({ PATH: broken }), { found: false, reason: "pulumi version failed (exit 3): boom" });

  const working = tempDir(t);
  fakePulumi(working, { out: "v3.248.0", code: 0 });
  assert.deepEqual(detectPulumiCli({ PATH: working }), { found: true, version: "v3.248.0" });
  assert.equal(readFileSync(path.join(working, "calls"), "utf8"), `${process.cwd()} version\n`);
});

test("chooseMode: --offline never asks for the CLI; otherwise the CLI decides and the line says why", () => {
  const never = (): PulumiCli => assert.fail("detect must not run with --offline");
  assert.deepEqual(chooseMode(true, never), { cli: false, line: "--offline given: rendering offline with Pulumi mocks" });
  assert.deepEqual(chooseMode(false, () => ({ found: false, reason: "pulumi CLI not found" })), {
    cli: false,
    line: "pulumi CLI not found: rendering offline with Pulumi mocks",
  });
  assert.deepEqual(chooseMode(false, () => ({ found: true, version: "v3.248.0" })), {
    cli: true,
    line: "pulumi CLI v3.248.0 found: previewing through the Automation API (LocalWorkspace)",
  });
});

test("summarize: one line a stack and the failures named", () => {
  assert.equal(
    summarize([
      { stack: "dev", ok: true, summary: "13 resources, 8 files in out/dev/" },
      { stack: "broken", ok: false, summary: "render exit 2: pci-passthrough:maas.tag: is required" },
    ]),
    "\nSummary:\n  dev     ok      13 resources, 8 files in out/dev/\n  broken  FAILED  render exit 2: pci-passthrough:maas.tag: is required\n1 of 2 stacks failed: broken\n",
  );
});

test("without a pulumi CLI it renders every example stack offline and says so", (t) => {
  const out = tempDir(t);
  const r = runPreviewAll(["--out", out, "--dir", exampleProject()], PATH_WITHOUT_PULUMI);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split("\n");
  assert.equal(lines[0], "pulumi CLI not found: rendering offline with Pulumi mocks");
  assert.equal(lines[1], `Stacks: ${STACKS.join(", ")}`);
  const summary = r.stdout.slice(r.stdout.indexOf("\nSummary:\n"));
  const expected = STACKS.map((s) => {
    const resources = (JSON.parse(readFileSync(path.join(out, s, "resources.json"), "utf8")) as unknown[]).length;
    const files = readdirSync(path.join(out, s)).length;
    assert.equal(files, ARTIFACTS.length, `out/${s}/ holds every artifact`);
    return `  ${s.padEnd(5)}  ok      ${resources} resources, ${files} files in ${path.join(out, s)}/`;
  });
  assert.equal(summary, `\nSummary:\n${expected.join("\n")}\n${STACKS.length} of ${STACKS.length} stacks ok\n`);
  // Each stack's own render output is shown, in stack order.
  const at = STACKS.map((s) => r.stdout.indexOf(`── ${s} ──\nPreviewing stack ${s} offline`));
  assert.deepEqual(at, [...at].sort((x, y) => x - y));
  assert.ok(at.every((i) => i >= 0));
});

test("renderOffline reports every failing stack, not just the first", async (t) => {
  const dir = tempDir(t);
  const original = readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
  // A MAAS tag name has no spaces: both copies fail validation (exit 2) before the program runs.
  const broken = original.replace(/^ {4}tag: pci-pass$/m, "    tag: 'no spaces allowed'");
  assert.notEqual(broken, original, "the edit applies");
  writeFileSync(path.join(dir, "Pulumi.b1.yaml"), broken);
  copyFileSync(path.join(dir, "Pulumi.b1.yaml"), path.join(dir, "Pulumi.b2.yaml"));
  let printed = "";
  const results = await renderOffline(["b1", "b2"], path.join(dir, "out"), (s) => (printed += s), dir);
  assert.deepEqual(
    results.map((r) => [r.stack, r.ok, r.summary.startsWith('render exit 2: pci-passthrough:maas.tag: "no spaces allowed" ')]),
    [
      ["b1", false, true],
      ["b2", false, true],
    ],
  );
  assert.match(printed, /── b1 ──\n[\s\S]*pci-passthrough:maas\.tag: [\s\S]*── b2 ──\n[\s\S]*pci-passthrough:maas\.tag: /);
  assert.equal(existsSync(path.join(dir, "out")), false, "nothing rendered for invalid stacks");
});

test("with a pulumi CLI it previews each stack through the Automation API and reports every failure", (t) => {
  const bin = tempDir(t);
  fakePulumi(bin, { out: "v3.248.0", code: 0 });
  const project = exampleProject();
  const r = runPreviewAll(["--dir", project], `${bin}${path.delimiter}${PATH_WITHOUT_PULUMI}`);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  const lines = r.stdout.split("\n");
  assert.equal(lines[0], "pulumi CLI v3.248.0 found: previewing through the Automation API (LocalWorkspace)");
  assert.equal(
    r.stdout.slice(r.stdout.indexOf("\nSummary:\n")),
    [
      "",
      "Summary:",
      ...STACKS.map((s) => `  ${s.padEnd(5)}  FAILED  preview failed: error: fake pulumi has no backend (stack select)`),
      `${STACKS.length} of ${STACKS.length} stacks failed: ${STACKS.join(", ")}`,
      "",
    ].join("\n"),
  );
  // The workspace is the project directory, and each stack is selected by its name, in order.
  const calls = readFileSync(path.join(bin, "calls"), "utf8").trim().split("\n");
  const selects = calls.filter((c) => c.includes(" stack select "));
  assert.deepEqual(
    selects,
    STACKS.map((s) => `${project} stack select --stack ${s} --non-interactive`),
  );
});
