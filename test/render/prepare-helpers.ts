// What the prepare-script suites share: the stacks' groups, fake machines of each kind, and applying a userdata to a
// fake machine as cloud-init would (write_files, then postruncmd), with what it changed.
import assert from "node:assert/strict";
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { requireSiteConfig } from "../../config/parse";
import type { Binding, HostGroup } from "../../config/types";
import { INITRAMFS_MODULES_PATH, hostFiles } from "../../render/host/files";
import { renderUserdata, type WriteFileEntry } from "../../render/host/userdata";
import { PREPARE_SCRIPT_PATH } from "../../render/host/prepare";
import { MARKER_PATH, parseMarker, type Marker } from "../../render/host/marker";
import { fakeHost, snapshot, type FakeFunction, type FakeHost, type FakeHostOptions, type RunResult } from "../fake-host";
import { editStack, loadStack } from "../helpers";

export const MIXED = loadStack("mixed").groups;

/** The mixed stack with other bindings, so every binding is run from the prepare script. */
export const ROTATED = requireSiteConfig(
  editStack("mixed", (raw) => {
    const groups = raw.hostGroups as { host: { binding: Binding } }[];
    groups[0]!.host.binding = "rc-local";
    groups[1]!.host.binding = "modprobe";
  }),
).groups;

export const groupNamed = (groups: readonly HostGroup[], name: string): HostGroup => {
  const g = groups.find((x) => x.name === name);
  assert.ok(g, `group ${name}`);
  return g;
};

/** The distribution's own file the userdata appends to (initramfs-tools ships it with comments). */
export const DISTRO_FILES: Readonly<Record<string, string>> = { [INITRAMFS_MODULES_PATH]: "# List of modules that you want to include in your initramfs.\n" };

export interface Userdata {
  write_files: WriteFileEntry[];
  postruncmd: string[];
}

export const parseUserdata = (text: string) => parse(text, { version: "1.1" }) as Userdata;

/** write_files as cloud-init applies it, into the fake root: content decoded, written or appended ("ab"
 * or "wb"), then the permissions set (cloudinit/config/cc_write_files.py write_files, util.write_file). */
export function applyWriteFiles(dest: string, files: readonly WriteFileEntry[]): void {
  for (const f of files) {
    const file = path.join(dest, f.path);
    const content = f.encoding === "b64" ? Buffer.from(f.content, "base64") : Buffer.from(f.content, "utf8");
    mkdirSync(path.dirname(file), { recursive: true });
    if (f.append) appendFileSync(file, content);
    else writeFileSync(file, content);
    chmodSync(file, parseInt(f.permissions, 8));
  }
}

/** What changed between two snapshots: each added or changed path with its new value, removed paths as
 * "(removed)". Directories are left out when `files` (mkdir -p of a file's directory is no change of note). */
export function changes(before: Map<string, string>, after: Map<string, string>, files = false): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [p, v] of after) if (before.get(p) !== v && !(files && v.startsWith("dir "))) out[p] = v;
  for (const p of before.keys()) if (!after.has(p)) out[p] = "(removed)";
  return out;
}

export interface Outcome {
  readonly host: FakeHost;
  readonly run: RunResult;
  /** Changes to the fake sysfs by the prepare script. */
  readonly sysfs: Record<string, string>;
  /** Changes to the fake root's files by the prepare script (after write_files). */
  readonly files: Record<string, string>;
  /** Whether the script left both trees exactly as write_files left them, directories included, but for the
   * marker. */
  readonly unchanged: boolean;
  /** The marker the script wrote at its end (render/host/marker.ts), read back; undefined when none. */
  readonly marker?: Marker;
}

/** The marker and its directory: what every run of the prepare script writes, outside the group's files. */
const MARKER = MARKER_PATH.slice(1);
export const withoutMarker = (c: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(c).filter(([p]) => p !== MARKER && !MARKER.startsWith(`${p}/`)));

function markerOf(dest: string): Marker | undefined {
  const file = path.join(dest, MARKER_PATH);
  if (!existsSync(file)) return undefined;
  const m = parseMarker(readFileSync(file, "utf8"));
  assert.ok(m.ok, m.ok ? "" : m.problem);
  return m.marker;
}

/**
 * Provisions a fake machine with the userdata of `groups`: write_files into its root, then each postruncmd
 * entry (for several groups: the prepare script the userdata wrote, run from the fake root). Returns what
 * the commands changed.
 */
