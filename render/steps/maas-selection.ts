// Which machines a MAAS tag is on (docs/domain.md, "MAAS"): the system IDs the config lists, checked against MAAS
// first, or the machines of a pool and/or zone whose node devices include a configured vendor:product; the shell
// lines the tag and machines steps (steps/maas.ts) and the read script (steps/reads.ts) share.
import type { HostGroup, TagConfig } from "../../config/types";
import { groupPath } from "../../config/types";
import { deviceId } from "../../domain/pci";
import { shellQuote } from "../shell";
import { maas, maasRead } from "./maas-cli";

/** One MAAS tag as its steps need it: the tag as configured and what the config knows around it. */
export interface MaasTagInput {
  readonly tag: TagConfig;
  /** Where the tag's keys are in the stack config, named in messages: `pci-passthrough:maas` or
   * `pci-passthrough:hostGroups[i].maas`. */
  readonly keyPath: string;
  /** With selectByDevice: the vendor:product ids whose presence selects a machine. */
  readonly selectingDevices: readonly string[];
  /** With selectByDevice: the machines other tags list by system ID (a machine is in one group). */
  readonly otherGroupsMachines: readonly string[];
}

/** A host group's tag as its steps need it, among the site's groups. */
export function tagInputOf(groups: readonly HostGroup[], group: HostGroup): MaasTagInput {
  return {
    tag: group.maas,
    keyPath: groupPath(groups, group, "maas"),
    selectingDevices: selectingDevices(group.devices),
    otherGroupsMachines: groups.filter((g) => g !== group).flatMap((g) => g.maas.machines ?? []),
  };
}

/** The `machines read` filters of a group's scope (maasserver/api/machines.py, ReadNodesForm pool and zone). */
export function scopeFilters(tag: Pick<TagConfig, "pool" | "zone">): string[] {
  return [...(tag.pool !== undefined ? [`pool=${tag.pool}`] : []), ...(tag.zone !== undefined ? [`zone=${tag.zone}`] : [])];
}

/** The scope as said in step names and messages: `in pool P`, `in zone Z`, `in pool P, zone Z`, or "". */
export function scopeText(tag: Pick<TagConfig, "pool" | "zone">): string {
  const { pool, zone } = tag;
  const parts = [...(pool !== undefined ? [`pool ${pool}`] : []), ...(zone !== undefined ? [`zone ${zone}`] : [])];
  return parts.length > 0 ? ` in ${parts.join(", ")}` : "";
}

/**
 * Reads `maas PROFILE machines read` (every machine) on stdin; its arguments are the tag's key path, the
 * configured pool and zone ("" when not set) and the listed system IDs. Prints one `<key path>: <problem>`
 * line per listed machine MAAS does not have, or that is outside the pool or zone; nothing when all are
 * fine. (`tag update-nodes` ignores a system ID MAAS does not know, silently: maasserver/api/tags.py
 * TagHandler.update_nodes filters Node.objects by it.)
 */
export const LISTED_MACHINE_PROBLEMS =
  `python3 -c 'import json, sys; key, pool, zone, ids = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]; ` +
  `known = {m["system_id"]: m for m in json.load(sys.stdin)}; name = lambda s, f: (known[s].get(f) or {}).get("name"); ` +
  `why = lambda s: "MAAS has no machine %s (a typo? maas PROFILE machines read lists them)" % s if s not in known ` +
  `else "machine %s is in resource pool %s, not in %s.pool %s" % (s, name(s, "pool"), key, pool) if pool and name(s, "pool") != pool ` +
  `else "machine %s is in zone %s, not in %s.zone %s" % (s, name(s, "zone"), key, zone) if zone and name(s, "zone") != zone else ""; ` +
  `[print("%s.machines[%d]: %s" % (key, i, why(s))) for i, s in enumerate(ids) if why(s)]'`;

/** Lines that check a listed selection against MAAS before anything changes: every listed machine exists,
 * in the configured pool and zone. */
function listedMachinesCheck(profile: string, input: MaasTagInput): string[] {
  const key = input.keyPath;
  return [
    maasRead(profile, "all", "machines", "read"),
    // System IDs are [a-z0-9]+ (config): splitting the list into arguments is meant.
    "# shellcheck disable=SC2086",
    `problems=$(printf '%s' "$all" | ${LISTED_MACHINE_PROBLEMS} ${shellQuote(key)} ${shellQuote(input.tag.pool ?? "")} ${shellQuote(input.tag.zone ?? "")} $PCIPT_MACHINES) \\`,
    `  || fail "cannot read MAAS's machine list"`,
    `if [ -n "$problems" ]; then printf '%s\\n' "$problems" >&2; fail "${key}.machines: MAAS does not have these machines where the config says; nothing was changed"; fi`,
  ];
}

/** Lines the tag step runs before it changes anything: a listed selection is checked; a scope is checked to
 * exist (MAAS refuses a pool or zone it does not have: ReadNodesForm clean_pool / clean_zone, HTTP 400). */
