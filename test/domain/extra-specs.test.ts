// Per-release Nova rules as the user meets them: a flavor's extra specs refused or translated with the key
// path and the release named, the flavor Nova gets, and the PCI NUMA rules (NUMATopologyFilter, a guest NUMA
// topology). Each rule is tried on both sides of the release where it changes. Nova's own code checks the
// table and the NUMA predicate in test/render/nova-extra-specs.test.ts.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { formatPath } from "../../config/problems";
import { parseSiteConfig, type ParseResult } from "../../config/parse";
import { flavorSpecs } from "../../render/nova/flavors";
import { schedulerFilters } from "../../render/nova/charm-options";
import { defaultSchedulerFilters, RELEASES } from "../../domain/releases";
import { KEY_CHANGES, VALUE_CHANGES, checkExtraSpecs, registry, validatorFor } from "../../domain/extra-specs/releases";
import { flavorHasNumaTopology } from "../../domain/extra-specs/numa";
import { editStack } from "../helpers";
import { NUMA_FLAVORS } from "../numa-flavors";
import { allDevices } from "../../config/types";

const P = "pci-passthrough";
const KEY = (k: string) => formatPath(["flavors", 0, "extraSpecs", k]);

/** The dev stack on `release` with these extra specs on its flavor. */
function parse(release: string, extraSpecs: Record<string, unknown>, edit: (raw: Record<string, any>) => void = () => {}): ParseResult {
  return parseSiteConfig(
    editStack("dev", (raw) => {
      raw.openstack.release = release;
      raw.flavors[0].extraSpecs = extraSpecs;
      edit(raw);
    }),
  );
}

/** Errors and warnings, but the warning on a release whose charms are no longer maintained (queens ... train;
 * test/config/openstack-flavors.test.ts holds it), which every one of those releases carries. */
