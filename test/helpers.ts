// Shared by the tests: the example stacks, golden files, and skipping when a real tool is absent.
import { copyFileSync, readFileSync, writeFileSync, mkdirSync, mkdtempSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import assert from "node:assert/strict";
import { fromStackFile } from "../config/stack";
import { requireSiteConfig } from "../config/parse";
import type { SiteConfig } from "../config/types";

export const ROOT = path.resolve(__dirname, "..");

/** The example stacks shipped in the repository. Tests use these by name, never "every Pulumi.*.yaml of the
 * repository": an operator's own stack (`pulumi stack init site1`) must not change what the suite checks. */
export const STACKS = ["dev", "lab", "mixed"] as const;

/** The example stacks written with the top-level host and devices (one unnamed group), for tests that edit
 * those keys; Pulumi.mixed.yaml has hostGroups and its own tests. */
export const ONE_GROUP_STACKS: readonly string[] = STACKS.filter((s) => !("hostGroups" in rawStack(s)));

/** A temp project directory holding Pulumi.yaml and the example stacks only, for commands that list a
 * directory's stacks (preview-all, the workflows' matrix step). */
export function exampleProject(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "pcipt-project-"));
  for (const f of ["Pulumi.yaml", ...STACKS.map((s) => `Pulumi.${s}.yaml`)]) copyFileSync(path.join(ROOT, f), path.join(dir, f));
  return dir;
}

/** The raw `pci-passthrough:*` values of Pulumi.<stack>.yaml. */
export function rawStack(stack: string): Record<string, unknown> {
  return fromStackFile(readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")).raw;
}

/** The validated SiteConfig of Pulumi.<stack>.yaml. */
export function loadStack(stack: string): SiteConfig {
  return requireSiteConfig(rawStack(stack));
}

/** A deep copy of a raw stack with `edit` applied, for one-key variations. */
export function editStack(stack: string, edit: (raw: Record<string, any>) => void): Record<string, unknown> {
  const raw = structuredClone(rawStack(stack)) as Record<string, any>;
  edit(raw);
  return raw;
}

/** Compares `actual` with test/golden/<name>; UPDATE_GOLDEN=1 rewrites the file instead. A golden file that
 * does not exist fails, CI or not: writing it on the spot would make the test pass against anything. */
export function expectGolden(name: string, actual: string): void {
  const file = path.join(ROOT, "test", "golden", name);
  if (process.env.UPDATE_GOLDEN === "1") {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  assert.ok(existsSync(file), `golden file test/golden/${name} is missing (run with UPDATE_GOLDEN=1, review it and commit it)`);
  assert.equal(actual, readFileSync(file, "utf8"), `differs from golden file test/golden/${name} (UPDATE_GOLDEN=1 to accept)`);
}

/** True when `cmd` runs (`cmd --version` or the given probe args exits 0). */
export function hasTool(cmd: string, probe: string[] = ["--version"]): boolean {
  const r = spawnSync(cmd, probe, { stdio: "ignore" });
  return r.error === undefined && r.status === 0;
}

/**
 * For `test(name, { skip: needTool(...) }, fn)`: a skip reason when the tool is missing locally, so the
 * suite says why; under CI (`CI` set) never skip, so a missing tool fails the test instead.
 */
export function needTool(cmd: string, debianPackage: string, probe?: string[]): string | false {
  if (hasTool(cmd, probe)) return false;
  if (process.env.CI) return false;
  const reason = `${cmd} not found: apt-get install -y ${debianPackage} (CI fails instead of skipping)`;
  process.stderr.write(`skip: ${reason}\n`);
  return reason;
}

export interface Rendered {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Where the artifacts went (out/<stack> inside a temp dir). */
  dir: string;
}

/** `npm run render -- <stack>` in a child process (mocks are process-wide), into a temp dir; with
 * `stackText`, from that text as a temporary Pulumi.<stack>.yaml instead of the repository's. */
export function renderStack(stack: string, stackText?: string): Rendered {
  const base = mkdtempSync(path.join(tmpdir(), "pcipt-render-"));
  const dir = path.join(base, "out", stack);
  const args = ["--import", "tsx", path.join(ROOT, "tools", "render", "main.ts"), stack, "--out", dir];
  if (stackText !== undefined) {
    const file = path.join(base, `Pulumi.${stack}.yaml`);
    writeFileSync(file, stackText);
    args.push("--stack-file", file);
  }
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, dir };
}
