// The config as a whole: the example stacks, required sections, unknown keys with suggestions, secrets read
// from a stack file, and every problem said at once, each with its exact key path and message.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { ConfigError, SECRET_PLACEHOLDER } from "../../config/problems";
import { requireSiteConfig } from "../../config/parse";
import { fromStackFile } from "../../config/stack";
import { ROOT, STACKS, editStack, loadStack, rawStack } from "../helpers";
import { P, accepted, linesOf, refused, type Raw } from "./helpers";

describe("example stacks", () => {
  for (const stack of STACKS) test(`Pulumi.${stack}.yaml validates`, () => assert.doesNotThrow(() => loadStack(stack)));

  test("dev reproduces the runbook's site with defaults filled", () => {
    const c = loadStack("dev");
    assert.deepEqual(c.maas, { profile: "admin" });
    assert.equal(c.groups.length, 1);
    assert.equal(c.groups[0]!.name, undefined, "one unnamed group: its resources keep their names");
    assert.equal(c.groups[0]!.application, "nova-compute");
    assert.deepEqual(c.groups[0]!.maas, { tag: "pci-pass", comment: "PCI Passthrough kernel parameters", selectByDevice: true, pool: "openstack", deleteAdoptedTag: false });
    assert.deepEqual(c.juju, { model: "openstack-deployment", version: "3", existingModel: false, destroyModelOnDelete: false });
    assert.deepEqual(c.groups[0]!.host, {
      iommu: "intel",
      iommuPassthrough: false,
      allowUnsafeInterrupts: true,
      blacklistDrivers: ["nvidiafb", "nouveau"],
      binding: "modprobe",
    });
    assert.deepEqual(c.groups[0]!.devices, [
      { alias: "gpu", vendorId: "10de", productId: "1bb0", addresses: ["0000:83:00.0", "0000:84:00.0"], companions: ["10de:10f0"] },
    ]);
    assert.deepEqual(c.openstack, { release: "yoga", consoleAccessProtocol: "spice" });
    assert.deepEqual(c.flavors, [{ name: "m1.gpu", ram: 8192, vcpus: 8, disk: 100, pci: { gpu: 1 }, extraSpecs: {} }]);
    assert.deepEqual(c.smokeTest?.servers, [
      { name: "gpu-enabled-vm", flavor: "m1.gpu" },
      { name: "no-gpu-vm", flavor: "m1.medium" },
    ]);
    assert.equal(c.runner, undefined);
  });
});

describe("required sections", () => {
  test("maas, juju, host, devices and openstack are required; flavors, smokeTest and runner are not", () => {
    const c = accepted((r) => {
      delete r.flavors;
      delete r.smokeTest;
    });
    assert.deepEqual(c.flavors, []);
    assert.equal(c.smokeTest, undefined);
    assert.deepEqual(linesOf({}), [
      `${P}:maas: is required`,
      `${P}:juju: is required`,
      `${P}:host: is required`,
      `${P}:devices: is required`,
      `${P}:openstack: is required`,
    ]);
  });

  test("a required key inside a section is reported with its path", () => {
    refused((r) => delete r.maas.profile, [`${P}:maas.profile: is required`]);
    refused((r) => delete r.juju.model, [`${P}:juju.model: is required`]);
    refused((r) => delete r.openstack.release, [`${P}:openstack.release: is required`]);
    refused(
      (r) => (r.devices[0] = {}),
      [`${P}:devices[0].alias: is required`, `${P}:devices[0].vendorId: is required`, `${P}:devices[0].productId: is required`, `${P}:devices[0].addresses: is required`],
    );
  });

  test("a missing enum key (host.iommu) is reported as required", () => {
    refused((r) => delete r.host.iommu, [`${P}:host.iommu: is required`]);
  });

  test("a section of the wrong type", () => {
    refused((r) => (r.devices = {}), [`${P}:devices: expected a list of devices`]);
    refused((r) => (r.devices = []), [`${P}:devices: list at least one device (see \`npm run import-lspci\`)`]);
    refused((r) => (r.flavors = "m1.gpu"), [`${P}:flavors: expected a list of flavors`]);
  });

  test("an object section given a scalar or left empty says what it expected", () => {
    refused((r) => (r.maas = "admin"), [`${P}:maas: expected a mapping, got "admin"`]);
    refused((r) => (r.maas = null), [`${P}:maas: expected a mapping, got null`]);
  });
});

