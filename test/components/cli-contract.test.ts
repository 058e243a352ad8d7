// The maas and juju test doubles held to the real CLIs: each row of test/contract/cli-contract.yaml (a call,
// what the real CLI does, the source that says so) is run against the doubles, which must answer on the same
// stream, with the same exit status and the same bytes (the transcripts beside the table). A double that is
// kinder than the real tool (a 404 on stderr, an unknown option accepted) fails here. And every call the
// program makes, in every example stack's life (up, resync, a runner switch, destroy, verify), has a row.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { requireSiteConfig } from "../../config/parse";
import { liveReadCommand } from "../../render/steps/reads";
import { hostReadCommand } from "../../render/steps/host-reads";
import { renderSite } from "../../render/site";
import { fakeSeeds } from "../../tools/lab/commands";
import { argvLog, openstackBin, world } from "../fakes-world";
import { STACKS, editStack } from "../helpers";
import { callKind, contract, expectStream, runRow } from "../contract";
import { EMPTY_STACK, commandResources, destroy, recordProgram, up } from "../pulumi-emulator";

describe("the doubles answer as the real CLIs do, row by row (test/contract/cli-contract.yaml)", () => {
  const ids = new Set<string>();
  for (const row of contract.rows) {
    test(`${row.id}: ${row.call} (${row.case}): exit ${row.exit}`, () => {
      assert.ok(!ids.has(row.id), `duplicate row ${row.id}`);
      ids.add(row.id);
      for (const k of ["call", "case", "real", "source"] as const) assert.ok(row[k]?.length > 5, `${row.id} says its ${k}`);
      const r = runRow(row);
      assert.equal(r.status, row.exit, `${row.id}: exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      expectStream(row, "stdout", r.stdout);
      expectStream(row, "stderr", r.stderr);
    });
  }
});

test("every call the program makes has a row: up, resync, destroy (its model teardown too) and verify of every example stack", () => {
  const made = new Set<string>();
  // Each example stack with its own Juju, and the runbook's with the other one too.
  const runs = [...STACKS.map((stack) => [stack, undefined] as const), ["dev", "2.9"] as const];
  for (const [stack, juju] of runs) {
    const raw = editStack(stack, (r) => {
      r.juju.version = juju ?? r.juju.version;
      r.juju.destroyModelOnDelete = !r.juju.existingModel;
      r.maas.url = "http://10.0.0.2:5240/MAAS/";
      r.maas.apiKey = "k3yc0nsumer:t0ken:s3cret";
      r.smokeTest ??= { image: "jammy", network: "net", servers: [{ name: "s", flavor: r.flavors[0].name }] };
    });
    const site = requireSiteConfig(raw);
    const w = world(fakeSeeds(site), [openstackBin()]);
    const first = up(w, EMPTY_STACK, commandResources(recordProgram(raw, stack))).state;
    const resynced = up(w, first, commandResources(recordProgram({ ...raw, resync: "1" }, stack))).state;
    // verify's reads, where the steps run.
    const read = liveReadCommand(site.maas, renderSite(site).groups.map((g) => g.tag), site.juju, Object.keys(renderSite(site).charmOptions));
    assert.equal(spawnSync("/bin/sh", ["-c", read.script, read.step, "create"], { env: w.env }).status, 0);
    // verify --hosts: the probe on each group's application.
    const hosts = hostReadCommand(site.juju, [...new Set(site.groups.map((g) => g.application))], renderSite(site).probe);
    assert.equal(spawnSync("/bin/sh", ["-c", hosts.script, hosts.step, "create"], { env: { ...w.env, ...hosts.environment } }).status, 0);
    destroy(w, { resources: resynced.resources.map((r) => ({ ...r, protect: false })) });
    for (const cli of ["maas", "juju"] as const) for (const argv of argvLog(w, cli)) made.add(callKind(cli, argv));
  }
  const rows = new Set(contract.rows.map((r) => callKind(r.argv[0] as "maas" | "juju", r.argv.slice(1))));
  const missing = [...made].filter((k) => !rows.has(k)).sort();
  assert.deepEqual(missing, [], "calls the program makes without a row in test/contract/cli-contract.yaml");
  assert.ok(made.size >= 15, [...made].join("\n"));
});
