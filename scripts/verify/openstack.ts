// `openstack flavor show -f json NAME`, run here with the usual OS_* credentials: what `npm run verify` and
// `npm run import-flavors` read Nova's flavors with.
import { spawnSync } from "node:child_process";
import type { Read } from "./compare";

/** A flavor as Nova has it: the client's exit code and its JSON (or its error). `error` when the client did
 * not run at all. */
export function showFlavor(name: string, env: NodeJS.ProcessEnv = process.env): Read & { error?: string } {
  const r = spawnSync("openstack", ["flavor", "show", "-f", "json", name], { encoding: "utf8", env });
  if (r.error) return { rc: 1, out: "", error: `openstack: ${r.error.message}` };
  return { rc: r.status ?? 1, out: r.status === 0 ? r.stdout : r.stderr || r.stdout, err: r.stderr };
}
