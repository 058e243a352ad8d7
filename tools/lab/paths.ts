// Where the lab keeps its state, and the lab-only credentials generated once into it.
// Layout (all under the state folder, `.lab/` in the repository root by default, git-ignored):
//   lab.json                 ports in use and the generated lab-only passwords
//   keystone/                keystone.conf, keystone.db, key repositories, uwsgi.ini, uwsgi.pid, uwsgi.log,
//                            started-with (digest of the config the running process started from)
//   nova/                    nova.conf, api-paste.ini, sqlite databases, uwsgi.ini, uwsgi.pid, uwsgi.log
//   cache/                   XDG_CACHE_HOME of services and clients (stevedore caches entry points there)
//   fakes/<stack>/           state of the maas/juju test doubles during `apply`
// The nova-common .deb lives in <repo>/.lab/cache/ whatever the state folder, so test labs share it.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import * as path from "node:path";

export const REPO = path.resolve(__dirname, "..", "..");

/** The download cache of install-lab-packages.sh (nova-common's .deb), shared by every state folder. */
export const DEB_CACHE = path.join(REPO, ".lab", "cache");

export const DEFAULT_PORTS = { keystone: 5000, nova: 8774 } as const;

export interface Ports {
  readonly keystone: number;
  readonly nova: number;
}

/** Paths of one service run by uwsgi. */
export interface ServicePaths {
  readonly name: "keystone" | "nova-api";
  readonly dir: string;
  readonly uwsgiIni: string;
  readonly pidFile: string;
  readonly log: string;
}

export interface LabPaths {
  readonly root: string;
  readonly stateFile: string;
  readonly cache: string;
  readonly keystone: ServicePaths & {
    readonly conf: string;
    readonly db: string;
    readonly ready: string;
    /** keystone.conf's key repositories, by section. */
    readonly keyRepositories: { readonly fernet_tokens: string; readonly fernet_receipts: string; readonly credential: string };
  };
  readonly nova: ServicePaths & {
    readonly conf: string;
    readonly apiPaste: string;
    readonly apiDb: string;
    readonly db: string;
    readonly ready: string;
  };
}

function service(root: string, name: ServicePaths["name"], sub: string): ServicePaths {
  const dir = path.join(root, sub);
  return {
    name,
    dir,
    uwsgiIni: path.join(dir, "uwsgi.ini"),
    pidFile: path.join(dir, "uwsgi.pid"),
    log: path.join(dir, "uwsgi.log"),
  };
}

export function labPaths(stateDir: string = path.join(REPO, ".lab")): LabPaths {
  const root = path.resolve(stateDir);
  const keystone = service(root, "keystone", "keystone");
  const nova = service(root, "nova-api", "nova");
  return {
    root,
    stateFile: path.join(root, "lab.json"),
    cache: path.join(root, "cache"),
    keystone: {
      ...keystone,
      conf: path.join(keystone.dir, "keystone.conf"),
      db: path.join(keystone.dir, "keystone.db"),
      // Written once the database is synced and bootstrapped; without it `up` starts from scratch.
      ready: path.join(keystone.dir, "bootstrapped"),
      keyRepositories: {
        fernet_tokens: path.join(keystone.dir, "fernet-keys"),
        fernet_receipts: path.join(keystone.dir, "fernet-receipts"),
        credential: path.join(keystone.dir, "credential-keys"),
      },
    },
    nova: {
      ...nova,
      conf: path.join(nova.dir, "nova.conf"),
      apiPaste: path.join(nova.dir, "api-paste.ini"),
      apiDb: path.join(nova.dir, "nova_api.db"),
      db: path.join(nova.dir, "nova.db"),
      ready: path.join(nova.dir, "synced"),
    },
  };
}

/** What lab.json holds. The passwords are lab-only (loopback, throwaway sqlite): not real secrets. */
export interface LabState {
  adminPassword: string;
  novaPassword: string;
  ports: Ports;
}

export function readState(p: LabPaths): LabState | undefined {
  if (!existsSync(p.stateFile)) return undefined;
  return JSON.parse(readFileSync(p.stateFile, "utf8")) as LabState;
}

/** Reads lab.json, creating it (passwords generated once) when absent; records `ports`. */
export function ensureState(p: LabPaths, ports: Ports): LabState {
  const password = () => randomBytes(18).toString("base64url");
  const old = readState(p);
  const state: LabState = {
    adminPassword: old?.adminPassword ?? password(),
    novaPassword: old?.novaPassword ?? password(),
    ports,
  };
  mkdirSync(p.root, { recursive: true });
  writeFileSync(p.stateFile, JSON.stringify(state, null, 2) + "\n", { mode: 0o600 });
  return state;
}
