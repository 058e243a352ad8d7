// Every rule of the site configuration (config/), each with a valid and an invalid case, asserting
// the exact key path and message of every error line.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { ConfigError, SECRET_PLACEHOLDER, formatProblems } from "../config/problems";
import { parseSiteConfig, requireSiteConfig } from "../config/parse";
import type { SiteConfig } from "../config/types";
import { fromStackFile } from "../config/stack";
import { ROOT, STACKS, editStack, loadStack, rawStack } from "./helpers";

type Raw = Record<string, any>;
type Edit = (raw: Raw) => void;

/** The error lines of a raw config, `[]` when it is valid. */
function linesOf(raw: Record<string, unknown>): string[] {
  const r = parseSiteConfig(raw);
  return r.ok ? [] : formatProblems(r.problems).split("\n");
}

/** The dev stack with `edit` applied must be refused with exactly these lines, in this order. */
function refused(edit: Edit, expected: string[], stack = "dev"): void {
  assert.deepEqual(linesOf(editStack(stack, edit)), expected);
}

/** The dev stack with `edit` applied must validate; returns the SiteConfig. */
function accepted(edit: Edit, stack = "dev"): SiteConfig {
  const r = parseSiteConfig(editStack(stack, edit));
  assert.ok(r.ok, r.ok ? "" : formatProblems(r.problems));
  return r.config;
}

const P = "pci-passthrough";

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

describe("maas", () => {
  test("tag defaults to pci-pass and follows MAAS's name rule", () => {
    assert.equal(accepted((r) => delete r.maas.tag).groups[0]!.maas.tag, "pci-pass");
    assert.equal(accepted((r) => (r.maas.tag = "GPU_hosts-2")).groups[0]!.maas.tag, "GPU_hosts-2");
    refused((r) => (r.maas.tag = "pci pass"), [`${P}:maas.tag: "pci pass" is not a MAAS tag name (letters, digits, _ and - only)`]);
    refused((r) => (r.maas.tag = "pci.pass"), [`${P}:maas.tag: "pci.pass" is not a MAAS tag name (letters, digits, _ and - only)`]);
  });

  test("profile and comment are clean single-line texts", () => {
    refused((r) => (r.maas.profile = " admin"), [`${P}:maas.profile: " admin" is not a MAAS profile name (letters, digits, _ . -)`]);
    refused((r) => (r.maas.profile = "-v"), [`${P}:maas.profile: "-v" is not a MAAS profile name (letters, digits, _ . -)`]);
    refused((r) => (r.maas.profile = "login"), [`${P}:maas.profile: "login" is a maas CLI command, not usable as a profile name`]);
    refused((r) => (r.maas.profile = ""), [`${P}:maas.profile: "" is not a MAAS profile name (letters, digits, _ . -)`]);
    refused((r) => (r.maas.comment = "GPU\u0007"), [`${P}:maas.comment: contains control characters`]);
    assert.equal(accepted((r) => delete r.maas.comment).groups[0]!.maas.comment, "PCI Passthrough kernel parameters (managed by pci-passthrough)");
  });

  test("the tag selects its machines one way: machines, definition or selectByDevice", () => {
    const only = (sel: Record<string, unknown>) => (r: Record<string, any>) => {
      delete r.maas.selectByDevice;
      delete r.maas.pool;
      Object.assign(r.maas, sel);
    };
    assert.deepEqual(accepted(only({ machines: ["4y3h7n", "8fbxqa"] })).groups[0]!.maas.machines, ["4y3h7n", "8fbxqa"]);
    const xpath = '//node[@class="display"]/vendor[contains(.,"NVIDIA")]';
    assert.equal(accepted(only({ definition: xpath })).groups[0]!.maas.definition, xpath);
    assert.equal(accepted(only({ selectByDevice: "true", pool: "openstack" })).groups[0]!.maas.selectByDevice, true);
    refused(only({ machines: ["4y3h7n"], definition: "//node" }), [`${P}:maas.definition: give one of machines, definition or selectByDevice, not machines and definition`]);
    refused((r) => (r.maas.machines = ["4y3h7n"]), [`${P}:maas.selectByDevice: give one of machines, definition or selectByDevice, not machines and selectByDevice`]);
    refused(only({ definition: "" }), [`${P}:maas.definition: expected an XPath expression`]);
    // A tag that selects nothing: `tags=TAG` would find no machine and the deployment would stall.
    const nothing = `the tag selects no machine: give machines (system IDs), definition (an lshw XPath) or selectByDevice: true`;
    refused(only({}), [`${P}:maas: ${nothing}`]);
    refused(only({ selectByDevice: false }), [`${P}:maas.selectByDevice: ${nothing}`]);
    refused(only({ machines: [] }), [`${P}:maas.machines: list at least one system ID (an empty list tags no machine)`]);
  });

  test("selectByDevice is scoped to a MAAS resource pool and/or zone; listed machines may be too; a definition cannot be", () => {
    const pick = (o: object, keys: string[]) => Object.fromEntries(Object.entries(o).filter(([k]) => keys.includes(k)));
    const scoped = (scope: Record<string, unknown>) => (r: Record<string, any>) => {
      delete r.maas.pool;
      Object.assign(r.maas, scope);
    };
    // MAAS applies a tag's kernel options to every later deployment of each machine it tags, whoever deploys
    // it: unscoped, another team's GPU machines would get vfio-pci.ids= and lose their GPUs.
    refused(scoped({}), [
      `${P}:maas.selectByDevice: selection by device must be scoped to this cloud's machines: give pool (a MAAS resource pool) and/or zone; ` +
        "otherwise every machine of the whole MAAS with such a device is tagged, and MAAS applies the tag's kernel options to its every later deployment, by anyone",
    ]);
    assert.deepEqual(pick(accepted(scoped({ zone: "az1" })).groups[0]!.maas, ["pool", "zone"]), { zone: "az1" });
    assert.deepEqual(pick(accepted(scoped({ pool: "GPU cloud_2", zone: "az-1" })).groups[0]!.maas, ["pool", "zone"]), { pool: "GPU cloud_2", zone: "az-1" });
    refused(scoped({ pool: "-gpu" }), [`${P}:maas.pool: "-gpu" is not a MAAS resource pool name (letters, digits, _, - and spaces, not starting with - or a space)`]);
    refused(scoped({ zone: "a/b" }), [`${P}:maas.zone: "a/b" is not a MAAS zone name (letters, digits, _, - and spaces, not starting with - or a space)`]);
    const listed = accepted((r) => Object.assign(r.maas, { selectByDevice: undefined, machines: ["4y3h7n"] })).groups[0]!.maas;
    assert.deepEqual([listed.machines, listed.pool], [["4y3h7n"], "openstack"], "listed machines may be scoped: the steps check each is in the pool");
    refused((r) => Object.assign(r.maas, { selectByDevice: undefined, definition: "//node", zone: "az1" }), [
      `${P}:maas.pool: not with definition: MAAS evaluates a tag's definition on every machine it has, whatever its resource pool`,
      `${P}:maas.zone: not with definition: MAAS evaluates a tag's definition on every machine it has, whatever its zone`,
    ]);
    // In host groups each group's tag has its scope; l40s keeps its zone when its pool goes.
    assert.deepEqual(pick(accepted((r) => delete r.hostGroups[1].maas.pool, "mixed").groups[1]!.maas, ["pool", "zone"]), { zone: "az2" });
    refused((r) => Object.assign(r.hostGroups[0].maas, { pool: undefined }), [
      `${P}:hostGroups[0].maas.selectByDevice: selection by device must be scoped to this cloud's machines: give pool (a MAAS resource pool) and/or zone; ` +
        "otherwise every machine of the whole MAAS with such a device is tagged, and MAAS applies the tag's kernel options to its every later deployment, by anyone",
    ], "mixed");
    refused((r) => (r.maas.pool = "openstack"), [`${P}:maas.pool: not with hostGroups: each group has its own tag (hostGroups[].maas.pool)`], "mixed");
  });

  test("deleteAdoptedTag is a boolean, false by default", () => {
    assert.equal(accepted(() => {}).groups[0]!.maas.deleteAdoptedTag, false);
    assert.equal(accepted((r) => (r.maas.deleteAdoptedTag = "true")).groups[0]!.maas.deleteAdoptedTag, true);
    refused((r) => (r.maas.deleteAdoptedTag = "yes"), [`${P}:maas.deleteAdoptedTag: expected true or false, got "yes"`]);
  });

  test("machines are unique MAAS system IDs", () => {
    refused(
      (r) => (r.maas.machines = ["4Y3H7N", "abc", "abc"]),
      [`${P}:maas.machines[0]: "4Y3H7N" is not a MAAS system ID (lowercase letters and digits)`, `${P}:maas.machines[2]: duplicate system ID "abc" (also at [1])`],
      "lab",
    );
  });

  test("url and apiKey go together", () => {
    const c = accepted((r) => Object.assign(r.maas, { url: "http://maas.example:5240/MAAS", apiKey: "aB3:dE6:gH9" }));
    assert.equal(c.maas.apiKey, "aB3:dE6:gH9");
    refused((r) => (r.maas.url = "http://maas.example:5240/MAAS"), [`${P}:maas.apiKey: url and apiKey go together (set both to log the profile in, or neither)`]);
    refused((r) => (r.maas.apiKey = "aB3:dE6:gH9"), [`${P}:maas.url: url and apiKey go together (set both to log the profile in, or neither)`]);
    refused((r) => Object.assign(r.maas, { url: "maas.example", apiKey: "aB3:dE6:gH9" }), [`${P}:maas.url: "maas.example" is not an http(s) URL`]);
  });

  test("a bad apiKey is refused without echoing it", () => {
    const lines = linesOf(editStack("dev", (r) => Object.assign(r.maas, { url: "http://maas", apiKey: "TopSecretValue" })));
    assert.deepEqual(lines, [`${P}:maas.apiKey: is not a MAAS API key (expected consumer:token:secret)`]);
    assert.ok(!lines.join("\n").includes("TopSecretValue"));
    const typed = linesOf(editStack("dev", (r) => Object.assign(r.maas, { url: "http://maas", apiKey: 123456789 })));
    assert.deepEqual(typed, [`${P}:maas.apiKey: expected a MAAS API key`]);
  });
});

