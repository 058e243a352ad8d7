// The pure core of `npm run import-maas`: from the machines' hardware as MAAS recorded it (domain/
// maas-hardware.ts), the host groups to propose, each decision with the reason a YAML comment will say, and
// what is refused. No I/O, no YAML: the CLI reads MAAS (live or `--from DIR`) and writes the proposal.
import { CHARM_APPS } from "../../domain/charms";
import { modelName } from "../lib/names";
import { checkGroup, describeMember, driverKeepsGroupViable, type GroupFinding } from "../../domain/iommu";
import { consoleFunctions, hostCritical, iommuGroupOf, type MachineHardware, type PciFunctionInfo } from "../../domain/maas-hardware";
import { deviceId } from "../../domain/pci";

/** Which functions to propose, and where the machines came from. */
export interface ProposeOptions {
  /** Propose display controllers (LXD's `gpu.cards`); default true. */
  readonly gpus?: boolean;
  /** Propose these vendor:product ids too (`8086:1592`), lower case. */
  readonly ids?: readonly string[];
  /** The resource pool and zone the machines were read from (`machines read pool=X zone=Y`): a group that
   * selects by device is scoped to them. */
  readonly scope?: { readonly pool?: string; readonly zone?: string };
  /** Set when the machines read are not all the machines of the scope (system IDs or a tag were named): what
   * was named. A selection by device would then tag machines nobody read, so the hosts are listed by system ID. */
  readonly partialRead?: string;
}

/** One proposed `devices` entry of a group. */
export interface ProposedDevice {
  /** One alias per vendor:product across the site (`pci-alias` is the whole cloud's). */
  readonly alias: string;
  readonly vendorId: string;
  readonly productId: string;
  /** `NVIDIA Corporation GP104GL [Quadro P5000]`. */
  readonly description: string;
  /** Its addresses on every host of the group, sorted. */
  readonly addresses: readonly string[];
  /** vendor:product of the other functions of its IOMMU group (the card's own), across the group's hosts. */
  readonly companions: readonly string[];
  /** `type-PF` when the device can do SR-IOV on any host. */
  readonly deviceType?: "type-PF";
  /** The most VFs any host's device can have (sriov_totalvfs). */
  readonly totalVfs?: number;
  /** NUMA node of each address (the same on every host of the group; otherwise a reason says so). */
  readonly numaNodes: Readonly<Record<string, number>>;
  /** Why, one sentence each: the comment lines above the entry. */
  readonly reasons: readonly string[];
}

/** How the group's MAAS tag finds its machines. */
export type ProposedSelection =
  | { readonly selectByDevice: true; readonly pool?: string; readonly zone?: string; readonly reason: string }
  | { readonly machines: readonly string[]; readonly reason: string };

export interface ProposedGroup {
  /** Lower-case letters, digits and `-`, from its devices' aliases. */
  readonly name: string;
  readonly tag: string;
  readonly application: string;
  readonly hosts: ReadonlyArray<{ readonly systemId: string; readonly hostname: string }>;
  readonly selection: ProposedSelection;
  readonly iommu?: "intel" | "amd";
  readonly blacklistDrivers: readonly string[];
  readonly devices: readonly ProposedDevice[];
  /** The group's own comment lines: the kind, its IOMMU, its blacklist decisions, notes about its hosts. */
  readonly reasons: readonly string[];
}

/** A device that is not proposed, and why (`kind` for tests and summaries, `messages` for people). */
export interface Refusal {
  readonly systemId: string;
  readonly hostname: string;
  readonly address: string;
  readonly id: string;
  readonly kind: "not-viable" | "host-critical" | "console" | "virtual-function";
  readonly messages: readonly string[];
}

export interface Proposal {
  readonly groups: readonly ProposedGroup[];
  readonly refusals: readonly Refusal[];
  /** Machines in no group, each with why. */
  readonly leftOut: ReadonlyArray<{ readonly systemId: string; readonly hostname: string; readonly reason: string }>;
  /** About the site rather than a group. */
  readonly notes: readonly string[];
}

const nounOf = (f: PciFunctionInfo): string => (f.role === "gpu" ? "GPU" : f.role === "network" ? "NIC" : "device");
const uniq = <T>(xs: readonly T[]): T[] => [...new Set(xs)];
const byAddress = (a: { address: string }, b: { address: string }) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0);

/** One accepted device on one machine. */
interface Accepted {
  readonly fn: PciFunctionInfo;
  readonly companions: readonly PciFunctionInfo[];
  readonly notes: readonly string[];
}

