// The pure core of `npm run check-maas`: holds a site's host groups against what MAAS recorded about the
// machines their selections take. Plain structures in (the CLI turns a SiteConfig into them and reads MAAS),
// one finding per machine and group out, with the exit code `verify` uses.
import { checkGroup, effectiveParam, kernelParams, sameParam } from "../../domain/iommu";
import { hostCritical, iommuGroupOf, type MachineHardware } from "../../domain/maas-hardware";
import { deviceId } from "../../domain/pci";

/** One configured device, as the site has it. */
export interface CheckDevice {
  readonly alias: string;
  readonly vendorId: string;
  readonly productId: string;
  readonly addresses: readonly string[];
  readonly companions: readonly string[];
  readonly numaPolicy?: "required" | "legacy" | "preferred" | "socket";
}

/** One host group: its tag, the kernel options the tag carries, its selection and devices. */
export interface CheckGroup {
  /** For messages: the group's name, or its tag for a site without host groups. */
  readonly name: string;
  readonly tag: string;
  /** The group's tag's kernel_opts as the site renders them (`intel_iommu=on iommu=pt ...`). */
  readonly kernelOptions: string;
  readonly iommu: "intel" | "amd";
  readonly selection: {
    readonly machines?: readonly string[];
    readonly selectByDevice?: boolean;
    readonly definition?: string;
    readonly pool?: string;
    readonly zone?: string;
  };
  readonly devices: readonly CheckDevice[];
  /** Per alias, the most devices one flavor asks for (the NUMA check needs that many on one node). */
  readonly requests?: Readonly<Record<string, number>>;
}

export interface CheckInput {
  readonly groups: readonly CheckGroup[];
  /** Every machine read (`machines read`, with the pool/zone filters the groups use). */
  readonly machines: readonly MachineHardware[];
  /** Every tag with its kernel options (`maas PROFILE tags read`). */
  readonly tags: ReadonlyArray<{ readonly name: string; readonly kernel_opts: string }>;
  /** MAAS's global kernel options (`maas PROFILE maas get-config name=kernel_opts`), put first. */
  readonly globalKernelOptions?: string;
  /** Machines whose documents could not be read, with why. */
  readonly unreadable?: ReadonlyArray<{ readonly systemId: string; readonly why: string }>;
}

export type Status = "in sync" | "drift" | "config error" | "unreachable";

export interface Finding {
  /** `machine gpu-p5000-01 (4y3h7a) in group p5000`. */
  readonly object: string;
  readonly status: Status;
  readonly details: readonly string[];
}

/** Exit code as `verify`'s: 2 when the site itself is wrong, 3 when something could not be read (the
 * picture is incomplete), 1 on drift, 0 in sync. */
export function exitCode(findings: readonly Finding[]): 0 | 1 | 2 | 3 {
  if (findings.some((f) => f.status === "config error")) return 2;
  if (findings.some((f) => f.status === "unreachable")) return 3;
  return findings.some((f) => f.status === "drift") ? 1 : 0;
}

/**
 * A machine's effective kernel options: MAAS's global ones, then the kernel_opts of each of its tags that has
 * any, in tag-name order, joined with spaces (canonical/maas src/maasserver/models/node.py
 * Node.get_effective_kernel_options, which orders by name in the database; code-point order here, which is
 * the same for the lower-case names tags usually have). Each part keeps the tag it came from.
 */
export function effectiveKernelOptions(
  tagNames: readonly string[],
  tags: CheckInput["tags"],
  globalOptions = "",
): { cmdline: string; parts: { source: string; options: string }[] } {
  const parts = [
    ...(globalOptions.trim() !== "" ? [{ source: "the global kernel_opts", options: globalOptions.trim() }] : []),
    ...tags
      .filter((t) => tagNames.includes(t.name) && t.kernel_opts.trim() !== "")
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((t) => ({ source: `tag ${t.name}`, options: t.kernel_opts.trim() })),
  ];
  return { cmdline: parts.map((p) => p.options).join(" "), parts };
}

/** Which parts set a parameter, in order. */
const setters = (parts: { source: string; options: string }[], key: string) =>
  parts.flatMap((p) => kernelParams(p.options).filter((k) => sameParam(k.key, key)).map((k) => ({ source: p.source, value: k.value ?? "" })));

