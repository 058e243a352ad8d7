// Per-release Nova rules (domain/extra-specs/) against Nova 26 itself: the generated Zed table, every registered
// key's verdict, and when a flavor gives a guest a NUMA topology.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { type SiteConfig, allDevices } from "../../config/types";
import { schedulerFilters } from "../../render/nova/charm-options";
import { flavorSpecs } from "../../render/nova/flavors";
import { checkExtraSpecs, registry } from "../../domain/extra-specs/releases";
import { flavorHasNumaTopology } from "../../domain/extra-specs/numa";
import type { ExtraSpecValidator } from "../../domain/extra-specs/types";
import { ZED_VALIDATORS } from "../../domain/extra-specs/zed";
import { NUMA_FLAVORS } from "../numa-flavors";
import { ROOT } from "../helpers";
import { PYTHON, Report, input, passes, skip, variant } from "./nova-harness";

// ---------------------------------------------------------------------------------------------------
// Per-release Nova rules (domain/extra-specs/releases.ts) against Nova 26 itself

test("the Zed extra-spec table is exactly what python3-nova registers (tools/gen-extra-specs/main.py)", { skip }, () => {
  const r = spawnSync(PYTHON, [path.join(ROOT, "tools", "gen-extra-specs", "main.py")], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(
    r.stdout,
    readFileSync(path.join(ROOT, "domain", "extra-specs", "zed.ts"), "utf8"),
    "domain/extra-specs/zed.ts differs from the installed Nova: run `npm run gen:extra-specs` and review the diff",
  );
});

/** A key each validator matches: its name with every parameter filled in. */
const PARAMETER_SAMPLES: Record<string, string> = { group: "_gpu", num: "1", key: "gpu.model", filter: ":x", resource: "GPU_X", trait: "GPU_X" };
/** A value each pattern in the table matches. */
const PATTERN_SAMPLES: Record<string, string> = {
  "([a-zA-Z0-9_]+(,)?)+": "LARGE,SMALL",
  "(\\^)?\\d+((-\\d+)?(,\\^?\\d+(-\\d+)?)?)*": "^0,1-3",
  "\\^?\\d+((-\\d+)?(,\\^?\\d+(-\\d+)?)?)*": "^0,1-3",
  "(large|small|any|\\d+([kKMGT]i?)?(b|bit|B)?)": "2MB",
  "[^:]+:\\d+(?:\\s*,\\s*[^:]+:\\d+)*": "gpu:1, nic:2",
};

function keyFor(v: ExtraSpecValidator): string {
  let key = v.name;
  for (const p of v.parameters ?? []) {
    const sample = PARAMETER_SAMPLES[p.name];
    if (sample === undefined) throw new Error(`no sample for parameter {${p.name}} of ${v.name}: add one`);
    key = key.replace(`{${p.name}}`, sample);
  }
  return key;
}

/** Values Nova must accept and values it must refuse, for one validator's rule. */
function valuesFor(v: ExtraSpecValidator): { good: string[]; bad: string[] } {
  const rule = v.value;
  if (rule.type === "bool") return { good: ["true", " No "], bad: ["maybe"] };
  if (rule.type === "int") {
    const good = String(rule.min ?? 1);
    const bad = ["x"];
    if (rule.min !== undefined) bad.push(String(rule.min - 1));
    if (rule.max !== undefined) bad.push(String(rule.max + 1));
    return { good: [good, ` ${good} `], bad };
  }
  if (rule.pattern !== undefined) {
    const sample = PATTERN_SAMPLES[rule.pattern];
    if (sample === undefined) throw new Error(`no sample value for pattern ${rule.pattern} of ${v.name}: add one`);
    return { good: [sample], bad: ["!"] };
  }
  if (rule.enum !== undefined) return { good: [...rule.enum], bad: ["nope"] };
  return { good: ["anything"], bad: [] };
}

/** Unknown keys inside and outside the validated namespaces, with group suffixes, and without a namespace. */
const UNKNOWN_KEYS = ["hw:cpu_polcy", "trait:HW_CPU_X86_NOPE", "trait_x:CUSTOM_A", "resources_1:NOPE", "traits:X", "vendor:gpu", "hide_hypervisor", "powervm:min_mem"];

/** One Nova run (importing Nova costs seconds) for the per-release rules: the lab on zed, whose default
 * filters gain NUMATopologyFilter, with every validator's key and values, and the NUMA flavors. */
let rulesRun: { lab: SiteConfig; cases: [string, string][]; flavors: Array<Record<string, string>>; report: Report } | undefined;
function rulesReport() {
  if (rulesRun) return rulesRun;
  const lab = variant("lab", (raw) => (raw.openstack.release = "zed"));
  const cases: [string, string][] = [];
  for (const v of ZED_VALIDATORS) {
    const { good, bad } = valuesFor(v);
    for (const value of [...good, ...bad]) cases.push([keyFor(v), value]);
  }
  for (const key of UNKNOWN_KEYS) cases.push([key, "1"]);
  const flavors = [...NUMA_FLAVORS.map((f) => f.specs), ...flavorSpecs(lab.flavors).map((f) => f.extraSpecs)];
  const report = passes({
    ...input(lab),
    extra_spec_cases: cases,
    numa_cases: flavors.map((extra_specs) => ({ vcpus: 8, memory_mb: 8192, extra_specs })),
  });
  rulesRun = { lab, cases, flavors, report };
  return rulesRun;
}

test("on zed our verdict on every registered key (valid and invalid values) and on unknown keys is Nova's own", { skip }, () => {
  const { cases, report } = rulesReport();
  assert.deepEqual(report.extra_spec_namespaces, [...registry("zed").namespaces]);
  const verdicts = report.extra_spec_verdicts!;
  const ours = cases.map(([key, value]) => checkExtraSpecs({ [key]: value }, "zed").some((f) => f.level === "error"));
  const disagree = cases.flatMap(([k, v], i) => (ours[i] === (verdicts[i] !== null) ? [] : [`${k}=${JSON.stringify(v)}: Nova ${verdicts[i] ?? "accepts it"}`]));
  assert.deepEqual(disagree, []);
  // Both answers occur often, so the comparison can fail both ways.
  const refusedCount = verdicts.filter((v) => v !== null).length;
  assert.ok(refusedCount > 400 && cases.length - refusedCount > 400, `${refusedCount} of ${cases.length} refused`);
});

test("a guest NUMA topology: flavorHasNumaTopology is Nova's numa_get_constraints (flavor side)", { skip }, () => {
  const { flavors, report } = rulesReport();
  // Nova's answers are the expectations test/domain/extra-specs.test.ts holds flavorHasNumaTopology to; the lab's
  // two flavors (hw:numa_nodes, for their PCI NUMA policy) give their guests a topology.
  assert.deepEqual(report.numa_topology, [...NUMA_FLAVORS.map((f) => f.topology), true, true]);
  assert.deepEqual(flavors.map(flavorHasNumaTopology), report.numa_topology);
});

test("NUMATopologyFilter, which a PCI NUMA policy adds, is in Nova's filter registry, also in a zed lab's full list", { skip }, () => {
  const { lab, report } = rulesReport();
  assert.ok(schedulerFilters(lab.openstack, allDevices(lab), lab.flavors).includes("NUMATopologyFilter"));
  assert.equal(report.numa_filter_registered, true);
  assert.deepEqual(report.filters, { checked: schedulerFilters(lab.openstack, allDevices(lab), lab.flavors) });
});
