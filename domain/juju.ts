// Juju's rules (docs/domain.md, "Juju models and cloudinit-userdata" and "Juju bundles and overlays"): the names
// of models, applications and relation endpoints, and what Juju accepts in a model's cloudinit-userdata.
// Sources: juju/names (names), juju/juju environs/config/config.go (the userdata's validation).
import { parse } from "yaml";

/** Juju model names: lowercase letters, digits and hyphens, not starting with a hyphen (juju/names). */
export const JUJU_MODEL_NAME = /^[a-z0-9]+[a-z0-9-]*$/;

/** Juju application names (juju/names IsValidApplication): lowercase letters, digits and hyphens, starting
 * with a letter, every hyphen-separated part holding a letter. */
export const JUJU_APPLICATION_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]*[a-z][a-z0-9]*)*$/;

/** `APP:ENDPOINT` as a bundle's relations write it (juju/names application and relation names). */
export const JUJU_ENDPOINT_REF = /^([a-z][a-z0-9]*(?:-[a-z0-9]*[a-z][a-z0-9]*)*):([a-z][a-z0-9]*(?:[_-][a-z0-9]+)*)$/;

/** Juju and cloud-init read YAML 1.1 (go-yaml, PyYAML): `on`, `yes`, `0644` must come out quoted. */
export const JUJU_YAML_OPTIONS = { version: "1.1", lineWidth: 0 } as const;

/** Keys Juju refuses in cloudinit-userdata, with its own messages (environs/config/config.go). */
const REJECTED: Readonly<Record<string, string>> = {
  users: "users not allowed",
  runcmd: "runcmd not allowed, use preruncmd or postruncmd instead",
  bootcmd: "bootcmd not allowed",
};

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === "string");

/** What Juju would refuse in a parsed cloudinit-userdata value, as `cloudinit-userdata: ...` lines. */
export function jujuUserdataProblems(userdata: unknown): string[] {
  if (!isMapping(userdata)) return ["cloudinit-userdata: must be a YAML mapping"];
  const problems: string[] = [];
  for (const [key, message] of Object.entries(REJECTED)) {
    if (key in userdata) problems.push(`cloudinit-userdata: ${message}`);
  }
  if ("packages" in userdata && !isStringList(userdata.packages)) {
    problems.push("cloudinit-userdata: packages must be a list of strings");
  }
  for (const key of ["preruncmd", "postruncmd"]) {
    if (!(key in userdata)) continue;
    const cmds = userdata[key];
    if (!Array.isArray(cmds)) {
      problems.push(`cloudinit-userdata: ${key} must be a list`);
      continue;
    }
    cmds.forEach((c: unknown, i) => {
      if (typeof c !== "string" && !isStringList(c)) {
        problems.push(`cloudinit-userdata: ${key}[${i}] must be a string or a list of strings`);
      }
    });
  }
  return problems;
}

/** Parses userdata text as Juju does and throws on anything Juju would refuse. */
export function parseJujuUserdata(userdata: string): Record<string, unknown> {
  const value: unknown = parse(userdata, { version: "1.1" });
  const problems = jujuUserdataProblems(value);
  if (problems.length > 0 || !isMapping(value)) throw new Error(problems.join("\n"));
  return value;
}
