// A fake MAAS + Juju world for running rendered steps (test/fakes/maas, test/fakes/juju), plus a recording
// `openstack` double for commands.sh. Shared by the command, property and secret tests.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type HostGroup, type SiteConfig, secretValue, type SecretSource } from "../config/types";
import { fakeDeviceHosts } from "../tools/lab/commands";
import { secretsStdin, type CommandSpec, type Phase } from "../render/steps/script";
import { selectingDevices } from "../render/steps/maas-selection";
import { ROOT } from "./helpers";

export const FAKES = path.join(ROOT, "test", "fakes");

export interface World {
  readonly dir: string;
  readonly env: Record<string, string>;
}

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A fresh world in a temp dir; `seed` are FAKE_* variables for the fakes' first state. `bin` dirs go
 * first on PATH (e.g. one with the openstack double). */
export function world(seed: Record<string, string> = {}, bin: readonly string[] = []): World {
  const dir = mkdtempSync(path.join(tmpdir(), "pcipt-world-"));
  return { dir, env: { PATH: [...bin, FAKES, process.env.PATH].join(":"), FAKE_STATE_DIR: dir, HOME: dir, ...seed } };
}

/** The machines a group's tag must be on in a world seeded with fakeSeeds: its system IDs, or the fake hosts
 * with its devices. */
export function seededMachines(site: SiteConfig, group: HostGroup): string[] {
  if (group.maas.machines) return group.maas.machines;
  const ids = selectingDevices(group.devices);
  return [...fakeDeviceHosts(site)].filter(([, devices]) => devices.some((d) => ids.includes(d))).map(([id]) => id).sort();
}

/** A copy of a world's fake state (not its call logs) in a new temp dir: the same site, for another case. */
export function cloneWorld(w: World): World {
  const dir = mkdtempSync(path.join(tmpdir(), "pcipt-world-"));
  for (const cli of ["maas", "juju", "openstack"]) {
    const file = path.join(w.dir, `${cli}.json`);
    if (existsSync(file)) copyFileSync(file, path.join(dir, `${cli}.json`));
  }
  return { dir, env: { ...w.env, FAKE_STATE_DIR: dir, HOME: dir } };
}

/** The values of a step's secrets, as the component takes them from the site. */
export function secretsOf(site: SiteConfig, secrets: Readonly<Record<string, SecretSource>>): Record<string, string> {
  return Object.fromEntries(Object.entries(secrets).map(([name, source]) => [name, secretValue(site, source) ?? ""]));
}

/** Runs one phase of a step's script as a command resource would on the local runner: /bin/sh with the
 * phase as argument, the step's environment, its secrets on standard input, and the previous run's output
 * as PULUMI_COMMAND_STDOUT when given. */
