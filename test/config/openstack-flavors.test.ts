// The rules of pci-passthrough:openstack, flavors, smokeTest, runner and resync, each with a valid and an invalid
// case, asserting the exact key path and message of every error line.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { parseSiteConfig } from "../../config/parse";
import { editStack, loadStack } from "../helpers";
import { P, accepted, linesOf, refused } from "./helpers";

describe("openstack", () => {
  test("release names and codenames resolve to the canonical name", () => {
    const release = (v: unknown) => accepted((r) => (r.openstack.release = v)).openstack.release;
    assert.equal(release("queens"), "queens");
    assert.equal(release("Yoga"), "yoga");
    assert.equal(release("2024.1"), "2024.1");
    assert.equal(release("caracal"), "2024.1");
    assert.equal(release("bobcat"), "2023.2");
    refused((r) => (r.openstack.release = "folsom"), [`${P}:openstack.release: "folsom" is not a known OpenStack release (queens ... 2024.1)`]);
    refused((r) => (r.openstack.release = "2026.1"), [`${P}:openstack.release: "2026.1" is not a known OpenStack release (queens ... 2024.1)`]);
  });

  test("refused: a release the OpenStack charms do not have (no track, no branch after 2024.1)", () => {
    for (const [name, codename] of [["2024.2", "dalmatian"], ["2025.1", "epoxy"], ["2025.2", "flamingo"], ["flamingo", "flamingo"]] as const) {
      const canonical = name === "flamingo" ? "2025.2" : name;
      refused((r) => (r.openstack.release = name), [
        `${P}:openstack.release: the OpenStack charms have no ${canonical} (${codename}): nova-compute and nova-cloud-controller have no Charmhub ` +
          "track and no branch after 2024.1, and their master branches install 2024.1 (openstack-origin caracal); use 2024.1",
      ]);
    }
  });

  test("warned: a release whose charm track has no stable channel (queens ... train), at its key path", () => {
    for (const rel of ["queens", "rocky", "stein", "train"]) {
      const r = parseSiteConfig(editStack("dev", (raw) => (raw.openstack.release = rel)));
      assert.ok(r.ok, rel);
      assert.deepEqual(r.warnings.map((w) => `${w.path}: ${w.message}`), [
        `${P}:openstack.release: the OpenStack charms no longer maintain ${rel}: Charmhub's ${rel} track of nova-compute and nova-cloud-controller ` +
          `has candidate and edge channels only (stable tracks start at ussuri; the charm guide marks rocky, stein and train EOL); ` +
          `an application the bundle overlay adds is deployed from ${rel}/candidate`,
      ]);
    }
    for (const rel of ["ussuri", "yoga", "2024.1"]) assert.deepEqual(parseSiteConfig(editStack("dev", (raw) => (raw.openstack.release = rel))).warnings, [], rel);
  });

  test("an unquoted YAML year release (`release: 2024.1`, a number) is taken back like 8086", () => {
    const yaml = parseYaml("release: 2024.1\n") as { release: unknown };
    assert.equal(yaml.release, 2024.1);
    assert.equal(accepted((r) => (r.openstack.release = yaml.release)).openstack.release, "2024.1");
  });

  test("base: an Ubuntu LTS as ubuntu@VERSION or series name, kept as ubuntu@VERSION; left out by default", () => {
    const base = (v: unknown, release = "yoga") => accepted((r) => Object.assign(r.openstack, { release, base: v })).openstack.base;
    assert.equal(loadStack("dev").openstack.base, undefined);
    assert.equal(base("ubuntu@22.04"), "ubuntu@22.04");
    assert.equal(base("jammy"), "ubuntu@22.04");
    // Yoga is jammy's own release and also in focal's Cloud Archive (focal-yoga).
    assert.equal(base("Focal"), "ubuntu@20.04");
    assert.equal(base("bionic", "ussuri"), "ubuntu@18.04");
    assert.equal(base("ubuntu@24.04", "2024.1"), "ubuntu@24.04");
    const known = "ubuntu@18.04, ubuntu@20.04, ubuntu@22.04, ubuntu@24.04, or its series name";
    refused((r) => (r.openstack.base = "ubuntu@23.10"), [`${P}:openstack.base: "ubuntu@23.10" is not an Ubuntu LTS the OpenStack charms deploy on (${known})`]);
    refused((r) => (r.openstack.base = "xenial"), [`${P}:openstack.base: "xenial" is not an Ubuntu LTS the OpenStack charms deploy on (${known})`]);
    refused((r) => (r.openstack.base = 22.04), [`${P}:openstack.base: expected an Ubuntu base such as ubuntu@22.04 or jammy`]);
  });

  test("base: refused where the release does not run, with the bases it does run on", () => {
    refused(
      (r) => Object.assign(r.openstack, { release: "2024.1", base: "bionic" }),
      [`${P}:openstack.base: OpenStack 2024.1 does not run on ubuntu@18.04 (bionic): use ubuntu@22.04 (jammy) or ubuntu@24.04 (noble)`],
    );
    refused(
      (r) => Object.assign(r.openstack, { release: "zed", base: "ubuntu@20.04" }),
      [`${P}:openstack.base: OpenStack zed does not run on ubuntu@20.04 (focal): use ubuntu@22.04 (jammy)`],
    );
  });

  test("consoleAccessProtocol defaults to spice and is one of spice, novnc, vnc, xvpvnc", () => {
    assert.equal(accepted((r) => delete r.openstack.consoleAccessProtocol).openstack.consoleAccessProtocol, "spice");
    for (const p of ["novnc", "vnc"]) assert.equal(accepted((r) => (r.openstack.consoleAccessProtocol = p)).openstack.consoleAccessProtocol, p);
    refused((r) => (r.openstack.consoleAccessProtocol = "rdp"), [`${P}:openstack.consoleAccessProtocol: "rdp" is not one of spice, novnc, vnc, xvpvnc`]);
  });
});