/** Contradictions between the machine's effective options and the group's. */
function kernelProblems(m: MachineHardware, g: CheckGroup, input: CheckInput): string[] {
  const { cmdline, parts } = effectiveKernelOptions(m.tags, input.tags, input.globalKernelOptions);
  const ours = `tag ${g.tag}`;
  const out: string[] = [];
  const iommuKey = g.iommu === "intel" ? "intel_iommu" : "amd_iommu";
  const final = effectiveParam(cmdline, iommuKey);
  if (final !== undefined && final.split(",").includes("off")) {
    const by = setters(parts, iommuKey).filter((s) => s.value.split(",").includes("off")).map((s) => s.source);
    out.push(`${iommuKey}=off from ${by.join(", ")} wins on the kernel command line (the last one counts): the IOMMU will be off and no device can be passed through`);
  }
  const ids = setters(parts, "vfio-pci.ids");
  const foreign = ids.filter((s) => s.source !== ours);
  if (foreign.length > 0 && ids.length > 1) {
    const last = ids[ids.length - 1]!;
    out.push(
      `vfio-pci.ids is given ${ids.length} times (${ids.map((s) => `${s.source}: ${s.value}`).join("; ")}): the kernel keeps only the last one, ${last.source}'s`,
    );
  } else if (foreign.length > 0) {
    out.push(`vfio-pci.ids=${foreign[0]!.value} from ${foreign[0]!.source}: another source of vfio-pci ids on this group's host`);
  }
  return out;
}

const slotOf = (address: string) => address.slice(0, address.lastIndexOf("."));

const inScope = (m: MachineHardware, s: CheckGroup["selection"]) => (s.pool === undefined || m.pool === s.pool) && (s.zone === undefined || m.zone === s.zone);

/** The machines a group's selection takes, and the machine IDs it names that MAAS did not return. */
export function selectedMachines(g: CheckGroup, machines: readonly MachineHardware[]): { taken: MachineHardware[]; unknown: string[] } {
  const s = g.selection;
  if (s.machines !== undefined) {
    return { taken: machines.filter((m) => s.machines!.includes(m.systemId)), unknown: s.machines.filter((id) => !machines.some((m) => m.systemId === id)) };
  }
  if (s.selectByDevice) {
    const ids = new Set(g.devices.map(deviceId));
    return { taken: machines.filter((m) => inScope(m, s) && m.functions.some((f) => ids.has(deviceId(f)))), unknown: [] };
  }
  // An XPath definition: MAAS applies the tag itself; the machines that carry it are the selection.
  return { taken: machines.filter((m) => m.tags.includes(g.tag)), unknown: [] };
}

