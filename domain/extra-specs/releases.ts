// Flavor extra specs per OpenStack release: which keys a release's Nova knows, how the Compute API checks
// them, and the one key that was renamed. Pure data and functions (docs/domain.md, "Nova: extra specs by
// release").
//
// How Nova checks (nova/api/validation/extra_specs/validators.py `validate`, from 21.0.0 Ussuri, API
// microversion 2.86): a key that a registered validator's name matches (exactly, else by its regex) has its
// value checked; a key without `:` passes; a key whose namespace (the part before the first `:`) is one
// some validator lives in is refused with HTTP 400 ("does not appear to be a valid extra spec"); any other
// key passes. Before Ussuri nothing is checked and an unknown key is silently ignored.
//
// The table: ZED_VALIDATORS is generated from python3-nova 26 (tools/gen-extra-specs/main.py, held against
// the installed Nova by test/render/nova-extra-specs.test.ts). Older releases are Zed minus the keys and values
// added since (KEY_CHANGES / VALUE_CHANGES) plus the keys removed by Zed (powervm), each change cited.
// For releases after Zed the table is only a lower bound (Nova keeps adding keys; the later release notes
// are not all sourced here): what it cannot vouch for there is a warning, not an error.
import { AGGREGATE_EXTRA_SPECS_FILTER, atLeast, release, validatesExtraSpecs, type Release } from "../releases";
import { fullMatch, pythonInt } from "./python";
import type { ExtraSpecValidator, ExtraSpecValue } from "./types";
import { ZED_VALIDATORS } from "./zed";

// ---------------------------------------------------------------------------------------------------
// Per-release differences, each with its source

interface KeyChange {
  /** Validator names (as in the table). */
  readonly names: readonly string[];
  /** First release whose Nova registers them. */
  readonly added: string;
  readonly source: string;
}

/** Keys Nova added after Ussuri (21.0.0, the first release that validates) up to Zed, and the keys that
 * existed before validation but arrived after Queens. A release before `added` does not know them. */
export const KEY_CHANGES: readonly KeyChange[] = [
  {
    names: ["hw:pci_numa_affinity_policy"],
    added: "ussuri",
    source: "nova 21.0.0 release notes, sriov-numa-affinity-policy-b49858452827c727.yaml",
  },
  {
    names: ["accel:device_profile"],
    added: "ussuri",
    source: "nova 21.0.0 release notes (prelude: servers with accelerator devices via Cyborg)",
  },
  {
    names: ["hw:cpu_dedicated_mask"],
    added: "victoria",
    source: "nova 22.0.0 release notes, use-pcpu-and-vcpu-in-one-instance-0ea66aeb9c2970de.yaml",
  },
  {
    names: ["hw:tpm_model", "hw:tpm_version"],
    added: "victoria",
    source: "nova 22.0.0 release notes, emulated-tpm-cb277659fc2f9660.yaml",
  },
  {
    names: ["hw:vif_multiqueue_enabled"],
    added: "yoga",
    source: "nova 25.0.0 release notes, flavor-based-multiqueue-configuration-41e2cbc4ca024682.yaml",
  },
  {
    names: ["hw:locked_memory"],
    added: "zed",
    source: "nova 26.0.0 release notes, new_locked_memory_option-b68a031779366828.yaml",
  },
  {
    names: ["hw:viommu_model"],
    added: "zed",
    source: "nova 26.0.0 release notes, guest-iommu-device-4795c3a060aca424.yaml",
  },
];

/** Enum values added to a key after Ussuri. */
export const VALUE_CHANGES: readonly { readonly name: string; readonly value: string; readonly added: string; readonly source: string }[] = [
  {
    name: "hw:cpu_policy",
    value: "mixed",
    added: "victoria",
    source: "nova 22.0.0 release notes, use-pcpu-and-vcpu-in-one-instance-0ea66aeb9c2970de.yaml",
  },
  {
    name: "hw:pci_numa_affinity_policy",
    value: "socket",
    added: "wallaby",
    source: "openstack/nova-specs specs/wallaby/implemented/pci-socket-affinity.rst",
  },
];

/** The powervm validators, registered from Ussuri (the 2.86 release note lists the namespace) until the
 * driver's removal in Zed 26.0.0 (release note remove-powervm-6132cc10255ca205.yaml). Transcribed from
 * openstack/nova nova/api/validation/extra_specs/powervm.py at 874c2fe32959793ec6529a7230af40866c9dc919. */