describe("flavors", () => {
  test("ram, vcpus and disk are integers; numeric strings are accepted", () => {
    const c = accepted((r) => Object.assign(r.flavors[0], { ram: "8192", vcpus: " 8 ", disk: 0 }));
    assert.deepEqual([c.flavors[0]!.ram, c.flavors[0]!.vcpus, c.flavors[0]!.disk], [8192, 8, 0]);
    refused(
      (r) => Object.assign(r.flavors[0], { ram: "8 GB", vcpus: 0, disk: -1 }),
      [`${P}:flavors[0].ram: expected an integer, got "8 GB"`, `${P}:flavors[0].vcpus: must be at least 1`, `${P}:flavors[0].disk: must be at least 0`],
    );
    refused((r) => (r.flavors[0].ram = 8.5), [`${P}:flavors[0].ram: expected an integer, got 8.5`]);
  });

  test("pci asks for at least one device, counts at least 1", () => {
    assert.deepEqual(accepted((r) => (r.flavors[0].pci = { gpu: "2" })).flavors[0]!.pci, { gpu: 2 });
    refused((r) => (r.flavors[0].pci = {}), [`${P}:flavors[0].pci: ask for at least one device, e.g. { gpu: 1 }`]);
    refused((r) => (r.flavors[0].pci = { gpu: 0 }), [`${P}:flavors[0].pci.gpu: must be at least 1`]);
    refused((r) => (r.flavors[0].pci = ["gpu"]), [`${P}:flavors[0].pci: expected a mapping of alias to device count, e.g. { gpu: 1 }`]);
  });

  test("refused: an extra spec without a namespace while AggregateInstanceExtraSpecsFilter runs (no host in no aggregate would take the flavor)", () => {
    refused((r) => (r.flavors[0].extraSpecs = { "hw:numa_nodes": 1, gpu_model: "p5000" }), [
      `${P}:flavors[0].extraSpecs.gpu_model: has no namespace, and AggregateInstanceExtraSpecsFilter (in the default scheduler filters) reads such a key ` +
        `as a value the host's aggregates must carry: a host in no aggregate never passes, and no host takes the flavor ("No valid host"; ` +
        `nova/scheduler/filters/aggregate_instance_extra_specs.py, bug 1841932); to match host aggregates on purpose write aggregate_instance_extra_specs:gpu_model`,
    ]);
    accepted((r) => (r.flavors[0].extraSpecs = { "aggregate_instance_extra_specs:gpu_model": "p5000" }));
    accepted((r) => Object.assign(r, { flavors: [{ ...r.flavors[0], extraSpecs: { gpu_model: "p5000" } }], openstack: { ...r.openstack, schedulerFilters: ["ComputeFilter", "PciPassthroughFilter"] } }));
  });

  test("extraSpecs are scalars turned to strings and may not set pci_passthrough:alias", () => {
    const c = accepted((r) => (r.flavors[0].extraSpecs = { "hw:hide_hypervisor_id": true, "hw:numa_nodes": 1, "hw:pci_numa_affinity_policy": "preferred" }));
    assert.deepEqual(c.flavors[0]!.extraSpecs, { "hw:hide_hypervisor_id": "true", "hw:numa_nodes": "1", "hw:pci_numa_affinity_policy": "preferred" });
    refused(
      (r) => (r.flavors[0].extraSpecs = { "pci_passthrough:alias": "gpu:1" }),
      [`${P}:flavors[0].extraSpecs["pci_passthrough:alias"]: is derived from pci; set the devices there instead`],
    );
  });

  test("an extra spec that is not a scalar says what it expected", () => {
    refused((r) => (r.flavors[0].extraSpecs = { "hw:cpu_policy": ["dedicated"] }), [`${P}:flavors[0].extraSpecs["hw:cpu_policy"]: expected a string, number or boolean`]);
  });

  test("names are unique, single-line, at most 255 characters", () => {
    accepted((r) => r.flavors.push({ ...r.flavors[0], name: "m2.gpu" }));
    refused((r) => r.flavors.push({ ...r.flavors[0] }), [`${P}:flavors[1]: duplicate flavor name "m1.gpu" (also at [0])`]);
    refused((r) => (r.flavors[0].name = "m1.gpu\n"), [`${P}:flavors[0].name: "m1.gpu\\n" is not a valid flavor name (one line, no surrounding blanks)`]);
    refused((r) => (r.flavors[0].name = "x".repeat(256)), [`${P}:flavors[0].name: is longer than 255 characters`]);
    refused((r) => (r.flavors[0].name = "--public"), [`${P}:flavors[0].name: "--public" is not a valid flavor name (must not start with -)`]);
  });

  test("extra spec keys follow Nova's key pattern, without blanks", () => {
    accepted((r) => (r.flavors[0].extraSpecs = { "hw:cpu_policy": "dedicated", "aggregate_instance_extra_specs:gpu.model-x1": "p5000" }));
    refused((r) => (r.flavors[0].extraSpecs = { "hw cpu": "x" }), [`${P}:flavors[0].extraSpecs["hw cpu"]: "hw cpu" is not an extra spec key (letters, digits, _ : . -)`]);
    refused((r) => (r.flavors[0].extraSpecs = { "a=b": "x" }), [`${P}:flavors[0].extraSpecs["a=b"]: "a=b" is not an extra spec key (letters, digits, _ : . -)`]);
  });

  test("a duplicate name is reported even when another flavor has a type error", () => {
    refused(
      (r) => r.flavors.push({ ...r.flavors[0], ram: "lots" }),
      [`${P}:flavors[1].ram: expected an integer, got "lots"`, `${P}:flavors[1]: duplicate flavor name "m1.gpu" (also at [0])`],
    );
  });
});

