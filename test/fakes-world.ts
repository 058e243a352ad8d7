// A fake MAAS + Juju world for running rendered steps (test/fakes/maas, test/fakes/juju), plus a recording
// `openstack` double for commands.sh. Shared by the command, property and secret tests.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type HostGroup, type SiteConfig, secretValue, type SecretSource } from "../config/types";
import { fakeDeviceHosts } from "../tools/lab/commands";
import { secretsStdin, type CommandSpec, type Phase } from "../render/steps/script";
import { selectingDevices } from "../render/steps/maas-selection";
import { ROOT } from "./helpers";

export const FAKES = path.join(ROOT, "test", "fakes");

/** Where a bin dir keeps the openstacksdk double (writeOpenstackFake); world() puts it on PYTHONPATH. */
const SDK_DIR = "sdk";

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
  // A bin dir with the openstacksdk double (writeOpenstackFake): commands.sh's OpenStack step imports it.
  const sdk = bin.map((b) => path.join(b, SDK_DIR)).filter((d) => existsSync(d));
  const python: Record<string, string> = sdk.length > 0 ? { PYTHONPATH: sdk.join(":") } : {};
  return { dir, env: { PATH: [...bin, FAKES, process.env.PATH].join(":"), FAKE_STATE_DIR: dir, HOME: dir, ...python, ...seed } };
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

// The openstacksdk double, for commands.sh's OpenStack step (render/runbook-openstack.ts): the calls it makes, on
// the same state as the CLI double, as openstacksdk 0.101 makes them (openstack/compute/v2/_proxy.py flavors,
// create_flavor, delete_flavor, create_flavor_extra_specs, delete_flavor_extra_specs_property, find_server;
// openstack/cloud/_compute.py create_server) and Nova answers them (nova/api/openstack/compute/flavor_manage.py:
// a taken name is 409 Conflict, "Flavor with name X already exists."; flavors_extraspecs.py: deleting a key the
// flavor lacks is 404). Each call is logged as ["sdk", method, name, ...].
const SDK = `import json, os, sys
sys.path.insert(0, ${JSON.stringify(FAKES)})
from fakelib import load, record, save

class SDKException(Exception):
    pass

class ConflictException(SDKException):
    pass

class NotFoundException(SDKException):
    pass

class exceptions:
    SDKException = SDKException
    ConflictException = ConflictException
    NotFoundException = NotFoundException

class Flavor:
    def __init__(self, f):
        self.id, self.name, self.ram, self.vcpus, self.disk = f["id"], f["name"], f["ram"], f["vcpus"], f["disk"]
        self.extra_specs = dict(f["properties"])

def _state():
    return load("openstack", lambda: {"flavors": {}, "servers": {}})

class Compute:
    def flavors(self, get_extra_specs=False):
        record("openstack", ["sdk", "flavors"])
        return [Flavor(f) for f in _state()["flavors"].values()]

    def create_flavor(self, name, ram, vcpus, disk, is_public=True):
        record("openstack", ["sdk", "create_flavor", name, "ram=%d" % ram, "vcpus=%d" % vcpus, "disk=%d" % disk])
        state = _state()
        if name in state["flavors"]:
            raise ConflictException("ConflictException: 409: Client Error: Flavor with name %s already exists." % name)
        f = {"name": name, "ram": ram, "vcpus": vcpus, "disk": disk, "properties": {},
             "id": "%08x-0000-4000-8000-%012x" % (len(state["flavors"]) + 1, sum(map(ord, name)))}
        state["flavors"][name] = f
        save("openstack", state)
        return Flavor(f)

    def delete_flavor(self, flavor):
        record("openstack", ["sdk", "delete_flavor", flavor.name])
        state = _state()
        state["flavors"].pop(flavor.name, None)
        save("openstack", state)

    def create_flavor_extra_specs(self, flavor, specs):
        record("openstack", ["sdk", "create_flavor_extra_specs", flavor.name] + ["%s=%s" % kv for kv in sorted(specs.items())])
        state = _state()
        state["flavors"][flavor.name]["properties"].update(specs)
        save("openstack", state)

    def delete_flavor_extra_specs_property(self, flavor, prop):
        record("openstack", ["sdk", "delete_flavor_extra_specs_property", flavor.name, prop])
        state = _state()
        props = state["flavors"][flavor.name]["properties"]
        if prop not in props:
            raise NotFoundException("NotFoundException: 404: Flavor %s has no extra specs with key %s." % (flavor.id, prop))
        del props[prop]
        save("openstack", state)

    def find_server(self, name):
        record("openstack", ["sdk", "find_server", name])
        return _state()["servers"].get(name)

class Connection:
    compute = Compute()

    def create_server(self, name, image, flavor, network, key_name=None, wait=False, timeout=180, auto_ip=True):
        # The real cloud layer attaches a floating IP (reusing the project's free ones) unless auto_ip=False
        # (openstack/cloud/_floating_ip.py add_ips_to_server): the smoke test must never do that.
        if auto_ip:
            raise Exception("create_server with auto_ip: a floating IP would be attached to %s" % name)
        record("openstack", ["sdk", "create_server", name])
        state = _state()
        s = {"name": name, "image": image, "network": network, "flavor": flavor}
        if key_name is not None:
            s["key_name"] = key_name
        state["servers"][name] = s
        save("openstack", state)

def connect(**options):
    record("openstack", ["sdk", "connect"] + ["%s=%s" % kv for kv in sorted(options.items())])
    return Connection()
`;

/** Writes the openstack doubles into `dir` (a test's temp dir, put first on PATH): the `openstack` CLI, and
 * openstacksdk in dir/sdk (the Python the CLI double names in its first line finds it on PYTHONPATH); returns
 * `dir`. */
export function writeOpenstackFake(dir: string): string {
  const file = path.join(dir, "openstack");
  writeFileSync(file, OPENSTACK);
  chmodSync(file, 0o755);
  mkdirSync(path.join(dir, SDK_DIR, "openstack"), { recursive: true });
  writeFileSync(path.join(dir, SDK_DIR, "openstack", "__init__.py"), SDK);
  return dir;
}

/** A temp dir holding the openstack double, for world(..., [dir]). */
export function openstackBin(): string {
  return writeOpenstackFake(mkdtempSync(path.join(tmpdir(), "pcipt-openstack-")));
}
