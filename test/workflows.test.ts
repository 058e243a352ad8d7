// The GitHub workflows: schema-valid for @action-validator/cli (which must also be able to say no), and
// doing what the project promises: tests on every push and pull request, the same steps as .ci/run; on
// pull requests, an offline render of every stack uploaded as an artifact and a `pulumi preview` commented
// on the pull request, skipped with a notice when no Pulumi credentials are available.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { ROOT, STACKS, exampleProject } from "./helpers";
import { listStacks } from "../tools/preview-all/main";

const WORKFLOWS = path.join(ROOT, ".github", "workflows");
const VALIDATOR = path.join(ROOT, "node_modules", ".bin", "action-validator");

interface Step {
  id?: string;
  name?: string;
  if?: string;
  uses?: string;
  run?: string;
  shell?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  needs?: string | string[];
  "runs-on": string;
  env?: Record<string, string>;
  outputs?: Record<string, string>;
  strategy?: { "fail-fast"?: boolean; matrix: Record<string, unknown> };
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  jobs: Record<string, Job>;
}

function workflow(file: string): Workflow {
  return parse(readFileSync(path.join(WORKFLOWS, file), "utf8")) as Workflow;
}

function validate(file: string) {
  return spawnSync(VALIDATOR, [file], { encoding: "utf8" });
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), "workflows-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The single step of `job` matching `pick`. */
function step(job: Job, pick: (s: Step) => boolean, what: string): Step {
  const found = job.steps.filter(pick);
  assert.equal(found.length, 1, `exactly one step ${what}`);
  return found[0]!;
}

const indexOf = (job: Job, s: Step) => job.steps.indexOf(s);

test("every workflow passes action-validator", () => {
  const files = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));
  assert.deepEqual(files.filter((f) => ["preview.yml", "test.yml"].includes(f)).sort(), ["preview.yml", "test.yml"]);
  for (const f of files) {
    const r = validate(path.join(WORKFLOWS, f));
    assert.equal(r.status, 0, `${f}: ${r.stdout}${r.stderr}`);
  }
});

test("action-validator rejects a broken workflow (so the check above can fail)", (t) => {
  const dir = tempDir(t);
  const text = readFileSync(path.join(WORKFLOWS, "test.yml"), "utf8");
  const cases: [string, string, string][] = [
    ["unknown-event.yml", text.replace(/^on:\n {2}push:\n {2}pull_request:\n/m, "on: [pushh]\n"), '"path": "/on/0"'],
    ["no-runs-on.yml", text.replace(/^ {4}runs-on: ubuntu-latest\n/m, ""), '"path": "/jobs/test/runs-on"'],
  ];
  for (const [name, broken, expected] of cases) {
    assert.notEqual(broken, text, `${name}: the edit applies`);
    const file = path.join(dir, name);
    writeFileSync(file, broken);
    const r = validate(file);
    assert.equal(r.status, 1, `${name} must be rejected`);
    assert.ok(r.stderr.includes(expected), `${name}: ${r.stderr}`);
  }
});

