// Keystone's one-time setup (database, keys, bootstrap) and the catalog entries nova-api needs, made
// through the Identity API itself so they follow the ports of every `up`.
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import type { LabPaths, LabState } from "./paths";
import { KEYSTONE_MANAGE, PYTHON } from "./packages";
import { LabError, mustRun } from "./process";
import { ADMIN, NOVA_USER, REGION, keystoneUrl, novaUrl } from "./config";

/** sqlite in WAL mode: with the default rollback journal Keystone answers writes with "database is locked"
 * (HTTP 500) when a read transaction is open. */
export async function sqliteWal(db: string): Promise<void> {
  await mustRun("switching sqlite to WAL", PYTHON, [
    "-c",
    "import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute('PRAGMA journal_mode=WAL').fetchall()",
    db,
  ]);
}

/**
 * What `keystone-manage fernet_setup` and `credential_setup` leave in a key repository
 * (keystone/common/fernet_utils.py initialize_key_repository: a key, then one rotation): a 0700 folder
 * with key `0` (staged) and `1` (primary), each `Fernet.generate_key()` = urlsafe base64 of 32 random
 * bytes, mode 0600. Written here because the two keystone-manage runs cost ~5 CPU-seconds of Python
 * start-up: a cold `up` went from ~20 s to ~12 s on a two-core machine without them.
 */
export function initKeyRepository(dir: string): void {
  if (existsSync(path.join(dir, "0"))) return;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const name of ["1", "0"]) {
    const key = randomBytes(32).toString("base64").replace(/\+/g, "-").replace(/\//g, "_");
    writeFileSync(path.join(dir, name), key, { mode: 0o600 });
  }
}

/** db_sync, WAL, key repositories and bootstrap, once per state folder (marker file `ready`). */
export async function setupKeystone(p: LabPaths, state: LabState, env: NodeJS.ProcessEnv): Promise<void> {
  const k = p.keystone;
  if (existsSync(k.ready)) return;
  // A setup interrupted half way: start the database over.
  rmSync(k.db, { force: true });
  const manage = (...args: string[]) =>
    mustRun(`keystone-manage ${args[0]}`, KEYSTONE_MANAGE, ["--config-file", k.conf, ...args], env);
  for (const repo of Object.values(k.keyRepositories)) initKeyRepository(repo);
  await manage("db_sync");
  await sqliteWal(k.db);
  const url = keystoneUrl(state.ports) + "/";
  await manage(
    "bootstrap",
    "--bootstrap-password",
    state.adminPassword,
    "--bootstrap-username",
    ADMIN.user,
    "--bootstrap-project-name",
    ADMIN.project,
    "--bootstrap-role-name",
    "admin",
    "--bootstrap-region-id",
    REGION,
    "--bootstrap-admin-url",
    url,
    "--bootstrap-internal-url",
    url,
    "--bootstrap-public-url",
    url,
  );
  writeFileSync(k.ready, new Date().toISOString() + "\n");
}

type Json = Record<string, unknown>;

/** A project-scoped token of the lab admin. */
export async function adminToken(state: LabState): Promise<string> {
  const res = await fetch(`${keystoneUrl(state.ports)}/auth/tokens`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ["password"],
          password: { user: { name: ADMIN.user, domain: { name: ADMIN.domain }, password: state.adminPassword } },
        },
        scope: { project: { name: ADMIN.project, domain: { name: ADMIN.domain } } },
      },
    }),
  });
  const token = res.headers.get("x-subject-token");
  if (res.status !== 201 || token === null) {
    throw new LabError(`Keystone refused the lab admin (HTTP ${res.status}): ${await res.text()}`);
  }
  return token;
}

/** A minimal Identity v3 client for the handful of calls the catalog needs. */
class Identity {
  private constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  static async login(state: LabState): Promise<Identity> {
    return new Identity(keystoneUrl(state.ports), await adminToken(state));
  }

  async call(method: string, path: string, body?: Json): Promise<Json> {
    const res = await fetch(this.base + path, {
      method,
      headers: { "X-Auth-Token": this.token, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new LabError(`Keystone ${method} ${path}: HTTP ${res.status} ${text}`);
    return text === "" ? {} : (JSON.parse(text) as Json);
  }

  /** The first `kind` matching `query`, created from `create` when there is none. */
  async ensure(kind: string, query: string, create: Json): Promise<Json> {
    const found = (await this.call("GET", `/${kind}s?${query}`))[`${kind}s`] as Json[];
    if (found[0] !== undefined) return found[0];
    return (await this.call("POST", `/${kind}s`, { [kind]: create }))[kind] as Json;
  }

  /** public, internal and admin endpoints of `serviceId` in RegionOne, all at `url`. */
  async ensureEndpoints(serviceId: string, url: string): Promise<void> {
    const existing = (await this.call("GET", `/endpoints?service_id=${serviceId}`)).endpoints as Json[];
    for (const iface of ["public", "internal", "admin"]) {
      const e = existing.find((x) => x.interface === iface && x.region_id === REGION);
      if (e === undefined) {
        await this.call("POST", "/endpoints", { endpoint: { service_id: serviceId, interface: iface, region_id: REGION, url } });
      } else if (e.url !== url) {
        await this.call("PATCH", `/endpoints/${String(e.id)}`, { endpoint: { url } });
      }
    }
  }
}

/** The nova service user (admin in project `service`) and the identity and compute endpoints at the
 * current ports. Idempotent: a few GETs when everything is in place. */
export async function ensureCatalog(state: LabState): Promise<void> {
  const id = await Identity.login(state);
  const project = await id.ensure("project", `name=${NOVA_USER.project}`, { name: NOVA_USER.project, domain_id: "default" });
  const user = await id.ensure("user", `name=${NOVA_USER.user}`, {
    name: NOVA_USER.user,
    domain_id: "default",
    password: state.novaPassword,
    default_project_id: project.id,
  });
  const roles = (await id.call("GET", "/roles?name=admin")).roles as Json[];
  const admin = roles[0];
  if (admin === undefined) throw new LabError("Keystone has no admin role; was it bootstrapped?");
  await id.call("PUT", `/projects/${String(project.id)}/users/${String(user.id)}/roles/${String(admin.id)}`);

  const identity = await id.ensure("service", "type=identity", { type: "identity", name: "keystone" });
  await id.ensureEndpoints(String(identity.id), keystoneUrl(state.ports) + "/");
  const compute = await id.ensure("service", "type=compute", { type: "compute", name: "nova" });
  await id.ensureEndpoints(String(compute.id), novaUrl(state.ports));
}