interface MachineRead {
  readonly m: MachineHardware;
  readonly accepted: readonly Accepted[];
  /** The consoles the display class took in and this left out. */
  readonly consoleNotes: readonly string[];
}

/** What is selected on one machine, checked against its IOMMU groups; refusals and notes out. */
function analyse(m: MachineHardware, opts: ProposeOptions, refusals: Refusal[]): MachineRead {
  const ids = opts.ids ?? [];
  const critical = hostCritical(m);
  const consoles = consoleFunctions(m);
  const refuse = (fn: PciFunctionInfo, kind: Refusal["kind"], messages: string[]) =>
    refusals.push({ systemId: m.systemId, hostname: m.hostname, address: fn.address, id: deviceId(fn), kind, messages });

  const wanted = m.functions.filter((f) => ((opts.gpus ?? true) && f.role === "gpu") || ids.includes(deviceId(f)));
  const selected: PciFunctionInfo[] = [];
  const consoleNotes: string[] = [];
  for (const f of wanted) {
    const console = consoles.find((c) => c.fn.address === f.address);
    if (console !== undefined) {
      // Asked for by id: refused. Taken in by the display class: left out, as import-lspci leaves it out.
      if (ids.includes(deviceId(f))) refuse(f, "console", [`${describeMember(f)} is ${console.what}: never passed through`]);
      else consoleNotes.push(`left out: ${describeMember(f)}, ${console.what}`);
    } else if (f.physfn !== undefined) {
      refuse(f, "virtual-function", [`${describeMember(f)} is a virtual function of ${f.physfn}: VFs come and go with the PF's driver; pass the PF (type-PF) or configure SR-IOV instead`]);
    } else {
      const self = critical.find((c) => c.address === f.address);
      if (self !== undefined) refuse(f, "host-critical", [`${describeMember(f)} is ${self.what}: never passed through`]);
      else selected.push(f);
    }
  }
  const selectedAddresses = new Set(selected.map((f) => f.address));
  const selectedSlots = new Set(selected.map((f) => f.slot));

  const accepted: Accepted[] = [];
  for (const f of selected) {
    if (m.iommu === "known") {
      const members = iommuGroupOf(m, f.iommuGroup!);
      // Companions: the other functions of the selected cards' slots in this group (a GPU's audio, USB-C and
      // UCSI functions), never a host-critical one. A function of another slot (a NIC behind the same bridge)
      // is not the card's: taking it from the host is not a companion's business.
      const companions = members.filter(
        (o) => !selectedAddresses.has(o.address) && selectedSlots.has(o.slot) && o.role !== "bridge" && !critical.some((c) => c.address === o.address),
      );
      const claimed = new Set([...selected.filter((s) => s.iommuGroup === f.iommuGroup).map((s) => s.address), ...companions.map((c) => c.address)]);
      const findings = checkGroup({ group: f.iommuGroup!, device: f, deviceNoun: nounOf(f), members, claimed, critical });
      const blocking = findings.filter((x: GroupFinding) => x.kind !== "unbound");
      if (blocking.length > 0) {
        const kind = blocking.some((x) => x.kind === "host-critical") ? "host-critical" : "not-viable";
        refuse(f, kind, blocking.map((x) => x.message));
        continue;
      }
      accepted.push({ fn: f, companions, notes: findings.map((x) => x.message) });
    } else {
      const companions = m.functions.filter((o) => o.slot === f.slot && !selectedAddresses.has(o.address) && !critical.some((c) => c.address === o.address));
      const why = m.iommu === "iommu-off" ? "the IOMMU was off while it was commissioned" : "its commissioning data has no IOMMU groups, as before MAAS 3.0";
      accepted.push({
        fn: f,
        companions,
        notes: [`IOMMU group of ${f.address} on ${m.hostname} not known (${why}): its slot's other functions are taken as companions; commission it again with the IOMMU on to check the group`],
      });
    }
  }
  return { m, accepted, consoleNotes };
}

function aliasBase(f: PciFunctionInfo): string {
  return (f.productName !== undefined ? modelName(f.productName) : undefined) ?? (f.role === "gpu" ? "gpu" : f.role === "network" ? "nic" : "pci");
}