export function runStep(w: World, site: SiteConfig, spec: CommandSpec | undefined, phase: Phase = "create", previousStdout?: string): RunResult {
  assert.ok(spec, "step is rendered");
  const env: Record<string, string> = { ...w.env, ...spec.environment };
  if (previousStdout) env.PULUMI_COMMAND_STDOUT = previousStdout;
  const r = spawnSync("/bin/sh", ["-c", spec.script, spec.step, phase], {
    env,
    input: secretsStdin(secretsOf(site, spec.secrets)),
    encoding: "utf8",
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function ok(r: RunResult): RunResult {
  assert.equal(r.status, 0, `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/** A fake's state file ($FAKE_STATE_DIR/<cli>.json). */
export function fakeState(w: World, cli: "maas" | "juju" | "openstack"): any {
  return JSON.parse(readFileSync(path.join(w.dir, `${cli}.json`), "utf8"));
}

/** Replaces a fake's state file: what a test changes behind the CLIs' back (e.g. a machine's devices). */
export function setFakeState(w: World, cli: "maas" | "juju" | "openstack", state: unknown): void {
  writeFileSync(path.join(w.dir, `${cli}.json`), JSON.stringify(state));
}

/** The fake's raw call log, one JSON line per call; empty when it was never called. */
export function fakeLogText(w: World, cli: "maas" | "juju" | "openstack"): string {
  const file = path.join(w.dir, `${cli}.log`);
  return existsSync(file) ? readFileSync(file, "utf8") : "";
}

/** Every argv a fake was called with. */
export function argvLog(w: World, cli: "maas" | "juju" | "openstack"): string[][] {
  return fakeLogText(w, cli)
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => (JSON.parse(l) as { argv: string[] }).argv);
}

// The openstack double: records argv like the other fakes (fakelib) and keeps flavors and servers, for the
// subcommands commands.sh uses. `-S` skips site initialisation: it is called often in property tests.
const OPENSTACK = `#!/usr/bin/python3 -S
import json, os, sys
sys.path.insert(0, ${JSON.stringify(FAKES)})
from fakelib import die, load, record, save

def initial():
    return {"flavors": {}, "servers": {}}

def opt(args, flag):
    i = args.index(flag)
    v = args[i + 1]
    del args[i:i + 2]
    return v

def main(argv):
    state = load("openstack", initial)
    record("openstack", argv)
    args = list(argv)
    if args[:1] == ["--os-compute-api-version"]:
        args = args[2:]
    cmd, args = args[:2], args[2:]
    flavors, servers = state["flavors"], state["servers"]
    if cmd == ["flavor", "show"]:
        if args[:2] == ["-f", "json"]:
            args = args[2:]
        if len(args) != 1 or args[0] not in flavors:
            die("No Flavor found for %s" % (args[-1] if args else ""), 1)
        print(json.dumps(flavors[args[0]]))
        return
    if cmd == ["flavor", "list"]:
        # python-openstackclient 6.0 compute/v2/flavor.py ListFlavor: --long adds Swap, RXTX Factor and
        # Properties (the extra specs, a JSON object with -f json); --all takes private flavors too.
        if sorted(args) != sorted(["--long", "--all", "-f", "json"]):
            die("fake openstack: flavor list supports --long --all -f json only, got %r" % args, 2)
        rows = [{"ID": f["id"], "Name": f["name"], "RAM": f["ram"], "Disk": f["disk"], "Ephemeral": 0, "VCPUs": f["vcpus"],
                 "Is Public": True, "Swap": "", "RXTX Factor": 1.0, "Properties": f["properties"]} for f in flavors.values()]
        print(json.dumps(rows, indent=2))
        return
    if cmd == ["flavor", "create"]:
        f = {"ram": int(opt(args, "--ram")), "vcpus": int(opt(args, "--vcpus")), "disk": int(opt(args, "--disk")), "properties": {}}
        args.remove("--public")
        if len(args) != 1 or args[0] in flavors:
            die("Conflict: flavor exists or bad arguments: %r" % args, 1)
        f["name"] = args[0]
        # Nova gives every flavor an ID (a UUID when the client names none).
        f["id"] = "%08x-0000-4000-8000-%012x" % (len(flavors) + 1, sum(map(ord, args[0])))
        flavors[args[0]] = f
    elif cmd == ["flavor", "set"] or cmd == ["flavor", "unset"]:
        name = args.pop()
        if name not in flavors:
            die("No Flavor found for %s" % name, 1)
        props = flavors[name]["properties"]
        while args:
            if args[0] != "--property":
                die("unrecognized arguments: %s" % args[0], 2)
            kv = args[1]
            del args[:2]
            if cmd[1] == "set":
                k, v = kv.split("=", 1)
                props[k] = v
            else:
                props.pop(kv, None)
    elif cmd == ["flavor", "delete"]:
        flavors.pop(args[0], None)
    elif cmd == ["server", "show"]:
        if args[0] not in servers:
            die("No server with a name or ID of '%s' exists." % args[0], 1)
        print(json.dumps(servers[args[0]]))
        return
    elif cmd == ["server", "create"]:
        s = {"image": opt(args, "--image"), "network": opt(args, "--network"), "flavor": opt(args, "--flavor")}
        if "--key-name" in args:
            s["key_name"] = opt(args, "--key-name")
        args.remove("--wait")
        if len(args) != 1:
            die("bad arguments: %r" % args, 2)
        s["name"] = args[0]
        servers[args[0]] = s
    else:
        die("openstack: '%s' is not an openstack command" % " ".join(cmd), 2)
    save("openstack", state)

main(sys.argv[1:])
`;

/** Writes the openstack double into `dir` (a test's temp dir, put first on PATH); returns `dir`. */
export function writeOpenstackFake(dir: string): string {
  const file = path.join(dir, "openstack");
  writeFileSync(file, OPENSTACK);
  chmodSync(file, 0o755);
  return dir;
}

/** A temp dir holding the openstack double, for world(..., [dir]). */
export function openstackBin(): string {
  return writeOpenstackFake(mkdtempSync(path.join(tmpdir(), "pcipt-openstack-")));
}
