// commands.sh's OpenStack part: the flavors and the smoke-test servers in ONE client process, a short Python
// program using openstacksdk, the client library python-openstackclient is built on (it comes with it), run by
// the Python the `openstack` CLI runs with (the interpreter its first line names), with the usual OS_* credentials (openstack.connect() reads them as the `openstack` CLI does). One process, because
// each `openstack` command pays the client's start-up (about 1.5 s): a site's hundreds of flavors took minutes
// that way. The program is the same text for every site; the site's values are in environment variables above
// it, one flavor a line.
//
// The calls (openstacksdk openstack/compute/v2/_proxy.py): flavors(get_extra_specs=True) lists every flavor
// with its extra specs once; create_flavor, delete_flavor, create_flavor_extra_specs (sets the given keys),
// delete_flavor_extra_specs_property; find_server; and the cloud layer's create_server(wait=True)
// (openstack/cloud/_compute.py), which finds the image, flavor and network by name as `openstack server create`
// does; auto_ip=False, or the cloud layer would attach a floating IP (reusing the project's free ones) to a test
// server, which `openstack server create` never does; timeout 1800 s, as a GPU host may take long to boot a large
// image (the cloud layer's default is 180 s). compute_default_microversion makes every compute call ask for that microversion
// (openstack/resource.py Resource._get_microversion: the session's default wins).
import type { SmokeTestConfig } from "../config/types";
import { EXTRA_SPEC_VALIDATION_MICROVERSION, validatesExtraSpecs } from "../domain/releases";
import type { FlavorSpec } from "./nova/flavors";
import { shellQuote } from "./shell";

/** The program, read from standard input by `python3 -`. Nothing in it prints a credential: errors are said
 * in one line (the SDK's and keystoneauth's messages name URLs and HTTP answers, never the password). */
const PROGRAM = `import json, os, sys
import openstack

def main():
    microversion = os.environ["PCIPT_COMPUTE_MICROVERSION"]
    conn = openstack.connect(**({"compute_default_microversion": microversion} if microversion else {}))
    nova = conn.compute
    have = {f.name: f for f in nova.flavors(get_extra_specs=True)}
    for want in json.loads(os.environ["PCIPT_FLAVORS"]):
        name, size, specs = want["name"], (want["ram"], want["vcpus"], want["disk"]), want["extra_specs"]
        flavor = have.get(name)
        # Nova flavors are immutable: a changed size deletes the flavor and creates it again.
        if flavor is not None and (flavor.ram, flavor.vcpus, flavor.disk) != size:
            print("flavor %s changed size: deleting it to recreate it" % name)
            nova.delete_flavor(flavor)
            flavor = None
        if flavor is None:
            flavor = nova.create_flavor(name=name, ram=size[0], vcpus=size[1], disk=size[2], is_public=True)
            print("flavor %s created" % name)
        live = dict(flavor.extra_specs or {})
        for key in sorted(set(live) - set(specs)):
            nova.delete_flavor_extra_specs_property(flavor, key)
            print("flavor %s: extra spec %s removed" % (name, key))
        if any(live.get(k) != v for k, v in specs.items()):
            nova.create_flavor_extra_specs(flavor, specs)
            print("flavor %s: extra specs set" % name)
    if os.environ.get("SKIP_SMOKE_TEST") == "1":
        return
    for server in json.loads(os.environ["PCIPT_SERVERS"]):
        if nova.find_server(server["name"]) is None:
            conn.create_server(server["name"], image=server["image"], flavor=server["flavor"], network=server["network"],
                               key_name=server.get("key_name"), wait=True, timeout=1800, auto_ip=False)
            print("smoke-test server %s created" % server["name"])

try:
    main()
except Exception as e:  # the SDK's and keystoneauth's errors: said in one line, and the script stops
    sys.exit("pci-passthrough: openstack: %s" % e)
`;

/** A JSON list with one entry a line, single-quoted for the shell. */
function jsonLines(entries: readonly unknown[]): string {
  return shellQuote(entries.length === 0 ? "[]" : `[\n${entries.map((e) => `  ${JSON.stringify(e)}`).join(",\n")}\n]`);
}

/** The OpenStack step of commands.sh: flavors, then (unless SKIP_SMOKE_TEST=1) the smoke-test servers. */
export function openstackStep(n: number, release: string, flavors: readonly FlavorSpec[], smokeTest: SmokeTestConfig | undefined): string {
  const validates = validatesExtraSpecs(release);
  const servers = (smokeTest?.servers ?? []).map((s) => ({
    name: s.name,
    flavor: s.flavor,
    image: smokeTest!.image,
    network: smokeTest!.network,
    ...(smokeTest!.keyPair !== undefined ? { key_name: smokeTest!.keyPair } : {}),
  }));
  return [
    servers.length > 0 ? `# ${n}. Nova flavors, then the smoke-test servers unless SKIP_SMOKE_TEST=1` : `# ${n}. Nova flavors`,
    "#    In one openstack client process: openstacksdk (python-openstackclient brings it), with the OS_* credentials.",
    "#    Each flavor is created when missing, created again when its size changed (flavors are immutable), its",
    `#    extra specs set and any other removed${servers.length > 0 ? "; a server is created when missing" : ""}.`,
    validates
      ? `#    Compute API microversion ${EXTRA_SPEC_VALIDATION_MICROVERSION}: Nova validates the extra specs and refuses a bad one with HTTP 400.`
      : `#    ${release} predates compute microversion ${EXTRA_SPEC_VALIDATION_MICROVERSION} (Ussuri): the API cannot validate extra specs, so a malformed one\n` +
        "#    is only found when a server boots. pci-passthrough validated them before rendering.",
    "(",
    `export PCIPT_COMPUTE_MICROVERSION=${validates ? EXTRA_SPEC_VALIDATION_MICROVERSION : "''"}`,
    `export PCIPT_FLAVORS=${jsonLines(flavors.map((f) => ({ name: f.name, ram: f.ram, vcpus: f.vcpus, disk: f.disk, extra_specs: f.extraSpecs })))}`,
    `export PCIPT_SERVERS=${jsonLines(servers)}`,
    "# The Python the openstack CLI runs with (its first line names it) has openstacksdk.",
    `os_cli=$(command -v openstack) || { echo "pci-passthrough: no openstack client (install python-openstackclient)" >&2; exit 1; }`,
    `os_python=$(sed -n '1s/^#! *//p' "$os_cli")`,
    "# shellcheck disable=SC2086",
    "$os_python - <<'PCIPT_OPENSTACK'",
    PROGRAM.trimEnd(),
    "PCIPT_OPENSTACK",
    ")",
    "",
  ].join("\n");
}
