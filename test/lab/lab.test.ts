import { allDevices } from "../../config/types";
// The lab itself against the real services: a cold `up`, an idempotent `up`, status, the openrc, the Compute
// API's own extra-spec validation at microversion 2.86, a restart on changed aliases, and a clean `down`.
// Its own state folder and ports, so it can run next to apply.test.ts and a developer's lab.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { labPaths, REPO } from "../../tools/lab/paths";
import { alive, livePid, portOpen } from "../../tools/lab/process";
import { labSkipReason, openstack, runLab } from "../../tools/lab/harness";
import { OPENSTACK } from "../../tools/lab/packages";
import { loadStack } from "../helpers";
import { pciAliasEntries } from "../../render/nova/aliases";

const STATE = path.join(REPO, ".lab", "test-lab");
const PORTS = { keystone: 15000, nova: 18774 };
const P = labPaths(STATE);
const skip = labSkipReason();
const portArgs = ["--keystone-port", String(PORTS.keystone), "--nova-port", String(PORTS.nova)];

const pids = () => ({ keystone: livePid(P.keystone), nova: livePid(P.nova) });

function ok(r: { code: number; stdout: string; stderr: string }, what: string): void {
  assert.equal(r.code, 0, `${what} exited ${r.code}:\n${r.stderr}${r.stdout}`);
}

after(() => {
  if (skip) return;
  runLab(STATE, ["down"]);
  rmSync(STATE, { recursive: true, force: true });
});

test("up from an empty state folder starts Keystone and nova-api and waits until both answer", { skip, timeout: 180_000 }, (t) => {
  rmSync(STATE, { recursive: true, force: true });
  const r = runLab(STATE, ["up", ...portArgs]);
  ok(r, "lab up");
  t.diagnostic(`cold up: ${(r.ms / 1000).toFixed(1)} s`);
  assert.match(r.stderr, new RegExp(`lab is up in [0-9.]+ s: keystone http://127\\.0\\.0\\.1:${PORTS.keystone}/v3, nova http://127\\.0\\.0\\.1:${PORTS.nova}/v2\\.1 \\(stack dev;`));
  const live = pids();
  assert.ok(live.keystone !== undefined && live.nova !== undefined, `pid files name live uwsgi processes: ${JSON.stringify(live)}`);
  // The stack's aliases, one oslo.config MultiStrOpt line each.
  const expected = pciAliasEntries(allDevices(loadStack("dev"))).map((e) => `alias = ${JSON.stringify(e)}`);
  assert.deepEqual(readFileSync(P.nova.conf, "utf8").split("\n").filter((l) => l.startsWith("alias = ")), expected);
});

test("up again with the lab running changes nothing and is fast", { skip }, (t) => {
  const before = pids();
  const r = runLab(STATE, ["up"]);
  ok(r, "second lab up");
  t.diagnostic(`idempotent up: ${(r.ms / 1000).toFixed(1)} s`);
  assert.match(r.stderr, /^lab is already up \(keystone http:\/\/127\.0\.0\.1:15000\/v3, nova http:\/\/127\.0\.0\.1:18774\/v2\.1\)$/m);
  assert.deepEqual(pids(), before, "no process was restarted");
  assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
});

test("status says both services are up, with their pids, and exits 0", { skip }, () => {
  const r = runLab(STATE, ["status"]);
  ok(r, "lab status");
  const { keystone, nova } = pids();
  assert.equal(
    r.stdout,
    `keystone: up (pid ${keystone}, http://127.0.0.1:15000/v3 HTTP 200)\n` + `nova-api: up (pid ${nova}, http://127.0.0.1:18774/ HTTP 200)\n`,
  );
});

test("env prints an openrc for the lab admin that the real openstack client accepts", { skip }, () => {
  const r = runLab(STATE, ["env"]);
  ok(r, "lab env");
  const exports = r.stdout.split("\n").filter((l) => l.startsWith("export "));
  const vars = Object.fromEntries(exports.map((l) => /^export (OS_[A-Z_]+)=(.*)$/.exec(l)!.slice(1, 3) as [string, string]));
  const password = JSON.parse(readFileSync(P.stateFile, "utf8")).adminPassword as string;
  assert.deepEqual(vars, {
    OS_AUTH_URL: "http://127.0.0.1:15000/v3",
    OS_AUTH_TYPE: "password",
    OS_USERNAME: "admin",
    OS_PASSWORD: password,
    OS_PROJECT_NAME: "admin",
    OS_USER_DOMAIN_NAME: "Default",
    OS_PROJECT_DOMAIN_NAME: "Default",
    OS_IDENTITY_API_VERSION: "3",
    OS_REGION_NAME: "RegionOne",
    OS_INTERFACE: "public",
  });
  // Source it in a shell whose environment has no OS_* of its own, as a user would.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("OS_")));
  const list = spawnSync("bash", ["-c", `set -e; eval "$1"; ${OPENSTACK} flavor list -f json`, "bash", r.stdout], {
    env: { ...env, XDG_CACHE_HOME: P.cache },
    encoding: "utf8",
  });
  assert.equal(list.status, 0, list.stderr);
  assert.deepEqual(JSON.parse(list.stdout), []);
});

