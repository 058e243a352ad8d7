// What a case renders for its machines: the userdata as cloud-init receives it from Juju, each group's kernel options
// and files, and what a machine must not get from the other groups of its site.
import { hostFiles, type HostFile } from "../../render/host/files";
import { userdataParts } from "../../render/host/userdata";
import { asCloudInitSeesIt } from "../juju-userdata-merge";
import { renderSite } from "../../render/site";
import type { ForeignToGroup, HostVmCase, Machine, MachineRendered, Rendered } from "./types";

/** What the groups other than `group` (every group when undefined: a machine of no group) have and the
 * machine (its files and kernel options) does not. */
export function foreignTo(rendered: Rendered, group: string | undefined, files: readonly HostFile[], kernelOptions: string): ForeignToGroup {
  const own = new Set([...files, ...rendered.written].map((f) => f.path));
  const ownOptions = new Set(kernelOptions.split(/\s+/));
  const foreignFiles = new Map<string, string[]>();
  const foreignOptions = new Map<string, string[]>();
  const add = (m: Map<string, string[]>, key: string, other: string) => m.set(key, [...(m.get(key) ?? []), other]);
  for (const [other, otherFiles] of rendered.files) {
    if (other === group) continue;
    for (const f of otherFiles) if (!own.has(f.path)) add(foreignFiles, f.path, other);
    for (const opt of (rendered.kernelOptions.get(other) ?? "").split(/\s+/).filter(Boolean)) if (!ownOptions.has(opt)) add(foreignOptions, opt, other);
  }
  return { files: foreignFiles, kernelOptions: foreignOptions };
}

/** What a machine of a case must not get from the other groups of its site (exported so a test can
 * prove that a mixed-group case has something to tell apart). */
export function foreignToMachine(c: HostVmCase, m: Machine): ForeignToGroup {
  return forMachine(render(c), c, m).foreign;
}

export function render(c: HostVmCase): Rendered {
  const artifacts = renderSite(c.site);
  const userdata = c.breakUserdata ? c.breakUserdata(artifacts.userdata) : artifacts.userdata;
  return {
    cloudConfig: asCloudInitSeesIt(userdata),
    kernelOptions: new Map(artifacts.groups.map((g) => [g.group.name ?? "", g.kernelOptions])),
    files: new Map(c.site.groups.map((g) => [g.name ?? "", hostFiles(g)])),
    written: userdataParts(c.site.groups).files,
  };
}

export function forMachine(rendered: Rendered, c: HostVmCase, m: Machine): MachineRendered {
  const group = m.group ?? c.site.groups[0]!.name ?? "";
  const kernelOptions = m.kernelOptions ?? rendered.kernelOptions.get(group);
  const groupFiles = rendered.files.get(group);
  // On a site with several groups write_files writes what lets a machine prepare itself (the prepare
  // script): it is on every machine, beside its group's files. With one group it writes just those.
  const files = m.files ?? (groupFiles && [...groupFiles, ...rendered.written.filter((w) => !groupFiles.some((f) => f.path === w.path))]);
  if (kernelOptions === undefined || files === undefined) throw new Error(`machine ${m.name}: no host group ${group}`);
  // A machine whose files are given is not taken for a host of its group (e.g. a machine of no group).
  const foreign = foreignTo(rendered, m.files === undefined ? group : undefined, files, kernelOptions);
  return { cloudConfig: rendered.cloudConfig, kernelOptions, files, foreign };
}