const lines = (r: ParseResult) => ({
  errors: r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`),
  warnings: r.warnings.filter((w) => w.path !== formatPath(["openstack", "release"])).map((w) => `${w.path}: ${w.message}`),
});

/** Accepted with exactly these warnings; returns the flavor's extra specs as Nova gets them. */
function accepted(release: string, specs: Record<string, unknown>, warnings: string[] = []): Record<string, string> {
  const r = parse(release, specs);
  assert.deepEqual(lines(r), { errors: [], warnings }, `${release} ${JSON.stringify(specs)}`);
  assert.ok(r.ok);
  return flavorSpecs(r.config.flavors)[0]!.extraSpecs;
}

function refused(release: string, specs: Record<string, unknown>, errors: string[], warnings: string[] = []): void {
  assert.deepEqual(lines(parse(release, specs)), { errors, warnings }, `${release} ${JSON.stringify(specs)}`);
}

/** The default filters of a release without AggregateInstanceExtraSpecsFilter, as openstack.schedulerFilters. */
const withoutAggregateFilter = (release: string) => (raw: Record<string, any>) => {
  raw.openstack.schedulerFilters = defaultSchedulerFilters(release).filter((f) => f !== "AggregateInstanceExtraSpecsFilter");
};

describe("hypervisor id: hw:hide_hypervisor_id from victoria (21.1.2/20.6.1 backports), hide_hypervisor_id from rocky", () => {
  const IMAGE = "set the image property img_hide_hypervisor_id=true instead";
  const UNSCOPED = (filters: string) =>
    `${KEY("hide_hypervisor_id")}: has no namespace, and AggregateInstanceExtraSpecsFilter (in ${filters}) reads such a key as a value the host's ` +
    `aggregates must carry: a host in no aggregate never passes, and no host takes the flavor ("No valid host"; ` +
    `nova/scheduler/filters/aggregate_instance_extra_specs.py, bug 1841932); to hide the hypervisor id write hw:hide_hypervisor_id ` +
    `(Nova 22.0.0 on, and the backports 21.1.2 and 20.6.1), or on an older site set the image property img_hide_hypervisor_id=true`;

  test("queens has no flavor key for it: both spellings refused, the image property named", () => {
    const none = (key: string) =>
      `${KEY(key)}: Nova 17 (queens) has no flavor extra spec that hides the hypervisor id (hide_hypervisor_id arrived in rocky); ${IMAGE}`;
    refused("queens", { "hw:hide_hypervisor_id": true }, [none("hw:hide_hypervisor_id")]);
    refused("queens", { hide_hypervisor_id: true }, [none("hide_hypervisor_id"), UNSCOPED("the default scheduler filters")]);
  });

  test("rocky and stein ignore hw:hide_hypervisor_id: refused, the image property named", () => {
    for (const [rel, nova] of [["rocky", 18], ["stein", 19]] as const) {
      refused(rel, { "hw:hide_hypervisor_id": "true" }, [
        `${KEY("hw:hide_hypervisor_id")}: Nova ${nova} (${rel}) ignores it: hw:hide_hypervisor_id arrived in Nova 22.0.0 (victoria), ` +
          `backported only to 21.1.2 (ussuri) and 20.6.1 (train) (bug 1841932); ${IMAGE}`,
      ]);
    }
  });

  test("train and ussuri: hw:hide_hypervisor_id as written, with a warning naming the point release that has it", () => {
    assert.deepEqual(
      accepted("train", { "hw:hide_hypervisor_id": "true" }, [
        `${KEY("hw:hide_hypervisor_id")}: needs Nova 20.6.1 or later (backported from 22.0.0, bug 1841932); an earlier train release ignores it: there ${IMAGE}`,
      ]),
      { "pci_passthrough:alias": "gpu:1", "hw:hide_hypervisor_id": "true" },
    );
    assert.deepEqual(
      accepted("ussuri", { "hw:numa_nodes": 1, "hw:hide_hypervisor_id": "yes" }, [
        `${KEY("hw:hide_hypervisor_id")}: needs Nova 21.1.2 or later (backported from 22.0.0, bug 1841932); an earlier ussuri release refuses it with HTTP 400: there ${IMAGE}`,
      ]),
      { "pci_passthrough:alias": "gpu:1", "hw:numa_nodes": "1", "hw:hide_hypervisor_id": "yes" },
    );
    // Its value is still checked where Nova checks it.
    refused("ussuri", { "hw:hide_hypervisor_id": "maybe" }, [
      `${KEY("hw:hide_hypervisor_id")}: "maybe" is not a boolean (true/false, yes/no, on/off, 1/0); Nova 21 (ussuri) refuses it with HTTP 400`,
    ], [
      `${KEY("hw:hide_hypervisor_id")}: needs Nova 21.1.2 or later (backported from 22.0.0, bug 1841932); an earlier ussuri release refuses it with HTTP 400: there ${IMAGE}`,
    ]);
  });

  test("victoria on: hw:hide_hypervisor_id as written", () => {
    for (const rel of ["victoria", "zed", "2024.1"]) {
      assert.deepEqual(accepted(rel, { "hw:hide_hypervisor_id": "true" }), { "pci_passthrough:alias": "gpu:1", "hw:hide_hypervisor_id": "true" });
    }
  });

  test("hide_hypervisor_id is never written for hw:hide_hypervisor_id, and is refused itself while AggregateInstanceExtraSpecsFilter runs", () => {
    const DEPRECATED = `${KEY("hide_hypervisor_id")}: is deprecated (Nova 26 registers it so); write hw:hide_hypervisor_id, which every release from victoria on knows`;
    for (const rel of ["rocky", "train", "ussuri", "victoria", "2024.1"]) {
      refused(rel, { hide_hypervisor_id: "true" }, [UNSCOPED("the default scheduler filters")], ["victoria", "2024.1"].includes(rel) ? [DEPRECATED] : []);
      const r = parse(rel, { hide_hypervisor_id: "true" }, (raw) => (raw.openstack.schedulerFilters = defaultSchedulerFilters(rel)));
      assert.deepEqual(lines(r).errors, [UNSCOPED("openstack.schedulerFilters")], rel);
    }
    // Without that filter the old key works from rocky on (deprecated from victoria on).
    for (const rel of ["rocky", "ussuri"]) {
      const r = parse(rel, { hide_hypervisor_id: "true" }, withoutAggregateFilter(rel));
      assert.deepEqual(lines(r), { errors: [], warnings: [] }, rel);
      assert.ok(r.ok);
      assert.deepEqual(flavorSpecs(r.config.flavors)[0]!.extraSpecs, { "pci_passthrough:alias": "gpu:1", hide_hypervisor_id: "true" });
    }
    assert.deepEqual(lines(parse("zed", { hide_hypervisor_id: "true" }, withoutAggregateFilter("zed"))), { errors: [], warnings: [DEPRECATED] });
  });
});