/** One alias per vendor:product, unique: the model (`p5000`), else `gpu`, with `-PRODUCT` when two share it. */
function aliasesFor(fns: readonly PciFunctionInfo[]): Map<string, string> {
  const ids = uniq(fns.map(deviceId)).sort();
  const first = (id: string) => fns.find((f) => deviceId(f) === id)!;
  const bases = ids.map((id) => aliasBase(first(id)));
  const names = ids.map((id, i) => (bases.filter((b) => b === bases[i]).length > 1 ? `${bases[i]}-${first(id).productId}` : bases[i]!));
  return new Map(ids.map((id, i) => [id, names[i]!]));
}

/** Group names from aliases, unique by IOMMU vendor, then `-v2`, `-v3` (at most 32 characters). */
function groupNames(kinds: readonly { aliases: readonly string[]; iommu?: string }[]): string[] {
  const bases = kinds.map((k) => k.aliases.join("-").slice(0, 32).replace(/-+$/, ""));
  const withVendor = bases.map((b, i) => {
    const same = kinds.filter((_, j) => bases[j] === b);
    const vendor = kinds[i]!.iommu;
    return same.length > 1 && new Set(same.map((k) => k.iommu)).size > 1 && vendor !== undefined ? `${b.slice(0, 31 - vendor.length)}-${vendor}` : b;
  });
  return withVendor.map((n, i) => {
    const before = withVendor.slice(0, i).filter((x) => x === n).length;
    return before === 0 ? n : `${n.slice(0, 29)}-v${before + 1}`;
  });
}

function sriovReason(id: string, hosts: readonly { hostname: string; f: PciFunctionInfo }[]): string {
  const capable = hosts.filter((h) => h.f.sriov !== undefined);
  const total = Math.max(...capable.map((h) => h.f.sriov!.totalVfs));
  const enabled = capable.filter((h) => h.f.sriov!.currentVfs > 0).map((h) => `${h.hostname} ${h.f.address} had ${h.f.sriov!.currentVfs}`);
  return (
    `${id} can do SR-IOV (sriov_totalvfs ${total} on ${uniq(capable.map((h) => h.hostname)).join(", ")}): libvirt reports such a device as having ` +
    "virtual functions even when none are created, Nova records it as type-PF, and PciDeviceStats drops PFs from every request " +
    "that does not ask for type-PF (nova/virt/libvirt/driver.py, nova/pci/stats.py): without deviceType type-PF no flavor asking for it is scheduled." +
    (enabled.length > 0 ? ` VFs were enabled while commissioning (${enabled.join("; ")}): unbinding the PF's driver to hand it to vfio-pci removes them.` : "")
  );
}

/**
 * The proposal for a set of machines. Two machines are one kind when they have the same accepted functions
 * (address and vendor:product) and the same IOMMU vendor, as `import-lspci` decides (a group's addresses and
 * whitelist are its hosts' own; its tag carries one IOMMU's kernel options). Companions and drivers do not
 * split a kind: the group takes every host's. A machine with nothing accepted is left out, saying why.
 */