describe("juju", () => {
  test("model follows Juju's model name rule", () => {
    assert.equal(accepted((r) => (r.juju.model = "gpu-cloud-2")).juju.model, "gpu-cloud-2");
    const rule = "is not a Juju model name (lowercase letters, digits and hyphens, not starting with a hyphen)";
    refused((r) => (r.juju.model = "OpenStack"), [`${P}:juju.model: "OpenStack" ${rule}`]);
    refused((r) => (r.juju.model = "-openstack"), [`${P}:juju.model: "-openstack" ${rule}`]);
    refused((r) => (r.juju.model = "open_stack"), [`${P}:juju.model: "open_stack" ${rule}`]);
  });

  test("cloud[/region] and controller names", () => {
    const c = accepted((r) => Object.assign(r.juju, { cloud: "maas-one/default", controller: "maas-controller" }));
    assert.deepEqual([c.juju.cloud, c.juju.controller], ["maas-one/default", "maas-controller"]);
    refused((r) => (r.juju.cloud = "maas/default/x"), [`${P}:juju.cloud: "maas/default/x" is not a cloud[/region]`]);
    refused((r) => (r.juju.controller = "-c"), [`${P}:juju.controller: "-c" is not a controller name`]);
  });

  test("version 2.9 or 3, as number or string, default 3", () => {
    const version = (v: unknown) => accepted((r) => (v === undefined ? delete r.juju.version : (r.juju.version = v))).juju.version;
    assert.equal(version(undefined), "3");
    assert.equal(version(3), "3");
    assert.equal(version("3"), "3");
    assert.equal(version("3.4"), "3");
    assert.equal(version(3.4), "3");
    assert.equal(version(2.9), "2.9");
    assert.equal(version("2.9"), "2.9");
    assert.equal(version("2.9.42"), "2.9");
    refused((r) => (r.juju.version = 2), [`${P}:juju.version: 2 is not a supported Juju version (2.9 or 3)`]);
    refused((r) => (r.juju.version = "2.8"), [`${P}:juju.version: "2.8" is not a supported Juju version (2.9 or 3)`]);
    refused((r) => (r.juju.version = [3]), [`${P}:juju.version: expected the Juju version, 2.9 or 3`]);
  });

  test("existingModel and destroyModelOnDelete default false and exclude each other", () => {
    const c = accepted(() => {});
    assert.deepEqual([c.juju.existingModel, c.juju.destroyModelOnDelete], [false, false]);
    assert.equal(accepted((r) => (r.juju.existingModel = "true")).juju.existingModel, true);
    assert.equal(accepted((r) => (r.juju.destroyModelOnDelete = true)).juju.destroyModelOnDelete, true);
    refused(
      (r) => Object.assign(r.juju, { existingModel: true, destroyModelOnDelete: "true" }),
      [`${P}:juju.destroyModelOnDelete: cannot be true with existingModel: a model this stack adopted is never destroyed by it`],
    );
    refused((r) => (r.juju.existingModel = "yes"), [`${P}:juju.existingModel: expected true or false, got "yes"`]);
  });
});

