// What `juju exec --format json` (3) and `juju run --format json` (2.9) print for the host probe, as recorded in
// test/fixtures/juju-exec/ (the README there cites the juju source of each detail), read by domain/juju-exec.ts
// and judged by tools/verify/hosts.ts: per host and per group, whatever the version, a failing or silent unit
// included.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { parseJujuExec, type JujuCliVersion } from "../../domain/juju-exec";
import { hostExpectations, type HostExpectations } from "../../render/host/expectations";
import { analyseUnits } from "../../tools/verify/hosts";
import { groupSummary, hostsExitCode, hostsJson, hostsReport } from "../../tools/verify/hosts-report";
import { loadStack } from "../helpers";

const DIR = path.join(__dirname, "..", "fixtures", "juju-exec");

interface Transcript {
  juju: JujuCliVersion;
  command: string;
  units: string[];
  exit: number;
  stdout: string;
  stderr: string;
}

const transcript = (file: string) => parse(readFileSync(path.join(DIR, file), "utf8")) as Transcript;
/** The a100 group's expectations when the transcripts were recorded (their render and files). */
const RECORDED = JSON.parse(readFileSync(path.join(DIR, "a100-expectations.json"), "utf8")) as HostExpectations;

function judged(file: string) {
  const t = transcript(file);
  const parsed = parseJujuExec(t.juju, t.stdout);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.problem);
  return { t, units: parsed.units, reports: analyseUnits(RECORDED, parsed.units, t.units) };
}

test("the recorded expectations have the shape hostExpectations gives today (else record the transcripts again)", () => {
  const now = hostExpectations(loadStack("mixed").groups.find((g) => g.name === "a100")!);
  const shape = (e: HostExpectations) => [Object.keys(e).sort(), ...e.files.map((f) => Object.keys(f).sort())];
  assert.deepEqual(shape(RECORDED), shape(now));
});

test("every transcript says the command it recorded and is read without a problem", () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith(".yaml"));
  assert.equal(files.length, 6);
  for (const f of files) {
    const t = transcript(f);
    assert.match(t.command, t.juju === "2.9" ? /^juju run --format json -m openstack --application nova-compute-a100 -- / : /^juju exec --format json -m openstack --application nova-compute-a100 -- /, f);
    assert.ok(parseJujuExec(t.juju, t.stdout).ok, f);
  }
});

for (const [version, file] of [
  ["3", "juju3-success.yaml"],
  ["2.9", "juju29-success.yaml"],
] as const) {
  test(`Juju ${version}, every probe ran: one host each, judged; the summary of group a100`, () => {
    const { t, units, reports } = judged(file);
    assert.equal(t.exit, 0);
    assert.deepEqual(
      units.map((u) => [u.unit, u.code, u.stderr]),
      [0, 1, 2, 3].map((n) => [`nova-compute-a100/${n}`, 0, ""]),
    );
    if (version === "3") assert.deepEqual(units.map((u) => u.status), ["completed", "completed", "completed", "completed"]);
    assert.deepEqual(
      reports.map((r) => [r.host, r.verdict, r.reasons[0]]),
      [
        ["nova-compute-a100/0", "ready", undefined],
        ["nova-compute-a100/1", "needs reboot", "/boot/initrd.img-6.8.0-45-generic was rebuilt after this boot (2024-06-03T06:42:00Z, booted 2024-06-03T06:40:00Z)"],
        ["nova-compute-a100/2", "broken", "0000:31:00.0 on nouveau"],
        ["nova-compute-a100/3", "needs redeploy", "not prepared: no prepare script, no marker (the machine was provisioned before the model had this userdata)"],
      ],
    );
    assert.equal(groupSummary("a100", reports), "a100: 1/4 ready, 1 needs reboot, 1 needs redeploy, 1 broken: 0000:31:00.0 on nouveau");
    assert.equal(hostsExitCode(reports), 1);
    assert.deepEqual(
      hostsReport(reports).split("\n").filter((l) => !l.startsWith(" ")),
      [
        "ready           nova-compute-a100/0 (gpu-a100-01)",
        "NEEDS REBOOT    nova-compute-a100/1 (gpu-a100-02): /boot/initrd.img-6.8.0-45-generic was rebuilt after this boot (2024-06-03T06:42:00Z, booted 2024-06-03T06:40:00Z)",
        "BROKEN          nova-compute-a100/2 (gpu-a100-03): 0000:31:00.0 on nouveau",
        "NEEDS REDEPLOY  nova-compute-a100/3 (gpu-a100-04): not prepared: no prepare script, no marker (the machine was provisioned before the model had this userdata)",
        "",
      ],
    );
    const json = JSON.parse(hostsJson(reports)) as Array<{ host: string; verdict: string; facts: { hostname: string; functions: Array<{ address: string; driver: string }> } }>;
    assert.deepEqual(
      json.map((h) => [h.host, h.facts.hostname, h.verdict]),
      reports.map((r, i) => [r.host, `gpu-a100-0${i + 1}`, r.verdict]),
    );
    assert.deepEqual(
      json[2]!.facts.functions.map((f) => `${f.address} ${f.driver}`),
      ["0000:17:00.0 vfio-pci", "0000:31:00.0 nouveau"],
    );
  });
}