describe("un-namespaced extra specs while AggregateInstanceExtraSpecsFilter runs", () => {
  test("every key without a namespace is refused with its key path; aggregate_instance_extra_specs: is the way to match aggregates", () => {
    const message = (key: string, filters = "the default scheduler filters") =>
      `${KEY(key)}: has no namespace, and AggregateInstanceExtraSpecsFilter (in ${filters}) reads such a key as a value the host's aggregates ` +
      `must carry: a host in no aggregate never passes, and no host takes the flavor ("No valid host"; ` +
      `nova/scheduler/filters/aggregate_instance_extra_specs.py, bug 1841932); to match host aggregates on purpose write aggregate_instance_extra_specs:${key}`;
    // group_policy is a key Nova registers without a namespace (null.py): the filter refuses every host for it too.
    refused("zed", { gpu_note: "x", group_policy: "none", "hw:numa_nodes": 1 }, [message("gpu_note"), message("group_policy")]);
    accepted("zed", { "aggregate_instance_extra_specs:gpu_note": "x", "vendor:gpu.model": "z" });
    // An explicit list with the filter: the same, naming the list.
    const explicit = parse("zed", { gpu_note: "x" }, (raw) => (raw.openstack.schedulerFilters = defaultSchedulerFilters("zed")));
    assert.deepEqual(lines(explicit).errors, [message("gpu_note", "openstack.schedulerFilters")]);
    // Without the filter Nova lets them through.
    assert.deepEqual(lines(parse("zed", { gpu_note: "x", group_policy: "none" }, withoutAggregateFilter("zed"))), { errors: [], warnings: [] });
  });
});