function checkMachine(m: MachineHardware, g: CheckGroup, all: readonly CheckGroup[], input: CheckInput): Finding {
  const object = `machine ${m.hostname} (${m.systemId}) in group ${g.name}`;
  const drift: string[] = [];
  const notes: string[] = [];
  if (g.selection.selectByDevice && !m.hasNodeDevices) {
    notes.push("MAAS has no node devices for it (commissioned before 3.0): selectByDevice does not find it; commission it again");
  }
  if (!m.tags.includes(g.tag) && g.selection.definition === undefined) drift.push(`not tagged ${g.tag}`);
  const otherTags = all.filter((o) => o !== g && m.tags.includes(o.tag)).map((o) => `${o.tag} (group ${o.name})`);
  if (otherTags.length > 0) drift.push(`also carries ${otherTags.join(", ")}: a machine is in one group (check the other tag's selection or definition)`);

  // Every configured address holds the configured vendor:product.
  const configured = new Map<string, string>();
  for (const d of g.devices) for (const a of d.addresses) configured.set(a, deviceId(d));
  const present: string[] = [];
  for (const [address, id] of configured) {
    const f = m.functions.find((x) => x.address === address);
    const elsewhere = m.functions.filter((x) => deviceId(x) === id && !configured.has(x.address)).map((x) => x.address);
    const hint = elsewhere.length > 0 ? ` (${id} is at ${elsewhere.join(", ")}: moved to another slot?)` : "";
    if (f === undefined) drift.push(`${address}: no PCI function there, expected ${id}${hint}`);
    else if (deviceId(f) !== id) drift.push(`${address}: holds ${deviceId(f)} (${f.label}), expected ${id}${hint}`);
    else present.push(address);
  }

  // Companions match and the groups are viable: what the prepare script binds (every function of the group
  // with a configured vendor:product) must leave nothing with a host driver, and nothing the host needs.
  const boundIds = new Set([...g.devices.map(deviceId), ...g.devices.flatMap((d) => d.companions)]);
  const critical = hostCritical(m);
  if (m.iommu !== "known" && present.length > 0) {
    notes.push(`IOMMU groups not known (${m.iommu === "iommu-off" ? "the IOMMU was off while commissioning" : "the commissioning data has none, as before MAAS 3.0"}): companions and group viability not checked`);
  } else {
    for (const address of present) {
      const f = m.functions.find((x) => x.address === address)!;
      const members = iommuGroupOf(m, f.iommuGroup!);
      const claimed = new Set(members.filter((x) => boundIds.has(deviceId(x))).map((x) => x.address));
      const noun = f.role === "gpu" ? "GPU" : f.role === "network" ? "NIC" : "device";
      for (const finding of checkGroup({ group: f.iommuGroup!, device: f, deviceNoun: noun, members, claimed, critical })) {
        if (finding.kind === "unbound") continue;
        const id = deviceId(finding.member);
        const fix = finding.kind === "shares" && slotOf(finding.member.address) === f.slot ? ` (add ${id} to the companions of ${deviceId(f)})` : "";
        const line = finding.message + fix;
        if (!drift.includes(line)) drift.push(line);
      }
    }
  }

  // The NUMA policy can be met: a request for N devices of an alias with `required` (or `legacy`, where
  // every device reports its node) needs N of them on one NUMA node (nova/pci/stats.py filters pools by the
  // guest's cells).
  for (const d of g.devices) {
    const want = g.requests?.[d.alias];
    if (want === undefined || (d.numaPolicy !== "required" && d.numaPolicy !== "legacy")) continue;
    const perNode = new Map<number, string[]>();
    for (const a of d.addresses.filter((x) => present.includes(x))) {
      const n = m.functions.find((x) => x.address === a)!.numaNode;
      perNode.set(n, [...(perNode.get(n) ?? []), a]);
    }
    const most = Math.max(0, ...[...perNode.values()].map((v) => v.length));
    if (most < want) {
      const where = [...perNode.entries()].sort((a, b) => a[0] - b[0]).map(([n, as]) => `${as.length} on node ${n} (${as.join(", ")})`).join(", ");
      drift.push(`numaPolicy ${d.numaPolicy}: a flavor asks for ${d.alias}:${want}, which needs ${want} on one NUMA node; this host has ${where || "none"}`);
    }
  }

  drift.push(...kernelProblems(m, g, input));
  return { object, status: drift.length > 0 ? "drift" : "in sync", details: [...drift, ...notes.map((n) => `note: ${n}`)] };
}

/** Every group's machines, checked; machines taken by two groups' selections, found once per pair. */
export function checkMaas(input: CheckInput): Finding[] {
  const findings: Finding[] = [];
  for (const u of input.unreadable ?? []) findings.push({ object: `machine ${u.systemId}`, status: "unreachable", details: [u.why] });
  const takenBy = new Map<string, string[]>();
  for (const g of input.groups) {
    const { taken, unknown } = selectedMachines(g, input.machines);
    for (const id of unknown) {
      if ((input.unreadable ?? []).some((u) => u.systemId === id)) continue;
      findings.push({ object: `machine ${id} in group ${g.name}`, status: "drift", details: [`MAAS does not know it (tag update-nodes ignores unknown system IDs): check maas.machines`] });
    }
    if (taken.length === 0 && unknown.length === 0) findings.push({ object: `group ${g.name}`, status: "drift", details: ["its selection takes no machine MAAS knows"] });
    for (const m of taken) {
      takenBy.set(m.systemId, [...(takenBy.get(m.systemId) ?? []), g.name]);
      findings.push(checkMachine(m, g, input.groups, input));
    }
    for (const m of input.machines.filter((x) => x.tags.includes(g.tag) && !taken.includes(x))) {
      findings.push({ object: `machine ${m.hostname} (${m.systemId}) in group ${g.name}`, status: "drift", details: [`tagged ${g.tag} but not in the group's selection: its next deployment gets the group's kernel options`] });
    }
  }
  for (const [id, names] of takenBy) {
    if (names.length < 2) continue;
    const m = input.machines.find((x) => x.systemId === id)!;
    findings.push({ object: `machine ${m.hostname} (${id})`, status: "drift", details: [`taken by the selections of ${names.join(" and ")}: a machine is in one group`] });
  }
  return findings;
}

/** The report, one line per finding and its details indented, as `verify` prints. */
export function report(findings: readonly Finding[]): string {
  const label: Record<Status, string> = { "in sync": "in sync     ", drift: "DRIFT       ", "config error": "CONFIG ERROR", unreachable: "UNREACHABLE " };
  return findings.map((f) => [`${label[f.status]} ${f.object}`, ...f.details.map((d) => `               ${d}`)].join("\n")).join("\n") + "\n";
}
