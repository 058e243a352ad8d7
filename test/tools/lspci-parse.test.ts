// The lspci parser, the alias and option rules, the golden snippets and the CLI on one host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { importLspci, parseClassOption, parseIdOption } from "../../tools/import-lspci/import";
import { parseLspci } from "../../tools/import-lspci/lspci";
import { renderSnippet } from "../../tools/import-lspci/proposal";
import { parseSiteConfig } from "../../config/parse";
import { formatProblems } from "../../config/problems";
import { editStack, expectGolden } from "../helpers";
import { CASES, cli, fixture, select } from "./lspci-helpers";

test("parseLspci: the SR-IOV capability in -v and -vv form, Total VFs only from inside it", () => {
  const text = [
    // -v: no version in the brackets, no detail lines.
    "01:00.0 Ethernet controller [0200]: Mellanox Technologies MT28800 Family [ConnectX-5 Ex] [15b3:1019]",
    "\tCapabilities: [60] Express Endpoint, MSI 00",
    "\tCapabilities: [180] Single Root I/O Virtualization (SR-IOV)",
    "",
    // A capability with a similar name is not SR-IOV; a stray Total VFs line outside SR-IOV is ignored.
    "02:00.0 Ethernet controller [0200]: Vendor NIC [1111:2222]",
    "\tCapabilities: [1a0 v1] Multi-Root I/O Virtualization <?>",
    "\t\tInitial VFs: 8, Total VFs: 8, Number of VFs: 0, Function Dependency Link: 00",
    "",
    "03:00.0 Ethernet controller [0200]: Vendor NIC [1111:3333]",
    "\tCapabilities: [160 v1] Single Root I/O Virtualization (SR-IOV)",
    "\t\tIOVCap:\tMigration-, Interrupt Message Number: 000",
    "\t\tInitial VFs: 64, Total VFs: 64, Number of VFs: 4, Function Dependency Link: 00",
    "",
    "\tCapabilities: [160 v1] Single Root I/O Virtualization (SR-IOV)",
  ].join("\n");
  const { functions, skippedLines } = parseLspci(text);
  assert.deepEqual(functions.map((f) => [f.address, f.capabilities, f.sriov]), [
    ["0000:01:00.0", "read", {}],
    ["0000:02:00.0", "read", undefined],
    ["0000:03:00.0", "read", { totalVfs: 64 }],
  ]);
  // The capability line after a blank line belongs to no device.
  assert.equal(skippedLines, 1);
  // -v without a Total VFs count: still type-PF, the comment just has no count.
  const r = importLspci(text, select({ classes: ["02"] }));
  assert.deepEqual(r.devices.map((d) => [d.alias, d.deviceType ?? null, d.totalVfs ?? null]), [
    ["nic-1019", "type-PF", null],
    ["nic-2222", null, null],
    ["nic-3333", "type-PF", 64],
  ]);
  assert.match(renderSnippet(r), /# SR-IOV capable \(lspci: "Single Root I\/O Virtualization \(SR-IOV\)"\): libvirt/);
});

test("parseLspci reads -nn, -nnk and -D lines with their suffixes and detail lines", () => {
  const text = [
    "$ lspci -nnk -s 83:00",
    "0000:83:00.0 VGA compatible controller [0300]: NVIDIA Corporation GP104GL [Quadro P5000] [10de:1BB0] (rev a1) (prog-if 00 [VGA controller])\r",
    "\tDeviceName: Onboard IGD",
    "\tSubsystem: NVIDIA Corporation GP104GL [Quadro P5000] [10de:11b2]",
    "\tKernel driver in use: nouveau",
    "\tKernel modules: nvidiafb, nouveau",
    "\tFlags: bus master, fast devsel, latency 0, IRQ 94",
    "83:00.1 Audio device [0403]: NVIDIA Corporation GP104 High Definition Audio Controller [10de:10f0] (rev a1)",
    "",
    "\tKernel driver in use: orphan",
  ].join("\n");
  const { functions, skippedLines } = parseLspci(text);
  assert.deepEqual(functions, [
    {
      address: "0000:83:00.0",
      slot: "0000:83:00",
      classCode: "0300",
      className: "VGA compatible controller",
      vendorId: "10de",
      productId: "1bb0",
      description: "NVIDIA Corporation GP104GL [Quadro P5000]",
      modules: ["nvidiafb", "nouveau"],
      subsystem: "NVIDIA Corporation GP104GL [Quadro P5000] [10de:11b2]",
      driver: "nouveau",
    },
    {
      address: "0000:83:00.1",
      slot: "0000:83:00",
      classCode: "0403",
      className: "Audio device",
      vendorId: "10de",
      productId: "10f0",
      description: "NVIDIA Corporation GP104 High Definition Audio Controller",
      modules: [],
    },
  ]);
  // The shell prompt and the detail line after a blank line belong to no device.
  assert.equal(skippedLines, 2);
});

test("lines that are not lspci -nn output are skipped, never fatal", () => {
  const notNn = "83:00.0 VGA compatible controller: NVIDIA Corporation GP104GL [Quadro P5000] (rev a1)\n";
  assert.deepEqual(parseLspci(notNn), { functions: [], skippedLines: 1 });
  const bad = [
    "83:00 VGA compatible controller [0300]: NVIDIA Corporation Device [10de:1bb0]", // no function
    "83:00.8 VGA compatible controller [0300]: NVIDIA Corporation Device [10de:1bb0]", // function > 7
    "83:00.0 VGA compatible controller [0300]: NVIDIA Corporation Device [10de:1bb]", // short id
    "83:00.0 VGA compatible controller [0300]: NVIDIA Corporation Device [10de:1bb0] trailing words",
    "x".repeat(100_000),
    "\u0000\u0001\uFFFD[10de:1bb0]",
  ].join("\n");
  assert.deepEqual(parseLspci(bad), { functions: [], skippedLines: 6 });
});

test("truncated captures never crash and only ever yield devices of the full capture", () => {
  const full = fixture("nvidia-multi-gpu-nnk.txt");
  const known = new Set(parseLspci(full).functions.map((f) => f.address));
  for (let cut = 0; cut <= full.length; cut += 7) {
    const part = full.slice(0, cut);
    const r = importLspci(part);
    for (const d of r.devices) for (const a of d.addresses) assert.ok(known.has(a), `${a} at cut ${cut}`);
    assert.doesNotThrow(() => renderSnippet(r));
  }
  // Arbitrary bytes, decoded as the CLI decodes them.
  let seed = 42;
  const bytes = Buffer.from(Array.from({ length: 20_000 }, () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) >> 16 & 0xff));
  assert.deepEqual(importLspci(bytes.toString("utf8")).devices, []);
});

