// `npm run verify -- <stack> --hosts [--from DIR] [--json]` end to end: the rendered probe runs on fake booted hosts
// (test/fake-booted-host.ts) as the units of the groups' applications, through the juju fake's `juju exec` (3) and
// `juju run` (2.9), one call per application; or their saved outputs are read with --from. The report, the group
// summaries, the JSON and the exit codes are what an operator sees.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { toStackFile } from "../../config/stack";
import { kernelCmdline } from "../../render/host/kernel";
import { renderProbe } from "../../render/host/probe";
import type { HostReport } from "../../tools/verify/hosts";
import { BootedHost } from "../fake-booted-host";
import { argvLog, world, type World } from "../fakes-world";
import { ROOT, editStack } from "../helpers";
import { A100, A100_HOST, L40S, L40S_HOST, MIXED } from "../render/probe-helpers";

const hosts: BootedHost[] = [];
after(() => hosts.forEach((h) => h.cleanup()));

/** A fake A100 host in one of its states. */
function a100(hostname: string, state: "ready" | "fresh" | "nouveau" | "unprepared" | "no marker" | "cloud-init running"): BootedHost {
  const h = new BootedHost(MIXED, A100_HOST, { maasKernelOptions: kernelCmdline(A100), hostname });
  hosts.push(h);
  if (state === "unprepared") h.finishCloudInit();
  else if (state === "no marker") h.prepare({ marker: false });
  else if (state !== "cloud-init running") h.prepare();
  if (state === "ready") h.reboot();
  if (state === "nouveau") h.reboot({ "0000:31:00.0": "nouveau" });
  return h;
}

function l40sReady(hostname: string): BootedHost {
  const h = new BootedHost(MIXED, L40S_HOST, { maasKernelOptions: kernelCmdline(L40S), hostname });
  hosts.push(h);
  h.prepare();
  h.reboot();
  return h;
}

/** What the juju fake needs to run a command on the host, as the unit agent would there. */
const unitEnv = (h: BootedHost) => {
  const e = h.env();
  return { env: { SYSFS_ROOT: e.SYSFS_ROOT!, DESTDIR: e.DESTDIR!, PROC_ROOT: e.PROC_ROOT!, PATH: e.PATH! } };
};

const APPS = "nova-cloud-controller,nova-compute-a100=nova-compute,nova-compute-l40s=nova-compute,nova-compute-nic=nova-compute";

function juju(units: Record<string, { env: Record<string, string> } | { down: true }>, version: "3" | "2.9"): World {
  const w = world({ FAKE_JUJU_MODELS: "openstack", FAKE_JUJU_APPS: APPS, FAKE_JUJU_VERSION: version });
  const file = path.join(w.dir, "units.json");
  writeFileSync(file, JSON.stringify(units));
  return { dir: w.dir, env: { ...w.env, FAKE_JUJU_UNITS: file } };
}