describe("host", () => {
  test("a list holding a mapping with a toString key is a problem, not a crash (found by fast-check)", () => {
    refused(
      (r) => (r.host.blacklistDrivers = [{ toString: "x" }, "nouveau", "nouveau"]),
      [`${P}:host.blacklistDrivers[0]: expected a kernel module name`, `${P}:host.blacklistDrivers[2]: duplicate driver "nouveau" (also at [1])`],
    );
  });

  test("defaults: binding modprobe, allowUnsafeInterrupts false, iommuPassthrough false, no blacklist", () => {
    const c = accepted((r) => (r.host = { iommu: "amd" }));
    assert.deepEqual(c.groups[0]!.host, { iommu: "amd", iommuPassthrough: false, allowUnsafeInterrupts: false, blacklistDrivers: [], binding: "modprobe" });
  });

  test("iommu is intel or amd", () => {
    refused((r) => (r.host.iommu = "arm"), [`${P}:host.iommu: "arm" is not intel or amd`]);
    refused((r) => (r.host.iommu = "Intel"), [`${P}:host.iommu: "Intel" is not intel or amd`]);
  });

  test("booleans accept true/false and their strings only", () => {
    assert.equal(accepted((r) => (r.host.iommuPassthrough = "true")).groups[0]!.host.iommuPassthrough, true);
    refused((r) => (r.host.allowUnsafeInterrupts = "yes"), [`${P}:host.allowUnsafeInterrupts: expected true or false, got "yes"`]);
    refused((r) => (r.host.iommuPassthrough = 1), [`${P}:host.iommuPassthrough: expected true or false, got 1`]);
  });

  test("blacklistDrivers are unique kernel module names", () => {
    assert.deepEqual(accepted((r) => (r.host.blacklistDrivers = ["nouveau", "snd_hda_intel", "nvidia-drm"])).groups[0]!.host.blacklistDrivers, ["nouveau", "snd_hda_intel", "nvidia-drm"]);
    refused(
      (r) => (r.host.blacklistDrivers = ["nouveau", "nouveau;reboot", "nouveau"]),
      [`${P}:host.blacklistDrivers[1]: "nouveau;reboot" is not a kernel module name`, `${P}:host.blacklistDrivers[2]: duplicate driver "nouveau" (also at [0])`],
    );
    refused((r) => (r.host.blacklistDrivers = "nvidiafb,nouveau"), [`${P}:host.blacklistDrivers: expected a list of kernel module names`]);
  });

  test("binding is modprobe, driver-override or rc-local", () => {
    for (const b of ["modprobe", "driver-override", "rc-local"]) assert.equal(accepted((r) => (r.host.binding = b)).groups[0]!.host.binding, b);
    refused((r) => (r.host.binding = "udev"), [`${P}:host.binding: "udev" is not one of modprobe, driver-override, rc-local`]);
  });
});

