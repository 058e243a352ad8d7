// What the host probe suites share: the stacks' groups, fake booted hosts of each kind, running the probe on one
// and judging its output (tools/verify/hosts.ts).
import assert from "node:assert/strict";
import type { HostGroup } from "../../config/types";
import { kernelCmdline } from "../../render/host/kernel";
import { renderProbe } from "../../render/host/probe";
import { hostExpectations } from "../../render/host/expectations";
import { parseProbe, type ProbeOutput } from "../../render/host/probe-output";
import { analyseProbe, type HostReport } from "../../tools/verify/hosts";
import { BootedHost, withBootedHost, type BootedFunction } from "../fake-booted-host";
import { loadStack } from "../helpers";

export const DEV = loadStack("dev").groups;
export const MIXED = loadStack("mixed").groups;
export const named = (groups: readonly HostGroup[], name: string) => groups.find((g) => g.name === name)!;
export const A100 = named(MIXED, "a100");
export const L40S = named(MIXED, "l40s");

// The runbook's host (Pulumi.dev.yaml): two Quadro P5000s with their HDMI audio, each pair alone in its IOMMU
// group, and the host's own NIC. MAAS deployed it with the tag's options: nouveau blacklisted, the GPUs have no
// driver; snd_hda_intel took the audio functions.
export const NIC = { address: "0000:01:00.0", id: "8086:1521", driver: "igb", group: 3, class: "0x020000" };
export const P5000_HOST: BootedFunction[] = [
  NIC,
  { address: "0000:83:00.0", id: "10de:1bb0", group: 40, class: "0x030000" },
  { address: "0000:83:00.1", id: "10de:10f0", driver: "snd_hda_intel", group: 40, class: "0x040300" },
  { address: "0000:84:00.0", id: "10de:1bb0", group: 41, class: "0x030000" },
  { address: "0000:84:00.1", id: "10de:10f0", driver: "snd_hda_intel", group: 41, class: "0x040300" },
];
export const A100_HOST: BootedFunction[] = [
  NIC,
  { address: "0000:17:00.0", id: "10de:20b5", group: 20, class: "0x030200" },
  { address: "0000:31:00.0", id: "10de:20b5", group: 21, class: "0x030200" },
];
export const L40S_HOST: BootedFunction[] = [
  NIC,
  { address: "0000:17:00.0", id: "10de:26b9", driver: "nouveau", group: 20, class: "0x030200" },
  { address: "0000:ca:00.0", id: "10de:26b9", driver: "nouveau", group: 40, class: "0x030200" },
];

export const devHost = (fn: (h: BootedHost) => void, opts = {}) => withBootedHost(DEV, P5000_HOST, { maasKernelOptions: kernelCmdline(DEV[0]!), ...opts }, fn);

/** A host of a mixed group, deployed with the group's tag options, prepared and rebooted (drivers as given). */
export function rebooted(functions: readonly BootedFunction[], group: HostGroup, fn: (h: BootedHost) => void, drivers: Record<string, string> = {}): void {
  withBootedHost(MIXED, functions, { maasKernelOptions: kernelCmdline(group) }, (h) => {
    h.prepare();
    h.reboot(drivers);
    fn(h);
  });
}

/** Runs the site's probe on the host: it must exit 0 with nothing on stderr; returns its parsed output. */
export function probe(h: BootedHost, groups: readonly HostGroup[] = h.groups): { text: string; out: ProbeOutput } {
  const r = h.runScript(renderProbe(groups));
  assert.equal(r.stderr, "");
  assert.equal(r.status, 0);
  const parsed = parseProbe(r.stdout);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.problem);
  return { text: r.stdout, out: parsed.probe };
}

/** The verdict on a host of `group`. */
export function judge(h: BootedHost, group: HostGroup, host = "nova-compute/0"): HostReport {
  return analyseProbe(hostExpectations(group), host, probe(h).out);
}
