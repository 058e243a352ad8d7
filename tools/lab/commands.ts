// The lab's subcommands: up, down, status, env, apply. Each returns its exit code; errors are LabErrors
// carrying theirs (1 failure, 2 usage or missing input, 3 lab down, 4 missing Debian package).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import {
  DEFAULT_PORTS,
  REPO,
  ensureState,
  labPaths,
  readState,
  type LabPaths,
  type LabState,
  type Ports,
  type ServicePaths,
} from "./paths";
import { INSTALL_HINT, missingPackages } from "./packages";
import { fakeSeeds } from "../lib/fake-seeds";
import { LabError, httpStatus, livePid, portOpen, startUwsgi, stopUwsgi, waitHttp } from "./process";
import { adminEnv, keystoneConf, keystoneUrl, keystoneUwsgiIni, novaConf, novaRootUrl, novaUrl, novaUwsgiIni, openrc } from "./config";
import { adminToken, ensureCatalog, setupKeystone } from "./keystone";
import { aliasLines, ensureApiPaste, setupNova } from "./nova";
import { loadSite } from "./stack";

export interface LabOptions {
  /** The state folder; `.lab/` in the repository root by default. */
  readonly stateDir?: string;
  /** Ports given on the command line; the others come from lab.json, then the defaults. */
  readonly ports?: Partial<Ports>;
  /** The stack whose `[pci] alias` lines nova-api runs with (`up`), or that is applied (`apply`). */
  readonly stack?: string;
  /** The stack's config file, when not Pulumi.<stack>.yaml (`apply`, `verify`). */
  readonly stackFile?: string;
  /** Where progress goes (stderr by default); stdout is kept for `env`'s openrc and `status`. */
  readonly log?: (line: string) => void;
}

const say = (o: LabOptions) => o.log ?? ((line: string) => process.stderr.write(line + "\n"));

function portsOf(p: LabPaths, o: LabOptions): Ports {
  const recorded = readState(p)?.ports ?? DEFAULT_PORTS;
  return { keystone: o.ports?.keystone ?? recorded.keystone, nova: o.ports?.nova ?? recorded.nova };
}

/** The environment of every child: the caller's, without its OS_* (a stray OS_CLOUD or OS_TOKEN would
 * point clients elsewhere), with stevedore's cache in the state folder. */
export function childEnv(p: LabPaths, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("OS_")) env[k] = v;
  return { ...env, XDG_CACHE_HOME: p.cache, ...extra };
}

/** The lab admin's environment for clients (`openstack`), on top of childEnv. */
export function clientEnv(p: LabPaths, state: LabState, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return childEnv(p, { ...Object.fromEntries(adminEnv(state)), ...extra });
}

/**
 * Writes a service's configuration files; true when the running process (if any) started from other
 * contents. What it started from is kept in `started-with` (a digest), written once it answers, so a
 * failed `up` that wrote new files still restarts the service the next time.
 */
function writeConfig(s: ServicePaths, files: Readonly<Record<string, string>>): { changed: boolean; started: () => void } {
  const digest = createHash("sha256");
  for (const [file, text] of Object.entries(files)) {
    digest.update(`${file}\0${text}\0`);
    if (!existsSync(file) || readFileSync(file, "utf8") !== text) writeFileSync(file, text);
  }
  const stamp = digest.digest("hex");
  const stampFile = path.join(s.dir, "started-with");
  const running = existsSync(stampFile) ? readFileSync(stampFile, "utf8") : "";
  return { changed: running !== stamp, started: () => writeFileSync(stampFile, stamp) };
}

async function healthy(p: LabPaths, ports: Ports): Promise<{ keystone: boolean; nova: boolean }> {
  const ok = async (s: ServicePaths, url: string) => {
    if (livePid(s) === undefined) return false;
    const status = await httpStatus(url);
    return status !== undefined && status < 400;
  };
  const [keystone, nova] = await Promise.all([ok(p.keystone, keystoneUrl(ports)), ok(p.nova, novaRootUrl(ports))]);
  return { keystone, nova };
}

