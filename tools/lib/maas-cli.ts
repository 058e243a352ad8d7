// The read-only `maas` CLI calls of import-maas and check-maas, made here (the `maas` on PATH, with its
// logged-in PROFILE), into the same documents a `--from DIR` holds (maas-documents.ts).
//
// How maascli answers (canonical/maas src/maascli/api.py Action.__call__, utils.py print_response_content):
// the response body on stdout, exit 0 for a 2xx; for any other status the body on stdout too and exit 2; a
// region that cannot be reached, or an unknown profile, exits 2 with the message on stderr. So a call is
// judged by its exit status and the JSON it printed, never by the text of an error, which is only shown.
import { spawnSync } from "node:child_process";
import { COMMISSIONING_OUTPUT_NAME } from "../../domain/maas-api";
import { machinesReadArgs, neverCommissioned, systemIdsOf, unionOfMachines, type MachineFilter, type MaasDocuments } from "./maas-documents";

/** A call that did not answer with JSON: the command line and what it printed (its first lines). */
export interface FailedCall {
  readonly call: string;
  readonly said: string;
}

export type CallResult = { readonly ok: true; readonly json: unknown } | ({ readonly ok: false } & FailedCall);

/** `maas PROFILE ARGS...`, read-only; its JSON, or why there is none. */
export function maasJson(profile: string, args: readonly string[]): CallResult {
  const argv = [profile, ...args];
  const call = `maas ${argv.join(" ")}`;
  const r = spawnSync("maas", argv, { encoding: "utf8", maxBuffer: 256 << 20, stdio: ["ignore", "pipe", "pipe"] });
  if (r.error) return { ok: false, call, said: r.error.message };
  // The last line said: the message after maascli's usage line on stderr, or the region's body on stdout.
  const said = () =>
    [r.stderr, r.stdout]
      .map((t) => (t ?? "").split("\n").map((l) => l.trim()).filter((l) => l !== ""))
      .find((ls) => ls.length > 0)
      ?.at(-1) ?? `exit ${r.status}`;
  if (r.status !== 0) return { ok: false, call, said: `exit ${r.status}: ${said()}` };
  try {
    return { ok: true, json: JSON.parse(r.stdout) as unknown };
  } catch {
    return { ok: false, call, said: `exit 0 but not JSON: ${said()}` };
  }
}

/** What to read besides the machines and their hardware. */
export interface LiveReadOptions {
  /** `tags read` and `maas get-config name=kernel_opts` (check-maas). */
  readonly kernelOptions?: boolean;
}

/**
 * The documents of the machines `machines read` answers with each filter (one call per filter, the machines
 * of all of them once each): per machine (unless MAAS never
 * commissioned it) its node devices and its current commissioning's machine-resources document. Stops at the
 * first call that fails: nothing is known of a MAAS that does not answer.
 */
export function readLive(
  profile: string,
  filters: readonly MachineFilter[],
  opts: LiveReadOptions = {},
): { ok: true; docs: MaasDocuments } | ({ ok: false } & FailedCall) {
  let tags: unknown;
  let kernelOpts: unknown;
  if (opts.kernelOptions) {
    const t = maasJson(profile, ["tags", "read"]);
    if (!t.ok) return t;
    tags = t.json;
    // src/maasserver/api/maas.py MaasHandler.get_config: json.dumps of the value, `null` when unset.
    const k = maasJson(profile, ["maas", "get-config", "name=kernel_opts"]);
    if (!k.ok) return k;
    kernelOpts = k.json;
  }
  const answers: unknown[] = [];
  for (const filter of filters) {
    const read = maasJson(profile, ["machines", "read", ...machinesReadArgs(filter)]);
    if (!read.ok) return read;
    answers.push(read.json);
  }
  const machines = { json: unionOfMachines(answers) };
  const resources = new Map<string, unknown>();
  const nodeDevices = new Map<string, unknown>();
  const sources = new Map<string, string>();
  const raw = Array.isArray(machines.json) ? (machines.json as Array<{ system_id?: unknown; status_name?: string }>) : [];
  for (const id of systemIdsOf(machines.json)) {
    if (neverCommissioned(raw.find((m) => m.system_id === id) ?? {})) continue;
    // src/maasserver/api/nodedevices.py NodeDevicesHandler.read: `[]` for a machine commissioned before 3.0.
    const devices = maasJson(profile, ["node-devices", "read", id]);
    if (!devices.ok) return devices;
    nodeDevices.set(id, devices.json);
    sources.set(`${id}.node-devices.json`, `maas ${profile} node-devices read ${id}`);
    // src/maasserver/api/scriptresults.py NodeScriptResultHandler.read: the current commissioning's results
    // named by the filter, each output base64-encoded with include_output.
    const args = ["node-script-result", "read", id, "current-commissioning", "include_output=true", `filters=${COMMISSIONING_OUTPUT_NAME}`];
    const results = maasJson(profile, args);
    if (!results.ok) return results;
    resources.set(id, results.json);
    sources.set(`${id}.json`, `maas ${profile} ${args.join(" ")}`);
  }
  return {
    ok: true,
    docs: { machines: machines.json, resources, nodeDevices, sources, ...(tags !== undefined ? { tags } : {}), ...(opts.kernelOptions ? { kernelOpts } : {}) },
  };
}
