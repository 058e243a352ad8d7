// Golden files: a missing one fails (CI or not) and is never written on the spot; UPDATE_GOLDEN=1 writes it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import * as path from "node:path";
import { ROOT } from "./helpers";

function expectGoldenIn(env: Record<string, string | undefined>, name: string) {
  const code = `require(${JSON.stringify(path.join(ROOT, "test", "helpers.ts"))}).expectGolden(${JSON.stringify(name)}, "new\\n")`;
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "UPDATE_GOLDEN" && k !== "CI"));
  return spawnSync(process.execPath, ["--import", "tsx", "-e", code], { cwd: ROOT, env: { ...clean, ...env }, encoding: "utf8" });
}

test("a golden file that does not exist fails without UPDATE_GOLDEN=1, with CI set or not, and is not written", () => {
  const name = `missing-${process.pid}.txt`;
  const file = path.join(ROOT, "test", "golden", name);
  try {
    for (const env of [{}, { CI: "true" }]) {
      const r = expectGoldenIn(env, name);
      assert.notEqual(r.status, 0, JSON.stringify(env));
      assert.match(r.stderr, new RegExp(`golden file test/golden/${name} is missing \\(run with UPDATE_GOLDEN=1, review it and commit it\\)`));
      assert.equal(existsSync(file), false, "nothing written");
    }
    const r = expectGoldenIn({ UPDATE_GOLDEN: "1" }, name);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(existsSync(file), true, "UPDATE_GOLDEN=1 writes it");
    assert.equal(expectGoldenIn({}, name).status, 0, "and then it is compared");
  } finally {
    rmSync(file, { force: true });
  }
});
