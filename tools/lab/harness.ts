// For the lab's integration tests (test/lab/): run the CLI as a user does, and the real openstack client
// against a lab, each test file with its own state folder and ports so files can run in parallel.
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { labPaths, readState, REPO } from "./paths";
import { INSTALL_HINT, missingPackages, OPENSTACK } from "./packages";
import { clientEnv } from "./commands";

export interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time in milliseconds. */
  readonly ms: number;
}

function ran(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd = REPO): Ran {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { env, cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

/** For `{ skip }`: the reason when a lab package is missing locally; under CI (`CI` set) never skip, so the
 * tests fail with the lab's own error naming the package. */
export function labSkipReason(): string | false {
  const missing = missingPackages();
  if (missing.length === 0 || process.env.CI) return false;
  const reason = `missing Debian package(s) ${missing.join(", ")}: ${INSTALL_HINT} (CI fails instead of skipping)`;
  process.stderr.write(`skip: ${reason}\n`);
  return reason;
}

const TSX = path.join(REPO, "node_modules", ".bin", "tsx");

/** `npm run lab -- ARGS --state-dir DIR` (through tsx directly: npm adds nothing but startup time). */
export function runLab(stateDir: string, args: readonly string[]): Ran {
  return ran(TSX, [path.join(REPO, "tools", "lab", "main.ts"), ...args, "--state-dir", stateDir], process.env);
}

/** `npm run render -- ARGS`. */
export function runRender(args: readonly string[]): Ran {
  return ran(TSX, [path.join(REPO, "tools", "render", "main.ts"), ...args], process.env);
}

/** `npm run import-flavors -- ARGS` as the lab admin of the lab in `stateDir` (its Nova's flavors). */
export function runImportFlavors(stateDir: string, args: readonly string[]): Ran {
  const p = labPaths(stateDir);
  const state = readState(p);
  if (state === undefined) throw new Error(`no lab in ${stateDir}`);
  return ran(TSX, [path.join(REPO, "tools", "import-flavors", "main.ts"), ...args], clientEnv(p, state));
}

/** The real openstack client as the lab admin of the lab in `stateDir`. */
export function openstack(stateDir: string, args: readonly string[]): Ran {
  const p = labPaths(stateDir);
  const state = readState(p);
  if (state === undefined) throw new Error(`no lab in ${stateDir}`);
  return ran(OPENSTACK, args, clientEnv(p, state));
}

/** Like openstack(), parsing `-f json` output; throws with the client's stderr when it fails. */
export function openstackJson<T>(stateDir: string, args: readonly string[]): T {
  const r = openstack(stateDir, [...args, "-f", "json"]);
  if (r.code !== 0) throw new Error(`openstack ${args.join(" ")} failed (exit ${r.code}):\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