test("alias suggestions satisfy the alias rule and stay unique", () => {
  const text = [
    "01:00.0 VGA compatible controller [0300]: Vendor A [1111:2222]",
    "02:00.0 VGA compatible controller [0300]: Vendor B [3333:2222]",
    "03:00.0 Ethernet controller [0200]: NIC [8086:1592] (rev 02)",
    "04:00.0 Non-Volatile memory controller [0108]: Samsung Electronics Co Ltd NVMe SSD Controller PM9A1/PM9A3/980PRO [144d:a80a] (prog-if 02 [NVM Express])",
    "05:00.0 Processing accelerators [1200]: Accel [1d0f:8061]",
  ].join("\n");
  const r = importLspci(text, select({ classes: ["03", "02", "01", "12"] }));
  assert.deepEqual(r.devices.map((d) => d.alias), ["gpu-1111-2222", "gpu-3333-2222", "nic", "nvme", "accel"]);
});

test("--class and --id values are checked", () => {
  assert.equal(parseClassOption("03"), "03");
  assert.equal(parseClassOption("0C03"), "0c03");
  assert.equal(parseClassOption("3"), undefined);
  assert.equal(parseClassOption("030"), undefined);
  assert.equal(parseClassOption("030000"), undefined);
  assert.equal(parseIdOption("10DE:1BB0"), "10de:1bb0");
  assert.equal(parseIdOption("10de"), undefined);
  assert.equal(parseIdOption("10de:1bb0:00"), undefined);
});