test("test.yml: on every push and pull request, the steps of .ci/run with CI set", () => {
  const wf = workflow("test.yml");
  assert.deepEqual(Object.keys(wf.on).sort(), ["pull_request", "push"]);
  assert.equal(wf.on.push, null, "every branch");
  assert.equal(wf.on.pull_request, null, "every pull request");
  assert.deepEqual(wf.permissions, { contents: "read" });
  const job = wf.jobs.test!;
  assert.equal(job["runs-on"], "ubuntu-latest");
  assert.deepEqual(job.steps[0], { uses: "actions/checkout@v4" });
  assert.deepEqual(job.steps[1], { uses: "actions/setup-node@v4", with: { "node-version": 20, cache: "npm" } });

  // The same apt packages and npm commands, in the same order, as the CI entry point .ci/run.
  const ciRun = readFileSync(path.join(ROOT, ".ci", "run"), "utf8").split("\n");
  const aptPackages = (line: string) => /apt-get install -y --no-install-recommends (.+)$/.exec(line)?.[1]?.trim().split(/\s+/);
  const ciPackages = ciRun.map(aptPackages).find((p) => p !== undefined);
  assert.deepEqual(ciPackages, ["cloud-init", "shellcheck", "python3-nova", "python3-libvirt", "openssh-server", "openssh-client"]);
  const install = step(job, (s) => s.run?.startsWith("sudo apt-get update && ") ?? false, "installing the tools");
  assert.equal(install.run, `sudo apt-get update && sudo apt-get install -y --no-install-recommends ${ciPackages!.join(" ")}`);

  // The host-vm tools: .ci/run's second apt line, installed by a step of their own.
  const hostVmPackages = ciRun.map(aptPackages).filter((p) => p !== undefined)[1];
  assert.deepEqual(hostVmPackages, ["qemu-system-x86", "debootstrap", "debian-archive-keyring", "systemd-container", "e2fsprogs"]);
  step(job, (s) => s.run === `sudo apt-get install -y --no-install-recommends ${hostVmPackages!.join(" ")}`, "installing the host-vm tools");

  const ciNpm = ciRun.filter((l) => l.startsWith("npm "));
  assert.deepEqual(ciNpm, ["npm ci", "npm run typecheck", "npm run lint", "npm test", "npm run test:lab", "npm run test:host-vm"]);
  // test:host-vm runs as root (debootstrap, mount, systemd-nspawn), as .ci/run does, with the runner's PATH and CI.
  const asRoot = 'sudo env "PATH=$PATH" "CI=$CI" ';
  const npmOf = (run: string | undefined) => run?.replace(asRoot, "");
  assert.ok(ciRun.includes("tools/lab/install-packages.sh"), ".ci/run installs the lab packages");
  const lab = step(job, (s) => s.run === "sudo tools/lab/install-packages.sh", "installing the lab packages");
  assert.ok(indexOf(job, lab) < indexOf(job, step(job, (s) => s.run === "npm ci", "npm ci")));
  const npmSteps = job.steps.filter((s) => npmOf(s.run)?.startsWith("npm "));
  assert.deepEqual(
    npmSteps.map((s) => npmOf(s.run)),
    ciNpm,
  );
  assert.equal(npmSteps.at(-1)!.run, `${asRoot}npm run test:host-vm`);
  // The SSH runner suite skips when not root (GitHub's runner user): a step runs it as root, right after npm test.
  const ssh = step(job, (s) => s.run?.includes("test/components/ssh-runner.test.ts") ?? false, "running the SSH runner suite");
  assert.equal(ssh.run, `${asRoot}node --import tsx --test test/components/ssh-runner.test.ts`);
  assert.deepEqual(ssh.env, { CI: "true" });
  assert.equal(indexOf(job, ssh), indexOf(job, npmSteps.find((s) => s.run === "npm test")!) + 1);
  assert.ok(readFileSync(path.join(ROOT, "test", "components", "ssh-runner.test.ts"), "utf8").includes("process.getuid?.() !== 0"), "the suite it runs is the one that skips when not root");
  assert.ok(indexOf(job, install) < indexOf(job, npmSteps[0]!), "tools before npm");
  for (const s of npmSteps.slice(-3)) assert.deepEqual(s.env, { CI: "true" }, `${s.run} runs with CI=true: missing tools fail, not skip`);
});