export function selectionCheckLines(profile: string, input: MaasTagInput): string[] {
  if (input.tag.machines !== undefined) return listedMachinesCheck(profile, input);
  if (input.tag.selectByDevice === true) return [maasRead(profile, "scope", "machines", "read", ...scopeFilters(input.tag))];
  return [];
}

/** Reads `maas ... read` JSON lists of machines on stdin and prints their system IDs, sorted, on one line. */
export const SYSTEM_IDS = `python3 -c 'import json, sys; print(" ".join(sorted(m["system_id"] for m in json.load(sys.stdin))))'`;

/** What the selection lines read from the environment. */
export function selectionEnv(input: MaasTagInput): Record<string, string> {
  const { machines, selectByDevice } = input.tag;
  if (machines !== undefined) return { PCIPT_MACHINES: machines.join(" ") };
  if (selectByDevice !== true) return {};
  // Machines another group lists by system ID: one with this group's device too would be in two groups.
  const listed = input.otherGroupsMachines;
  return { PCIPT_SELECT_DEVICES: input.selectingDevices.join(" "), ...(listed.length > 0 ? { PCIPT_OTHER_GROUPS_MACHINES: listed.join(" ") } : {}) };
}

/** Reads a JSON list on stdin and prints its length (`maas ... node-devices read` answers). */
export const JSON_LIST_LENGTH = `python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'`;

/** Lines that set `$wanted` to the system IDs the tag must be on: the configured ones (checked against MAAS
 * first), or, among the machines of the scope, those whose node devices include a configured
 * vendor:product. They call `fail` (through maas_failed, which must be defined) on a CLI error. */
export function selectionLines(profile: string, input: MaasTagInput): string[] {
  if (input.tag.machines !== undefined) return [...listedMachinesCheck(profile, input), 'wanted="$PCIPT_MACHINES"'];
  const others = selectionEnv(input).PCIPT_OTHER_GROUPS_MACHINES !== undefined;
  return [
    maasRead(profile, "all", "machines", "read", ...scopeFilters(input.tag)),
    `all=$(printf '%s' "$all" | ${SYSTEM_IDS}) || fail "cannot read MAAS's machine list"`,
    'wanted=""',
    "for id in $all; do",
    "  for dev in $PCIPT_SELECT_DEVICES; do",
    `    found=$(${maas(profile, "node-devices", "read")} "$id" "vendor_id=\${dev%%:*}" "product_id=\${dev#*:}") \\`,
    `      || maas_failed "${maas(profile, "node-devices", "read")} $id (selectByDevice needs MAAS 3.0 or later)" "$found"`,
    `    if [ "$(printf '%s' "$found" | ${JSON_LIST_LENGTH})" -gt 0 ]; then wanted="$wanted $id"; break; fi`,
    "  done",
    "done",
    "wanted=${wanted# }",
    ...(others
      ? [
          `for id in $wanted; do case " $PCIPT_OTHER_GROUPS_MACHINES " in *" $id "*) fail "machine $id has a device of this group but another group lists it: a machine is in one group" ;; esac; done`,
        ]
      : []),
  ];
}

/**
 * With selectByDevice: a tagged machine of the scope that no longer shows a selecting device stays tagged
 * when MAAS has no node devices for it at all (commissioned before MAAS 3.0, or its device records deleted:
 * MAAS fills them in only at commissioning), with a warning; untagging it would take a GPU host out of its
 * group for want of data. A machine whose devices MAAS knows, none of them selecting, is untagged, and so is
 * any machine outside the scope (`$all`, the scope's machines).
 */
export function keepUnknownLines(profile: string): string[] {
  return [
    "for id in $current; do",
    '  case " $wanted " in *" $id "*) continue ;; esac',
    '  case " $all " in *" $id "*) ;; *) continue ;; esac',
    `  all_devices=$(${maas(profile, "node-devices", "read")} "$id") || maas_failed "${maas(profile, "node-devices", "read")} $id" "$all_devices"`,
    `  if [ "$(printf '%s' "$all_devices" | ${JSON_LIST_LENGTH})" = 0 ]; then`,
    '    wanted="${wanted:+$wanted }$id"',
    `    echo "pci-passthrough: WARNING: MAAS has no node devices for machine $id (commissioned before MAAS 3.0?): it stays tagged; commission it again so that its devices decide" >&2`,
    "  fi",
    "done",
  ];
}

/** Lines that set `$current` to the system IDs the tag is on now. */
export function taggedLines(profile: string, input: MaasTagInput): string[] {
  return [
    maasRead(profile, "current", "tag", "machines", input.tag.tag),
    `current=$(printf '%s' "$current" | ${SYSTEM_IDS}) || fail "cannot read the tag's machines"`,
  ];
}

/** The vendor:product pairs whose presence selects a machine (`maas.selectByDevice`). */
export function selectingDevices(devices: readonly { readonly vendorId: string; readonly productId: string }[]): string[] {
  return [...new Set(devices.map(deviceId))].sort();
}
