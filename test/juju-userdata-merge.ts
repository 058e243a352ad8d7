// A model of Juju's merge of a model's cloudinit-userdata, for the tests only: the userdata as cloud-init
// receives it once Juju has folded in its own commands (juju/juju internal/cloudconfig/userdatacfg_unix.go
// ConfigureBasic / ConfigureJuju / ConfigureCustomOverrides), which `cloud-init schema` and the VM suite read.
import { stringify } from "yaml";
import { JUJU_YAML_OPTIONS, parseJujuUserdata } from "../domain/juju";

/** A preruncmd/postruncmd entry: a string, or a list of strings (Juju 3 runCmdToString). */
type RunCmd = string | string[];

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
  return `#cloud-config\n${stringify({ ...rest, runcmd }, JUJU_YAML_OPTIONS)}`;
}