describe("keys a release does not know", () => {
  test("a key from a later release: refused before ussuri (ignored there) and from ussuri on (HTTP 400)", () => {
    refused("train", { "hw:pci_numa_affinity_policy": "preferred", "hw:numa_nodes": 1 }, [
      `${KEY("hw:pci_numa_affinity_policy")}: arrived in Nova 21 (ussuri); Nova 20 (train) accepts it and ignores it`,
    ]);
    accepted("ussuri", { "hw:pci_numa_affinity_policy": "preferred", "hw:numa_nodes": 1 });
    refused("xena", { "hw:vif_multiqueue_enabled": true }, [
      `${KEY("hw:vif_multiqueue_enabled")}: arrived in Nova 25 (yoga); Nova 24 (xena) refuses it with HTTP 400`,
    ]);
    accepted("yoga", { "hw:vif_multiqueue_enabled": true });
    refused("yoga", { "hw:viommu_model": "auto", "hw:locked_memory": true }, [
      `${KEY("hw:viommu_model")}: arrived in Nova 26 (zed); Nova 25 (yoga) refuses it with HTTP 400`,
      `${KEY("hw:locked_memory")}: arrived in Nova 26 (zed); Nova 25 (yoga) refuses it with HTTP 400`,
    ]);
    accepted("zed", { "hw:viommu_model": "auto", "hw:locked_memory": true, "hw:mem_page_size": "large" });
    refused("ussuri", { "hw:tpm_model": "tpm-crb", "hw:tpm_version": "2.0" }, [
      `${KEY("hw:tpm_model")}: arrived in Nova 22 (victoria); Nova 21 (ussuri) refuses it with HTTP 400`,
      `${KEY("hw:tpm_version")}: arrived in Nova 22 (victoria); Nova 21 (ussuri) refuses it with HTTP 400`,
    ]);
    accepted("victoria", { "hw:tpm_model": "tpm-crb", "hw:tpm_version": "2.0" });
  });

  test("every cited change: refused on the release before it, accepted from it on", () => {
    const before = (name: string) => RELEASES[RELEASES.findIndex((r) => r.name === name) - 1]!;
    const sample = (key: string) => {
      const rule = validatorFor(registry("zed"), key)!.value;
      return rule.type === "bool" ? "true" : rule.type === "int" ? String(rule.min ?? 1) : rule.pattern ? "^0" : (rule.enum?.[0] ?? "x");
    };
    for (const c of KEY_CHANGES) {
      const prev = before(c.added);
      const verb = prev.nova >= 21 ? "refuses it with HTTP 400" : "accepts it and ignores it";
      for (const key of c.names) {
        const specs = { [key]: sample(key) };
        assert.deepEqual(checkExtraSpecs(specs, prev.name), [
          { key, level: "error", message: `arrived in Nova ${prev.nova + 1} (${c.added}); Nova ${prev.nova} (${prev.name}) ${verb}` },
        ]);
        assert.deepEqual(checkExtraSpecs(specs, c.added), [], `${key} on ${c.added}`);
      }
    }
    for (const c of VALUE_CHANGES) {
      const prev = before(c.added);
      assert.deepEqual(checkExtraSpecs({ [c.name]: c.value }, prev.name), [
        { key: c.name, level: "error", message: `"${c.value}" arrived in Nova ${prev.nova + 1} (${c.added}); Nova ${prev.nova} (${prev.name}) refuses it with HTTP 400` },
      ]);
      assert.deepEqual(checkExtraSpecs({ [c.name]: c.value }, c.added), []);
    }
  });

  test("an unknown key in a validated namespace: let through before ussuri, refused ussuri ... zed, a warning after zed", () => {
    accepted("train", { "hw:cpu_polcy": "dedicated" });
    for (const [rel, nova] of [["ussuri", 21], ["zed", 26]] as const) {
      refused(rel, { "hw:cpu_polcy": "dedicated", "trait:HW_CPU_X86_NOPE": "required" }, [
        `${KEY("hw:cpu_polcy")}: is not an extra spec Nova ${nova} (${rel}) knows; its API refuses unknown keys in the hw namespace with HTTP 400`,
        `${KEY("trait:HW_CPU_X86_NOPE")}: is not an extra spec Nova ${nova} (${rel}) knows; its API refuses unknown keys in the trait namespace with HTTP 400`,
      ]);
    }
    accepted("2023.1", { "hw:cpu_polcy": "dedicated" }, [
      `${KEY("hw:cpu_polcy")}: is not in the extra-spec table, which is exact up to zed (Nova 26); Nova 27 (2023.1) refuses it with HTTP 400 unless it added the key`,
    ]);
  });

  test("keys outside the validated namespaces pass on every release, as Nova lets them", () => {
    // The namespace is a regex: trait_x is trait{group} (validators.py matches it with re.fullmatch).
    assert.equal(KEY("hw:numa_nodes"), 'pci-passthrough:flavors[0].extraSpecs["hw:numa_nodes"]');
    refused("zed", { "trait_x:Y": "required" }, [
      `${KEY("trait_x:Y")}: is not an extra spec Nova 26 (zed) knows; its API refuses unknown keys in the trait namespace with HTTP 400`,
    ]);
    for (const r of RELEASES) {
      assert.deepEqual(checkExtraSpecs({ "custom:gpu": "1", gpu_note: "x", "vendor:gpu.model": "z" }, r.name), [], r.name);
    }
  });

  test("powervm: a validated namespace ussuri ... yoga, gone with the driver in zed", () => {
    refused("yoga", { "powervm:min_mem": "128", "powervm:nope": "1" }, [
      `${KEY("powervm:min_mem")}: "128" is less than 256; Nova 25 (yoga) refuses it with HTTP 400`,
      `${KEY("powervm:nope")}: is not an extra spec Nova 25 (yoga) knows; its API refuses unknown keys in the powervm namespace with HTTP 400`,
    ]);
    accepted("zed", { "powervm:min_mem": "128", "powervm:nope": "1" });
  });

  test("ussuri validates exactly the namespaces its 2.86 release note lists", () => {
    // nova 21.0.0 release notes, flavor-extra-spec-validators-76d1f2e52ba753db.yaml
    assert.deepEqual(
      registry("ussuri").namespaces.map((ns) => ns.split("(")[0]),
      ["accel", "aggregate_instance_extra_specs", "capabilities", "hw", "hw_rng", "hw_video", "os", "pci_passthrough", "powervm", "quota", "resources", "trait", "vmware"],
    );
    assert.deepEqual(registry("zed").namespaces.map((ns) => ns.split("(")[0]).includes("powervm"), false);
  });
});

