// `cloud-init schema` (Debian package cloud-init) on a cloud-config, as the host conformance suite and the
// import-maas conformance test run it.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const slug = (s: string) => s.replace(/[^A-Za-z0-9]+/g, "-");

/** Runs a command; resolves with its exit status and output instead of throwing on a non-zero exit. */
export async function outcome(cmd: string, args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const r = await run(cmd, args, { encoding: "utf8" });
    return { status: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { status: typeof err.code === "number" ? err.code : -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

/** `cloud-init schema --config-file`: fails on a non-zero exit or on any error or deprecation it prints. */
export async function cloudInitSchema(dir: string, name: string, cloudConfig: string): Promise<void> {
  const file = path.join(dir, `${slug(name)}.yaml`);
  writeFileSync(file, cloudConfig);
  const r = await outcome("cloud-init", ["schema", "--config-file", file]);
  const said = `${r.stdout}${r.stderr}`;
  assert.equal(r.status, 0, `${name}: cloud-init schema exited ${r.status}:\n${said}`);
  assert.doesNotMatch(said, /error|deprecat|warn/i, `${name}: cloud-init schema said:\n${said}`);
  assert.equal(r.stdout, `Valid cloud-config: ${file}\n`, name);
}