const POWERVM_PROC_UNITS: ExtraSpecValue = { type: "str", pattern: "\\d+\\.\\d+" };
const POWERVM_WEIGHT: ExtraSpecValue = { type: "int", min: 0, max: 255 };
export const POWERVM_VALIDATORS: readonly ExtraSpecValidator[] = [
  { name: "powervm:availability_priority", value: POWERVM_WEIGHT },
  { name: "powervm:dedicated_proc", value: { type: "bool" } },
  {
    name: "powervm:dedicated_sharing_mode",
    value: { type: "str", enum: ["share_idle_procs", "keep_idle_procs", "share_idle_procs_active", "share_idle_procs_always"] },
  },
  { name: "powervm:max_mem", value: { type: "int", min: 256 } },
  { name: "powervm:max_proc_units", value: POWERVM_PROC_UNITS },
  { name: "powervm:max_vcpu", value: { type: "int", min: 1 } },
  { name: "powervm:min_mem", value: { type: "int", min: 256 } },
  { name: "powervm:min_proc_units", value: POWERVM_PROC_UNITS },
  { name: "powervm:min_vcpu", value: { type: "int", min: 1 } },
  { name: "powervm:proc_units", value: POWERVM_PROC_UNITS },
  {
    name: "powervm:processor_compatibility",
    value: { type: "str", enum: ["default", "POWER6", "POWER6+", "POWER6_Enhanced", "POWER6+_Enhanced", "POWER7", "POWER8"] },
  },
  { name: "powervm:shared_proc_pool_name", value: { type: "str" } },
  { name: "powervm:shared_weight", value: POWERVM_WEIGHT },
  { name: "powervm:srr_capability", value: { type: "bool" } },
  { name: "powervm:uncapped", value: { type: "bool" } },
];

/**
 * The hypervisor-id key. Rocky (18.0.0) introduced the flavor key `hide_hypervisor_id` (nova
 * doc/source/user/flavors.rst: "versionadded 18.0.0 (Rocky)"; before, only the image property
 * `img_hide_hypervisor_id`). It has no namespace, so AggregateInstanceExtraSpecsFilter reads it as a requirement
 * on the host's aggregates (see unscopedKeyProblem): `hw:hide_hypervisor_id` replaced it in 22.0.0 (Victoria),
 * backported to 21.1.2 (Ussuri) and 20.6.1 (Train) (release note bug-1841932-c871ac7b3b05d67e.yaml; the key is
 * in the 20.6.1 and 21.1.2 tags' nova/virt/libvirt/driver.py, not in 20.6.0's or 21.1.1's): earlier point
 * releases ignore it (Train) or refuse it with HTTP 400 (Ussuri 21.0.0 - 21.1.1, whose validators lack it).
 * The old key is still registered in Zed, as deprecated.
 */
export const HIDE_HYPERVISOR_ID = {
  key: "hw:hide_hypervisor_id",
  oldKey: "hide_hypervisor_id",
  oldFrom: "rocky",
  /** The releases whose later point releases know the new key, with the first that does. */
  backports: { train: "20.6.1", ussuri: "21.1.2" } as Readonly<Record<string, string>>,
  /** The first release whose every point release knows the new key. */
  newFrom: "victoria",
  /** What a site whose Nova lacks the new key sets instead: an image property, which no filter reads. */
  imageProperty: "img_hide_hypervisor_id=true",
} as const;

/** The namespace AggregateInstanceExtraSpecsFilter reads besides un-namespaced keys. */
export const AGGREGATE_EXTRA_SPECS_SCOPE = "aggregate_instance_extra_specs";

/**
 * Why an extra spec makes its flavor unschedulable on hosts in no aggregate while AggregateInstanceExtraSpecsFilter
 * runs, or undefined. The filter takes every key without a namespace (and every `aggregate_instance_extra_specs:`
 * key) as a value the host's aggregates must have in their metadata and refuses a host whose aggregates have
 * none (nova/scheduler/filters/aggregate_instance_extra_specs.py host_passes; keys in any other namespace are
 * skipped). Nova's own registry says so of `hide_hypervisor_id` (nova/api/validation/extra_specs/null.py: "not
 * compatible with the AggregateInstanceExtraSpecsFilter"; bug 1841932). An `aggregate_instance_extra_specs:`
 * key is meant for aggregates and passes. `filters` names the filter list, for the message.
 */