test("preview.yml: on pull requests, stacks listed into a matrix, render uploaded, pulumi preview commented", () => {
  const wf = workflow("preview.yml");
  assert.deepEqual(Object.keys(wf.on), ["pull_request"]);
  assert.deepEqual(wf.permissions, { contents: "read", "pull-requests": "write" });

  step(wf.jobs.stacks!, (s) => s.id === "list", "listing the stacks");
  assert.equal(wf.jobs.stacks!.outputs?.stacks, "${{ steps.list.outputs.stacks }}");

  const job = wf.jobs.preview!;
  assert.equal(job.needs, "stacks");
  assert.equal(job.strategy?.["fail-fast"], false, "one failing stack does not hide the others");
  assert.deepEqual(job.strategy?.matrix, { stack: "${{ fromJSON(needs.stacks.outputs.stacks) }}" });
  assert.equal(job.env?.STACK, "${{ matrix.stack }}");

  const npmCi = step(job, (s) => s.run === "npm ci", "installing dependencies");
  const render = step(job, (s) => s.run?.startsWith("npm run render") ?? false, "rendering");
  assert.equal(render.run, 'npm run render -- "$STACK"');
  const upload = step(job, (s) => s.uses?.startsWith("actions/upload-artifact") ?? false, "uploading the render");
  assert.deepEqual(upload, {
    name: "Upload the render",
    uses: "actions/upload-artifact@v4",
    with: { name: "render-${{ matrix.stack }}", path: "out/${{ matrix.stack }}/", "if-no-files-found": "error" },
  });

  const creds = step(job, (s) => s.id === "creds", "checking for credentials");
  assert.equal(creds.env?.PULUMI_ACCESS_TOKEN, "${{ secrets.PULUMI_ACCESS_TOKEN }}");
  const notice = step(job, (s) => s.run?.includes("::notice") ?? false, "announcing the skipped preview");
  assert.equal(notice.if, "steps.creds.outputs.available != 'true'");
  assert.match(notice.run!, /::notice title=pulumi preview skipped::/);

  const preview = step(job, (s) => s.uses?.startsWith("pulumi/actions") ?? false, "running pulumi");
  assert.equal(preview.uses, "pulumi/actions@v6");
  assert.equal(preview.if, "steps.creds.outputs.available == 'true'");
  assert.equal(preview.with?.command, "preview");
  assert.equal(preview.with?.["comment-on-pr"], true);
  assert.equal(preview.with?.["github-token"], "${{ secrets.GITHUB_TOKEN }}");
  assert.equal(
    preview.with?.["stack-name"],
    "${{ vars.PULUMI_ORG && format('{0}/{1}', vars.PULUMI_ORG, matrix.stack) || matrix.stack }}",
  );
  assert.equal(preview.with?.["cloud-url"], "${{ vars.PULUMI_BACKEND_URL }}");
  assert.equal(preview.env?.PULUMI_ACCESS_TOKEN, "${{ secrets.PULUMI_ACCESS_TOKEN }}");
  assert.equal(preview.env?.PULUMI_CONFIG_PASSPHRASE, "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}");
  for (const [k, v] of Object.entries(preview.env ?? {})) if (k.startsWith("OS_")) assert.equal(v, `\${{ secrets.${k} }}`);
  assert.ok("OS_AUTH_URL" in (preview.env ?? {}) && "OS_PASSWORD" in (preview.env ?? {}));

  // The render is uploaded whatever happens to the preview: no condition on it (the deepEqual above), and before the preview.
  assert.ok(indexOf(job, npmCi) < indexOf(job, render) && indexOf(job, render) < indexOf(job, upload));
  assert.ok(indexOf(job, upload) < indexOf(job, creds) && indexOf(job, creds) < indexOf(job, preview));
  // The credentials only reach the steps that need them.
  for (const s of job.steps) {
    if (s !== creds && s !== preview) assert.ok(!JSON.stringify(s).includes("secrets."), `${s.name ?? s.uses ?? s.run} sees no secrets`);
  }
});

/** Runs the workflow's stack-listing step as GitHub would (bash -eo pipefail) in `cwd`; its output file and exit code. */
function runListStep(cwd: string, scratch: string): { status: number | null; output: string; stdout: string } {
  const list = step(workflow("preview.yml").jobs.stacks!, (s) => s.id === "list", "listing the stacks");
  assert.equal(list.shell, "bash");
  const script = path.join(scratch, "list.sh");
  const output = path.join(scratch, "github-output");
  writeFileSync(script, list.run!);
  writeFileSync(output, "");
  const r = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", script], {
    cwd,
    encoding: "utf8",
    env: { PATH: process.env.PATH, GITHUB_OUTPUT: output },
  });
  return { status: r.status, output: readFileSync(output, "utf8"), stdout: r.stdout };
}

test("preview.yml's matrix step lists both example stacks, as listStacks() does", (t) => {
  const dir = tempDir(t);
  const scratch = path.join(dir, "scratch");
  const repo = path.join(dir, "repo");
  const empty = path.join(dir, "empty");
  for (const d of [scratch, repo, empty]) mkdirSync(d);
  const examples = exampleProject();
  const r = runListStep(examples, scratch);
  assert.equal(r.status, 0, r.stdout);
  assert.equal(r.output, `stacks=${JSON.stringify([...STACKS])}\n`);
  assert.deepEqual(listStacks(examples), [...STACKS]);

  // Odd names: same answer as tools/preview-all/main.ts; none at all fails the job instead of an empty matrix.
  for (const f of ["Pulumi.yaml", "Pulumi.prod.eu.yaml", "Pulumi.b.yml", "Pulumi.a-1.yaml"]) writeFileSync(path.join(repo, f), "");
  const odd = runListStep(repo, scratch);
  assert.equal(odd.output, `stacks=${JSON.stringify(listStacks(repo))}\n`);
  assert.deepEqual(listStacks(repo), ["a-1", "prod.eu"]);

  writeFileSync(path.join(empty, "Pulumi.yaml"), "");
  const none = runListStep(empty, scratch);
  assert.equal(none.status, 1);
  assert.equal(none.output, "");
  assert.match(none.stdout, /^::error::no Pulumi\.<stack>\.yaml in the repository$/m);
});
