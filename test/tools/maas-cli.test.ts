// `npm run import-maas` and `npm run check-maas` end to end: live through the fake maas (FAKE_MAAS_DOCUMENTS
// serves the fixtures as a MAAS that commissioned those machines would) and from `--from DIR`, which must say
// the same for the same data; the refusals with their messages; --write into a stack file; check-maas in
// sync and drifted; the exit codes (0/1/2/3, as verify).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { argvLog, world, type World } from "../fakes-world";
import { ROOT, expectGolden } from "../helpers";
import { MAAS_FIXTURES } from "../maas-fixtures";

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function tool(name: "import-maas" | "check-maas", args: string[], env: Record<string, string> = { PATH: process.env.PATH! }): Run {
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "tools", name, "main.ts"), ...args], { env, encoding: "utf8", cwd: ROOT });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A fake MAAS that commissioned the machines of `dir` (a `--from DIR`), with the profile admin. */
const maasOf = (dir: string, seed: Record<string, string> = {}): World => world({ FAKE_MAAS_PROFILES: "admin", FAKE_MAAS_DOCUMENTS: dir, ...seed });

/** A copy of the fixtures, edited: machines.json's tags, tags.json, any document. */
function fixtureDir(edit: (dir: string, json: (name: string, change: (x: any) => any) => void) => void = () => {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), "pcipt-maas-"));
  cpSync(MAAS_FIXTURES, dir, { recursive: true });
  edit(dir, (name, change) => {
    const file = path.join(dir, name);
    let value: unknown;
    try {
      value = JSON.parse(readFileSync(file, "utf8"));
    } catch {
      value = undefined;
    }
    writeFileSync(file, JSON.stringify(change(value), null, 4));
  });
  return dir;
}

const IMPORT = ["--profile", "admin", "--pool", "gpu-compute", "--id", "8086:1592"];

test("import-maas: live through maas and from --from DIR print the same proposal, byte for byte; only read-only calls", () => {
  const w = maasOf(MAAS_FIXTURES);
  const live = tool("import-maas", IMPORT, w.env);
  assert.equal(live.status, 0, live.stderr);
  const offline = tool("import-maas", [...IMPORT, "--from", MAAS_FIXTURES]);
  assert.equal(offline.status, 0, offline.stderr);
  assert.equal(live.stdout, offline.stdout);
  assert.equal(live.stderr, offline.stderr);
  expectGolden("import-maas-gpu-compute.yaml", live.stdout);
  const calls = argvLog(w, "maas").map((a) => a.join(" "));
  assert.equal(calls[0], "admin machines read pool=gpu-compute");
  assert.deepEqual(
    calls.filter((c) => c.includes(" q7ntur")),
    ["admin node-devices read q7ntur", "admin node-script-result read q7ntur current-commissioning include_output=true filters=50-maas-01-commissioning"],
  );
  // Eight machines in the pool, two reads each.
  assert.equal(calls.length, 1 + 8 * 2);
  assert.ok(calls.every((c) => / (read|get-config) /.test(` ${c} `)), calls.join("\n"));
});

