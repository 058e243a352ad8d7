// Where the raw `pci-passthrough:*` values come from: the Pulumi runtime (a deployment) or a
// Pulumi.<stack>.yaml file (the offline render and the tests). Both give parseSiteConfig the same shape.
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { NAMESPACE, SECRET_PLACEHOLDER } from "./problems";

/** The raw values of the project's keys, namespace stripped. */
export type RawConfig = Record<string, unknown>;

/** From `pulumi.runtime.allConfig()`: object values arrive as JSON text, plain values as strings. */
export function fromRuntimeConfig(all: Readonly<Record<string, string>>): RawConfig {
  const raw: RawConfig = {};
  for (const [key, value] of Object.entries(all)) {
    if (!key.startsWith(`${NAMESPACE}:`)) continue;
    let parsed: unknown = value;
    try {
      parsed = JSON.parse(value);
    } catch {
      // A plain string value.
    }
    raw[key.slice(NAMESPACE.length + 1)] = parsed;
  }
  return raw;
}

export interface StackFile {
  /** The project's keys, namespace stripped, with every `secure:` value replaced by SECRET_PLACEHOLDER. */
  readonly raw: RawConfig;
  /** Every other namespace's keys (e.g. `openstack:authUrl`), secure values replaced likewise. */
  readonly other: Record<string, unknown>;
  /** Key paths (`pci-passthrough:maas.apiKey`) whose values were secure. */
  readonly secretPaths: string[];
}

function hideSecrets(value: unknown, path: string, secretPaths: string[]): unknown {
  if (Array.isArray(value)) return value.map((v, i) => hideSecrets(v, `${path}[${i}]`, secretPaths));
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1 && entries[0]![0] === "secure") {
      secretPaths.push(path);
      return SECRET_PLACEHOLDER;
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, hideSecrets(v, `${path}.${k}`, secretPaths)]));
  }
  return value;
}

/** Reads a Pulumi.<stack>.yaml text. Secure values are never decrypted: they become SECRET_PLACEHOLDER. */
export function fromStackFile(text: string): StackFile {
  const doc: unknown = parseYaml(text) ?? {};
  const config = (doc as { config?: unknown }).config ?? {};
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new Error("the stack file's `config:` is not a mapping");
  }
  const raw: RawConfig = {};
  const other: Record<string, unknown> = {};
  const secretPaths: string[] = [];
  for (const [key, value] of Object.entries(config as Record<string, unknown>)) {
    const hidden = hideSecrets(value, key, secretPaths);
    if (key.startsWith(`${NAMESPACE}:`)) raw[key.slice(NAMESPACE.length + 1)] = hidden;
    else other[key] = hidden;
  }
  return { raw, other, secretPaths };
}

/** The inverse of fromStackFile: a Pulumi.<stack>.yaml text from the project's raw values (namespace
 * added) and other namespaces' keys. For generated and edited stacks (tests, benchmarks). */
export function toStackFile(raw: Readonly<RawConfig>, other: Readonly<Record<string, unknown>> = {}): string {
  const config: Record<string, unknown> = { ...other };
  for (const [k, v] of Object.entries(raw)) config[`${NAMESPACE}:${k}`] = v;
  return stringifyYaml({ config });
}
