// Nova's flavors as `npm run verify` and `npm run import-flavors` read them: every flavor with its extra specs in
// one call, `openstack flavor list --long --all -f json`, run here with the usual OS_* credentials, and one
// flavor compared with the render.
//
// What the client prints (python-openstackclient 6.0 openstackclient/compute/v2/flavor.py ListFlavor): with
// --long the columns ID, Name, RAM, Disk, Ephemeral, VCPUs, Is Public, Swap, RXTX Factor and Properties (the
// flavor's extra_specs, a format_columns.DictColumn: a JSON object with -f json); --all lists private flavors
// too. The SDK pages through the whole list (openstack/compute/v2/_proxy.py flavors), and the client reads a
// flavor's extra specs separately when the list did not carry them (compute microversion < 2.61). A flavor is
// missing when the list, read in full, does not name it: never decided from an error's text.
import { spawn } from "node:child_process";
import type { FlavorSpec } from "../../render/nova/flavors";
import { quoteValue, verdict, type Finding } from "./findings";

/** A flavor as Nova has it. */
export interface LiveFlavor {
  readonly id: string;
  readonly name: string;
  readonly ram: number;
  readonly vcpus: number;
  readonly disk: number;
  readonly properties: Record<string, string>;
}

/** Every flavor by name, or why they could not be read. */
export type FlavorList = { readonly flavors: ReadonlyMap<string, LiveFlavor> } | { readonly error: string };

export const FLAVOR_LIST_ARGV = ["flavor", "list", "--long", "--all", "-f", "json"] as const;

/** Extra specs as `-f json` gives them: a mapping, or `k='v', ...` text from older clients. */
export function flavorProperties(p: unknown): Record<string, string> {
  if (p && typeof p === "object" && !Array.isArray(p)) return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, String(v)]));
  if (typeof p !== "string" || p === "") return {};
  return Object.fromEntries(
    [...p.matchAll(/([^,=\s]+)='((?:[^'\\]|\\.)*)'/g)].map((m) => [m[1]!, m[2]!.replace(/\\(.)/g, "$1")]),
  );
}

interface ListedRow {
  readonly ID: string;
  readonly Name: string;
  readonly RAM: number;
  readonly VCPUs: number;
  readonly Disk: number;
  readonly Properties?: unknown;
}

/** `openstack flavor list --long -f json`'s rows, by name. */
export function parseFlavorList(json: string): Map<string, LiveFlavor> {
  const rows = JSON.parse(json) as ListedRow[];
  if (!Array.isArray(rows)) throw new Error("the flavor list is not a JSON list");
  return new Map(
    rows.map((r) => [r.Name, { id: r.ID, name: r.Name, ram: Number(r.RAM), vcpus: Number(r.VCPUs), disk: Number(r.Disk), properties: flavorProperties(r.Properties) }]),
  );
}

/** Every flavor Nova has, in one client call. */
export function listFlavors(env: NodeJS.ProcessEnv = process.env): Promise<FlavorList> {
  return new Promise((resolve) => {
    const child = spawn("openstack", [...FLAVOR_LIST_ARGV], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("error", (e) => resolve({ error: `openstack: ${e.message}` }));
    child.on("close", (code) => {
      if (code !== 0) {
        const said = [err, out].flatMap((t) => t.split("\n")).find((l) => l.trim() !== "");
        resolve({ error: said?.trim() ?? `openstack ${FLAVOR_LIST_ARGV.join(" ")}: exit ${code}` });
        return;
      }
      try {
        resolve({ flavors: parseFlavorList(out) });
      } catch (e) {
        resolve({ error: `openstack ${FLAVOR_LIST_ARGV.join(" ")}: ${(e as Error).message}` });
      }
    });
  });
}

/** One flavor: size and extra specs, against Nova's (undefined: Nova has no flavor of that name). */
export function compareFlavor(f: FlavorSpec, live: LiveFlavor | undefined): Finding {
  const object = `flavor ${f.name}`;
  if (live === undefined) return verdict(object, ["missing"]);
  const details: string[] = [];
  for (const k of ["ram", "vcpus", "disk"] as const) if (live[k] !== f[k]) details.push(`${k} is ${live[k]}, want ${f[k]}`);
  const props = live.properties;
  for (const [k, v] of Object.entries(f.extraSpecs)) {
    if (!(k in props)) details.push(`extra spec ${k} is missing, want ${quoteValue(v)}`);
    else if (props[k] !== v) details.push(`extra spec ${k} is ${quoteValue(props[k]!)}, want ${quoteValue(v)}`);
  }
  for (const k of Object.keys(props)) if (!(k in f.extraSpecs)) details.push(`extra spec ${k}=${quoteValue(props[k]!)} is not in the render`);
  return verdict(object, details);
}

/** Each flavor of the render against the list: unreachable, all of them, when the list could not be read. */
export function compareFlavors(flavors: readonly FlavorSpec[], list: FlavorList): Finding[] {
  if ("error" in list) return flavors.map((f) => ({ object: `flavor ${f.name}`, status: "unreachable", details: [list.error] }));
  return flavors.map((f) => compareFlavor(f, list.flavors.get(f.name)));
}
