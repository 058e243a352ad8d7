// `npm run import-lspci` on several hosts' captures: one host group per kind of host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { importHosts, type HostCapture, type SiteImport } from "../../tools/import-lspci/hosts";
import { importLspci } from "../../tools/import-lspci/import";
import { modelName } from "../../tools/lib/names";
import { renderProposal } from "../../tools/import-lspci/proposal";
import { parseSiteConfig } from "../../config/parse";
import { formatProblems } from "../../config/problems";
import { flavorGroups } from "../../domain/nova-pci";
import { JUJU_APPLICATION_NAME } from "../../domain/juju";
import { ROOT, editStack, expectGolden } from "../helpers";
import { cli, fixture, select } from "./lspci-helpers";

// ---------------------------------------------------------------------------------------------------
// Several hosts (issue 14): test/fixtures/lspci-site holds one capture per host of a mixed site, in the
// layouts of the captures above: two A100 PCIe 80GB hosts on Ice Lake-SP (00:00.0 is the "Memory Map/VT-d"
// system peripheral there, as in the Ice Lake topologies posted to linux-pci and kvm), one taken with
// `sudo lspci -nnkv` on a fresh host, one with `lspci -nnk` after the NVIDIA driver was installed; an L40S
// host on AMD EPYC with its first GPU at the same slot, 17:00.0; a Dell host with a ConnectX-6 Dx (the
// capability list after a ConnectX capture posted to the kvm list, 2025). Names and ids from pci.ids. Its own
// folder: a site is a set of captures, and other suites read test/fixtures/lspci file by file.

const SITE = "test/fixtures/lspci-site";
const capture = (name: string, text?: string): HostCapture => ({ source: `${SITE}/${name}`, text: text ?? readFileSync(path.join(ROOT, SITE, name), "utf8") });
const THREE_KINDS = ["a100-r01-nnkv.txt", "a100-r02-nnk.txt", "l40s-r03-nnkv.txt", "cx6-r04-nnkv.txt"];
const GPUS_AND_CX6 = select({ classes: ["03"], ids: ["15b3:101d"] });

/** A capture with only the functions (and their detail lines) whose address `keep` accepts. */
function functionsOf(text: string, keep: (address: string) => boolean): string {
  let kept = false;
  return text
    .split("\n")
    .filter((line) => {
      if (/^[0-9a-f]/.test(line)) kept = keep(line.slice(0, line.indexOf(" ")));
      return kept;
    })
    .join("\n");
}

const at = (...prefixes: string[]) => (address: string) => prefixes.some((p) => address.startsWith(p));
const not = (f: (a: string) => boolean) => (a: string) => !f(a);
const siteFile = (name: string) => readFileSync(path.join(ROOT, SITE, name), "utf8");
/** The second A100 host's capture on an AMD board: its bus 00 replaced by the L40S host's. */
const a100OnAmd = () => `${functionsOf(siteFile("l40s-r03-nnkv.txt"), at("00:"))}\n${functionsOf(siteFile("a100-r02-nnk.txt"), not(at("00:")))}`;

/** What a test needs to see of a kind. */
const kindSummary = (s: SiteImport) =>
  s.kinds.map((k) => ({
    name: k.name,
    hosts: k.sources.map((x) => path.basename(x)),
    iommu: k.iommu ?? null,
    devices: k.devices.map((d) => [d.alias, `${d.vendorId}:${d.productId}`, d.addresses, d.companions, d.deviceType ?? null]),
    blacklist: k.blacklistDrivers,
    shared: k.sharedIds,
  }));

/** The raw mixed stack with the snippet's host groups, and one flavor per alias asking for one device. */
function mixedWith(snippet: string, edit: (groups: any[]) => void = () => {}): Record<string, unknown> {
  const groups = (parseYaml(snippet) as Record<string, any[]>)["pci-passthrough:hostGroups"]!;
  edit(groups);
  const aliases = [...new Set(groups.flatMap((g) => g.devices.map((d: { alias: string }) => d.alias)))];
  return editStack("mixed", (s) => {
    s.hostGroups = groups;
    s.flavors = aliases.map((a) => ({ name: `t1.${a}`, ram: 8192, vcpus: 4, disk: 40, pci: { [a]: 1 } }));
  });
}