export function proposeSite(machines: readonly MachineHardware[], opts: ProposeOptions = {}): Proposal {
  const refusals: Refusal[] = [];
  const leftOut: { systemId: string; hostname: string; reason: string }[] = [];
  const notes: string[] = [];
  const reads = machines.map((m) => analyse(m, opts, refusals));

  const kinds: { key: string; iommu?: "intel" | "amd"; reads: MachineRead[] }[] = [];
  for (const r of reads) {
    if (r.accepted.length === 0) {
      const own = refusals.filter((x) => x.systemId === r.m.systemId);
      leftOut.push({
        systemId: r.m.systemId,
        hostname: r.m.hostname,
        reason:
          own.length > 0
            ? `every selected device refused (${own.map((x) => x.address).join(", ")})`
            : `no device selected (no GPU but its console, no --id match)${r.consoleNotes.length > 0 ? `; ${r.consoleNotes.join("; ")}` : ""}`,
      });
      continue;
    }
    if (r.m.iommuVendor === undefined) notes.push(`${r.m.hostname}: CPU vendor not known: set the group's host.iommu by hand`);
    const key = r.accepted.map((a) => `${a.fn.address}=${deviceId(a.fn)}`).sort().join(" ");
    const kind = kinds.find((k) => k.key === key && k.iommu === r.m.iommuVendor);
    if (kind) kind.reads.push(r);
    else kinds.push({ key, ...(r.m.iommuVendor !== undefined ? { iommu: r.m.iommuVendor } : {}), reads: [r] });
  }

  const allAccepted = kinds.flatMap((k) => k.reads.flatMap((r) => r.accepted.map((a) => ({ m: r.m, a }))));
  const aliases = aliasesFor(allAccepted.map((x) => x.a.fn));
  const names = groupNames(kinds.map((k) => ({ aliases: uniq(k.reads[0]!.accepted.map((a) => aliases.get(deviceId(a.fn))!)), ...(k.iommu ? { iommu: k.iommu } : {}) })));

  const groups = kinds.map((k, gi): ProposedGroup => {
    const name = names[gi]!;
    const hosts = k.reads.map((r) => ({ systemId: r.m.systemId, hostname: r.m.hostname }));
    const inGroup = new Set(hosts.map((h) => h.systemId));
    const ids = uniq(k.reads[0]!.accepted.map((a) => deviceId(a.fn))).sort();

    const devices = ids.map((id): ProposedDevice => {
      const per = k.reads.flatMap((r) => r.accepted.filter((a) => deviceId(a.fn) === id).map((a) => ({ hostname: r.m.hostname, f: a.fn, a })));
      const first = per[0]!.f;
      const companions = uniq(per.flatMap((p) => p.a.companions.map(deviceId))).filter((c) => c !== id).sort();
      const reasons: string[] = [];
      const numaNodes: Record<string, number> = {};
      for (const address of uniq(per.map((p) => p.f.address)).sort()) {
        const nodes = uniq(per.filter((p) => p.f.address === address).map((p) => p.f.numaNode));
        numaNodes[address] = nodes[0]!;
        if (nodes.length > 1) reasons.push(`${address} is on NUMA nodes ${nodes.join(", ")} on different hosts: check the BIOS settings (NPS, sub-NUMA clustering)`);
      }
      if (new Set(Object.values(numaNodes)).size > 1) {
        reasons.push(
          `on NUMA nodes ${Object.entries(numaNodes).map(([a, n]) => `${n} (${a})`).join(", ")}: with numaPolicy required a guest takes devices of its own node only`,
        );
      }
      if (companions.length > 0) {
        const list = uniq(per.flatMap((p) => p.a.companions.map((c) => `${c.address} ${deviceId(c)} ${c.label}`)));
        reasons.push(`companions: the other functions of its IOMMU group, bound to vfio-pci with it (${list.join("; ")})`);
      }
      reasons.push(...uniq(per.flatMap((p) => p.a.notes)));
      // One device_type per vendor:product across the site: type-PF when SR-IOV capable on any host.
      const siteCapable = allAccepted.filter((x) => deviceId(x.a.fn) === id && x.a.fn.sriov !== undefined);
      if (siteCapable.length > 0) reasons.push(sriovReason(id, siteCapable.map((x) => ({ hostname: x.m.hostname, f: x.a.fn }))));
      return {
        alias: aliases.get(id)!,
        vendorId: first.vendorId,
        productId: first.productId,
        description: [first.vendorName, first.productName].filter((s) => s !== undefined).join(" ") || id,
        addresses: uniq(per.map((p) => p.f.address)).sort(),
        companions,
        ...(siteCapable.length > 0 ? { deviceType: "type-PF" as const, totalVfs: Math.max(...siteCapable.map((x) => x.a.fn.sriov!.totalVfs)) } : {}),
        numaNodes,
        reasons,
      };
    });

    // Selection: by device when no machine outside the group shows one of its ids and MAAS has node devices
    // for every host (selectByDevice asks `node-devices read`); otherwise the hosts' system IDs.
    const others = reads.filter((r) => !inGroup.has(r.m.systemId) && r.m.functions.some((f) => ids.includes(deviceId(f))));
    const preThree = k.reads.filter((r) => !r.m.hasNodeDevices).map((r) => r.m.hostname);
    let selection: ProposedSelection;
    if (others.length === 0 && preThree.length === 0 && opts.partialRead === undefined) {
      const { pool, zone } = opts.scope ?? {};
      const scope = [pool !== undefined ? `pool ${pool}` : undefined, zone !== undefined ? `zone ${zone}` : undefined].filter((s) => s !== undefined);
      selection = {
        selectByDevice: true,
        ...(pool !== undefined ? { pool } : {}),
        ...(zone !== undefined ? { zone } : {}),
        reason:
          `selectByDevice: no other machine read here has ${ids.join(", ")}; ` +
          (scope.length > 0
            ? `scoped to ${scope.join(", ")}, the machines read, so a machine elsewhere in MAAS with the same card is not tagged`
            : "nothing scopes it (no --pool, --zone): it tags every machine in MAAS that has these devices, whatever its pool"),
      };
    } else {
      const why = [
        ...(opts.partialRead !== undefined ? [`only ${opts.partialRead} were read, not every machine of the scope: a selection by device could tag machines nobody read`] : []),
        ...(others.length > 0 ? [`${others.map((r) => r.m.hostname).join(", ")} ${others.length === 1 ? "has" : "have"} ${ids.join(", ")} too but ${others.length === 1 ? "is" : "are"} not of this kind`] : []),
        ...(preThree.length > 0 ? [`MAAS has no node devices for ${preThree.join(", ")} (commissioned before 3.0), so selectByDevice would not find ${preThree.length === 1 ? "it" : "them"}`] : []),
      ];
      selection = { machines: hosts.map((h) => h.systemId), reason: `machines by system ID: ${why.join("; ")}` };
    }

    // Blacklist: the drivers bound to the group's display devices, never one the host keeps using elsewhere
    // (its own USB, NICs, console) and never a passthrough driver. Other devices' drivers are not blacklisted:
    // they are unbound and handed to vfio-pci (the runbook: "GPU devices do require blacklisting").
    const groupReasons: string[] = [];
    const taken = (r: MachineRead) => new Set(r.accepted.flatMap((a) => [a.fn.address, ...a.companions.map((c) => c.address)]));
    const blacklist: string[] = [];
    for (const r of k.reads) {
      for (const a of r.accepted) {
        const d = a.fn.driver;
        if (d === undefined) {
          if (a.fn.role === "gpu") groupReasons.push(`${a.fn.address} (${deviceId(a.fn)}) had no driver while ${r.m.hostname} was commissioned: nothing to blacklist for it from MAAS's data (add the driver the deployed OS installs, e.g. nvidia)`);
          continue;
        }
        if (blacklist.includes(d) || driverKeepsGroupViable(d)) continue;
        if (a.fn.role !== "gpu") {
          groupReasons.push(`not blacklisted: ${d} (${a.fn.label} at ${a.fn.address}): only GPU drivers are; the device is unbound and handed to vfio-pci`);
          continue;
        }
        const keeper = k.reads.flatMap((o) => o.m.functions.filter((f) => f.driver === d && !taken(o).has(f.address)).map((f) => ({ o, f })))[0];
        if (keeper !== undefined) {
          groupReasons.push(`not blacklisted: ${d} also drives ${describeMember(keeper.f)} on ${keeper.o.m.hostname}, which the host keeps`);
          continue;
        }
        blacklist.push(d);
      }
      for (const c of r.accepted.flatMap((a) => a.companions)) {
        if (c.driver === undefined || driverKeepsGroupViable(c.driver)) continue;
        const line = `companion driver ${c.driver} not blacklisted: the prepare script rebinds the companions to vfio-pci, and the host may use ${c.driver} for its own devices`;
        if (!groupReasons.includes(line)) groupReasons.push(line);
      }
    }
    blacklist.sort();
    if (blacklist.length > 0) groupReasons.unshift(`blacklistDrivers: ${blacklist.join(", ")}, bound to the group's GPUs while commissioning and used by nothing the hosts keep`);
    const iommuLine =
      k.iommu === "intel" ? "host.iommu intel: the hosts' CPUs are Intel's (the tag adds intel_iommu=on)" : k.iommu === "amd" ? "host.iommu amd: the hosts' CPUs are AMD's (its IOMMU is on by default)" : "host.iommu: not known, set it";
    const hostNotes = k.reads.flatMap((r) => [...r.consoleNotes, ...r.m.notes].map((n) => `${r.m.hostname}: ${n}`));
    return {
      name,
      tag: `pci-pass-${name}`,
      application: `${CHARM_APPS.compute}-${name}`,
      hosts,
      selection,
      ...(k.iommu !== undefined ? { iommu: k.iommu } : {}),
      blacklistDrivers: blacklist,
      devices,
      reasons: [`${name}: ${hosts.length} ${hosts.length === 1 ? "host" : "hosts"}: ${hosts.map((h) => `${h.hostname} (${h.systemId})`).join(", ")}`, iommuLine, ...uniq(groupReasons), ...hostNotes],
    };
  });

  return { groups, refusals: refusals.sort((a, b) => (a.hostname === b.hostname ? byAddress(a, b) : a.hostname < b.hostname ? -1 : 1)), leftOut, notes };
}