for (const [version, file, exit] of [
  ["3", "juju3-unit-failing.yaml", 1],
  ["2.9", "juju29-unit-failing.yaml", 0],
] as const) {
  test(`Juju ${version}, the probe exits 1 on one unit: its code and stderr come through, it is unknown (juju exits ${exit})`, () => {
    const { t, units, reports } = judged(file);
    assert.equal(t.exit, exit);
    assert.deepEqual(units[1], {
      unit: "nova-compute-a100/1",
      code: 1,
      stdout: "pci-passthrough-probe=1\n",
      stderr: "pci-passthrough-probe: cannot read /proc/cmdline\n",
      ...(version === "3" ? { status: "completed" } : {}),
    });
    assert.deepEqual(
      reports.map((r) => [r.host, r.verdict, r.reasons]),
      [
        ["nova-compute-a100/0", "ready", []],
        ["nova-compute-a100/1", "unknown", ["the probe exited 1: pci-passthrough-probe: cannot read /proc/cmdline"]],
      ],
    );
    assert.equal(groupSummary("a100", reports), "a100: 1/2 ready, 1 unknown: the probe exited 1: pci-passthrough-probe: cannot read /proc/cmdline");
    assert.equal(hostsExitCode(reports), 3);
  });
}

test("Juju 3, a unit down: no JSON at all, every unit of the application is unknown", () => {
  const { t, units, reports } = judged("juju3-unit-down.yaml");
  assert.deepEqual([t.exit, t.stdout, units], [1, "", []]);
  assert.deepEqual(
    reports.map((r) => [r.host, r.verdict]),
    t.units.map((u) => [u, "unknown"]),
  );
  assert.equal(groupSummary("a100", reports), "a100: 0/3 ready, 3 unknown: no result from Juju (the unit is down, or did not answer in time)");
});

test("Juju 2.9, a unit down: the others are judged, the silent one is unknown", () => {
  const { t, reports } = judged("juju29-unit-down.yaml");
  assert.equal(t.exit, 1);
  assert.deepEqual(
    reports.map((r) => [r.host, r.verdict]),
    [
      ["nova-compute-a100/0", "ready"],
      ["nova-compute-a100/1", "needs reboot"],
      ["nova-compute-a100/2", "unknown"],
    ],
  );
});

test("base64 output, a task with no result and a failed 2.9 action are read as Juju writes them", () => {
  const b64 = Buffer.from("caf\xe9\n", "latin1").toString("base64");
  const three = parseJujuExec(
    "3",
    JSON.stringify({
      "app/0": { id: "2", results: { "return-code": 0, stdout: b64, "stdout-encoding": "base64" }, status: "completed", unit: "app/0" },
      "app/1": { id: "3", message: "exec timed out", status: "failed", unit: "app/1" },
    }),
  );
  assert.ok(three.ok);
  assert.equal(three.units[0]!.stdout, Buffer.from(b64, "base64").toString("utf8"));
  assert.deepEqual(three.units[1], { unit: "app/1", code: undefined, stdout: "", stderr: "", status: "failed", message: "exec timed out" });
  const expect = hostExpectations(loadStack("mixed").groups[0]!);
  assert.deepEqual(analyseUnits(expect, [three.units[1]!])[0]!.reasons, ["Juju ran no probe (task failed): exec timed out"]);
  const old = parseJujuExec("2.9", JSON.stringify([{ Action: "5", Error: 'action "5" not found', UnitId: "app/0" }, { Message: "command timed out", Stdout: "", UnitId: "app/1" }]));
  assert.ok(old.ok);
  assert.deepEqual(
    old.units.map((u) => [u.unit, u.code, u.message]),
    [
      ["app/0", undefined, 'action "5" not found'],
      ["app/1", undefined, "command timed out"],
    ],
  );
});

test("what is not Juju's JSON is a problem, not an empty result", () => {
  const notJson = parseJujuExec("3", "ERROR model not found\n");
  assert.ok(!notJson.ok && notJson.problem.startsWith("juju exec printed no JSON: "), JSON.stringify(notJson));
  assert.deepEqual(parseJujuExec("2.9", '{"app/0": {}}'), { ok: false, problem: "not juju run's JSON: (top): Invalid input: expected array, received object" });
  assert.deepEqual(parseJujuExec("2.9", '[{"Stdout": "x"}]'), { ok: false, problem: "not juju run's JSON: [0] names no unit" });
  assert.deepEqual(parseJujuExec("3", "\n"), { ok: true, units: [] });
});