test("Ice Lake-SP and later: Intel's 00:00.0 is a system peripheral (0880), not a host bridge, and still says intel", () => {
  assert.equal(importLspci(siteFile("a100-r01-nnkv.txt")).iommu, "intel");
  assert.equal(importLspci(siteFile("cx6-r04-nnkv.txt"), select({ classes: ["02"] })).iommu, "intel");
  // Only 00:00.0 counts among system peripherals: the Xeon E5's 00:05.0 VT-d function does not decide it.
  const amdBridge = "00:00.0 Host bridge [0600]: Advanced Micro Devices, Inc. [AMD] Starship/Matisse Root Complex [1022:1480]";
  const intelPeripheral = "00:05.0 System peripheral [0880]: Intel Corporation Xeon E7 v4/Xeon E5 v4/Xeon E3 v4/Xeon D Map/VTd_Misc/System Management [8086:6f28] (rev 01)";
  const gpu = "17:00.0 3D controller [0302]: NVIDIA Corporation GA100 [A100 PCIe 80GB] [10de:20b5] (rev a1)";
  assert.equal(importLspci([amdBridge, intelPeripheral, gpu].join("\n")).iommu, "amd");
  assert.equal(importLspci([intelPeripheral, gpu].join("\n")).iommu, undefined);
});

test("modelName: the marketing name's model word, else the chip's, else none", () => {
  const cases: [string, string | undefined][] = [
    ["NVIDIA Corporation GA100 [A100 PCIe 80GB]", "a100"],
    ["NVIDIA Corporation AD102GL [L40S]", "l40s"],
    ["Mellanox Technologies MT2892 Family [ConnectX-6 Dx]", "connectx6"],
    ["NVIDIA Corporation GP104GL [Quadro P5000]", "p5000"],
    ["NVIDIA Corporation TU104GL [Tesla T4]", "t4"],
    ["Advanced Micro Devices, Inc. [AMD/ATI] Navi 21 GL-XL [Radeon PRO W6800]", "w6800"],
    // No model word in the bracket: the chip before it.
    ["NVIDIA Corporation GP102 [GeForce GTX 1080 Ti]", "gp102"],
    ["Intel Corporation Ethernet Controller E810-C for QSFP", "e810c"],
    ["Intel Corporation I350 Gigabit Network Connection", "i350"],
    // Names pci.ids does not know yet ("Device 26b9"), or without any model word.
    ["NVIDIA Corporation Device", undefined],
    ["Red Hat, Inc. Virtio 1.0 network device", undefined],
  ];
  for (const [description, name] of cases) assert.equal(modelName(description), name, description);
});

test("several hosts of three kinds: one group per kind, named after its model, selectByDevice where its devices are its own", () => {
  const site = importHosts(THREE_KINDS.map((f) => capture(f)), GPUS_AND_CX6);
  assert.deepEqual(kindSummary(site), [
    {
      name: "a100",
      hosts: ["a100-r01-nnkv.txt", "a100-r02-nnk.txt"],
      iommu: "intel",
      devices: [["a100", "10de:20b5", ["0000:17:00.0", "0000:31:00.0"], [], "type-PF"]],
      // Both hosts' drivers: the fresh host's Ubuntu modules, and the NVIDIA driver of the other.
      blacklist: ["nvidiafb", "nouveau", "nvidia_drm", "nvidia"],
      shared: [],
    },
    {
      name: "l40s",
      hosts: ["l40s-r03-nnkv.txt"],
      iommu: "amd",
      devices: [["l40s", "10de:26b9", ["0000:17:00.0", "0000:ca:00.0"], [], "type-PF"]],
      blacklist: ["nvidiafb", "nouveau"],
      shared: [],
    },
    {
      name: "connectx6",
      hosts: ["cx6-r04-nnkv.txt"],
      iommu: "intel",
      devices: [["connectx6", "15b3:101d", ["0000:b1:00.0", "0000:b1:00.1"], [], "type-PF"]],
      blacklist: [],
      shared: [],
    },
  ]);
  assert.deepEqual(site.warnings, []);
  // The -nnk capture cannot show SR-IOV: its warning gives way to where the answer came from.
  const a100 = site.kinds[0]!;
  assert.ok(!a100.warnings.some((w) => w.includes("SR-IOV capability not known")));
  assert.ok(a100.warnings.includes(`${SITE}/a100-r02-nnk.txt: its capture does not show the SR-IOV capability: taken from ${SITE}/a100-r01-nnkv.txt`));
  assert.deepEqual(site.skipped.map((s) => s.lines), [0, 0, 0, 0]);
});

