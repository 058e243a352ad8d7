// The host probe on the hosts of the mixed stack (three groups), the marker, and the per-group summary
// (render/host/probe.ts, tools/verify/hosts.ts), run for real against fake hosts (test/fake-booted-host.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { unlinkSync } from "node:fs";
import * as path from "node:path";
import { kernelCmdline } from "../../render/host/kernel";
import { MARKER_PATH, parseMarker } from "../../render/host/marker";
import { renderProbe } from "../../render/host/probe";
import { bindUnitLinks, hostExpectations } from "../../render/host/expectations";
import { parseProbe, type ProbeOutput } from "../../render/host/probe-output";
import { analyseProbe, groupOfProbe, type HostReport } from "../../tools/verify/hosts";
import { groupSummary, hostsExitCode } from "../../tools/verify/hosts-report";
import { KERNEL, withBootedHost, type BootedFunction } from "../fake-booted-host";
import { A100, A100_HOST, DEV, L40S, L40S_HOST, MIXED, NIC, devHost, judge, probe, rebooted } from "./probe-helpers";

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
