// verify --hosts' read script (render/steps/host-reads.ts): shellcheck-clean for both Juju versions, the probe as one
// command-line argument no shell reads differently, and a probe too long for one argument refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { renderSite } from "../../render/site";
import { PROBE_COMMAND_ENV, hostReadCommand, probeCommandLine } from "../../render/steps/host-reads";
import { editStack, needTool } from "../helpers";
import { requireSiteConfig } from "../../config/parse";

test("the probe's command line: echo, base64 of the probe, a pipe to sh; nothing a shell expands; bounded", () => {
  const site = requireSiteConfig(editStack("mixed", () => {}));
  const probe = renderSite(site).probe;
  const line = probeCommandLine(probe);
  assert.match(line, /^echo [A-Za-z0-9+/=]+ \| base64 -d \| sh$/);
  // The probe holds what a double-quoted argument would hand to the unit's shell: backquotes, newlines.
  assert.match(probe, /`/);
  const r = spawnSync("/bin/bash", ["-c", line.replace(/\| sh$/, "")], { encoding: "utf8" });
  assert.equal(r.stdout, probe);
  assert.throws(() => probeCommandLine("x".repeat(100_000)), /over one argument's 131072/);
});

test("the read script is shellcheck-clean for Juju 3 and 2.9, and the probe travels in its environment", { skip: needTool("shellcheck", "shellcheck") }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), "pcipt-host-reads-"));
  try {
    for (const version of ["3", "2.9"]) {
      const site = requireSiteConfig(editStack("mixed", (raw) => (raw.juju.version = version)));
      const spec = hostReadCommand(site.juju, site.groups.map((g) => g.application), renderSite(site).probe);
      assert.deepEqual(Object.keys(spec.environment), [PROBE_COMMAND_ENV]);
      assert.doesNotMatch(spec.script, /base64 -d \| sh/, "the probe is not in the script's text");
      const file = path.join(dir, `read-${version}.sh`);
      writeFileSync(file, spec.script);
      const r = spawnSync("shellcheck", ["-s", "sh", file], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stdout);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
