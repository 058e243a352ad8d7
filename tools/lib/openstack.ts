// Nova's flavors as `npm run verify` and `npm run import-flavors` read them: `openstack flavor show -f json NAME`,
// run here with the usual OS_* credentials, and one flavor compared with the render.
import { spawnSync } from "node:child_process";
import type { FlavorSpec } from "../../render/nova/flavors";
import { quoteValue, unreachable, verdict, type Finding, type Read } from "./findings";

/** A flavor as Nova has it: the client's exit code and its JSON (or its error). `error` when the client did
 * not run at all. */
export function showFlavor(name: string, env: NodeJS.ProcessEnv = process.env): Read & { error?: string } {
  const r = spawnSync("openstack", ["flavor", "show", "-f", "json", name], { encoding: "utf8", env });
  if (r.error) return { rc: 1, out: "", error: `openstack: ${r.error.message}` };
  return { rc: r.status ?? 1, out: r.status === 0 ? r.stdout : r.stderr || r.stdout, err: r.stderr };
}

/** What `openstack flavor show -f json` gives: properties as a mapping, or as `k='v', ...` from older
 * clients. */
export function flavorProperties(shown: { properties?: unknown }): Record<string, string> {
  const p = shown.properties;
  if (p && typeof p === "object" && !Array.isArray(p)) return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, String(v)]));
  if (typeof p !== "string" || p === "") return {};
  return Object.fromEntries(
    [...p.matchAll(/([^,=\s]+)='((?:[^'\\]|\\.)*)'/g)].map((m) => [m[1]!, m[2]!.replace(/\\(.)/g, "$1")]),
  );
}

/** One flavor: size and extra specs, against `openstack flavor show` (exit code and output). */
export function compareFlavor(f: FlavorSpec, read: Read): Finding {
  const object = `flavor ${f.name}`;
  // openstackclient's "No Flavor found" is the one answer that says the flavor is not there (its exit status
  // is 1 for any failure).
  if (read.rc !== 0) return /No Flavor found|No flavor with a name or ID/i.test(read.out) ? verdict(object, ["missing"]) : unreachable(object, read);
  const shown = JSON.parse(read.out) as { ram: number; vcpus: number; disk: number; properties?: unknown };
  const details: string[] = [];
  for (const k of ["ram", "vcpus", "disk"] as const) if (Number(shown[k]) !== f[k]) details.push(`${k} is ${shown[k]}, want ${f[k]}`);
  const live = flavorProperties(shown);
  for (const [k, v] of Object.entries(f.extraSpecs)) {
    if (!(k in live)) details.push(`extra spec ${k} is missing, want ${quoteValue(v)}`);
    else if (live[k] !== v) details.push(`extra spec ${k} is ${quoteValue(live[k]!)}, want ${quoteValue(v)}`);
  }
  for (const k of Object.keys(live)) if (!(k in f.extraSpecs)) details.push(`extra spec ${k}=${quoteValue(live[k]!)} is not in the render`);
  return verdict(object, details);
}