test("golden hostGroups snippet of three kinds; it validates in the mixed stack, each alias's flavor fits its own group", () => {
  const site = importHosts(THREE_KINDS.map((f) => capture(f)), GPUS_AND_CX6);
  const snippet = renderProposal(site, { pool: "openstack" });
  expectGolden("lspci-site-three-kinds.yaml", snippet);
  // Without a scope the groups that select by device say what is missing, and the config refuses them.
  const unscoped = renderProposal(site);
  assert.match(unscoped, /among this cloud's machines: add pool: \(its MAAS resource pool\) and\/or zone:, or run again with --pool \/ --zone\./);
  const refused = parseSiteConfig(mixedWith(unscoped));
  assert.ok(!refused.ok);
  assert.deepEqual(
    refused.problems.map((p) => p.path),
    [0, 1, 2].map((i) => `pci-passthrough:hostGroups[${i}].maas.selectByDevice`),
  );
  assert.ok(refused.problems.every((p) => p.message.startsWith("selection by device must be scoped")));
  const parsed = parseSiteConfig(mixedWith(snippet));
  assert.ok(parsed.ok, parsed.ok ? "" : formatProblems(parsed.problems));
  const { groups, flavors } = parsed.config;
  assert.deepEqual(
    groups.map((g) => [g.name, g.maas.tag, g.maas.selectByDevice, g.application, g.host.iommu]),
    [
      ["a100", "pci-pass-a100", true, "nova-compute-a100", "intel"],
      ["l40s", "pci-pass-l40s", true, "nova-compute-l40s", "amd"],
      ["connectx6", "pci-pass-connectx6", true, "nova-compute-connectx6", "intel"],
    ],
  );
  assert.deepEqual(flavors.map((f) => [f.name, flavorGroups(groups, f).map((g) => g.name)]), [
    ["t1.a100", ["a100"]],
    ["t1.l40s", ["l40s"]],
    ["t1.connectx6", ["connectx6"]],
  ]);
});

test("hosts of one kind: today's devices and host snippet, saying which hosts agreed; it validates with the dev stack", () => {
  const site = importHosts(["a100-r01-nnkv.txt", "a100-r02-nnk.txt"].map((f) => capture(f)));
  assert.equal(site.kinds.length, 1);
  // One kind keeps today's class-based alias: no other kind to tell it from.
  assert.deepEqual(kindSummary(site)[0]!.devices, [["gpu", "10de:20b5", ["0000:17:00.0", "0000:31:00.0"], [], "type-PF"]]);
  const snippet = renderProposal(site);
  expectGolden("lspci-site-one-kind.yaml", snippet);
  assert.match(snippet, /^# 2 hosts agreed: the same selected functions at the same addresses, the same IOMMU vendor \(test\/fixtures\/lspci-site\/a100-r01-nnkv\.txt, test\/fixtures\/lspci-site\/a100-r02-nnk\.txt\)\.$/m);
  const doc = parseYaml(snippet) as Record<string, any>;
  const raw = editStack("dev", (s) => {
    s.devices = doc["pci-passthrough:devices"];
    Object.assign(s.host, doc["pci-passthrough:host"]);
    s.flavors[0].pci = { gpu: 1 };
  });
  const parsed = parseSiteConfig(raw);
  assert.ok(parsed.ok, parsed.ok ? "" : formatProblems(parsed.problems));
});

test("the same devices on Intel and on AMD are two kinds: named by IOMMU, and they must list their machines", () => {
  const site = importHosts([capture("a100-r01-nnkv.txt"), capture("a100-amd.txt", a100OnAmd())]);
  assert.deepEqual(
    kindSummary(site).map((k) => [k.name, k.hosts, k.iommu, k.shared]),
    [
      ["a100-intel", ["a100-r01-nnkv.txt"], "intel", [{ id: "10de:20b5", kinds: ["a100-amd"] }]],
      ["a100-amd", ["a100-amd.txt"], "amd", [{ id: "10de:20b5", kinds: ["a100-intel"] }]],
    ],
  );
  // The vendor:product in both kinds has one alias, one device_type (from the capture that showed SR-IOV).
  assert.deepEqual(site.kinds.map((k) => k.devices.map((d) => [d.alias, d.deviceType ?? null])), [[["a100", "type-PF"]], [["a100", "type-PF"]]]);
  const snippet = renderProposal(site);
  assert.match(snippet, /# machines: \[\.\.\.\]: list these hosts' MAAS system IDs \(maas PROFILE machines read\)\. No selectByDevice: 10de:20b5 is also in a100-amd,/);
  // What the comment asks for is exactly what is missing: nothing else is wrong with the groups.
  const refused = parseSiteConfig(mixedWith(snippet));
  assert.ok(!refused.ok);
  assert.deepEqual(formatProblems(refused.problems).split("\n"), [
    "pci-passthrough:hostGroups[0].maas: the tag selects no machine: give machines (system IDs), definition (an lshw XPath) or selectByDevice: true",
    "pci-passthrough:hostGroups[1].maas: the tag selects no machine: give machines (system IDs), definition (an lshw XPath) or selectByDevice: true",
  ]);
  const listed = parseSiteConfig(mixedWith(snippet, (groups) => groups.forEach((g, i) => (g.maas.machines = [`host${i}`]))));
  assert.ok(listed.ok, listed.ok ? "" : formatProblems(listed.problems));
  assert.deepEqual(listed.config.groups.map((g) => [g.name, g.application, g.host.iommu]), [
    ["a100-intel", "nova-compute-a100-intel", "intel"],
    ["a100-amd", "nova-compute-a100-amd", "amd"],
  ]);
});

test("a host with one card fewer is another kind (other addresses): a100 and a100-v2", () => {
  const oneCard = functionsOf(siteFile("a100-r02-nnk.txt"), not(at("30:", "31:")));
  const site = importHosts([capture("a100-r01-nnkv.txt"), capture("a100-one-card.txt", oneCard), capture("l40s-r03-nnkv.txt")]);
  assert.deepEqual(
    site.kinds.map((k) => [k.name, k.devices.map((d) => [d.alias, d.addresses]), k.sharedIds.map((x) => x.kinds)]),
    [
      ["a100", [["a100", ["0000:17:00.0", "0000:31:00.0"]]], [["a100-v2"]]],
      ["a100-v2", [["a100", ["0000:17:00.0"]]], [["a100"]]],
      ["l40s", [["l40s", ["0000:17:00.0", "0000:ca:00.0"]]], []],
    ],
  );
  const parsed = parseSiteConfig(mixedWith(renderProposal(site, { zone: "az1" }), (groups) => groups.slice(0, 2).forEach((g, i) => (g.maas.machines = [`host${i}`]))));
  assert.ok(parsed.ok, parsed.ok ? "" : formatProblems(parsed.problems));
  // A flavor for two A100s fits only the hosts that have two.
  assert.deepEqual(flavorGroups(parsed.config.groups, { pci: { a100: 2 } }).map((g) => g.name), ["a100"]);
});

test("a capture without the host bridge joins the kind with its devices, or is left out when two kinds have them", () => {
  const gpusOnly = functionsOf(siteFile("a100-r02-nnk.txt"), at("17:", "31:"));
  assert.equal(importLspci(gpusOnly).iommu, undefined);
  const joined = importHosts([capture("a100-r01-nnkv.txt"), capture("gpus-only.txt", gpusOnly), capture("l40s-r03-nnkv.txt")]);
  assert.deepEqual(kindSummary(joined).map((k) => [k.name, k.hosts, k.iommu]), [
    ["a100", ["a100-r01-nnkv.txt", "gpus-only.txt"], "intel"],
    ["l40s", ["l40s-r03-nnkv.txt"], "amd"],
  ]);
  assert.equal(
    joined.kinds[0]!.warnings[0],
    `${SITE}/gpus-only.txt: IOMMU vendor not known (the capture shows no host bridge on bus 00): taken as intel, as ${SITE}/a100-r01-nnkv.txt, which have the same devices`,
  );
  const ambiguous = importHosts([capture("a100-r01-nnkv.txt"), capture("a100-amd.txt", a100OnAmd()), capture("gpus-only.txt", gpusOnly)]);
  assert.deepEqual(kindSummary(ambiguous).map((k) => k.hosts), [["a100-r01-nnkv.txt"], ["a100-amd.txt"]]);
  assert.deepEqual(ambiguous.warnings, [
    `${SITE}/gpus-only.txt: left out of every group: the same devices as hosts with intel (${SITE}/a100-r01-nnkv.txt) and amd (${SITE}/a100-amd.txt) IOMMUs, ` +
      "and the capture shows no host bridge to tell which (capture the whole `lspci -nnk`)",
  ]);
  // Alone, such hosts are a kind of their own, whose group must be told its IOMMU vendor.
  const alone = importHosts([capture("gpus-only.txt", gpusOnly), capture("l40s-r03-nnkv.txt")]);
  assert.deepEqual(kindSummary(alone).map((k) => [k.name, k.iommu]), [["a100", null], ["l40s", "amd"]]);
  assert.match(renderProposal(alone), /\n {4}host:\n {6}# Set iommu: intel or amd: no capture of these hosts shows the host bridge\.\n {6}blacklistDrivers:/);
});

test("a host with no selected device is left out with its own warnings; none at all leaves no kind", () => {
  const site = importHosts(THREE_KINDS.map((f) => capture(f)));
  assert.deepEqual(site.kinds.map((k) => k.name), ["a100", "l40s"]);
  assert.deepEqual(site.warnings, [
    `${SITE}/cx6-r04-nnkv.txt: left out of every group: no PCI function matched class 03`,
    `${SITE}/cx6-r04-nnkv.txt: left out 0000:03:00.0 Matrox Electronics Systems Ltd. Integrated Matrox G200eW3 Graphics Controller [102b:0536]: Matrox BMC graphics is the host's own console (select it with --id 102b:0536 if you mean it)`,
  ]);
  assert.deepEqual(importHosts([capture("cx6-r04-nnkv.txt"), capture("garbage.txt", "not lspci\n")]).kinds, []);
});

test("hosts of one kind that disagree on companions or on SR-IOV: the group takes the union, with a warning", () => {
  // The runbook's host, and one whose capture lacks the P5000s' HDMI audio functions.
  const full = fixture("nvidia-multi-gpu-nnk.txt");
  const noAudio = functionsOf(full, not(at("83:00.1", "84:00.1")));
  const p5000 = importHosts([capture("full.txt", full), capture("no-audio.txt", noAudio)], select({ ids: ["10de:1bb0"] }));
  assert.equal(p5000.kinds.length, 1);
  assert.deepEqual(p5000.kinds[0]!.devices.map((d) => d.companions), [["10de:10f0"]]);
  assert.equal(
    p5000.kinds[0]!.warnings[0],
    `10de:10f0: next to 10de:1bb0 on ${SITE}/full.txt but not on ${SITE}/no-audio.txt: a companion for the whole group (vfio-pci.ids matches nothing on a host without it)`,
  );
  // An A100 host whose capability list was read and shows no SR-IOV (disabled in its firmware).
  const noSriov = siteFile("a100-r01-nnkv.txt").replace(/^\tCapabilities: \[bcc\] Single Root.*\n/gm, "");
  const sriov = importHosts([capture("a100-r01-nnkv.txt"), capture("no-sriov.txt", noSriov)]);
  assert.deepEqual(sriov.kinds.map((k) => k.devices.map((d) => d.deviceType)), [["type-PF"]]);
  assert.deepEqual(sriov.warnings, [
    `10de:20b5: SR-IOV capable on ${SITE}/a100-r01-nnkv.txt but not on ${SITE}/no-sriov.txt (whose capability lists were read): proposed as type-PF, ` +
      "since an alias has one device_type across the cloud; Nova records the others' as type-PCI, which this alias never matches (check SR-IOV in their firmware settings)",
  ]);
});

test("names without a model word: class-based aliases, group names whose every part holds a letter (Juju application names)", () => {
  // Two virtio NICs pci.ids names without a model: both "nic", told apart by product id.
  const host = (product: string, name: string) =>
    [
      "00:00.0 Host bridge [0600]: Intel Corporation 440FX - 82441FX PMC [Natoma] [8086:1237] (rev 02)",
      `00:03.0 Ethernet controller [0200]: Red Hat, Inc. ${name} [1af4:${product}]`,
    ].join("\n");
  const site = importHosts([capture("vm1.txt", host("1000", "Virtio network device")), capture("vm2.txt", host("1041", "Virtio 1.0 network device"))], select({ classes: ["02"] }));
  assert.deepEqual(site.kinds.map((k) => [k.name, k.devices[0]!.alias]), [
    ["nic1000", "nic-1000"],
    ["nic1041", "nic-1041"],
  ]);
  for (const k of site.kinds) assert.match(`nova-compute-${k.name}`, JUJU_APPLICATION_NAME);
  const parsed = parseSiteConfig(mixedWith(renderProposal(site, { pool: "openstack" })));
  assert.ok(parsed.ok, parsed.ok ? "" : formatProblems(parsed.problems));
});

test("CLI: several FILEs print the snippet of their kinds, and say on stderr what they found", () => {
  const r = cli(["--class", "03", "--id", "15b3:101d", "--pool", "openstack", ...THREE_KINDS.map((f) => `${SITE}/${f}`)]);
  assert.equal(r.status, 0, r.stderr);
  expectGolden("lspci-site-three-kinds.yaml", r.stdout);
  assert.match(cli(["--pool=bad/pool", `${SITE}/a100-r01-nnkv.txt`]).stderr, /^import-lspci: --pool "bad\/pool" is not a MAAS resource pool name\n/);
  assert.equal(
    r.stderr,
    ["import-lspci: 5 warning(s), see the comments in the output", "import-lspci: 4 of 4 hosts, 3 kinds of host: a100 (2), l40s (1), connectx6 (1)", ""].join("\n"),
  );
  const one = cli([`${SITE}/a100-r01-nnkv.txt`, `${SITE}/a100-r02-nnk.txt`]);
  assert.equal(one.status, 0, one.stderr);
  expectGolden("lspci-site-one-kind.yaml", one.stdout);
  assert.match(one.stderr, /^import-lspci: 2 of 2 hosts agreed: one kind of host, no host groups needed$/m);
  // stdin is one of the hosts when given as -.
  const stdin = cli(["-", `${SITE}/a100-r02-nnk.txt`], siteFile("a100-r01-nnkv.txt"));
  assert.equal(stdin.stdout, one.stdout.replaceAll(`${SITE}/a100-r01-nnkv.txt`, "stdin"));
  // Groups that must list their machines are named on stderr too.
  const shared = cli([`${SITE}/a100-r01-nnkv.txt`, `${SITE}/l40s-r03-nnkv.txt`, "-"], functionsOf(siteFile("a100-r02-nnk.txt"), not(at("30:", "31:"))));
  assert.equal(shared.status, 0, shared.stderr);
  assert.match(shared.stderr, /^import-lspci: group a100: list its machines \(see the comment under its maas\)\nimport-lspci: group a100-v2: list its machines/m);
});

test("CLI: several FILEs: an unreadable one, stdin twice, or nothing matched anywhere exit 2 naming the problem", () => {
  const cases: [string[], string | undefined, string][] = [
    [[`${SITE}/a100-r01-nnkv.txt`, `${SITE}/missing.txt`], "", `import-lspci: cannot read ${SITE}/missing.txt: ENOENT`],
    [["-", `${SITE}/a100-r01-nnkv.txt`, "-"], "", "import-lspci: - (stdin) can be given once: it is one host's capture\n"],
    [
      [`${SITE}/cx6-r04-nnkv.txt`, "-"],
      "garbage\n",
      `import-lspci: stdin: skipped 1 line that was not \`lspci -nn\` output\nimport-lspci: warning: ${SITE}/cx6-r04-nnkv.txt: left out of every group: no PCI function matched class 03\n`,
    ],
  ];
  for (const [args, input, message] of cases) {
    const r = cli(args, input);
    assert.equal(r.status, 2, args.join(" "));
    assert.equal(r.stdout, "", args.join(" "));
    assert.ok(r.stderr.startsWith(message), `${args.join(" ")}: ${r.stderr}`);
  }
  assert.match(cli([`${SITE}/cx6-r04-nnkv.txt`, "-"], "garbage\n").stderr, /\nimport-lspci: no PCI function matched class 03 in any of the 2 hosts\n$/);
});

test("CLI --write: the snippet merged into the stack file by the importers' shared merge (tools/lib/stack-merge.ts)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "pcipt-lspci-write-"));
  const file = path.join(dir, "Pulumi.site.yaml");
  writeFileSync(file, "config:\n  pci-passthrough:maas:\n    profile: admin\n  pci-passthrough:juju:\n    model: openstack # ours\n");
  const r = cli(["--class", "03", "--id", "15b3:101d", "--pool", "openstack", "--write", "site", "--stack-file", file, ...THREE_KINDS.map((f) => `${SITE}/${f}`)]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^import-lspci: merged into .*Pulumi\.site\.yaml; check it with npm run render/m);
  const written = parseYaml(readFileSync(file, "utf8")).config;
  const printed = parseYaml(cli(["--class", "03", "--id", "15b3:101d", "--pool", "openstack", ...THREE_KINDS.map((f) => `${SITE}/${f}`)]).stdout);
  assert.deepEqual(written["pci-passthrough:hostGroups"], printed["pci-passthrough:hostGroups"]);
  assert.deepEqual(written["pci-passthrough:maas"], { profile: "admin" });
  assert.match(readFileSync(file, "utf8"), /model: openstack # ours\n/);
  assert.match(cli(["--stack-file", file, `${SITE}/a100-r01-nnkv.txt`]).stderr, /^import-lspci: --stack-file goes with --write STACK\n/);
});