describe("devices", () => {
  test("vendorId and productId are 4 hex digits, lower-cased; an unquoted YAML 8086 is taken back", () => {
    const c = accepted((r) => Object.assign(r.devices[0], { vendorId: "10DE", productId: "1BB0" }));
    assert.deepEqual([c.groups[0]!.devices[0]!.vendorId, c.groups[0]!.devices[0]!.productId], ["10de", "1bb0"]);
    // What YAML gives for `vendorId: 8086` / `productId: 1592` without quotes.
    const yaml = parseYaml("vendorId: 8086\nproductId: 1592\n") as { vendorId: unknown; productId: unknown };
    assert.deepEqual(yaml, { vendorId: 8086, productId: 1592 });
    const n = accepted((r) => Object.assign(r.devices[0], yaml));
    assert.deepEqual([n.groups[0]!.devices[0]!.vendorId, n.groups[0]!.devices[0]!.productId], ["8086", "1592"]);
    refused((r) => (r.devices[0].productId = "1bb"), [`${P}:devices[0].productId: "1bb" is not 4 hex digits`]);
    refused((r) => (r.devices[0].productId = "1bbg"), [`${P}:devices[0].productId: "1bbg" is not 4 hex digits`]);
    // `0300` unquoted is the number 300: refused with a hint to quote it.
    refused((r) => (r.devices[0].vendorId = 300), [`${P}:devices[0].vendorId: expected 4 hex digits as a quoted string, e.g. "10de", got 300`]);
  });

  test("addresses are normalised to DDDD:BB:SS.F; partial ones are refused", () => {
    const c = accepted((r) => (r.devices[0].addresses = ["83:00.0", "0000:84:00.0", "0001:0A:1F.7"]));
    assert.deepEqual(c.groups[0]!.devices[0]!.addresses, ["0000:83:00.0", "0000:84:00.0", "0001:0a:1f.7"]);
    refused((r) => (r.devices[0].addresses = ["83:00.0", "83:00"]), [`${P}:devices[0].addresses[1]: "83:00" is not a PCI address (expected DDDD:BB:SS.F)`]);
    refused((r) => (r.devices[0].addresses = ["83:20.0"]), [`${P}:devices[0].addresses[0]: "83:20.0" is not a PCI address (expected DDDD:BB:SS.F)`]);
    refused((r) => (r.devices[0].addresses = ["83:00.8"]), [`${P}:devices[0].addresses[0]: "83:00.8" is not a PCI address (expected DDDD:BB:SS.F)`]);
    refused((r) => (r.devices[0].addresses = [83]), [`${P}:devices[0].addresses[0]: expected a PCI address DDDD:BB:SS.F`]);
    refused((r) => (r.devices[0].addresses = []), [`${P}:devices[0].addresses: list at least one PCI address`]);
    refused((r) => (r.devices[0].addresses = "0000:83:00.0"), [`${P}:devices[0].addresses: expected a list of PCI addresses`]);
  });

  test("alias names", () => {
    assert.equal(accepted((r) => {
      r.devices[0].alias = "gpu.p5000_1";
      r.flavors[0].pci = { "gpu.p5000_1": 1 };
    }).groups[0]!.devices[0]!.alias, "gpu.p5000_1");
    refused((r) => (r.devices[0].alias = "-gpu"), [`${P}:devices[0].alias: "-gpu" is not an alias name (letters, digits, _ . -; at most 256)`]);
    refused((r) => (r.devices[0].alias = "a".repeat(257)), [`${P}:devices[0].alias: "${"a".repeat(257)}" is not an alias name (letters, digits, _ . -; at most 256)`]);
  });

  test("companions are unique vendor:product ids other than the device itself", () => {
    assert.deepEqual(accepted((r) => (r.devices[0].companions = ["10DE:10F0"])).groups[0]!.devices[0]!.companions, ["10de:10f0"]);
    refused(
      (r) => (r.devices[0].companions = ["10de:10f0", "10de10f0", "10de:10F0"]),
      [
        `${P}:devices[0].companions[1]: "10de10f0" is not a vendor:product id (expected vvvv:pppp, 4 hex digits each)`,
        `${P}:devices[0].companions[2]: duplicate companion "10de:10f0" (also at [0])`,
      ],
    );
    refused((r) => (r.devices[0].companions = ["10de:10f0", "10DE:1BB0"]), [`${P}:devices[0].companions[1]: 10de:1bb0 is the device itself, not a companion`]);
    refused((r) => (r.devices[0].companions = "10de:10f0"), [`${P}:devices[0].companions: expected a list of vendor:product ids`]);
  });

  test("deviceType and numaPolicy enums", () => {
    const c = accepted((r) => Object.assign(r.devices[0], { deviceType: "type-PF", numaPolicy: "socket" }));
    assert.deepEqual([c.groups[0]!.devices[0]!.deviceType, c.groups[0]!.devices[0]!.numaPolicy], ["type-PF", "socket"]);
    refused(
      (r) => Object.assign(r.devices[0], { deviceType: "PCI", numaPolicy: "strict" }),
      [
        `${P}:devices[0].deviceType: "PCI" is not one of type-PCI, type-PF, type-VF`,
        `${P}:devices[0].numaPolicy: "strict" is not one of required, legacy, preferred, socket`,
      ],
    );
  });
});