describe("values, from ussuri on", () => {
  test("type, range and enum as Nova checks them; values arriving later are named", () => {
    refused("ussuri", { "hw:numa_nodes": 0, "hw:boot_menu": "maybe", "hw_rng:rate_bytes": "x", "hw:mem_page_size": "huge" }, [
      `${KEY("hw:numa_nodes")}: "0" is less than 1; Nova 21 (ussuri) refuses it with HTTP 400`,
      `${KEY("hw:boot_menu")}: "maybe" is not a boolean (true/false, yes/no, on/off, 1/0); Nova 21 (ussuri) refuses it with HTTP 400`,
      `${KEY("hw_rng:rate_bytes")}: "x" is not an integer; Nova 21 (ussuri) refuses it with HTTP 400`,
      `${KEY("hw:mem_page_size")}: "huge" does not match (large|small|any|\\d+([kKMGT]i?)?(b|bit|B)?); Nova 21 (ussuri) refuses it with HTTP 400`,
    ]);
    // Before ussuri the API checks no value.
    accepted("train", { "hw:numa_nodes": 0 });
    refused("ussuri", { "hw:cpu_policy": "mixed", "hw:cpu_realtime_mask": "^0" }, [
      `${KEY("hw:cpu_policy")}: "mixed" arrived in Nova 22 (victoria); Nova 21 (ussuri) refuses it with HTTP 400`,
    ]);
    accepted("victoria", { "hw:cpu_policy": "mixed", "hw:cpu_realtime_mask": "^0" });
    refused("victoria", { "hw:pci_numa_affinity_policy": "socket", "hw:numa_nodes": 1 }, [
      `${KEY("hw:pci_numa_affinity_policy")}: "socket" arrived in Nova 23 (wallaby); Nova 22 (victoria) refuses it with HTTP 400`,
    ]);
    accepted("wallaby", { "hw:pci_numa_affinity_policy": "socket", "hw:numa_nodes": 1 });
    refused("zed", { "hw:pci_numa_affinity_policy": "strict", "hw:numa_nodes": 1 }, [
      `${KEY("hw:pci_numa_affinity_policy")}: "strict" is not one of required, preferred, legacy, socket; Nova 26 (zed) refuses it with HTTP 400`,
    ]);
    accepted("2024.1", { "hw:numa_nodes": "two" }, [
      `${KEY("hw:numa_nodes")}: "two" is not an integer; Nova 29 (2024.1) refuses it with HTTP 400 (by Nova 26's rule; a later release may accept it)`,
    ]);
  });

  test("an alias numa_policy socket arrived in wallaby too", () => {
    const socket = (rel: string) => parse(rel, {}, (raw) => (raw.devices[0].numaPolicy = "socket"));
    assert.deepEqual(lines(socket("victoria")).errors, [
      `${P}:devices[0].numaPolicy: "socket" arrived in Nova 23 (wallaby); Nova 22 (victoria) refuses the [pci] alias with it`,
    ]);
    assert.deepEqual(lines(socket("wallaby")).errors, []);
  });
});

