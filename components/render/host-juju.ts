// Juju's rules for the model's cloudinit-userdata, and the userdata as cloud-init receives it after Juju
// has merged in its own commands. Sources: juju/juju environs/config/config.go (validation) and
// internal/cloudconfig/userdatacfg_unix.go (ConfigureBasic / ConfigureJuju / ConfigureCustomOverrides).
import { parse, stringify } from "yaml";

/** Juju and cloud-init read YAML 1.1 (go-yaml, PyYAML): `on`, `yes`, `0644` must come out quoted. */
export const YAML_OPTIONS = { version: "1.1", lineWidth: 0 } as const;

/** Keys Juju refuses in cloudinit-userdata, with its own messages (environs/config/config.go). */
const REJECTED: Readonly<Record<string, string>> = {
  users: "users not allowed",
  runcmd: "runcmd not allowed, use preruncmd or postruncmd instead",
  bootcmd: "bootcmd not allowed",
};

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === "string");

/** A preruncmd/postruncmd entry: a string, or a list of strings (Juju 3 runCmdToString). */
type RunCmd = string | string[];

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

/**
 * A stand-in for the runcmd entries Juju adds itself between preruncmd and postruncmd: `set -xe` after
 * preruncmd (ConfigureBasic), a few of its own commands, and `set +xe` before postruncmd (LP #1978454).
 */
export const JUJU_OWN_RUNCMD = ["set -xe", "mkdir -p /var/lib/juju/locks", "mkdir -p /var/log/juju"] as const;

/**
 * The userdata as cloud-init sees it once Juju has merged it: preruncmd entries, Juju's own commands and
 * postruncmd entries folded into one `runcmd` list, every other key kept as given, with the
 * `#cloud-config` header cloud-init needs. This is what `cloud-init schema` must accept.
 */
export function asCloudInitSeesIt(userdata: string): string {
  const { preruncmd, postruncmd, ...rest } = parseJujuUserdata(userdata);
  const pre = (preruncmd ?? []) as RunCmd[];
  const post = (postruncmd ?? []) as RunCmd[];
  const runcmd: RunCmd[] = [...pre, ...JUJU_OWN_RUNCMD, ...(post.length > 0 ? ["set +xe"] : []), ...post];
  return `#cloud-config\n${stringify({ ...rest, runcmd }, YAML_OPTIONS)}`;
}