describe("unknown keys", () => {
  test("at every level, with a suggestion when one is close", () => {
    refused((r) => (r.device = r.devices), [`${P}:device: unknown key (did you mean "devices"?)`]);
    refused((r) => (r.maas.tags = "x"), [`${P}:maas.tags: unknown key (did you mean "tag"?)`]);
    refused((r) => (r.juju.exsitingModel = true), [`${P}:juju.exsitingModel: unknown key (did you mean "existingModel"?)`]);
    refused((r) => (r.host.iomuPassthrough = true), [`${P}:host.iomuPassthrough: unknown key (did you mean "iommuPassthrough"?)`]);
    refused((r) => (r.devices[0].vendorID = "10de"), [`${P}:devices[0].vendorID: unknown key (did you mean "vendorId"?)`]);
    refused((r) => (r.openstack.schedulerFilter = ["PciPassthroughFilter"]), [`${P}:openstack.schedulerFilter: unknown key (did you mean "schedulerFilters"?)`]);
    refused((r) => (r.flavors[0].extraspecs = {}), [`${P}:flavors[0].extraspecs: unknown key (did you mean "extraSpecs"?)`]);
    refused((r) => (r.smokeTest.keypair = "ops"), [`${P}:smokeTest.keypair: unknown key (did you mean "keyPair"?)`]);
    refused((r) => (r.smokeTest.servers[0].image = "jammy"), [`${P}:smokeTest.servers[0].image: unknown key`]);
    refused(
      (r) => (r.runner = { host: "jump", user: "ubuntu", privateKey: SECRET_PLACEHOLDER, prot: 22 }),
      [`${P}:runner.prot: unknown key (did you mean "port"?)`],
    );
  });
});