test("import-maas: the mixed set's decisions and refusals, each with its message", () => {
  const r = tool("import-maas", ["--from", MAAS_FIXTURES, "--id", "8086:1592"]);
  assert.equal(r.status, 0, r.stderr);
  // The consumer board: the GPU shares group 2 with an I350 the host drives; desk-02 boots from it.
  assert.ok(
    r.stdout.includes(
      "# refused: desk-01 (c0nsm1) 0000:01:00.0 10de:1b06: 0000:02:00.0 (8086:1521, Ethernet controller, driver igb) shares IOMMU group 2 with the GPU at 0000:01:00.0",
    ),
    r.stdout.slice(0, 3000),
  );
  assert.match(r.stdout, /# refused: desk-02 \(c0nsm2\) 0000:01:00\.0 10de:1b06: 0000:02:00\.0 \(8086:1521, Ethernet controller, driver igb\), the machine's boot interface enp2s0f0/);
  assert.match(r.stdout, /# refused: gpu-t4-01 \(t4sw01\) 0000:5f:00\.0 10de:1eb8: 0000:60:00\.0 \(8086:0a54, Non-Volatile memory controller, driver nvme\), the controller of the machine's boot disk nvme0n1, shares IOMMU group 71/);
  assert.match(r.stdout, /# left out: desk-01 \(c0nsm1\): every selected device refused \(0000:01:00\.0\)/);
  // The same refusals on stderr, for a run that redirects the YAML.
  assert.match(r.stderr, /^import-maas: refused: desk-01 \(c0nsm1\) 0000:01:00\.0 10de:1b06: /m);
  // Unscoped: selectByDevice says it is not scoped.
  assert.match(r.stdout, /add pool: \(this cloud's MAAS resource pool\) and\/or zone: the config refuses selectByDevice unscoped/);
  // The Turing card: its audio, USB-C and UCSI functions are companions; the A100 and the E810 are PFs.
  assert.match(r.stdout, /companions: \["10de:10f8", "10de:1ad8", "10de:1ad9"\]/);
  assert.equal((r.stdout.match(/deviceType: type-PF/g) ?? []).length, 2);
});

test("import-maas: one kind of host gives devices, host and the tag's selection, not host groups", () => {
  const r = tool("import-maas", ["--profile", "admin", "--pool", "gpu-compute", "--from", MAAS_FIXTURES, "4y3h7a", "4y3h7b"]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!r.stdout.includes("hostGroups"));
  // Named machines are not the whole pool (gpu-p5000-03 there has the same card in another slot): a selection by
  // device would tag it too, so the proposal lists the machines.
  assert.match(r.stdout, /\npci-passthrough:maas:\n {2}profile: admin\n {2}# machines by system ID: only the machines named were read, not every machine of the scope[^\n]*\n {2}machines: \["4y3h7a", "4y3h7b"\]\n/);
  assert.match(r.stdout, /\npci-passthrough:host:\n {2}iommu: intel\n {2}blacklistDrivers: \[nouveau\]\n/);
  assert.match(r.stdout, /addresses: \["0000:3b:00\.0", "0000:d8:00\.0"\]\n {4}companions: \["10de:10f0"\]/);
});

test("import-maas: usage errors exit 2 naming the flag; an unknown system ID; MAAS down exits 3 naming the call", () => {
  const none = tool("import-maas", ["--pool", "x"]);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /^import-maas: --profile is required \(the maas CLI profile to read with\), or --from DIR\nusage: npm run import-maas/);
  const unknown = tool("import-maas", ["--profile", "admin", "--frm", "x"]);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /^import-maas: Unknown option '--frm'/);
  const both = tool("import-maas", ["--profile", "admin", "--tag", "gpu", "4y3h7a"]);
  assert.match(both.stderr, /^import-maas: give --tag T or SYSTEM_IDs, not both/);
  assert.equal(both.status, 2);
  const badId = tool("import-maas", ["--from", MAAS_FIXTURES, "--id", "10de"]);
  assert.match(badId.stderr, /--id "10de" is not a vendor:product id/);

  const w = maasOf(MAAS_FIXTURES);
  const missing = tool("import-maas", ["--profile", "admin", "4y3h7a", "zzzzzz"], w.env);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /MAAS has no machine zzzzzz \(maas admin machines read\)/);
  const down = tool("import-maas", ["--profile", "admin"], maasOf(MAAS_FIXTURES, { FAKE_MAAS_UNREACHABLE: "1" }).env);
  assert.equal(down.status, 3);
  assert.match(down.stderr, /^import-maas: MAAS could not be read: maas admin machines read: exit 2: \[Errno 111\] Connection refused$/m);
  const noPool = tool("import-maas", ["--profile", "admin", "--pool", "nosuch"], w.env);
  assert.equal(noPool.status, 3);
  assert.match(noPool.stderr, /maas admin machines read pool=nosuch: exit 2: \{"pool": \["No such pool\(s\): nosuch\."\]\}/);
});

test("import-maas: real documents' odd corners: nulls, absent sections, USB node devices, a machine never commissioned, a broken file", () => {
  const dir = fixtureDir((d, json) => {
    json("machines.json", (ms) => {
      ms.push({ ...ms[0], system_id: "n3wbox", hostname: "new-01", status_name: "New", boot_interface: null, boot_disk: null });
      delete ms[1].pool;
      ms[2].tag_names = null;
      return ms;
    });
    json("4y3h7a.json", (doc) => {
      doc.resources.storage.disks = null;
      doc.resources.network.cards[0].ports = null;
      delete doc.resources.usb;
      delete doc.environment;
      for (const p of doc.resources.pci.devices) delete p.vendor;
      return doc;
    });
    json("4y3h7b.node-devices.json", (ds) => [
      ...ds,
      { ...ds[0], bus: 2, bus_name: "USB", pci_address: null, vendor_id: "046b", product_id: "ff10", vendor_name: null, hardware_type_name: "Unknown", physical_interface: null, physical_blockdevice: null },
    ]);
    // A document giving some functions their IOMMU group and not others: the groups are not trusted.
    json("q7ntur.json", (doc) => {
      delete doc.resources.pci.devices[0].iommu_group;
      return doc;
    });
    writeFileSync(path.join(d, "a1rdx9.json"), "----- 50-maas-01-commissioning.out -----\n{ not json");
  });
  const r = tool("import-maas", ["--from", dir, "--pool", "gpu-compute"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /import-maas: not read: new-01 \(n3wbox\): new-01 \(n3wbox\) was never commissioned \(status New\): MAAS has no hardware data for it/);
  assert.match(r.stderr, /import-maas: not read: gpu-a100-01 \(a1rdx9\): .*a1rdx9\.json: expected the machine-resources document alone \(node-script-result download \.\.\. filters=50-maas-01-commissioning output=stdout\)/);
  assert.match(r.stdout, /# not read: gpu-a100-01 \(a1rdx9\): /);
  assert.match(r.stdout, /name: p5000\n/);
  assert.match(r.stdout, /# IOMMU group of 0000:41:00\.0 on gpu-rtx5000-01 not known \(its commissioning data has no IOMMU groups, as before MAAS 3\.0\): its slot's other functions are taken as companions/);
  assert.match(r.stdout, /# gpu-rtx5000-01: the commissioning data gives no IOMMU group for 0000:[0-9a-f:.]+: its groups are not used \(commission again\)\n/);
  // machines.json that is not a list of machines: exit 2, with the key path.
  const bad = fixtureDir((_d, json) => json("machines.json", (ms) => [{ ...ms[0], system_id: "Not-An-Id" }]));
  const b = tool("import-maas", ["--from", bad]);
  assert.equal(b.status, 2);
  assert.match(b.stderr, /machines\.json: \[0\]\.system_id: expected a MAAS system ID/);
  // No GPU but the console: nothing proposed, exit 1, saying why.
  const consoleOnly = tool("import-maas", ["--from", MAAS_FIXTURES, "c0nsm1"]);
  assert.equal(consoleOnly.status, 1);
  assert.match(consoleOnly.stderr, /left out: desk-01 \(c0nsm1\): every selected device refused/);
});

test("import-maas --write: merges into the stack file, keeping what is there", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "pcipt-write-"));
  const file = path.join(dir, "Pulumi.site.yaml");
  writeFileSync(
    file,
    [
      "# the site's own comment",
      "config:",
      "  pci-passthrough:maas:",
      "    profile: admin",
      "    tag: gpu-hosts",
      "    machines: [abc123]",
      "  pci-passthrough:host:",
      "    iommu: amd",
      "    binding: modprobe",
      "    blacklistDrivers: [nvidia]",
      "  pci-passthrough:devices:",
      "    - alias: old",
      '      vendorId: "10de"',
      '      productId: "0001"',
      '      addresses: ["0000:01:00.0"]',
      "  pci-passthrough:juju:",
      "    model: openstack",
      "",
    ].join("\n"),
  );
  const r = tool("import-maas", ["--profile", "admin", "--pool", "gpu-compute", "--from", MAAS_FIXTURES, "--write", "site", "--stack-file", file, "4y3h7a", "4y3h7b"]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "");
  const text = readFileSync(file, "utf8");
  assert.match(text, /^# the site's own comment\nconfig:\n {2}pci-passthrough:maas:\n {4}profile: admin\n {4}tag: gpu-hosts\n/);
  assert.ok(!text.includes("abc123"), text);
  // Two machines named, not the whole pool (which holds gpu-p5000-03 with the same card elsewhere): by system ID.
  assert.match(text, /machines: \["4y3h7a", "4y3h7b"\]/);
  assert.ok(!text.includes("selectByDevice"), text);
  assert.match(text, /pci-passthrough:host:\n {4}iommu: intel\n {4}binding: modprobe\n {4}blacklistDrivers: \[nouveau\]\n/);
  assert.ok(!text.includes("alias: old"));
  assert.match(text, /pci-passthrough:juju:\n {4}model: openstack\n/);
  // Host groups into a stack of one kind of host: refused, nothing written.
  const groups = tool("import-maas", ["--from", MAAS_FIXTURES, "--pool", "gpu-compute", "--write", "site", "--stack-file", file]);
  assert.equal(groups.status, 2);
  assert.match(groups.stderr, /Pulumi\.site\.yaml has one kind of host \(pci-passthrough:devices and host\) and the proposal has host groups/);
  assert.equal(readFileSync(file, "utf8"), text);
});

// ---------------------------------------------------------------------------------------------------
// check-maas

const P5000_STACK = (machines: string[], extra = "") =>
  [
    "config:",
    "  pci-passthrough:maas:",
    "    profile: admin",
    "  pci-passthrough:hostGroups:",
    "    - name: p5000",
    "      maas:",
    "        tag: pci-pass-p5000",
    `        machines: [${machines.map((m) => `"${m}"`).join(", ")}]`,
    "      application: nova-compute-p5000",
    "      host:",
    "        iommu: intel",
    "        iommuPassthrough: true",
    "        blacklistDrivers: [nouveau]",
    "      devices:",
    "        - alias: p5000",
    '          vendorId: "10de"',
    '          productId: "1bb0"',
    '          addresses: ["0000:3b:00.0", "0000:d8:00.0"]',
    '          companions: ["10de:10f0"]',
    extra,
    "  pci-passthrough:juju:",
    "    model: openstack",
    "  pci-passthrough:openstack:",
    "    release: 2024.1",
    "  pci-passthrough:flavors:",
    "    - name: g1.p5000",
    "      ram: 8192",
    "      vcpus: 4",
    "      disk: 40",
    "      pci:",
    "        p5000: 1",
    "",
  ].join("\n");

const OURS = "intel_iommu=on iommu=pt modprobe.blacklist=nouveau";

/** The fixtures as MAAS shows them after the stack ran: its tag on `tagged`, the tags (with kernel_opts). */
function afterUp(tagged: Record<string, string[]>, tags: Array<{ name: string; kernel_opts: string }>, edit?: Parameters<typeof fixtureDir>[0]): string {
  return fixtureDir((d, json) => {
    json("machines.json", (ms) => ms.map((m: any) => ({ ...m, tag_names: [...m.tag_names, ...(tagged[m.system_id] ?? [])].sort() })));
    json("tags.json", () => tags.map((t) => ({ name: t.name, definition: "", comment: "", kernel_opts: t.kernel_opts, resource_uri: `/MAAS/api/2.0/tags/${t.name}/` })));
    edit?.(d, json);
  });
}

function checkBoth(stackText: string, dir: string): Run {
  const stackDir = mkdtempSync(path.join(tmpdir(), "pcipt-check-"));
  const file = path.join(stackDir, "Pulumi.site.yaml");
  writeFileSync(file, stackText);
  const offline = tool("check-maas", ["site", "--stack-file", file, "--from", dir]);
  const w = maasOf(dir);
  const live = tool("check-maas", ["site", "--stack-file", file], w.env);
  // The same findings either way; only the first line says where they came from.
  assert.equal(live.status, offline.status, `${live.stdout}\n---\n${offline.stdout}`);
  assert.equal(live.stdout.split("\n").slice(1).join("\n"), offline.stdout.split("\n").slice(1).join("\n"));
  assert.ok(argvLog(w, "maas").every((a) => ["read", "get-config"].includes(a[2]!)), "read-only calls");
  return offline;
}

const TAGS = [
  { name: "gpu-commissioning", kernel_opts: "intel_iommu=on" },
  { name: "pci-pass-p5000", kernel_opts: OURS },
];

test("check-maas: in sync (exit 0) when the machines hold what the stack says", () => {
  const dir = afterUp({ "4y3h7a": ["pci-pass-p5000"], "4y3h7b": ["pci-pass-p5000"] }, TAGS);
  const r = checkBoth(P5000_STACK(["4y3h7a", "4y3h7b"]), dir);
  assert.equal(r.status, 0, r.stdout);
  assert.equal(
    r.stdout,
    `Checking stack site against MAAS (the files of ${dir}), read-only\n\nin sync      machine gpu-p5000-01 (4y3h7a) in group p5000\nin sync      machine gpu-p5000-02 (4y3h7b) in group p5000\n\n2 of 2 in sync: in sync\n`,
  );
  const json = tool("check-maas", ["site", "--stack-file", path.join(mkdtempSync(path.join(tmpdir(), "pcipt-")), "x"), "--from", dir]);
  assert.equal(json.status, 2, "no such stack file: usage");
});

test("check-maas: drift (exit 1): a card moved to another slot; another tag's intel_iommu=off and vfio-pci.ids; two groups' tags", () => {
  const tags = [...TAGS, { name: "zz-legacy", kernel_opts: "intel_iommu=off" }, { name: "aa-vfio", kernel_opts: "vfio-pci.ids=10de:1eb8" }, { name: "pci-pass-t4", kernel_opts: "" }];
  const dir = afterUp({ "4y3h7a": ["pci-pass-p5000", "zz-legacy", "aa-vfio"], "4y3h7b": ["pci-pass-p5000", "pci-pass-t4"], fk8ctd: ["pci-pass-p5000"], t4sw01: ["pci-pass-t4"] }, tags);
  const t4 = [
    "    - name: t4",
    "      maas:",
    "        tag: pci-pass-t4",
    '        machines: ["t4sw01"]',
    "      application: nova-compute-t4",
    "      host:",
    "        iommu: intel",
    "      devices:",
    "        - alias: t4",
    '          vendorId: "10de"',
    '          productId: "1eb8"',
    '          addresses: ["0000:5f:00.0"]',
  ].join("\n");
  const r = checkBoth(P5000_STACK(["4y3h7a", "4y3h7b", "fk8ctd"], t4), dir);
  assert.equal(r.status, 1, r.stdout);
  const block = (object: string) => {
    const lines = r.stdout.split("\n");
    const i = lines.findIndex((l) => l.endsWith(` ${object}`));
    assert.ok(i >= 0, `${object} in\n${r.stdout}`);
    const end = lines.findIndex((l, j) => j > i && !l.startsWith("    "));
    return lines.slice(i, end).join("\n");
  };
  assert.equal(
    block("machine gpu-p5000-03 (fk8ctd) in group p5000"),
    "DRIFT        machine gpu-p5000-03 (fk8ctd) in group p5000\n               0000:d8:00.0: no PCI function there, expected 10de:1bb0 (10de:1bb0 is at 0000:af:00.0: moved to another slot?)",
  );
  assert.equal(
    block("machine gpu-p5000-01 (4y3h7a) in group p5000"),
    [
      "DRIFT        machine gpu-p5000-01 (4y3h7a) in group p5000",
      "               intel_iommu=off from tag zz-legacy wins on the kernel command line (the last one counts): the IOMMU will be off and no device can be passed through",
      "               vfio-pci.ids=10de:1eb8 from tag aa-vfio: another source of vfio-pci ids on this group's host",
    ].join("\n"),
  );
  assert.match(block("machine gpu-p5000-02 (4y3h7b) in group p5000"), /also carries pci-pass-t4 \(group t4\): a machine is in one group/);
  assert.match(r.stdout, /DRIFT {8}machine gpu-t4-01 \(t4sw01\) in group t4\n {15}0000:60:00\.0 \(8086:0a54, Non-Volatile memory controller, driver nvme\), the controller of the machine's boot disk nvme0n1, shares IOMMU group 71/);
  assert.match(r.stdout, /\n\d+ of \d+ in sync: drift: see above\n$/);
});

test("check-maas: the global kernel_opts come first; MAAS down exits 3; a broken stack exits 2; --json", () => {
  const dir = afterUp({ "4y3h7a": ["pci-pass-p5000"], "4y3h7b": ["pci-pass-p5000"] }, TAGS, (_d, json) => json("kernel_opts.json", () => "intel_iommu=off"));
  // The tags' intel_iommu=on comes after the global one: the IOMMU stays on.
  assert.equal(checkBoth(P5000_STACK(["4y3h7a", "4y3h7b"]), dir).status, 0);

  const stackDir = mkdtempSync(path.join(tmpdir(), "pcipt-check-"));
  const file = path.join(stackDir, "Pulumi.site.yaml");
  writeFileSync(file, P5000_STACK(["4y3h7a", "4y3h7b"]));
  const down = tool("check-maas", ["site", "--stack-file", file], maasOf(dir, { FAKE_MAAS_UNREACHABLE: "1" }).env);
  assert.equal(down.status, 3);
  assert.match(down.stdout, /UNREACHABLE {2}MAAS \(profile admin\)\n {15}maas admin tags read: exit 2: \[Errno 111\] Connection refused\n/);

  writeFileSync(file, P5000_STACK(["4y3h7a"]).replace("iommu: intel", "iommu: arm"));
  const broken = tool("check-maas", ["site", "--stack-file", file, "--from", dir]);
  assert.equal(broken.status, 2);
  assert.match(broken.stderr, /hostGroups\[0\]\.host\.iommu: "arm" is not intel or amd/);

  writeFileSync(file, P5000_STACK(["4y3h7a"]));
  const json = tool("check-maas", ["site", "--stack-file", file, "--from", dir, "--json"]);
  assert.equal(json.status, 1);
  const parsed = JSON.parse(json.stdout);
  assert.equal(parsed.exitCode, 1);
  assert.deepEqual(parsed.findings.at(-1), {
    object: "machine gpu-p5000-02 (4y3h7b) in group p5000",
    status: "drift",
    details: ["tagged pci-pass-p5000 but not in the group's selection: its next deployment gets the group's kernel options"],
  });
  assert.equal(tool("check-maas", ["site", "--stack-file", file, "--form", dir]).status, 2);
});