describe("cross-field rules", () => {
  test("device rules still run on the devices that parsed when another device is invalid", () => {
    refused(
      (r) => {
        r.devices.push({ alias: "gpu", vendorId: "10de", productId: "1bb1", addresses: ["0000:83:00.0"], deviceType: "type-PF" });
        r.devices.push({ alias: "x", vendorId: "zz", productId: "1bb0", addresses: ["0000:85:00.0"] });
      },
      [
        `${P}:devices[2].vendorId: "zz" is not 4 hex digits`,
        `${P}:devices[1].addresses[0]: address 0000:83:00.0 is already listed at ${P}:devices[0].addresses[0]`,
        `${P}:devices[1].deviceType: alias "gpu" has deviceType "type-PF" here but "unset" at devices[0]; entries sharing an alias must agree`,
      ],
    );
  });

  const second = (d: Raw) => (r: Raw) => r.devices.push({ alias: "gpu", vendorId: "10de", productId: "1b06", addresses: ["0000:03:00.0"], ...d });

  test("an address appears once across devices", () => {
    accepted(second({}));
    refused(second({ addresses: ["83:00.0"] }), [`${P}:devices[1].addresses[0]: address 0000:83:00.0 is already listed at ${P}:devices[0].addresses[0]`]);
    refused((r) => (r.devices[0].addresses = ["0000:83:00.0", "83:00.0"]), [`${P}:devices[0].addresses[1]: address 0000:83:00.0 is already listed at ${P}:devices[0].addresses[0]`]);
  });

  test("entries sharing an alias agree on deviceType and numaPolicy", () => {
    accepted((r) => {
      Object.assign(r.devices[0], { deviceType: "type-PCI", numaPolicy: "preferred" });
      second({ deviceType: "type-PCI", numaPolicy: "preferred" })(r);
    });
    refused(
      (r) => {
        r.devices[0].deviceType = "type-PCI";
        second({ numaPolicy: "preferred" })(r);
      },
      [
        `${P}:devices[1].deviceType: alias "gpu" has deviceType "unset" here but "type-PCI" at devices[0]; entries sharing an alias must agree`,
        `${P}:devices[1].numaPolicy: alias "gpu" has numaPolicy "preferred" here but "unset" at devices[0]; entries sharing an alias must agree`,
      ],
    );
  });

  test("every flavor alias exists in devices", () => {
    refused(
      (r) => (r.flavors[0].pci = { gpu: 1, nic: 1 }),
      [`${P}:flavors[0].pci.nic: alias "nic" is not defined in devices (known: gpu)`],
    );
    refused((r) => (r.flavors[0].pci = { "gpu.a": 1 }), [`${P}:flavors[0].pci["gpu.a"]: alias "gpu.a" is not defined in devices (known: gpu)`]);
  });

  test("a flavor never asks more devices than a host has, counting every entry of the alias", () => {
    accepted((r) => (r.flavors[0].pci.gpu = 2));
    refused((r) => (r.flavors[0].pci.gpu = 3), [`${P}:flavors[0].pci.gpu: asks for 3 "gpu" devices but a GPU host has 2`]);
    // A second entry with the same alias adds its addresses: 2 + 1.
    accepted((r) => {
      second({})(r);
      r.flavors[0].pci.gpu = 3;
    });
    refused(
      (r) => {
        second({})(r);
        r.flavors[0].pci.gpu = "4";
      },
      [`${P}:flavors[0].pci.gpu: asks for 4 "gpu" devices but a GPU host has 3`],
    );
  });

  test("xvpvnc is refused from ussuri on and accepted on train", () => {
    assert.equal(accepted((r) => Object.assign(r.openstack, { release: "train", consoleAccessProtocol: "xvpvnc" })).openstack.consoleAccessProtocol, "xvpvnc");
    refused(
      (r) => Object.assign(r.openstack, { release: "ussuri", consoleAccessProtocol: "xvpvnc" }),
      [`${P}:openstack.consoleAccessProtocol: xvpvnc was removed in ussuri and does not work on ussuri; use spice or novnc`],
    );
    refused(
      (r) => (r.openstack.consoleAccessProtocol = "xvpvnc"),
      [`${P}:openstack.consoleAccessProtocol: xvpvnc was removed in ussuri and does not work on yoga; use spice or novnc`],
    );
  });

  test("explicit schedulerFilters must contain PciPassthroughFilter", () => {
    const filters = ["ComputeFilter", "PciPassthroughFilter"];
    assert.deepEqual(accepted((r) => (r.openstack.schedulerFilters = filters)).openstack.schedulerFilters, filters);
    refused(
      (r) => (r.openstack.schedulerFilters = ["ComputeFilter"]),
      [`${P}:openstack.schedulerFilters: must contain PciPassthroughFilter, or PCI requests are never scheduled`],
    );
  });

  test("a filter removed in the target release is refused; before its removal it is accepted", () => {
    const runbook = ["RetryFilter", "AvailabilityZoneFilter", "CoreFilter", "RamFilter", "ComputeFilter", "PciPassthroughFilter"];
    accepted((r) => Object.assign(r.openstack, { release: "queens", schedulerFilters: runbook }));
    accepted((r) => Object.assign(r.openstack, { release: "ussuri", schedulerFilters: runbook.slice(0, 2).concat(runbook.slice(4)) }));
    refused(
      (r) => (r.openstack.schedulerFilters = runbook),
      [
        `${P}:openstack.schedulerFilters[0]: RetryFilter was removed from Nova in victoria; nova-scheduler would not start on yoga`,
        `${P}:openstack.schedulerFilters[2]: CoreFilter was removed from Nova in train; nova-scheduler would not start on yoga`,
        `${P}:openstack.schedulerFilters[3]: RamFilter was removed from Nova in train; nova-scheduler would not start on yoga`,
      ],
    );
    refused(
      (r) => Object.assign(r.openstack, { release: "2023.2", schedulerFilters: ["AvailabilityZoneFilter", "PciPassthroughFilter"] }),
      [`${P}:openstack.schedulerFilters[0]: AvailabilityZoneFilter was removed from Nova in 2023.2; nova-scheduler would not start on 2023.2`],
    );
  });

  test("schedulerFilters are unique class names, at least one", () => {
    refused(
      (r) => (r.openstack.schedulerFilters = ["PciPassthroughFilter", "Bad Filter", "PciPassthroughFilter"]),
      [
        `${P}:openstack.schedulerFilters[1]: "Bad Filter" is not a filter class name`,
        `${P}:openstack.schedulerFilters[2]: duplicate filter "PciPassthroughFilter" (also at [0])`,
      ],
    );
    refused((r) => (r.openstack.schedulerFilters = []), [`${P}:openstack.schedulerFilters: list at least one filter`]);
    refused((r) => (r.openstack.schedulerFilters = "PciPassthroughFilter"), [`${P}:openstack.schedulerFilters: expected a list of filter names`]);
  });
});

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

