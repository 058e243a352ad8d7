// The rules of pci-passthrough:maas, juju, host and devices, each with a valid and an invalid case, asserting
// the exact key path and message of every error line.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { editStack } from "../helpers";
import { P, accepted, linesOf, refused } from "./helpers";

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