test("the Compute API refuses a malformed pci_passthrough:alias with HTTP 400 at microversion 2.86", { skip }, () => {
  const os = (...args: string[]) => openstack(STATE, ["--os-compute-api-version", "2.86", ...args]);
  ok(os("flavor", "create", "--ram", "64", "--vcpus", "1", "--disk", "0", "lab-validation"), "flavor create");
  const bad = os("flavor", "set", "lab-validation", "--property", "pci_passthrough:alias=gpu");
  assert.notEqual(bad.code, 0, "a count-less alias must be refused");
  assert.match(bad.stderr, /400/);
  assert.match(bad.stderr, /Validation failed; 'gpu' is not of the format/);
  // The same request at the client's default microversion (2.1) is accepted: why commands.sh asks for 2.86.
  ok(openstack(STATE, ["flavor", "set", "lab-validation", "--property", "pci_passthrough:alias=gpu"]), "set at 2.1");
  ok(os("flavor", "set", "lab-validation", "--property", "pci_passthrough:alias=gpu:1"), "a valid alias at 2.86");
  ok(os("flavor", "delete", "lab-validation"), "flavor delete");
});

test("up with another stack rewrites the [pci] aliases and restarts only nova-api", { skip, timeout: 120_000 }, (t) => {
  const before = pids();
  const r = runLab(STATE, ["up", "--stack", "lab"]);
  ok(r, "lab up --stack lab");
  t.diagnostic(`nova-api restart on changed aliases: ${(r.ms / 1000).toFixed(1)} s`);
  assert.match(r.stderr, /^nova-api: restarting \(configuration changed\)$/m);
  const now = pids();
  assert.equal(now.keystone, before.keystone, "keystone kept running");
  assert.ok(now.nova !== undefined && now.nova !== before.nova, "nova-api was restarted");
  const expected = pciAliasEntries(allDevices(loadStack("lab"))).map((e) => `alias = ${JSON.stringify(e)}`);
  assert.equal(expected.length, 2);
  assert.deepEqual(readFileSync(P.nova.conf, "utf8").split("\n").filter((l) => l.startsWith("alias = ")), expected);
});

test("down, then up from the existing state restarts both quickly", { skip, timeout: 120_000 }, (t) => {
  ok(runLab(STATE, ["down"]), "lab down");
  const r = runLab(STATE, ["up", "--stack", "lab"]);
  ok(r, "lab up after down");
  t.diagnostic(`restart from existing state: ${(r.ms / 1000).toFixed(1)} s`);
  // The databases were kept: the flavor list is still served, from the same state.
  assert.ok(existsSync(P.keystone.ready) && existsSync(P.nova.ready));
  assert.equal(runLab(STATE, ["status"]).code, 0);
});

test("down stops both processes and closes both ports; status then exits 3", { skip }, async () => {
  const before = pids();
  assert.ok(before.keystone !== undefined && before.nova !== undefined);
  const r = runLab(STATE, ["down"]);
  ok(r, "lab down");
  assert.equal(r.stderr, "stopped keystone and nova-api\n");
  for (const pid of [before.keystone, before.nova]) assert.equal(alive(pid), false, `process ${pid} has exited`);
  assert.equal(await portOpen(PORTS.keystone), false, "port 15000 is closed");
  assert.equal(await portOpen(PORTS.nova), false, "port 18774 is closed");
  assert.deepEqual(pids(), { keystone: undefined, nova: undefined });
  const s = runLab(STATE, ["status"]);
  assert.equal(s.code, 3);
  assert.match(s.stdout, /^keystone: down \(no live pid, http:\/\/127\.0\.0\.1:15000\/v3 no answer\)$/m);
  assert.equal(runLab(STATE, ["down"]).stderr, "lab was not running\n");
});