export function provision(groups: readonly HostGroup[], functions: readonly FakeFunction[], opts: FakeHostOptions = {}): Outcome {
  const userdata = parseUserdata(renderUserdata(groups));
  const host = fakeHost(functions, { files: DISTRO_FILES, ...opts });
  applyWriteFiles(host.dest, userdata.write_files);
  const sysBefore = snapshot(host.root);
  const rootBefore = snapshot(host.dest);
  assert.deepEqual(userdata.postruncmd, [PREPARE_SCRIPT_PATH], "postruncmd runs the script write_files wrote");
  const run = host.runFile(path.join(host.dest, PREPARE_SCRIPT_PATH));
  const sysAfter = snapshot(host.root);
  const rootAfter = snapshot(host.dest);
  return {
    host,
    run,
    sysfs: changes(sysBefore, sysAfter),
    files: withoutMarker(changes(rootBefore, rootAfter, true)),
    unchanged: Object.keys(changes(sysBefore, sysAfter)).length === 0 && Object.keys(withoutMarker(changes(rootBefore, rootAfter))).length === 0,
    marker: markerOf(host.dest),
  };
}

/** A fake machine with the userdata's files written (write_files) and nothing run yet. */
export function withFakeHostFor(groups: readonly HostGroup[], functions: readonly FakeFunction[], opts: FakeHostOptions, fn: (host: FakeHost) => void): void {
  const host = fakeHost(functions, { files: DISTRO_FILES, ...opts });
  try {
    applyWriteFiles(host.dest, parseUserdata(renderUserdata(groups)).write_files);
    fn(host);
  } finally {
    host.cleanup();
  }
}

/** Runs `fn` on a provisioned machine and removes it afterwards. */
export function withProvisioned(groups: readonly HostGroup[], functions: readonly FakeFunction[], opts: FakeHostOptions, fn: (o: Outcome) => void): void {
  const o = provision(groups, functions, opts);
  try {
    fn(o);
  } finally {
    o.host.cleanup();
  }
}

/** The files a machine of `group` must have gained: hostFiles(group), as written (appended to the
 * distribution's file where hostFiles says append), each with its mode, as the snapshot shows them. */
export function expectedFiles(group: HostGroup): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of hostFiles(group)) {
    const before = f.append ? (DISTRO_FILES[f.path] ?? "") : "";
    out[f.path.slice(1)] = `file ${f.permissions} ${before}${f.content}`;
  }
  return out;
}

export const override = (address: string) => `devices/pci0000:00/${address}/driver_override`;
export const VFIO = "file 0644 vfio-pci\n";
export const written = (s: string) => `file 0644 ${s}`;

// The machines. Each has a device of its own (the host's igb NIC) that no group passes through.
export const HOST_NIC: FakeFunction = { address: "0000:01:00.0", id: "8086:1521", driver: "igb", group: 3 };
export const A100_HOST: FakeFunction[] = [
  HOST_NIC,
  // Blacklisted by the MAAS tag's kernel options: no driver at first boot.
  { address: "0000:17:00.0", id: "10de:20b5", group: 20 },
  { address: "0000:31:00.0", id: "10de:20b5", group: 21 },
];
// The same first slot as the A100 hosts, another vendor:product.
export const L40S_HOST: FakeFunction[] = [
  HOST_NIC,
  { address: "0000:17:00.0", id: "10de:26b9", driver: "nouveau", group: 20 },
  { address: "0000:ca:00.0", id: "10de:26b9", driver: "nouveau", group: 40 },
];
// Both ports of the ConnectX-6 Dx, each its own IOMMU group: only the configured one is passed through.
export const NIC_HOST: FakeFunction[] = [
  HOST_NIC,
  { address: "0000:b1:00.0", id: "15b3:101d", driver: "mlx5_core", group: 50 },
  { address: "0000:b1:00.1", id: "15b3:101d", driver: "mlx5_core", group: 51 },
];
// One of the machines the nic group's tag lists (Pulumi.mixed.yaml).
export const NIC_MACHINE = "n7xk2p";
// The groups' first slot holds another GPU (an A10): the address alone would have taken it for a GPU host.
export const NO_GROUP_HOST: FakeFunction[] = [HOST_NIC, { address: "0000:17:00.0", id: "10de:2236", driver: "nvidia", group: 20 }];