for (const c of CASES) {
  test(`golden snippet ${c.golden}, and it validates with the dev stack`, () => {
    const snippet = renderSnippet(importLspci(fixture(c.file), c.selection), `test/fixtures/lspci/${c.file}`);
    expectGolden(c.golden, snippet);
    const doc = parseYaml(snippet) as Record<string, any>;
    const devices = doc["pci-passthrough:devices"] as { alias: string; vendorId: unknown }[];
    // Quoted: YAML must not turn 8086 or 1002 into numbers.
    for (const d of devices) assert.equal(typeof d.vendorId, "string");
    const raw = editStack("dev", (s) => {
      s.devices = devices;
      Object.assign(s.host, doc["pci-passthrough:host"]);
      s.flavors[0].pci = { [devices[0]!.alias]: 1 };
    });
    const parsed = parseSiteConfig(raw);
    assert.ok(parsed.ok, parsed.ok ? "" : formatProblems(parsed.problems));
  });
}

test("CLI: file argument and stdin (absent or -) print the same snippet", () => {
  const fromFile = cli(["test/fixtures/lspci/runbook-nn.txt"]);
  assert.equal(fromFile.status, 0, fromFile.stderr);
  expectGolden("lspci-runbook.yaml", fromFile.stdout);
  assert.equal(fromFile.stderr, "import-lspci: 2 warning(s), see the comments at the top of the output\n");
  const text = fixture("runbook-nn.txt");
  const expected = fromFile.stdout.replace("From test/fixtures/lspci/runbook-nn.txt", "From stdin");
  assert.equal(cli([], text).stdout, expected);
  assert.equal(cli(["-"], text).stdout, expected);
});

test("CLI: options select, skipped lines are reported", () => {
  for (const c of CASES.filter((x) => x.args.length > 0)) {
    const r = cli([...c.args, `test/fixtures/lspci/${c.file}`]);
    assert.equal(r.status, 0, r.stderr);
    expectGolden(c.golden, r.stdout);
  }
  const r = cli(["--class", "03", "--id", "8086:1592"], `$ lspci -nn\n${fixture("intel-nic-nnk.txt")}`);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual((parseYaml(r.stdout) as Record<string, { alias: string }[]>)["pci-passthrough:devices"]!.map((d) => d.alias), ["nic"]);
  assert.match(r.stderr, /^import-lspci: skipped 1 line that was not `lspci -nn` output$/m);
});

test("CLI: bad options, unreadable files and empty selections exit 2 with one clear message", () => {
  const cases: [string[], string | undefined, string][] = [
    [["--class", "3"], "", 'import-lspci: --class "3" is not a PCI class (2 or 4 hex digits, e.g. 03 or 0300)'],
    [["--id", "10de"], "", 'import-lspci: --id "10de" is not a vendor:product id (VVVV:PPPP, e.g. 10de:1bb0)'],
    [["--vendor", "10de"], "", "import-lspci: Unknown option '--vendor'"],
    [["test/fixtures/lspci/missing.txt"], "", "import-lspci: cannot read test/fixtures/lspci/missing.txt: ENOENT"],
    [["--id", "10de:ffff", "test/fixtures/lspci/runbook-nn.txt"], undefined, "import-lspci: no PCI function matched id 10de:ffff in test/fixtures/lspci/runbook-nn.txt\n"],
    [[], "garbage\nmore garbage\n", "import-lspci: no PCI function matched class 03 in stdin; 2 lines that were not `lspci -nn` output (the [vvvv:pppp] ids are needed)\n"],
  ];
  for (const [args, input, message] of cases) {
    const r = cli(args, input);
    assert.equal(r.status, 2, args.join(" "));
    assert.equal(r.stdout, "", args.join(" "));
    assert.ok(r.stderr.startsWith(message), `${args.join(" ")}: ${r.stderr}`);
  }
  // Only the nothing-matched case explains itself without the usage text; bad options show it.
  assert.match(cli(["--class", "3"]).stderr, /\nusage: npm run import-lspci -- /);
});