describe("PCI NUMA policy: NUMATopologyFilter and a guest NUMA topology", () => {
  const NO_TOPOLOGY =
    "acts only on a guest with a NUMA topology, and this flavor gives it none: add hw:numa_nodes (or hw:cpu_policy dedicated or mixed, " +
    "hw:mem_page_size, hw:pmem, resources:PCPU; nova/virt/hardware.py numa_get_constraints), or set hw_numa_nodes or hw_cpu_policy on the image";

  test("the default filter list gains NUMATopologyFilter, last, only when a policy is set", () => {
    const none = parse("yoga", {});
    assert.ok(none.ok);
    assert.deepEqual(schedulerFilters(none.config.openstack, allDevices(none.config), none.config.flavors), defaultSchedulerFilters("yoga"));
    assert.ok(!schedulerFilters(none.config.openstack, allDevices(none.config), none.config.flavors).includes("NUMATopologyFilter"));
    const viaDevice = parse("yoga", { "hw:numa_nodes": 1 }, (raw) => (raw.devices[0].numaPolicy = "required"));
    const viaFlavor = parse("yoga", { "hw:pci_numa_affinity_policy": "preferred", "hw:numa_nodes": 1 });
    for (const r of [viaDevice, viaFlavor]) {
      assert.deepEqual(lines(r), { errors: [], warnings: [] });
      assert.ok(r.ok);
      assert.deepEqual(schedulerFilters(r.config.openstack, allDevices(r.config), r.config.flavors), [...defaultSchedulerFilters("yoga"), "NUMATopologyFilter"]);
    }
  });

  test("an explicit filter list without NUMATopologyFilter is refused, naming where the policy is set", () => {
    const filters = (list: string[]) => (raw: Record<string, any>) => (raw.openstack.schedulerFilters = list);
    assert.deepEqual(lines(parse("yoga", { "hw:pci_numa_affinity_policy": "required", "hw:numa_nodes": 1 }, filters(["PciPassthroughFilter"]))).errors, [
      `${P}:openstack.schedulerFilters: must contain NUMATopologyFilter: ${KEY("hw:pci_numa_affinity_policy")} sets a PCI NUMA policy, and only NUMATopologyFilter applies it`,
    ]);
    const both = parse("yoga", { "hw:pci_numa_affinity_policy": "required", "hw:numa_nodes": 1 }, (raw) => {
      filters(["PciPassthroughFilter"])(raw);
      raw.devices[0].numaPolicy = "legacy";
    });
    assert.deepEqual(lines(both).errors, [
      `${P}:openstack.schedulerFilters: must contain NUMATopologyFilter: ${P}:devices[0].numaPolicy sets a PCI NUMA policy, and only NUMATopologyFilter applies it`,
    ]);
    const ok = parse("yoga", { "hw:pci_numa_affinity_policy": "required", "hw:numa_nodes": 1 }, filters(["PciPassthroughFilter", "NUMATopologyFilter"]));
    assert.ok(ok.ok);
    assert.deepEqual(schedulerFilters(ok.config.openstack, allDevices(ok.config), ok.config.flavors), ["PciPassthroughFilter", "NUMATopologyFilter"]);
    // No policy, no need.
    assert.ok(parse("yoga", {}, filters(["PciPassthroughFilter"])).ok);
  });

  test("a flavor that carries a policy but gives the guest no NUMA topology is warned about, at the policy's key", () => {
    accepted("yoga", { "hw:pci_numa_affinity_policy": "preferred" }, [`${KEY("hw:pci_numa_affinity_policy")}: PCI NUMA policy "preferred" ${NO_TOPOLOGY}`]);
    accepted("yoga", { "hw:pci_numa_affinity_policy": "preferred", "hw:cpu_policy": "shared" }, [
      `${KEY("hw:pci_numa_affinity_policy")}: PCI NUMA policy "preferred" ${NO_TOPOLOGY}`,
    ]);
    for (const topology of [{ "hw:numa_nodes": 1 }, { "hw:cpu_policy": "dedicated" }, { "hw:mem_page_size": "1GB" }, { "resources:PCPU": 8 }]) {
      accepted("yoga", { "hw:pci_numa_affinity_policy": "preferred", ...topology });
    }
    const viaAlias = parse("yoga", {}, (raw) => (raw.devices[0].numaPolicy = "required"));
    assert.deepEqual(lines(viaAlias), {
      errors: [],
      warnings: [`${P}:flavors[0].pci.gpu: alias "gpu" has numa_policy "required", which ${NO_TOPOLOGY}`],
    });
  });

  test("which flavors give a guest a NUMA topology (the answers Nova's numa_get_constraints gives)", () => {
    for (const { specs, topology } of NUMA_FLAVORS) assert.equal(flavorHasNumaTopology(specs), topology, JSON.stringify(specs));
  });
});

test("findings come in the flavor's key order, the same on every run", () => {
  const specs = { "hw:zzz": "1", "hw:aaa": "1", "hw:numa_nodes": "0" };
  const a = checkExtraSpecs(specs, "zed");
  assert.deepEqual(a.map((f) => f.key), ["hw:zzz", "hw:aaa", "hw:numa_nodes"]);
  assert.deepEqual(checkExtraSpecs(specs, "zed"), a);
});