describe("secrets from a stack file", () => {
  test("secure values become the placeholder, which apiKey and privateKey accept", () => {
    const doc = parseYaml(readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")) as { config: Raw };
    doc.config[`${P}:maas`].url = "http://maas.example:5240/MAAS";
    doc.config[`${P}:maas`].apiKey = { secure: "v1:AAAABBBBCCCC" };
    doc.config[`${P}:runner`] = { host: "jump", user: "ubuntu", privateKey: { secure: "v1:DDDDEEEE" } };
    const file = fromStackFile(stringifyYaml(doc));
    assert.deepEqual(file.secretPaths, [`${P}:maas.apiKey`, `${P}:runner.privateKey`]);
    const c = requireSiteConfig(file.raw);
    assert.equal(c.maas.apiKey, SECRET_PLACEHOLDER);
    assert.equal(c.runner?.privateKey, SECRET_PLACEHOLDER);
    assert.ok(!JSON.stringify(c).includes("v1:"));
  });
});

describe("every problem at once", () => {
  test("a config with N distinct mistakes gives exactly N lines, in section order", () => {
    const raw = editStack("dev", (r) => {
      r.flavours = r.flavors; // 1
      r.maas.tag = "pci pass"; // 2
      r.juju.model = "OpenStack"; // 3
      r.host.iommu = "arm"; // 4
      r.host.blacklistDrivers.push("nouveau"); // 5
      r.devices[0].addresses[1] = "83:00"; // 6
      r.openstack.consoleAccessProtocol = "rdp"; // 7
      r.flavors[0].extraSpecs = { "pci_passthrough:alias": "gpu:2" }; // 8
      delete r.smokeTest.servers[1].flavor; // 9
      r.runner = { host: "jump", user: "ubuntu", port: "ssh", privateKey: SECRET_PLACEHOLDER }; // 10
    });
    const expected = [
      `${P}:flavours: unknown key (did you mean "flavors"?)`,
      `${P}:maas.tag: "pci pass" is not a MAAS tag name (letters, digits, _ and - only)`,
      `${P}:juju.model: "OpenStack" is not a Juju model name (lowercase letters, digits and hyphens, not starting with a hyphen)`,
      `${P}:host.iommu: "arm" is not intel or amd`,
      `${P}:host.blacklistDrivers[2]: duplicate driver "nouveau" (also at [1])`,
      `${P}:devices[0].addresses[1]: "83:00" is not a PCI address (expected DDDD:BB:SS.F)`,
      `${P}:openstack.consoleAccessProtocol: "rdp" is not one of spice, novnc, vnc, xvpvnc`,
      `${P}:flavors[0].extraSpecs["pci_passthrough:alias"]: is derived from pci; set the devices there instead`,
      `${P}:smokeTest.servers[1].flavor: is required`,
      `${P}:runner.port: expected an integer, got "ssh"`,
    ];
    assert.deepEqual(linesOf(raw), expected);
    assert.throws(
      () => requireSiteConfig(raw),
      (e: unknown) => e instanceof ConfigError && e.problems.length === 10 && e.message === `invalid stack configuration:\n${expected.join("\n")}`,
    );
  });

  test("cross-field problems are all reported together", () => {
    refused(
      (r) => {
        r.devices.push({ alias: "gpu", vendorId: "10de", productId: "1b06", addresses: ["83:00.0"], numaPolicy: "required" });
        r.flavors[0].pci = { gpu: 9, nic: 1 };
        Object.assign(r.openstack, { consoleAccessProtocol: "xvpvnc", schedulerFilters: ["CoreFilter"] });
      },
      [
        `${P}:devices[1].addresses[0]: address 0000:83:00.0 is already listed at ${P}:devices[0].addresses[0]`,
        `${P}:devices[1].numaPolicy: alias "gpu" has numaPolicy "required" here but "unset" at devices[0]; entries sharing an alias must agree`,
        `${P}:flavors[0].pci.gpu: asks for 9 "gpu" devices but a GPU host has 3`,
        `${P}:flavors[0].pci.nic: alias "nic" is not defined in devices (known: gpu)`,
        `${P}:openstack.consoleAccessProtocol: xvpvnc was removed in ussuri and does not work on yoga; use spice or novnc`,
        `${P}:openstack.schedulerFilters: must contain PciPassthroughFilter, or PCI requests are never scheduled`,
        `${P}:openstack.schedulerFilters[0]: CoreFilter was removed from Nova in train; nova-scheduler would not start on yoga`,
        `${P}:openstack.schedulerFilters: must contain NUMATopologyFilter: ${P}:devices[1].numaPolicy sets a PCI NUMA policy, and only NUMATopologyFilter applies it`,
      ],
    );
  });

  test("a flavor's alias is still checked when the devices have other problems", () => {
    refused(
      (r) => {
        r.devices[0].addresses[1] = "83:00";
        r.flavors[0].pci = { gpu: 9, nic: 1 };
      },
      [
        `${P}:devices[0].addresses[1]: "83:00" is not a PCI address (expected DDDD:BB:SS.F)`,
        `${P}:flavors[0].pci.nic: alias "nic" is not defined in devices (known: gpu)`,
      ],
    );
    // Not when a device's alias is itself unreadable: it might be the one the flavor means.
    refused(
      (r) => {
        r.devices[0].alias = "-gpu";
        r.flavors[0].pci = { nic: 1 };
      },
      [`${P}:devices[0].alias: "-gpu" is not an alias name (letters, digits, _ . -; at most 256)`],
    );
  });

  test("the lab stack's own shape: a stack with every section validates unchanged", () => {
    assert.deepEqual(linesOf(rawStack("lab")), []);
  });
});