export function unscopedKeyProblem(key: string, filters: string): string | undefined {
  if (key.includes(":")) return undefined;
  const h = HIDE_HYPERVISOR_ID;
  const instead =
    key === h.oldKey
      ? `to hide the hypervisor id write ${h.key} (Nova 22.0.0 on, and the backports 21.1.2 and 20.6.1), or on an older site set the image property ${h.imageProperty}`
      : `to match host aggregates on purpose write ${AGGREGATE_EXTRA_SPECS_SCOPE}:${key}`;
  return (
    `has no namespace, and ${AGGREGATE_EXTRA_SPECS_FILTER} (in ${filters}) reads such a key as a value the host's aggregates ` +
    `must carry: a host in no aggregate never passes, and no host takes the flavor ("No valid host"; ` +
    `nova/scheduler/filters/aggregate_instance_extra_specs.py, bug 1841932); ${instead}`
  );
}

// ---------------------------------------------------------------------------------------------------
// The registry of a release

/** The Python name regex of a validator, built as base.py `__post_init__` does. */
export function nameRegex(v: ExtraSpecValidator): string {
  let regex = v.name;
  for (const p of v.parameters ?? []) regex = regex.replace(`{${p.name}}`, `(?P<${p.name}>${p.pattern})`);
  return regex;
}

/** The namespace regex a validator registers (validators.py `load_validators`), if its name has one. */
export function namespaceOf(v: ExtraSpecValidator): string | undefined {
  const regex = nameRegex(v);
  return regex.includes(":") ? regex.split(":", 1)[0] : undefined;
}

/** What a release's Compute API validates, and how sure the table is. */
export interface Registry {
  readonly release: Release;
  readonly validators: readonly ExtraSpecValidator[];
  readonly namespaces: readonly string[];
  /** True when the table is the release's own (Ussuri ... Zed); after Zed it is only a lower bound. */
  readonly exact: boolean;
}

const addedIn = new Map(KEY_CHANGES.flatMap((c) => c.names.map((n) => [n, c.added] as const)));

const registries = new Map<string, Registry>();

/** The validators the Compute API of `releaseName` registers (Ussuri on), per the table. */
export function registry(releaseName: string): Registry {
  const rel = release(releaseName);
  const cached = registries.get(rel.name);
  if (cached) return cached;
  const validators: ExtraSpecValidator[] = [];
  for (const v of ZED_VALIDATORS) {
    const added = addedIn.get(v.name);
    if (added !== undefined && !atLeast(rel.name, added)) continue;
    const late = VALUE_CHANGES.filter((c) => c.name === v.name && !atLeast(rel.name, c.added)).map((c) => c.value);
    validators.push(late.length > 0 && v.value.enum ? { ...v, value: { ...v.value, enum: v.value.enum.filter((e) => !late.includes(e)) } } : v);
  }
  if (!atLeast(rel.name, "zed")) validators.push(...POWERVM_VALIDATORS);
  const namespaces = [...new Set(validators.map(namespaceOf).filter((n): n is string => n !== undefined))].sort();
  const r: Registry = { release: rel, validators, namespaces, exact: !atLeast(rel.name, "2023.1") };
  registries.set(rel.name, r);
  return r;
}

/** The validator that checks `key` (validators.py: exact name first, then the first regex match). */
export function validatorFor(reg: Registry, key: string): ExtraSpecValidator | undefined {
  return reg.validators.find((v) => v.name === key) ?? reg.validators.find((v) => fullMatch(nameRegex(v), key));
}

/** The validated namespace `key` is in, when no validator matches it Nova refuses it. */
export function validatedNamespace(reg: Registry, key: string): string | undefined {
  if (!key.includes(":")) return undefined;
  const prefix = key.split(":", 1)[0]!;
  return reg.namespaces.find((ns) => fullMatch(ns, prefix));
}

// oslo_utils.strutils TRUE_STRINGS / FALSE_STRINGS, compared stripped and lower-cased (bool_from_string).
const BOOLEAN_STRINGS = ["1", "t", "true", "on", "y", "yes", "0", "f", "false", "off", "n", "no"];

