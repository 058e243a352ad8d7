// The host probe (render/host/probe.ts) run for real against fake hosts (test/fake-booted-host.ts) through their
// life, and what the analysis (tools/verify/hosts.ts) concludes from its output: a host freshly prepared on its
// first boot needs a reboot, after the second boot it is ready; one prepared by an older userdata, or by none,
// needs a redeploy; one whose initramfs lost vfio, or whose companion is on its host driver, is broken, with the
// reason. The probe passes shellcheck, reads only the fake trees, and changes nothing. Here the one-group stack.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { requireSiteConfig } from "../../config/parse";
import { kernelCmdline } from "../../render/host/kernel";
import { INITRAMFS_MODULES_PATH } from "../../render/host/files";
import { renderProbe } from "../../render/host/probe";
import { hostExpectations } from "../../render/host/expectations";
import { analyseProbe, type HostReport } from "../../tools/verify/hosts";
import { hostsExitCode, hostsJson, hostsReport } from "../../tools/verify/hosts-report";
import { KERNEL, withBootedHost } from "../fake-booted-host";
import { snapshot } from "../fake-host";
import { editStack, expectGolden, loadStack, needTool, STACKS } from "../helpers";
import { DEV, MIXED, NIC, devHost, judge, probe } from "./probe-helpers";

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

test("dev, a later intel_iommu=off from another tag: the kernel takes the last value, so not ready", () => {
  devHost(
    (h) => {
      h.prepare();
      h.reboot();
      const r = judge(h, DEV[0]!);
      assert.notEqual(r.verdict, "ready");
      assert.ok(r.reasons.some((x) => x.includes("intel_iommu=on")), JSON.stringify(r.reasons));
    },
    { maasKernelOptions: `${kernelCmdline(DEV[0]!)} intel_iommu=off` },
  );
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