/** Stops the service when it runs with an outdated config or does not answer, then starts it if needed. */
async function restartIfNeeded(
  s: ServicePaths,
  port: number,
  url: string,
  config: { changed: boolean; started: () => void },
  isHealthy: boolean,
  log: (l: string) => void,
) {
  const changed = config.changed;
  if (isHealthy && !changed) return;
  if (await stopUwsgi(s)) log(`${s.name}: restarting (${changed ? "configuration changed" : "not answering"})`);
  // Another program on the port would answer the health check in place of ours.
  if (await portOpen(port)) {
    const flag = s.name === "keystone" ? "--keystone-port" : "--nova-port";
    throw new LabError(`127.0.0.1:${port} is taken by another program: stop it or give ${s.name} another port with ${flag}`);
  }
  startUwsgi(s);
  await waitHttp(s, url);
  config.started();
}

export async function up(o: LabOptions): Promise<number> {
  const log = say(o);
  const missing = missingPackages();
  if (missing.length > 0) throw new LabError(`missing Debian package(s): ${missing.join(", ")}; ${INSTALL_HINT}`, 4);

  const started = Date.now();
  const p = labPaths(o.stateDir);
  const site = loadSite(o.stack ?? "dev");
  const state = ensureState(p, portsOf(p, o));
  for (const dir of [p.keystone.dir, p.nova.dir, p.cache]) mkdirSync(dir, { recursive: true });
  await ensureApiPaste(p);
  const config = {
    keystone: writeConfig(p.keystone, { [p.keystone.conf]: keystoneConf(p), [p.keystone.uwsgiIni]: keystoneUwsgiIni(p, state.ports) }),
    nova: writeConfig(p.nova, { [p.nova.conf]: novaConf(p, state, aliasLines(site)), [p.nova.uwsgiIni]: novaUwsgiIni(p, state.ports) }),
  };
  const before = await healthy(p, state.ports);
  if (before.keystone && before.nova && !config.keystone.changed && !config.nova.changed) {
    log(`lab is already up (keystone ${keystoneUrl(state.ports)}, nova ${novaUrl(state.ports)})`);
    return 0;
  }

  const env = childEnv(p);
  const keystone = (async () => {
    await setupKeystone(p, state, env);
    await restartIfNeeded(p.keystone, state.ports.keystone, keystoneUrl(state.ports), config.keystone, before.keystone, log);
    await ensureCatalog(state);
  })();
  // nova-api needs Keystone only for requests, not to start: its database setup and start overlap Keystone's.
  const nova = (async () => {
    await setupNova(p, env);
    await restartIfNeeded(p.nova, state.ports.nova, novaRootUrl(state.ports), config.nova, before.nova, log);
  })();
  await Promise.all([keystone, nova]);
  await checkFlavorApi(state);
  log(`lab is up in ${((Date.now() - started) / 1000).toFixed(1)} s: keystone ${keystoneUrl(state.ports)}, nova ${novaUrl(state.ports)} (stack ${o.stack ?? "dev"}; \`npm run lab -- env\` for the openrc)`);
  return 0;
}

/** One authenticated Compute request, so `up` returns only when nova-api accepts the lab's tokens. */
async function checkFlavorApi(state: LabState): Promise<void> {
  const res = await fetch(`${novaUrl(state.ports)}/flavors`, { headers: { "X-Auth-Token": await adminToken(state) } });
  if (res.status !== 200) throw new LabError(`nova-api answers but refuses the lab admin: GET /flavors -> HTTP ${res.status} ${await res.text()}`);
}

export async function down(o: LabOptions): Promise<number> {
  const log = say(o);
  const p = labPaths(o.stateDir);
  const stopped = await Promise.all([p.keystone, p.nova].map(async (s) => ((await stopUwsgi(s)) ? s.name : undefined)));
  const names = stopped.filter((n) => n !== undefined);
  log(names.length > 0 ? `stopped ${names.join(" and ")}` : "lab was not running");
  return 0;
}

