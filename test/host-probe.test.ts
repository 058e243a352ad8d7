// The host probe (render/host/probe.ts) run for real against fake hosts (test/fake-booted-host.ts) through their
// life, and what the analysis (tools/verify/hosts.ts) concludes from its output: a host freshly prepared on its
// first boot needs a reboot, after the second boot it is ready; one prepared by an older userdata, or by none,
// needs a redeploy; one whose initramfs lost vfio, or whose companion is on its host driver, is broken, with the
// reason. The probe passes shellcheck, reads only the fake trees, and changes nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { requireSiteConfig } from "../config/parse";
import type { HostGroup } from "../config/types";
import { INITRAMFS_MODULES_PATH } from "../render/host/files";
import { kernelCmdline } from "../render/host/kernel";
import { MARKER_PATH, parseMarker } from "../render/host/marker";
import { renderProbe } from "../render/host/probe";
import { bindUnitLinks, hostExpectations } from "../render/host/expectations";
import { parseProbe, type ProbeOutput } from "../render/host/probe-output";
import { analyseProbe, groupOfProbe, type HostReport } from "../tools/verify/hosts";
import { groupSummary, hostsExitCode, hostsJson, hostsReport } from "../tools/verify/hosts-report";
import { BootedHost, KERNEL, withBootedHost, type BootedFunction } from "./fake-booted-host";
import { snapshot } from "./fake-host";
import { editStack, expectGolden, loadStack, needTool, STACKS } from "./helpers";

const DEV = loadStack("dev").groups;
const MIXED = loadStack("mixed").groups;
const named = (groups: readonly HostGroup[], name: string) => groups.find((g) => g.name === name)!;
const A100 = named(MIXED, "a100");
const L40S = named(MIXED, "l40s");

// The runbook's host (Pulumi.dev.yaml): two Quadro P5000s with their HDMI audio, each pair alone in its IOMMU
// group, and the host's own NIC. MAAS deployed it with the tag's options: nouveau blacklisted, the GPUs have no
// driver; snd_hda_intel took the audio functions.
const NIC = { address: "0000:01:00.0", id: "8086:1521", driver: "igb", group: 3, class: "0x020000" };
const P5000_HOST: BootedFunction[] = [
  NIC,
  { address: "0000:83:00.0", id: "10de:1bb0", group: 40, class: "0x030000" },
  { address: "0000:83:00.1", id: "10de:10f0", driver: "snd_hda_intel", group: 40, class: "0x040300" },
  { address: "0000:84:00.0", id: "10de:1bb0", group: 41, class: "0x030000" },
  { address: "0000:84:00.1", id: "10de:10f0", driver: "snd_hda_intel", group: 41, class: "0x040300" },
];
const A100_HOST: BootedFunction[] = [
  NIC,
  { address: "0000:17:00.0", id: "10de:20b5", group: 20, class: "0x030200" },
  { address: "0000:31:00.0", id: "10de:20b5", group: 21, class: "0x030200" },
];
const L40S_HOST: BootedFunction[] = [
  NIC,
  { address: "0000:17:00.0", id: "10de:26b9", driver: "nouveau", group: 20, class: "0x030200" },
  { address: "0000:ca:00.0", id: "10de:26b9", driver: "nouveau", group: 40, class: "0x030200" },
];

const devHost = (fn: (h: BootedHost) => void, opts = {}) => withBootedHost(DEV, P5000_HOST, { maasKernelOptions: kernelCmdline(DEV[0]!), ...opts }, fn);

/** A host of a mixed group, deployed with the group's tag options, prepared and rebooted (drivers as given). */
function rebooted(functions: readonly BootedFunction[], group: HostGroup, fn: (h: BootedHost) => void, drivers: Record<string, string> = {}): void {
  withBootedHost(MIXED, functions, { maasKernelOptions: kernelCmdline(group) }, (h) => {
    h.prepare();
    h.reboot(drivers);
    fn(h);
  });
}

/** Runs the site's probe on the host: it must exit 0 with nothing on stderr; returns its parsed output. */
function probe(h: BootedHost, groups: readonly HostGroup[] = h.groups): { text: string; out: ProbeOutput } {
  const r = h.runScript(renderProbe(groups));
  assert.equal(r.stderr, "");
  assert.equal(r.status, 0);
  const parsed = parseProbe(r.stdout);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.problem);
  return { text: r.stdout, out: parsed.probe };
}