function verify(w: World, args: string[], version: "3" | "2.9" = "3"): { status: number | null; stdout: string; stderr: string } {
  const file = path.join(w.dir, "Pulumi.mixed.yaml");
  writeFileSync(file, toStackFile(editStack("mixed", (raw) => (raw.juju.version = version))));
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "tools", "verify", "main.ts"), "mixed", "--stack-file", file, ...args], { env: w.env, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const byHost = (json: string) => new Map((JSON.parse(json) as HostReport[]).map((r) => [r.host, r]));

for (const version of ["3", "2.9"] as const) {
  describe(`verify --hosts through Juju ${version}`, () => {
    const units = {
      "nova-compute-a100/0": unitEnv(a100("gpu-a100-00", "ready")),
      "nova-compute-a100/1": unitEnv(a100("gpu-a100-01", "fresh")),
      "nova-compute-a100/2": unitEnv(a100("gpu-a100-02", "nouveau")),
      "nova-compute-a100/3": unitEnv(a100("gpu-a100-03", "unprepared")),
      "nova-compute-l40s/0": unitEnv(l40sReady("gpu-l40s-00")),
    };

    test("each host's verdict, each group's summary, exit 1; one call per application, the probe as one argument", () => {
      const w = juju(units, version);
      const r = verify(w, ["--hosts"], version);
      assert.equal(r.stderr, "");
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stdout, /^Verifying the hosts of stack mixed: the probe through juju on local, one call per application, read-only$/m);
      assert.match(r.stdout, /^ready {11}nova-compute-a100\/0 \(gpu-a100-00\)$/m);
      assert.match(r.stdout, /^NEEDS REBOOT {4}nova-compute-a100\/1 \(gpu-a100-01\): \/boot\/initrd\.img-6\.8\.0-45-generic was rebuilt after this boot/m);
      assert.match(r.stdout, /^BROKEN {10}nova-compute-a100\/2 \(gpu-a100-02\): 0000:31:00\.0 on nouveau$/m);
      assert.match(r.stdout, /^NEEDS REDEPLOY {2}nova-compute-a100\/3 \(gpu-a100-03\): not prepared: no prepare script, no marker/m);
      assert.match(r.stdout, /^ready {11}nova-compute-l40s\/0 \(gpu-l40s-00\)$/m);
      assert.match(r.stdout, /^a100: 1\/4 ready, 1 needs reboot, 1 needs redeploy, 1 broken: 0000:31:00\.0 on nouveau$/m);
      assert.match(r.stdout, /^l40s: 1\/1 ready$/m);
      assert.match(r.stdout, /^nic: 0\/0 ready$/m);
      assert.match(r.stdout, /^2 of 5 hosts ready: what to do for each verdict: docs\/verify-hosts\.md$/m);
      const execs = argvLog(w, "juju").filter((a) => a[0] === (version === "3" ? "exec" : "run"));
      assert.deepEqual(
        execs.map((a) => a.slice(0, -1)),
        ["nova-compute-a100", "nova-compute-l40s", "nova-compute-nic"].map((app) => [version === "3" ? "exec" : "run", "--format", "json", "-m", "openstack", "--application", app, "--"]),
      );
      // One argument juju sends as it is: base64 and a pipe, nothing a shell reads differently.
      for (const a of execs) assert.match(a.at(-1)!, /^echo [A-Za-z0-9+/=]+ \| base64 -d \| sh$/);
      assert.equal(Buffer.from(/^echo (\S+)/.exec(execs[0]!.at(-1)!)![1]!, "base64").toString("utf8"), renderProbe(MIXED));
    });

    test("--json: one object per host with its verdict, reasons and facts; the same exit code", () => {
      const w = juju(units, version);
      const r = verify(w, ["--hosts", "--json"], version);
      assert.equal(r.status, 1);
      const got = byHost(r.stdout);
      assert.deepEqual(
        [...got].map(([h, x]) => [h, x.group, x.verdict]),
        [
          ["nova-compute-a100/0", "a100", "ready"],
          ["nova-compute-a100/1", "a100", "needs reboot"],
          ["nova-compute-a100/2", "a100", "broken"],
          ["nova-compute-a100/3", "a100", "needs redeploy"],
          ["nova-compute-l40s/0", "l40s", "ready"],
        ],
      );
      assert.equal(got.get("nova-compute-a100/0")!.facts?.marker.state, "current");
      assert.deepEqual(got.get("nova-compute-a100/2")!.reasons, ["0000:31:00.0 on nouveau"]);
    });

    test("every host ready: exit 0", () => {
      const w = juju({ "nova-compute-a100/0": units["nova-compute-a100/0"], "nova-compute-l40s/0": units["nova-compute-l40s/0"] }, version);
      const r = verify(w, ["--hosts"], version);
      assert.equal(r.status, 0, r.stdout);
      assert.match(r.stdout, /^2 of 2 hosts ready: every host is ready$/m);
    });

    test("a unit whose agent is down is UNKNOWN, the others are still judged: exit 3", () => {
      const w = juju({ ...units, "nova-compute-a100/4": { down: true } }, version);
      const r = verify(w, ["--hosts", "--json"], version);
      assert.equal(r.status, 3);
      const got = byHost(r.stdout);
      assert.equal(got.get("nova-compute-a100/0")!.verdict, "ready");
      assert.equal(got.get("nova-compute-a100/2")!.verdict, "broken");
      assert.equal(got.get("nova-compute-a100/4")!.verdict, "unknown");
      assert.deepEqual(got.get("nova-compute-a100/4")!.reasons, ["no result from Juju (the unit is down, or did not answer in time)"]);
      if (version === "3") {
        // Juju 3 printed nothing for the application: each unit was asked alone.
        const alone = argvLog(w, "juju").filter((a) => a.includes("--unit"));
        assert.deepEqual(alone.map((a) => a[a.indexOf("--unit") + 1]), ["nova-compute-a100/0", "nova-compute-a100/1", "nova-compute-a100/2", "nova-compute-a100/3", "nova-compute-a100/4"]);
      }
    });
  });
}