export async function status(o: LabOptions): Promise<number> {
  const p = labPaths(o.stateDir);
  const ports = portsOf(p, o);
  const rows = await Promise.all(
    [
      { s: p.keystone, url: keystoneUrl(ports) },
      { s: p.nova, url: novaRootUrl(ports) },
    ].map(async ({ s, url }) => {
      const pid = livePid(s);
      const http = await httpStatus(url);
      const isUp = pid !== undefined && http !== undefined && http < 400;
      const pidText = pid === undefined ? "no live pid" : `pid ${pid}`;
      const httpText = http === undefined ? "no answer" : `HTTP ${http}`;
      return { isUp, line: `${s.name}: ${isUp ? "up" : "down"} (${pidText}, ${url} ${httpText})` };
    }),
  );
  for (const r of rows) process.stdout.write(r.line + "\n");
  return rows.every((r) => r.isUp) ? 0 : 3;
}

function requireState(p: LabPaths, o: LabOptions): LabState {
  const state = readState(p);
  if (state === undefined) throw new LabError(`no lab in ${p.root}: run \`npm run lab -- up\` first`, 3);
  return { ...state, ports: portsOf(p, o) };
}

export function env(o: LabOptions): number {
  process.stdout.write(openrc(requireState(labPaths(o.stateDir), o)));
  return 0;
}

// The doubles' first state for a site: tools/lib/fake-seeds.ts (the bench seeds them too).
export { fakeDeviceHosts, fakeSeeds } from "../lib/fake-seeds";

/** The environment of a stack's commands against the lab: maas and juju are the doubles in test/fakes with
 * the stack's own state folder, openstack is the real client as the lab admin. */
async function fakesAndLabEnv(o: LabOptions, stack: string): Promise<{ env: NodeJS.ProcessEnv; fakeState: string }> {
  const p = labPaths(o.stateDir);
  const state = requireState(p, o);
  const now = await healthy(p, state.ports);
  if (!now.keystone || !now.nova) throw new LabError(`the lab is not up: run \`npm run lab -- up\` first`, 3);
  const fakeState = path.join(p.root, "fakes", stack);
  mkdirSync(fakeState, { recursive: true });
  const env = clientEnv(p, state, {
    ...fakeSeeds(loadSite(stack, o.stackFile)),
    PATH: `${path.join(REPO, "test", "fakes")}${path.delimiter}${process.env.PATH ?? ""}`,
    FAKE_STATE_DIR: fakeState,
    // The lab serves the Identity and Compute APIs only (no image, network, scheduler or compute service):
    // servers cannot boot, so the smoke test and the vfio-pci check on GPU hosts are skipped.
    SKIP_SMOKE_TEST: "1",
  });
  return { env, fakeState };
}

function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: "inherit", cwd: REPO });
    child.on("error", reject);
    child.on("close", (code) => resolve(code ?? 1));
  });
}

/** Runs out/<stack>/commands.sh: maas and juju are the doubles in test/fakes, openstack is the real
 * client against the lab. */
export async function apply(o: LabOptions): Promise<number> {
  const stack = o.stack;
  if (stack === undefined) throw new LabError("usage: npm run lab -- apply <stack>", 2);
  const script = path.join(REPO, "out", stack, "commands.sh");
  if (!existsSync(script)) {
    throw new LabError(`${path.relative(REPO, script)} does not exist: run \`npm run render -- ${stack}\` first`, 2);
  }
  const { env, fakeState } = await fakesAndLabEnv(o, stack);
  say(o)(`applying ${path.relative(REPO, script)} (maas, juju: test/fakes, state ${path.relative(REPO, fakeState)}; openstack: the lab)`);
  return runChild("bash", [script], env);
}

/** `npm run verify -- <stack>` against what `apply` left: the fakes' maas and juju, the lab's flavors. */
export async function verify(o: LabOptions): Promise<number> {
  const stack = o.stack;
  if (stack === undefined) throw new LabError("usage: npm run lab -- verify <stack>", 2);
  const { env } = await fakesAndLabEnv(o, stack);
  const file = o.stackFile !== undefined ? ["--stack-file", o.stackFile] : [];
  return runChild(process.execPath, ["--import", "tsx", path.join(REPO, "tools", "verify", "main.ts"), stack, ...file], env);
}