/** The verdict on a host of `group`. */
function judge(h: BootedHost, group: HostGroup, host = "nova-compute/0"): HostReport {
  return analyseProbe(hostExpectations(group), host, probe(h).out);
}

test("the probe passes shellcheck for every example stack", { skip: needTool("shellcheck", "shellcheck") }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), "probe-shellcheck-"));
  try {
    const files = STACKS.map((s) => {
      const f = path.join(dir, `${s}-host-probe.sh`);
      writeFileSync(f, renderProbe(loadStack(s).groups));
      return f;
    });
    const r = spawnSync("shellcheck", ["--shell=sh", "--severity=style", ...files], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("mixed: the probe matches the golden file", () => {
  expectGolden("mixed-host-probe.sh", renderProbe(MIXED));
});

test("the probe reads the fake trees (SYSFS_ROOT, PROC_ROOT, DESTDIR), and changes nothing in them", () => {
  devHost((h) => {
    h.prepare();
    const trees = [h.host.root, h.dest, h.proc].map(snapshot);
    const { out } = probe(h);
    assert.deepEqual([h.host.root, h.dest, h.proc].map(snapshot), trees);
    assert.equal(out.kernel, KERNEL);
    assert.equal(out.hostname, "gpu-host-1");
    assert.equal(out.booted, h.now - 120);
    assert.ok(out.cmdline.includes("intel_iommu=on"));
    assert.equal(out.initramfs.path, `/boot/initrd.img-${KERNEL}`);
    assert.deepEqual(out.initramfs.modules, ["vfio", "vfio_iommu_type1", "vfio_pci"]);
    assert.deepEqual(out.modules, ["vfio_pci", "vfio_pci_core", "vfio_iommu_type1", "vfio"]);
    assert.equal(out.marker?.group, "pci-pass");
    assert.equal(out.cloudInit.state, "finished");
    assert.deepEqual(
      out.functions.map((f) => `${f.address} of ${f.of}: ${f.id} ${f.driver} group ${f.iommuGroup}`),
      [
        "0000:83:00.0 of 0000:83:00.0: 10de:1bb0 vfio-pci group 40",
        "0000:83:00.1 of 0000:83:00.0: 10de:10f0 vfio-pci group 40",
        "0000:84:00.0 of 0000:84:00.0: 10de:1bb0 vfio-pci group 41",
        "0000:84:00.1 of 0000:84:00.0: 10de:10f0 vfio-pci group 41",
      ],
    );
  });
});

test("dev, before cloud-init ran the userdata: unknown, probe again later", () => {
  devHost((h) => {
    const r = judge(h, DEV[0]!);
    assert.equal(r.verdict, "unknown");
    assert.deepEqual(r.reasons, ["cloud-init has not finished (the prepare script runs at its end): probe again later"]);
  });
});

test("dev, freshly prepared, first boot: needs reboot (the initramfs with vfio is not booted yet); the GPUs and their audio are on vfio-pci", () => {
  devHost((h) => {
    const run = h.prepare();
    assert.equal(run.status, 0, run.stderr);
    const r = judge(h, DEV[0]!);
    assert.equal(r.verdict, "needs reboot");
    assert.deepEqual(r.reasons, [`/boot/initrd.img-${KERNEL} was rebuilt after this boot (2024-06-03T06:42:00Z, booted 2024-06-03T06:40:00Z)`]);
    assert.deepEqual(r.notes, []);
    assert.deepEqual(
      r.facts?.functions.map((f) => `${f.address} ${f.role} ${f.driver}`),
      ["0000:83:00.0 device vfio-pci", "0000:83:00.1 companion vfio-pci", "0000:84:00.0 device vfio-pci", "0000:84:00.1 companion vfio-pci"],
    );
    assert.equal(r.facts?.marker.state, "current");
  });
});

test("dev, after the second boot: ready, and the report and JSON say so", () => {
  devHost((h) => {
    h.prepare();
    h.reboot();
    const r = judge(h, DEV[0]!);
    assert.equal(r.verdict, "ready");
    assert.deepEqual([r.reasons, r.notes], [[], []]);
    assert.equal(hostsReport([r]), "ready           nova-compute/0 (gpu-host-1)\n");
    const json = JSON.parse(hostsJson([r])) as HostReport[];
    assert.equal(json.length, 1);
    assert.deepEqual({ host: json[0]!.host, group: json[0]!.group, verdict: json[0]!.verdict }, { host: "nova-compute/0", group: "pci-pass", verdict: "ready" });
    assert.deepEqual(json[0]!.facts?.modules.initramfs, ["vfio", "vfio_iommu_type1", "vfio_pci"]);
    assert.deepEqual(json[0]!.facts?.missingOptions, []);
    assert.equal(hostsExitCode([r]), 0);
  });
});

test("dev, a companion on its host driver after the reboot: broken, 0000:83:00.1 on snd_hda_intel", () => {
  devHost((h) => {
    h.prepare();
    h.reboot({ "0000:83:00.1": "snd_hda_intel" });
    const r = judge(h, DEV[0]!);
    assert.equal(r.verdict, "broken");
    assert.deepEqual(r.reasons, ["0000:83:00.1 on snd_hda_intel"]);
    assert.equal(hostsExitCode([r]), 1);
  });
});

test("dev, the initramfs rebuilt without vfio (its list replaced, update-initramfs -u): broken, whether rebooted or not", () => {
  devHost((h) => {
    h.prepare();
    h.reboot();
    h.write(INITRAMFS_MODULES_PATH, "# List of modules that you want to include in your initramfs.\n");
    assert.equal(h.later("update-initramfs -u").status, 0);
    const before = judge(h, DEV[0]!);
    assert.equal(before.verdict, "broken");
    assert.deepEqual(before.reasons, [
      `vfio, vfio_iommu_type1, vfio_pci not in /boot/initrd.img-${KERNEL}: the devices are bound late at boot, after their drivers may have taken them; ` +
        `${INITRAMFS_MODULES_PATH} does not list vfio, vfio_iommu_type1, vfio_pci`,
      `${INITRAMFS_MODULES_PATH} does not list vfio, vfio_iommu_type1, vfio_pci: the next initramfs is built without them`,
    ]);
    assert.deepEqual(before.notes, [`/boot/initrd.img-${KERNEL} was rebuilt after this boot (2024-06-03T07:52:00Z, booted 2024-06-03T06:52:00Z)`]);
    // Booted with it: vfio-pci comes late (modules-load.d) and snd_hda_intel took an audio function first.
    h.reboot({ "0000:84:00.1": "snd_hda_intel" });
    const after = judge(h, DEV[0]!);
    assert.equal(after.verdict, "broken");
    assert.match(after.reasons[0]!, /^vfio, vfio_iommu_type1, vfio_pci not in \/boot\/initrd\.img-/);
    assert.ok(after.notes.includes("0000:84:00.1 on snd_hda_intel"), after.notes.join("\n"));
  });
});

test("dev, vfio in the initramfs but not listed any more: broken, the next rebuild loses it", () => {
  devHost((h) => {
    h.prepare();
    h.reboot();
    h.write(INITRAMFS_MODULES_PATH, "# List of modules that you want to include in your initramfs.\nvfio\nvfio_iommu_type1\n");
    const r = judge(h, DEV[0]!);
    assert.equal(r.verdict, "broken");
    assert.deepEqual(r.reasons, [`${INITRAMFS_MODULES_PATH} does not list vfio_pci: the next initramfs is built without it`]);
  });
});

test("dev, prepared by an older userdata (the runbook's unsafe interrupts since dropped): needs redeploy", () => {
  const now = requireSiteConfig(editStack("dev", (raw) => void (raw.host.allowUnsafeInterrupts = false))).groups;
  devHost((h) => {
    h.prepare({ groups: DEV });
    h.reboot();
    const r = analyseProbe(hostExpectations(now[0]!), "nova-compute/0", probe(h, now).out);
    const old = hostExpectations(DEV[0]!).render;
    assert.equal(r.facts?.marker.render, old);
    assert.notEqual(old, hostExpectations(now[0]!).render);
    assert.equal(r.verdict, "needs redeploy");
    assert.deepEqual(r.reasons, [`prepared by another render of the userdata (${r.facts?.marker.time}) (its ${old}, this render's ${hostExpectations(now[0]!).render})`]);
    // What differs is said, but does not decide: a redeploy (or the new prepare script) fixes it all.
    assert.ok(r.notes.includes("/etc/default/grub.d/99-pci-passthrough.cfg differs from what the prepare script wrote"), r.notes.join("\n"));
  });
});

test("dev, the machine predates the model's userdata (no prepare script, no marker): needs redeploy", () => {
  devHost((h) => {
    h.finishCloudInit();
    const r = judge(h, DEV[0]!);
    assert.equal(r.verdict, "needs redeploy");
    assert.deepEqual(r.reasons, ["not prepared: no prepare script, no marker (the machine was provisioned before the model had this userdata)"]);
    assert.ok(r.notes.includes("0000:83:00.1 on snd_hda_intel"));
  });
});

test("dev, prepared by a prepare script from before the marker: needs redeploy", () => {
  devHost((h) => {
    h.prepare({ marker: false });
    h.reboot();
    const r = judge(h, DEV[0]!);
    assert.equal(r.verdict, "needs redeploy");
    assert.deepEqual(r.reasons, ["no marker: prepared by a userdata older than the marker, or the prepare script did not finish"]);
  });
});

test("dev, the prepare script failed: broken, with the commands that failed", () => {
  devHost((h) => {
    h.prepare();
    h.reboot();
    h.writeMarker("failed", "pci-pass", hostExpectations(DEV[0]!).render, "[update-grub]");
    const r = judge(h, DEV[0]!);
    assert.equal(r.verdict, "broken");
    assert.match(r.reasons[0]!, /^the prepare script failed \(\d{4}-\d\d-\d\dT[\d:]+Z\): \[update-grub\]$/);
  });
});

test("dev, without lsinitramfs: what the initramfs holds is a note, the verdict stands", () => {
  devHost(
    (h) => {
      h.prepare();
      h.reboot();
      const r = judge(h, DEV[0]!);
      assert.equal(r.verdict, "ready");
      assert.deepEqual(r.notes, [`what /boot/initrd.img-${KERNEL} holds is unknown (no lsinitramfs)`]);
      assert.equal(r.facts?.modules.initramfs, undefined);
    },
    { lsinitramfs: false },
  );
});

test("dev: a compute host of the bundle's nova-compute without the GPUs, and a container: no devices, not counted", () => {
  withBootedHost(DEV, [NIC], {}, (h) => {
    h.prepare();
    const r = judge(h, DEV[0]!, "nova-compute/7");
    assert.equal(r.verdict, "no devices");
    assert.deepEqual(r.reasons, ["holds none of pci-pass's devices (10de:1bb0)"]);
  });
  devHost(
    (h) => {
      const { out } = probe(h);
      assert.equal(out.container, true);
      assert.equal(analyseProbe(hostExpectations(DEV[0]!), "nova-compute/8", out).verdict, "no devices");
    },
    { container: true },
  );
});

test("mixed, an A100 host deployed without the tag's options: after preparing, the options wait in grub.cfg for the reboot", () => {
  withBootedHost(MIXED, A100_HOST, {}, (h) => {
    h.prepare();
    const r = judge(h, A100);
    assert.equal(r.verdict, "needs reboot");
    assert.deepEqual(r.reasons, [
      "intel_iommu=on is in /boot/grub/grub.cfg, not yet on the command line",
      "iommu=pt is in /boot/grub/grub.cfg, not yet on the command line",
      "modprobe.blacklist=nouveau,nvidiafb is in /boot/grub/grub.cfg, not yet on the command line",
      "vfio-pci.ids=10de:20b5 is in /boot/grub/grub.cfg, not yet on the command line",
      `/boot/initrd.img-${KERNEL} was rebuilt after this boot (2024-06-03T06:42:00Z, booted 2024-06-03T06:40:00Z)`,
    ]);
    assert.deepEqual(r.facts?.missingOptions, ["intel_iommu=on", "iommu=pt", "modprobe.blacklist=nouveau,nvidiafb", "vfio-pci.ids=10de:20b5"]);
    h.reboot();
    assert.equal(judge(h, A100).verdict, "ready");
  });
});

test("mixed, an A100 host whose options left grub (the drop-in removed, update-grub): broken, the next boot drops them", () => {
  withBootedHost(MIXED, A100_HOST, { maasKernelOptions: "" }, (h) => {
    h.prepare();
    h.reboot();
    unlinkSync(h.file("/etc/default/grub.d/99-pci-passthrough.cfg"));
    h.later("update-grub");
    const r = judge(h, A100);
    assert.equal(r.verdict, "broken");
    assert.deepEqual(r.reasons, [
      "intel_iommu=on is on the command line but not in /boot/grub/grub.cfg's default entry: the next boot drops it",
      "iommu=pt is on the command line but not in /boot/grub/grub.cfg's default entry: the next boot drops it",
      "modprobe.blacklist=nouveau,nvidiafb is on the command line but not in /boot/grub/grub.cfg's default entry: the next boot drops it",
      "vfio-pci.ids=10de:20b5 is on the command line but not in /boot/grub/grub.cfg's default entry: the next boot drops it",
      "/etc/default/grub.d/99-pci-passthrough.cfg is missing",
    ]);
  });
});

test("mixed, an A100 host with another GPU at 0000:31:00.0, and one on nouveau: broken, with the address", () => {
  const other = A100_HOST.map((f) => (f.address === "0000:31:00.0" ? { ...f, id: "10de:2236" } : f));
  rebooted(other, A100, (h) => {
    assert.deepEqual(judge(h, A100).reasons, ["0000:31:00.0 holds 10de:2236, not 10de:20b5"]);
  });
  rebooted(
    A100_HOST,
    A100,
    (h) => {
      const r = judge(h, A100);
      assert.deepEqual([r.verdict, r.reasons], ["broken", ["0000:31:00.0 on nouveau"]]);
    },
    { "0000:31:00.0": "nouveau" },
  );
});

test("mixed, an A100 whose IOMMU group holds its USB controller on xhci_hcd and a bridge on pcieport: broken, list the controller as a companion", () => {
  const functions: BootedFunction[] = [
    ...A100_HOST,
    { address: "0000:16:00.0", id: "8086:347a", driver: "pcieport", group: 20, class: "0x060400" },
    { address: "0000:17:00.2", id: "10de:1ad9", driver: "xhci_hcd", group: 20, class: "0x0c0330" },
  ];
  rebooted(functions, A100, (h) => {
    const r = judge(h, A100);
    assert.equal(r.verdict, "broken");
    assert.deepEqual(r.reasons, ["0000:17:00.2 (10de:1ad9) shares the IOMMU group of 0000:17:00.0 and is on xhci_hcd: QEMU refuses the group; list 10de:1ad9 as a companion"]);
  });
});

test("mixed, an L40S host (driver-override): ready after its reboot; broken once its unit is disabled", () => {
  rebooted(L40S_HOST, L40S, (h) => {
    assert.deepEqual(judge(h, L40S).verdict, "ready");
    const [link] = bindUnitLinks();
    unlinkSync(h.file(link!));
    const r = judge(h, L40S);
    assert.equal(r.verdict, "broken");
    assert.deepEqual(r.reasons, [`pci-passthrough-bind.service is not enabled (no ${link}): the devices stay with their drivers at the next boot`]);
  });
});

test("mixed, an L40S host judged as a unit of nova-compute-a100: broken (the hardware is not a100's)", () => {
  rebooted(L40S_HOST, L40S, (h) => {
    const r = judge(h, A100);
    assert.equal(r.verdict, "broken");
    assert.deepEqual(r.reasons, ["holds none of a100's devices (10de:20b5): not a host of group a100 (0000:17:00.0 holds 10de:26b9, not 10de:20b5; 0000:31:00.0 is missing)"]);
  });
});

test("mixed, both A100s in one IOMMU group: each is judged as a device of its own, the host is ready", () => {
  const oneGroup = A100_HOST.map((f) => (f.address === "0000:31:00.0" ? { ...f, group: 20 } : f));
  rebooted(oneGroup, A100, (h) => {
    const r = judge(h, A100);
    assert.equal(r.verdict, "ready");
    assert.deepEqual(
      r.facts?.functions.map((f) => `${f.address} ${f.role} of ${f.of}`),
      ["0000:17:00.0 device of 0000:17:00.0", "0000:31:00.0 device of 0000:31:00.0"],
    );
  });
});

test("mixed: a saved output's group is the one its marker names, else the one whose device it holds at the group's addresses", () => {
  const all = MIXED.map(hostExpectations);
  withBootedHost(MIXED, A100_HOST, { maasKernelOptions: kernelCmdline(A100) }, (h) => {
    h.prepare();
    assert.equal(groupOfProbe(all, probe(h).out)?.group, "a100");
  });
  withBootedHost(MIXED, L40S_HOST, {}, (h) => {
    h.finishCloudInit();
    assert.equal(groupOfProbe(all, probe(h).out)?.group, "l40s");
  });
  withBootedHost(MIXED, [NIC], {}, (h) => {
    h.finishCloudInit();
    assert.equal(groupOfProbe(all, probe(h).out), undefined);
  });
});

test("the probe refuses to guess: no /proc is exit 1 and says so; cut-short output and another format are unknown", () => {
  devHost((h) => {
    const r = h.runScript(renderProbe(DEV), { PROC_ROOT: path.join(h.dest, "nowhere") });
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `pci-passthrough-probe: cannot read ${path.join(h.dest, "nowhere")}/cmdline\n`);
    h.prepare();
    h.reboot();
    const { text } = probe(h);
    const cut = analyseProbe(hostExpectations(DEV[0]!), "nova-compute/0", (parseProbe(text.replace(/end=ok\n$/, "")) as { probe: ProbeOutput }).probe);
    assert.deepEqual([cut.verdict, cut.reasons], ["unknown", ["the probe's output ends early (no end=ok): it was cut short"]]);
    assert.deepEqual(parseProbe(text.replace(/^pci-passthrough-probe=1$/m, "pci-passthrough-probe=2")), {
      ok: false,
      problem: "probe output format 2; this verify reads format 1 (render the probe again)",
    });
    assert.deepEqual(parseProbe("hello\n"), { ok: false, problem: "no pci-passthrough-probe= line: not the probe's output" });
  });
});

test("the marker: write_marker's file reads back; another format or result is refused", () => {
  devHost((h) => {
    h.writeMarker("several-groups", "a100 l40s", "", "");
    const { out } = probe(h);
    assert.equal(out.marker?.result, "several-groups");
    assert.equal(out.marker?.group, "a100 l40s");
    assert.match(out.markerText ?? "", /^format=1\nresult=several-groups\ngroup=a100 l40s\nrender=\nfailed=\ntime=\d{4}-/);
  });
  assert.deepEqual(parseMarker("format=2\nresult=ok\n"), { ok: false, problem: `${MARKER_PATH}: format 2, this verify reads format 1` });
  assert.deepEqual(parseMarker("format=1\nresult=maybe\n"), { ok: false, problem: `${MARKER_PATH}: unknown result "maybe"` });
});

test("the per-group summary counts each verdict and names why hosts are broken; hosts with no devices are not counted", () => {
  const report = (host: string, verdict: HostReport["verdict"], reasons: string[] = []): HostReport => ({ host, group: "a100", application: "nova-compute-a100", verdict, reasons, notes: [] });
  const reports = [
    ...["0", "1", "2", "3", "4", "5"].map((n) => report(`nova-compute-a100/${n}`, "ready")),
    report("nova-compute-a100/6", "needs reboot", ["intel_iommu=on is in /boot/grub/grub.cfg, not yet on the command line"]),
    report("nova-compute-a100/7", "broken", ["0000:31:00.0 on nouveau"]),
  ];
  assert.equal(groupSummary("a100", reports), "a100: 6/8 ready, 1 needs reboot, 1 broken: 0000:31:00.0 on nouveau");
  assert.equal(
    groupSummary("pci-pass", [report("nova-compute/0", "ready"), report("nova-compute/1", "no devices"), report("nova-compute/2", "needs redeploy"), report("nova-compute/3", "unknown", ["no result from Juju (the unit is down, or did not answer in time)"])]),
    "pci-pass: 1/3 ready, 1 needs redeploy, 1 unknown: no result from Juju (the unit is down, or did not answer in time) (1 other unit without pci-pass's devices, not counted)",
  );
  assert.equal(hostsExitCode(reports), 1);
  assert.equal(hostsExitCode([report("x/0", "ready"), report("x/1", "no devices")]), 0);
  assert.equal(hostsExitCode([report("x/0", "broken"), report("x/1", "unknown")]), 3);
});