describe("hostGroups", () => {
  /** The mixed stack with `edit` applied must be refused with exactly these lines. */
  const refusedMixed = (edit: Edit, expected: string[]) => refused(edit, expected, "mixed");
  const acceptedMixed = (edit: Edit = () => {}) => accepted(edit, "mixed");

  test("Pulumi.mixed.yaml: three named groups, each with its tag, application, host and devices", () => {
    const c = acceptedMixed();
    assert.deepEqual(c.maas, { profile: "admin" });
    assert.deepEqual(
      c.groups.map((g) => [g.name, g.maas.tag, g.application, g.host.iommu, g.devices.map((d) => d.alias)]),
      [
        ["a100", "gpu-a100", "nova-compute-a100", "intel", ["a100"]],
        ["l40s", "gpu-l40s", "nova-compute-l40s", "amd", ["l40s"]],
        ["nic", "nic-pass", "nova-compute-nic", "intel", ["cx6"]],
      ],
    );
  });

  test("defaults: the tag is pci-pass-<group>, the application nova-compute", () => {
    const c = acceptedMixed((r) => {
      delete r.hostGroups[0].maas.tag;
      delete r.hostGroups[0].application;
    });
    assert.equal(c.groups[0]!.maas.tag, "pci-pass-a100");
    // a100 selects by device: the bundle's own nova-compute may carry it (below).
    assert.equal(c.groups[0]!.application, "nova-compute");
  });

  test("refused: a group on the bundle's own nova-compute that does not select by device (its whitelist reaches the hosts of no group)", () => {
    const shared = (i: number, selection: string, device: string, tag: string, name: string) =>
      `${P}:hostGroups[${i}].application: nova-compute is the bundle's own application, which with host groups runs the compute hosts of no group too: ` +
      `charm options are per application, so its pci-passthrough-whitelist reaches every one of them, and any with ${device} would offer it to guests ` +
      `(Nova takes it from the host's driver when a guest starts); the group's ${selection} does not reach Nova. Give the group its own application ` +
      `(e.g. nova-compute-${name}, which the bundle overlay adds with constraints tags=${tag}), or select its hosts by device (maas.selectByDevice: true)`;
    // The mixed stack as it was: the NIC group, listed by system ID, on the bundle's nova-compute.
    refusedMixed((r) => (r.hostGroups[2].application = "nova-compute"), [shared(2, "maas.machines", "15b3:101d at 0000:b1:00.0", "nic-pass", "nic")]);
    refusedMixed(
      (r) => {
        r.hostGroups[1].application = "nova-compute";
        r.hostGroups[1].maas = { tag: "gpu-l40s", definition: '//node[@class="display"]/vendor[contains(.,"NVIDIA")]' };
      },
      [shared(1, "maas.definition", "10de:26b9 at 0000:17:00.0", "gpu-l40s", "l40s")],
    );
    // Selecting by device, the tag follows the devices: a host with one is a host of the group.
    assert.equal(acceptedMixed((r) => (r.hostGroups[0].application = "nova-compute")).groups[0]!.application, "nova-compute");
    // An application the overlay adds runs on the group's tag only; so does nova-compute when the overlay adds it.
    assert.equal(acceptedMixed((r) => ((r.hostGroups[2].application = "nova-compute"), (r.hostGroups[2].addToBundle = true))).groups[2]!.addToBundle, true);
    // A bundle's own application made for the group (not nova-compute) is the operator's statement that it is the group's.
    assert.equal(acceptedMixed((r) => (r.hostGroups[2].addToBundle = false)).groups[2]!.addToBundle, false);
    // A site with one group: nova-compute is its GPU hosts' application (README: constraints tags=<tag> in the bundle).
    assert.equal(loadStack("lab").groups[0]!.application, "nova-compute");
  });

  test("errors name the group's key path", () => {
    refusedMixed((r) => (r.hostGroups[1].devices[0].addresses[1] = "ca:00"), [
      `${P}:hostGroups[1].devices[0].addresses[1]: "ca:00" is not a PCI address (expected DDDD:BB:SS.F)`,
    ]);
    refusedMixed((r) => (r.hostGroups[2].host.iommu = "arm"), [`${P}:hostGroups[2].host.iommu: "arm" is not intel or amd`]);
    refusedMixed((r) => (r.hostGroups[0].name = "A100"), [`${P}:hostGroups[0].name: "A100" is not a group name (lowercase letters, digits and -, at most 32)`]);
    refusedMixed((r) => (r.hostGroups[1].name = "a100"), [`${P}:hostGroups[1]: duplicate group name "a100" (also at [0])`]);
    refusedMixed((r) => (r.hostGroups[0].application = "nova_compute"), [`${P}:hostGroups[0].application: "nova_compute" is not a Juju application name`]);
    refusedMixed((r) => delete r.hostGroups[2].maas.machines, [
      `${P}:hostGroups[2].maas: the tag selects no machine: give machines (system IDs), definition (an lshw XPath) or selectByDevice: true`,
    ]);
  });

  test("host groups or the top-level tag, host and devices, not both", () => {
    refusedMixed(
      (r) => {
        r.host = { iommu: "intel" };
        r.devices = [];
        r.maas.tag = "pci-pass";
        r.maas.selectByDevice = true;
      },
      [
        `${P}:maas.tag: not with hostGroups: each group has its own tag (hostGroups[].maas.tag)`,
        `${P}:maas.selectByDevice: not with hostGroups: each group has its own tag (hostGroups[].maas.selectByDevice)`,
        `${P}:host: not with hostGroups: each group has its own (hostGroups[].host)`,
        `${P}:devices: not with hostGroups: each group has its own (hostGroups[].devices)`,
      ],
    );
  });

  test("refused: two groups sharing a tag, an application or a machine", () => {
    refusedMixed((r) => (r.hostGroups[1].maas.tag = "gpu-a100"), [`${P}:hostGroups[1].maas.tag: tag "gpu-a100" is also pci-passthrough:hostGroups[0]'s: every group needs its own`]);
    refusedMixed((r) => (r.hostGroups[2].application = "nova-compute-a100"), [
      `${P}:hostGroups[2].application: application "nova-compute-a100" is also pci-passthrough:hostGroups[0]'s: every group needs its own`,
    ]);
    refusedMixed(
      (r) => {
        r.hostGroups[0].maas = { tag: "gpu-a100", machines: ["qw3d8m"] };
      },
      [`${P}:hostGroups[2].maas.machines[1]: machine "qw3d8m" is also pci-passthrough:hostGroups[0]'s: every group needs its own`],
    );
  });

  test("refused: selectByDevice on a device another group has (a host with both would be in two groups)", () => {
    refusedMixed((r) => r.hostGroups[1].devices.push({ alias: "a100", vendorId: "10de", productId: "20b5", deviceType: "type-PF", addresses: ["0000:31:00.0"] }), [
      `${P}:hostGroups[0].devices[0]: 10de:20b5 is also a device of group "l40s": selectByDevice would put its hosts in both groups`,
      `${P}:hostGroups[1].devices[1]: 10de:20b5 is also a device of group "a100": selectByDevice would put its hosts in both groups`,
    ]);
  });

  test("refused: an alias that means other devices in another group; agreed aliases may span groups", () => {
    refusedMixed((r) => ((r.hostGroups[1].devices[0].alias = "a100"), r.flavors.splice(2, 1)), [
      `${P}:hostGroups[1].devices[0].alias: alias "a100" means 10de:26b9 here but 10de:20b5 in group "a100": one alias, one meaning across the cloud`,
    ]);
    // The same model under the same alias in two groups (a NIC on both kinds of host) is fine.
    const c = acceptedMixed((r) => {
      r.hostGroups[2].maas = { tag: "nic-pass", machines: ["n7xk2p", "qw3d8m"] };
      r.hostGroups[1].devices.push({ alias: "cx6", vendorId: "15b3", productId: "101d", deviceType: "type-PF", addresses: ["0000:b1:00.0"] });
      r.hostGroups[1].maas = { tag: "gpu-l40s", machines: ["l40shost"] };
    });
    assert.equal(c.groups[1]!.devices.length, 2);
    refusedMixed(
      (r) => {
        r.hostGroups[1].maas = { tag: "gpu-l40s", machines: ["l40shost"] };
        r.hostGroups[1].devices.push({ alias: "cx6", vendorId: "15b3", productId: "101d", addresses: ["0000:b1:00.0"] });
      },
      [`${P}:hostGroups[2].devices[0].deviceType: alias "cx6" has deviceType "type-PF" here but "unset" in group "l40s"; entries sharing an alias must agree`],
    );
  });

  test("a flavor must fit on the hosts of one group", () => {
    refusedMixed((r) => (r.flavors[0].pci = { a100: 1, cx6: 1 }), [
      `${P}:flavors[0].pci: no host group has a100:1, cx6:1 on one host (a100 has a100:2; l40s has l40s:2; nic has cx6:1)`,
    ]);
    refusedMixed((r) => (r.flavors[1].pci = { a100: 3 }), [
      `${P}:flavors[1].pci: no host group has a100:3 on one host (a100 has a100:2; l40s has l40s:2; nic has cx6:1)`,
    ]);
    refusedMixed((r) => (r.flavors[0].pci = { h100: 1 }), [`${P}:flavors[0].pci.h100: alias "h100" is not defined in any host group (known: a100, l40s, cx6)`]);
  });

  test("bundle overlay: an application other than nova-compute is added by default, nova-compute is the bundle's; both overridable", () => {
    const c = acceptedMixed();
    assert.deepEqual(
      c.groups.map((g) => [g.application, g.addToBundle, g.units]),
      [
        ["nova-compute-a100", true, 0],
        ["nova-compute-l40s", true, 0],
        ["nova-compute-nic", true, 0],
      ],
    );
    const o = acceptedMixed((r) => {
      r.hostGroups[0].addToBundle = false;
      r.hostGroups[1].units = 2;
      r.hostGroups[2].addToBundle = "false";
      r.hostGroups[0].application = "nova-compute";
      r.hostGroups[0].addToBundle = "true";
    });
    assert.deepEqual(
      o.groups.map((g) => [g.application, g.addToBundle, g.units]),
      [
        ["nova-compute", true, 0],
        ["nova-compute-l40s", true, 2],
        ["nova-compute-nic", false, 0],
      ],
    );
    // The single-group stacks: the bundle's own nova-compute.
    assert.deepEqual(
      loadStack("dev").groups.map((g) => [g.application, g.addToBundle, g.units]),
      [["nova-compute", false, 0]],
    );
  });

  test("bundle overlay: units only for an added application, and no more than the machines its tag can find", () => {
    refusedMixed((r) => ((r.hostGroups[2].addToBundle = false), (r.hostGroups[2].units = 1)), [
      `${P}:hostGroups[2].units: only for an application the bundle overlay adds (addToBundle: true): nova-compute-nic is the bundle's own and keeps its units`,
    ]);
    refusedMixed((r) => ((r.hostGroups[0].addToBundle = false), (r.hostGroups[0].units = 0)), [
      `${P}:hostGroups[0].units: only for an application the bundle overlay adds (addToBundle: true): nova-compute-a100 is the bundle's own and keeps its units`,
    ]);
    refusedMixed((r) => (r.hostGroups[2].units = 3), [
      `${P}:hostGroups[2].units: 3 new units need 3 machines with the group's tag, but maas.machines lists 2`,
    ]);
    assert.equal(acceptedMixed((r) => (r.hostGroups[2].units = 2)).groups[2]!.units, 2);
    refusedMixed((r) => (r.hostGroups[0].units = -1), [`${P}:hostGroups[0].units: must be at least 0`]);
    refusedMixed((r) => (r.hostGroups[0].addToBundle = "yes"), [`${P}:hostGroups[0].addToBundle: expected true or false, got "yes"`]);
  });

  test("openstack.computeRelations: pairs as a bundle writes them, nova-compute on either side, with the charm's own endpoints", () => {
    const c = acceptedMixed((r) => {
      r.openstack.computeRelations = [
        ["nova-compute:amqp", "rabbitmq-server:amqp"],
        ["nova-cloud-controller:cloud-compute", "nova-compute:cloud-compute"],
        ["ceph-mon:client", "nova-compute:ceph"],
      ];
    });
    assert.deepEqual(c.openstack.computeRelations, [
      { endpoint: "amqp", remote: "rabbitmq-server:amqp" },
      { endpoint: "cloud-compute", remote: "nova-cloud-controller:cloud-compute" },
      { endpoint: "ceph", remote: "ceph-mon:client" },
    ]);
    assert.equal(acceptedMixed().openstack.computeRelations, undefined, "left out: openstack-base's (render/compute-charm.ts)");
    const cc = ["nova-compute:cloud-compute", "nova-cloud-controller:cloud-compute"];
    refusedMixed(
      (r) =>
        (r.openstack.computeRelations = [
          cc,
          ["nova-compute:amqpp", "rabbitmq-server:amqp"],
          ["glance:image-service", "rabbitmq-server:amqp"],
          ["nova-compute:amqp", "nova-compute:ceph"],
          ["nova-compute:amqp"],
          ["nova-compute amqp", "rabbitmq-server:amqp"],
          "nova-compute:amqp rabbitmq-server:amqp",
          ["rabbitmq-server:amqp", "nova-compute:amqp"],
          ["nova-compute:amqp", "rabbitmq-server:amqp"],
        ]),
      [
        `${P}:openstack.computeRelations[1][0]: the nova-compute charm has no endpoint "amqpp" (it has cloud-compute, nrpe-external-master, amqp, image-service, ceph, lxd, nova-ceilometer, nova-vgpu, neutron-plugin, ephemeral-backend, ceph-access, cloud-credentials, secrets-storage, ironic-api, storage-backend, juju-info)`,
        `${P}:openstack.computeRelations[2]: one side must be nova-compute:ENDPOINT (it stands for each application the overlay adds), the other another application's endpoint`,
        `${P}:openstack.computeRelations[3]: one side must be nova-compute:ENDPOINT (it stands for each application the overlay adds), the other another application's endpoint`,
        `${P}:openstack.computeRelations[4]: expected a pair such as [nova-compute:amqp, rabbitmq-server:amqp]`,
        `${P}:openstack.computeRelations[5][0]: "nova-compute amqp" is not APP:ENDPOINT`,
        `${P}:openstack.computeRelations[6]: expected a pair such as [nova-compute:amqp, rabbitmq-server:amqp]`,
        `${P}:openstack.computeRelations[8]: duplicate relation "nova-compute:amqp rabbitmq-server:amqp" (also at [7])`,
      ],
    );
    // Without cloud-compute the added hosts never register with nova-cloud-controller.
    refusedMixed((r) => (r.openstack.computeRelations = [["nova-compute:amqp", "rabbitmq-server:amqp"]]), [
      `${P}:openstack.computeRelations: relates no nova-compute:cloud-compute (to nova-cloud-controller:cloud-compute): the hosts of an added application would never join the cloud`,
    ]);
    refusedMixed((r) => (r.openstack.computeRelations = []), [
      `${P}:openstack.computeRelations: relates no nova-compute:cloud-compute (to nova-cloud-controller:cloud-compute): the hosts of an added application would never join the cloud`,
    ]);
    refusedMixed((r) => (r.openstack.computeRelations = { amqp: "rabbitmq-server:amqp" }), [
      `${P}:openstack.computeRelations: expected a list of relations such as [nova-compute:amqp, rabbitmq-server:amqp]`,
    ]);
  });

  test("openstack.computeRelations: storage-backend is an endpoint of the 2024.1 charm, refused with an older release", () => {
    const relations = (r: Raw) =>
      (r.openstack.computeRelations = [
        ["nova-cloud-controller:cloud-compute", "nova-compute:cloud-compute"],
        ["nova-compute:storage-backend", "cinder-volume:storage-backend"],
      ]);
    assert.deepEqual(acceptedMixed(relations).openstack.computeRelations?.[1], { endpoint: "storage-backend", remote: "cinder-volume:storage-backend" });
    refusedMixed((r) => (relations(r), (r.openstack.release = "2023.2")), [
      `${P}:openstack.computeRelations[1]: the nova-compute charm of 2023.2 has no endpoint "storage-backend" (it arrived in a later release's charm)`,
    ]);
  });
});