describe("smokeTest", () => {
  test("image, network and servers are required; keyPair is optional", () => {
    assert.equal(accepted((r) => delete r.smokeTest.keyPair).smokeTest?.keyPair, undefined);
    refused(
      (r) => (r.smokeTest = { keyPair: "ops" }),
      [`${P}:smokeTest.image: is required`, `${P}:smokeTest.network: is required`, `${P}:smokeTest.servers: is required`],
    );
    refused((r) => (r.smokeTest.keyPair = 5), [`${P}:smokeTest.keyPair: expected key pair name`]);
  });

  test("enabled: true by default; false renders no smoke test, its keys still checked", () => {
    assert.equal(accepted(() => {}).smokeTest?.enabled, true);
    assert.equal(accepted((r) => (r.smokeTest.enabled = "false")).smokeTest, undefined);
    refused((r) => (r.smokeTest.enabled = "maybe"), [`${P}:smokeTest.enabled: expected true or false, got "maybe"`]);
    refused(
      (r) => {
        r.smokeTest.enabled = false;
        delete r.smokeTest.image;
      },
      [`${P}:smokeTest.image: is required`],
    );
  });

  test("servers: at least one, each with name and flavor, names unique", () => {
    refused((r) => (r.smokeTest.servers = []), [`${P}:smokeTest.servers: list at least one server`]);
    refused((r) => delete r.smokeTest.servers[1].flavor, [`${P}:smokeTest.servers[1].flavor: is required`]);
    refused((r) => (r.smokeTest.servers[0].name = ""), [`${P}:smokeTest.servers[0].name: expected server name`]);
    refused(
      (r) => (r.smokeTest.servers[1].name = "gpu-enabled-vm"),
      [`${P}:smokeTest.servers[1]: duplicate server name "gpu-enabled-vm" (also at [0])`],
    );
  });
});

