// test/bundle-check (Go, github.com/juju/charm/v12): built once per suite, run on a base bundle and overlays as
// `juju deploy BUNDLE --overlay F` merges and verifies them. Shared by the bundle overlay suite and the import-maas
// conformance test.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ROOT, hasTool, needTool } from "../helpers";

export const CHECK_DIR = path.join(ROOT, "test", "bundle-check");
export const BASES_DIR = path.join(CHECK_DIR, "bases");
export const BASES = readdirSync(BASES_DIR).filter((f) => f.endsWith(".yaml")).sort();

// The go command: on PATH, else where the Go tarball installs it (CI machines have it there, not always on
// PATH). .ci/run downloads the module from the Go proxy; the build uses the machine's module cache.
export const GO = hasTool("go", ["version"]) ? "go" : "/usr/local/go/bin/go";
export const SKIP = needTool(GO, "golang-go (Go 1.20 or later)", ["version"]);

/** What test/bundle-check prints: the merged bundle as Juju's code holds it. */
export interface Summary {
  stage: "base" | "merge" | "verify" | "ok";
  series?: string;
  "default-base"?: string;
  machines: Record<string, { constraints?: string; series?: string; base?: string }>;
  applications: Record<
    string,
    { charm: string; channel?: string; num_units: number; to: string[]; constraints?: string; series?: string; base?: string; options: Record<string, unknown> }
  >;
  relations: string[][];
  warnings: string[];
  errors: string[];
}

export interface Checked {
  status: number | null;
  stderr: string;
  summary: Summary;
}

/** Builds test/bundle-check into a new temp dir (-mod=readonly: go.mod and go.sum are the pin, a build never
 * rewrites them). */
export function buildBundleCheck(): { work: string; binary: string } {
  const work = mkdtempSync(path.join(tmpdir(), "bundle-check-"));
  const binary = path.join(work, "bundle-check");
  const r = spawnSync(GO, ["build", "-mod=readonly", "-buildvcs=false", "-o", binary, "."], { cwd: CHECK_DIR, encoding: "utf8" });
  assert.equal(r.status, 0, `go build in test/bundle-check failed: ${r.error?.message ?? ""}\n${r.stderr}`);
  return { work, binary };
}

/** Runs test/bundle-check on a base bundle and overlays (file paths). */
export function runBundleCheck(binary: string, base: string, ...overlays: string[]): Checked {
  const r = spawnSync(binary, [base, ...overlays], { encoding: "utf8" });
  assert.ok(r.status === 0 || r.status === 1, `bundle-check exited ${r.status}: ${r.stderr}`);
  return { status: r.status, stderr: r.stderr, summary: JSON.parse(r.stdout) as Summary };
}