test("verify --hosts: Juju cannot be reached: UNREACHABLE, exit 3", () => {
  const w = world({ FAKE_JUJU_MODELS: "openstack", FAKE_JUJU_APPS: APPS, FAKE_JUJU_UNREACHABLE: "1" });
  const r = verify(w, ["--hosts"]);
  assert.equal(r.status, 3);
  assert.match(r.stdout, /^UNREACHABLE juju status on local failed: ERROR cannot connect to API/m);
});

test("verify --hosts: an application not deployed says so, exit 3", () => {
  const w = world({ FAKE_JUJU_MODELS: "openstack", FAKE_JUJU_APPS: "nova-cloud-controller,nova-compute-a100=nova-compute,nova-compute-l40s=nova-compute" });
  const r = verify(w, ["--hosts"]);
  assert.equal(r.status, 3);
  assert.match(r.stdout, /^UNREACHABLE nova-compute-nic \(host group nic\) is not deployed in model openstack: no host to probe$/m);
});

test("verify --hosts --from DIR: the saved outputs of the rendered probe, the same report", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "pcipt-saved-"));
  try {
    const probe = renderProbe(MIXED);
    const save = (name: string, h: BootedHost, cut = false) => {
      const r = h.runScript(probe);
      assert.equal(r.status, 0, r.stderr);
      writeFileSync(path.join(dir, `${name}.txt`), cut ? r.stdout.slice(0, Math.floor(r.stdout.length / 2)) : r.stdout);
    };
    save("gpu-a100-00", a100("gpu-a100-00", "ready"));
    save("gpu-a100-01", a100("gpu-a100-01", "fresh"));
    save("gpu-a100-02", a100("gpu-a100-02", "ready"), true);
    save("gpu-a100-03", a100("gpu-a100-03", "cloud-init running"));
    save("gpu-a100-04", a100("gpu-a100-04", "no marker"));
    save("gpu-l40s-00", l40sReady("gpu-l40s-00"));
    const lxd = new BootedHost(MIXED, A100_HOST, { container: true });
    hosts.push(lxd);
    save("lxd-0", lxd);
    // Cut before anything names its group: with several groups, nothing to judge it against.
    const cut = a100("gpu-a100-05", "ready").runScript(probe).stdout;
    writeFileSync(path.join(dir, "gpu-a100-05.txt"), cut.slice(0, cut.indexOf("grub_cfg=")));
    writeFileSync(path.join(dir, "notes.md"), "not a probe output\n");
    const w = world();
    const r = verify(w, ["--hosts", "--from", dir, "--json"]);
    assert.equal(r.status, 3, r.stderr);
    assert.deepEqual(
      [...byHost(r.stdout)].map(([h, x]) => [h, x.group, x.verdict, x.reasons[0]]),
      [
        ["gpu-a100-00", "a100", "ready", undefined],
        ["gpu-a100-01", "a100", "needs reboot", "/boot/initrd.img-6.8.0-45-generic was rebuilt after this boot (2024-06-03T06:42:00Z, booted 2024-06-03T06:40:00Z)"],
        ["gpu-a100-02", "a100", "unknown", "the probe's output ends early (no end=ok): it was cut short"],
        ["gpu-a100-03", "a100", "unknown", "cloud-init has not finished (the prepare script runs at its end): probe again later"],
        ["gpu-a100-04", "a100", "needs redeploy", "no marker: prepared by a userdata older than the marker, or the prepare script did not finish"],
        ["gpu-a100-05", "", "unknown", "the probe's output ends early (no end=ok): it was cut short"],
        ["gpu-l40s-00", "l40s", "ready", undefined],
        ["lxd-0", "", "no devices", "runs in a container: not a GPU host"],
      ],
    );
    assert.equal(argvLog(w, "juju").length, 0, "no juju call with --from");
    const text = verify(w, ["--hosts", "--from", dir]);
    assert.equal(text.status, 3);
    assert.match(text.stdout, /^Verifying the hosts of stack mixed: the probe's saved outputs in .*, read-only$/m);
    assert.match(text.stdout, /^a100: 1\/5 ready, 1 needs reboot, 1 needs redeploy, 2 unknown: the probe's output ends early/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("verify: --from and --json go with --hosts; --no-openstack does not: usage, exit 2", () => {
  const w = world();
  for (const args of [["--from", "x"], ["--json"], ["--hosts", "--no-openstack"]]) {
    const r = verify(w, args);
    assert.equal(r.status, 2, args.join(" "));
    assert.match(r.stderr, /^verify: /);
  }
});