describe("runner.hostKey", () => {
  const runner = { host: "jump.example", user: "ubuntu" };
  const key = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
  test("the ssh-keyscan line, with or without the host name or a comment, is pinned as type and key", () => {
    for (const line of [`ssh-ed25519 ${key}`, `jump.example ssh-ed25519 ${key}`, `ssh-ed25519 ${key} root@jump`]) {
      assert.deepEqual(accepted((r) => (r.runner = { ...runner, hostKey: line })).runner?.hostKey, { type: "ssh-ed25519", key });
    }
    assert.equal(accepted((r) => (r.runner = { ...runner, hostKey: `ssh-rsa ${key}` })).runner?.hostKey?.type, "ssh-rsa");
  });
  test("anything else is refused with its key path", () => {
    refused((r) => (r.runner = { ...runner, hostKey: "ssh-dss AAAAB3NzaC1kc3M" }), [
      `${P}:runner.hostKey: "ssh-dss AAAAB3NzaC1kc3M" is not a host key (expected "<type> <base64>", e.g. the ssh-ed25519 line of ssh-keyscan)`,
    ]);
    refused((r) => (r.runner = { ...runner, hostKey: "SHA256:eVkg1fg49SORSdp7L9LZ8cxJSg2YQXUlFxHR2rYwSwU" }), [
      `${P}:runner.hostKey: "SHA256:eVkg1fg49SORSdp7L9LZ8cxJSg2YQXUlF..." is not a host key (expected "<type> <base64>", e.g. the ssh-ed25519 line of ssh-keyscan)`,
    ]);
  });
});

describe("resync", () => {
  test("a token of letters, digits and _ . : + -, numbers taken as text", () => {
    assert.equal(accepted((r) => (r.resync = "2026-11-30T10:00")).resync, "2026-11-30T10:00");
    assert.equal(accepted((r) => (r.resync = 3)).resync, "3");
    refused((r) => (r.resync = "two words"), [`${P}:resync: "two words" is not a resync token (letters, digits, _ . : + -; at most 64)`]);
  });
});

describe("runner", () => {
  const runner = { host: "jump.example", user: "ubuntu", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----\n" };

  test("port defaults to 22 and is 1..65535", () => {
    assert.equal(accepted((r) => (r.runner = runner)).runner?.port, 22);
    assert.equal(accepted((r) => (r.runner = { ...runner, port: "2222" })).runner?.port, 2222);
    refused((r) => (r.runner = { ...runner, port: 0 }), [`${P}:runner.port: must be at least 1`]);
    refused((r) => (r.runner = { ...runner, port: 70000 }), [`${P}:runner.port: must be at most 65535`]);
    refused((r) => (r.runner = { ...runner, port: "ssh" }), [`${P}:runner.port: expected an integer, got "ssh"`]);
  });

  test("host and user names", () => {
    refused(
      (r) => (r.runner = { ...runner, host: "jump host", user: "Root" }),
      [`${P}:runner.host: "jump host" is not a host name or address`, `${P}:runner.user: "Root" is not a user name`],
    );
    refused((r) => (r.runner = { host: "jump" }), [`${P}:runner.user: is required`]);
    // Without a key, ssh uses the operator's agent and ~/.ssh/config.
    assert.equal(accepted((r) => (r.runner = { host: "jump", user: "ubuntu" })).runner?.privateKey, undefined);
  });

  test("privateKey must be PEM and is never echoed", () => {
    const lines = linesOf(editStack("dev", (r) => (r.runner = { ...runner, privateKey: "ssh-rsa AAAAB3NzaSecretKeyMaterial" })));
    assert.deepEqual(lines, [`${P}:runner.privateKey: is not a PEM private key (-----BEGIN ... PRIVATE KEY-----)`]);
    assert.ok(!lines.join("\n").includes("SecretKeyMaterial"));
    refused((r) => (r.runner = { ...runner, privateKey: 5 }), [`${P}:runner.privateKey: expected an SSH private key`]);
  });
});