describe("aliases are told apart by what they match, as Nova does", () => {
  const both = { vendorId: "10de", productId: "1bb0" };
  test("two aliases for one kind of device are refused: Nova gives a flavor asking for either any of them", () => {
    refused(
      (r) => {
        r.devices = [
          { alias: "gpu", ...both, addresses: ["0000:83:00.0"] },
          { alias: "gpu2", ...both, addresses: ["0000:84:00.0"] },
        ];
      },
      [
        `${P}:devices[1].alias: alias "gpu2" matches 10de:1bb0 type-PCI devices, as alias "gpu" (${P}:devices[0]) does: Nova tells aliases apart by vendor:product and device type, never by address, so a flavor asking for either may be given the other's devices; give one kind of device one alias`,
      ],
    );
    // An alias ORed over two models (type-PCI) overlaps one for either model.
    refused(
      (r) => {
        r.devices = [
          { alias: "gpu", ...both, addresses: ["0000:83:00.0"] },
          { alias: "any", ...both, addresses: ["0000:84:00.0"] },
          { alias: "any", vendorId: "10de", productId: "1bb1", addresses: ["0000:85:00.0"] },
        ];
      },
      [
        `${P}:devices[1].alias: alias "any" matches 10de:1bb0 type-PCI devices, as alias "gpu" (${P}:devices[0]) does: Nova tells aliases apart by vendor:product and device type, never by address, so a flavor asking for either may be given the other's devices; give one kind of device one alias`,
      ],
    );
    // Across groups too: the alias list is the cloud's.
    refused((r) => {
      r.hostGroups[1].maas = { tag: "gpu-l40s", machines: ["l40shost"] };
      r.hostGroups[2].devices.push({ alias: "l40s-nic-host", vendorId: "10de", productId: "26b9", deviceType: "type-PF", addresses: ["0000:17:00.0"] });
    }, [
      `${P}:hostGroups[2].devices[1].alias: alias "l40s-nic-host" matches 10de:26b9 type-PF devices, as alias "l40s" (${P}:hostGroups[1].devices[0]) does: Nova tells aliases apart by vendor:product and device type, never by address, so a flavor asking for either may be given the other's devices; give one kind of device one alias`,
    ], "mixed");
  });

  test("the same model under two aliases of different device types is two kinds of device; a spec without a type never takes a PF", () => {
    accepted((r) => {
      r.devices = [
        { alias: "gpu", ...both, addresses: ["0000:83:00.0"] },
        { alias: "gpu-pf", ...both, deviceType: "type-PF", addresses: ["0000:84:00.0"] },
      ];
    });
    // A VF is taken by an alias without a type: Nova only keeps PFs away from it.
    refused(
      (r) => {
        r.devices = [
          { alias: "gpu", ...both, addresses: ["0000:83:00.0"] },
          { alias: "gpu-vf", ...both, deviceType: "type-VF", addresses: ["0000:84:00.0"] },
        ];
      },
      [
        `${P}:devices[1].alias: alias "gpu-vf" matches 10de:1bb0 type-VF devices, as alias "gpu" (${P}:devices[0]) does: Nova tells aliases apart by vendor:product and device type, never by address, so a flavor asking for either may be given the other's devices; give one kind of device one alias`,
      ],
    );
  });
});