/** Why `value` fails a validator's value rule (base.py `_validate_int/_bool/_str`), or undefined. */
export function valueProblem(rule: ExtraSpecValue, value: string): string | undefined {
  const shown = JSON.stringify(value);
  if (rule.type === "bool") {
    return BOOLEAN_STRINGS.includes(value.trim().toLowerCase()) ? undefined : `${shown} is not a boolean (true/false, yes/no, on/off, 1/0)`;
  }
  if (rule.type === "int") {
    const n = pythonInt(value);
    if (n === undefined) return `${shown} is not an integer`;
    if (rule.max !== undefined && n > rule.max) return `${shown} is greater than ${rule.max}`;
    if (rule.min !== undefined && n < rule.min) return `${shown} is less than ${rule.min}`;
    return undefined;
  }
  if (rule.pattern !== undefined) return fullMatch(rule.pattern, value) ? undefined : `${shown} does not match ${rule.pattern}`;
  if (rule.enum !== undefined && !rule.enum.includes(value)) return `${shown} is not one of ${rule.enum.join(", ")}`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// A flavor's extra specs on a release

export interface ExtraSpecFinding {
  /** The key as the user wrote it. */
  readonly key: string;
  /** An error refuses the config; a warning is reported and the spec is kept. */
  readonly level: "error" | "warning";
  readonly message: string;
}

/** `Nova 26 (zed)`: how messages name a release's Nova. */
export const novaLabel = (r: Release): string => `Nova ${r.nova} (${r.name})`;

/**
 * Checks a flavor's extra specs against `releaseName`: what the release's Compute API refuses or its Nova ignores.
 * The specs reach Nova as written. (Whether the scheduler filters can take them is the config's rule, with the
 * filter list: unscopedKeyProblem.)
 */
export function checkExtraSpecs(specs: Readonly<Record<string, string>>, releaseName: string): ExtraSpecFinding[] {
  const rel = release(releaseName);
  const findings: ExtraSpecFinding[] = [];
  const error = (key: string, message: string) => findings.push({ key, level: "error", message });
  const warn = (key: string, message: string) => findings.push({ key, level: "warning", message });
  const reg = validatesExtraSpecs(rel.name) ? registry(rel.name) : undefined;
  // Problems a release after Zed may not have: the table cannot vouch for them there.
  const refuse = (key: string, message: string) => (reg?.exact === false ? warn : error)(key, message);
  const h = HIDE_HYPERVISOR_ID;

  for (const [key, value] of Object.entries(specs)) {
    if ((key === h.key || key === h.oldKey) && !atLeast(rel.name, h.oldFrom)) {
      error(key, `${novaLabel(rel)} has no flavor extra spec that hides the hypervisor id (${h.oldKey} arrived in rocky); set the image property ${h.imageProperty} instead`);
      continue;
    }
    if (key === h.key && !atLeast(rel.name, h.newFrom)) {
      const backport = h.backports[rel.name];
      if (backport === undefined) {
        error(
          key,
          `${novaLabel(rel)} ignores it: ${h.key} arrived in Nova 22.0.0 (victoria), backported only to 21.1.2 (ussuri) and 20.6.1 (train) ` +
            `(bug 1841932); set the image property ${h.imageProperty} instead`,
        );
        continue;
      }
      warn(
        key,
        `needs Nova ${backport} or later (backported from 22.0.0, bug 1841932); an earlier ${rel.name} release ` +
          (reg ? "refuses it with HTTP 400" : "ignores it") +
          `: there set the image property ${h.imageProperty} instead`,
      );
    }

    if (!reg) {
      // Before Ussuri the API checks nothing: a key from a later release is accepted and ignored.
      const added = addedIn.get(key);
      if (added !== undefined && !atLeast(rel.name, added)) {
        error(key, `arrived in ${novaLabel(release(added))}; ${novaLabel(rel)} accepts it and ignores it`);
      }
      continue;
    }
    const v = validatorFor(reg, key);
    if (v === undefined) {
      const ns = validatedNamespace(reg, key);
      if (ns === undefined) continue;
      const added = addedIn.get(key);
      if (added !== undefined) {
        error(key, `arrived in ${novaLabel(release(added))}; ${novaLabel(rel)} refuses it with HTTP 400`);
      } else if (reg.exact) {
        error(key, `is not an extra spec ${novaLabel(rel)} knows; its API refuses unknown keys in the ${ns.split("(")[0]} namespace with HTTP 400`);
      } else {
        warn(
          key,
          `is not in the extra-spec table, which is exact up to zed (Nova 26); ${novaLabel(rel)} refuses it with HTTP 400 unless it added the key`,
        );
      }
      continue;
    }
    const problem = valueProblem(v.value, value);
    if (problem !== undefined) {
      const late = VALUE_CHANGES.find((c) => c.name === v.name && c.value === value && !atLeast(rel.name, c.added));
      refuse(
        key,
        late
          ? `${JSON.stringify(value)} arrived in ${novaLabel(release(late.added))}; ${novaLabel(rel)} refuses it with HTTP 400`
          : `${problem}; ${novaLabel(rel)} refuses it with HTTP 400` + (reg.exact ? "" : " (by Nova 26's rule; a later release may accept it)"),
      );
    }
    if (v.deprecated && key === h.oldKey && atLeast(rel.name, h.newFrom)) warn(key, `is deprecated (Nova 26 registers it so); write ${h.key}, which every release from victoria on knows`);
  }
  return findings;
}
