// npm run test:host-vm: host preparation proven on booted machines (harness.ts says how). Needs root,
// qemu-system-x86, debootstrap, systemd-nspawn and debugfs (e2fsprogs); skips with the reason without
// them, fails instead under CI=1. The image is cached in .host-vm/ (a cold build takes a few minutes).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { parse } from "yaml";
import { PREPARE_SCRIPT_PATH } from "../../render/host/prepare";
import { renderSite } from "../../render/site";
import { needTool } from "../helpers";
import { MIXED_GROUPS_CASE, NEGATIVE_CASE, POSITIVE_CASES } from "./cases";
import { runCase } from "./harness";
import { foreignToMachine } from "./render";
import type { CaseResult, HostVmCase } from "./types";
import { ensureImage, type Image } from "./image";

const log = (line: string) => process.stderr.write(`host-vm: ${line}\n`);

const missing =
  needTool("qemu-system-x86_64", "qemu-system-x86") ||
  needTool("debootstrap", "debootstrap") ||
  needTool("systemd-nspawn", "systemd-container") ||
  needTool("debugfs", "e2fsprogs", ["-V"]) ||
  (process.getuid?.() !== 0 && !process.env.CI ? "needs root (debootstrap, mount, systemd-nspawn)" : false);

/** Machines booted at once: one per host CPU (HOST_VM_PARALLEL overrides). */
const PARALLEL = Number(process.env.HOST_VM_PARALLEL ?? availableParallelism());

/** HOST_VM_ONLY=TEXT runs only the cases whose name contains TEXT (for working on one case). */
const only = (c: HostVmCase): string | false => {
  const want = process.env.HOST_VM_ONLY;
  return want !== undefined && !c.name.includes(want) ? `HOST_VM_ONLY=${want}` : false;
};

function summary(c: HostVmCase, r: CaseResult): string {
  const times = r.times.map((t) => `  ${t.phase}: ${(t.ms / 1000).toFixed(1)} s`).join("\n");
  const failures = r.failures.map((f) => `  [${f.phase}] ${f.message}`).join("\n");
  return `${c.name} (files in ${r.dir})\nphase times:\n${times}${failures ? `\nfailures:\n${failures}` : ""}`;
}

// The mixed-group case proves that nothing of group "other" reaches the vga host only if "other" has
// something vga has not: checked without booting, so the case cannot pass for want of a difference.
test("the mixed-group case's machine has files and kernel options of group other to be absent", () => {
  const foreign = foreignToMachine(MIXED_GROUPS_CASE, MIXED_GROUPS_CASE.machines[0]!);
  assert.deepEqual(Object.fromEntries(foreign.files), {
    "/usr/local/sbin/pci-passthrough-bind": ["other"],
    "/etc/systemd/system/pci-passthrough-bind.service": ["other"],
  });
  assert.deepEqual(Object.fromEntries(foreign.kernelOptions), { "iommu=pt": ["other"], "modprobe.blacklist=cirrus,cirrusfb": ["other"] });
  // A machine of the single-group site has no other group.
  const single = POSITIVE_CASES[0]!;
  const none = foreignToMachine(single, single.machines[0]!);
  assert.equal(none.files.size + none.kernelOptions.size, 0);
});

// The negative case must break what it says, in the one script the userdata ships, and nothing else.
test("the broken-on-purpose userdata ships /etc/rc.local without its shebang and no vfio for the initramfs", () => {
  const shipped = (userdata: string) => {
    const doc = parse(userdata, { version: "1.1" }) as { write_files: { path: string; content: string }[] };
    return Buffer.from(doc.write_files.find((f) => f.path === PREPARE_SCRIPT_PATH)!.content, "base64").toString("utf8");
  };
  const good = renderSite(NEGATIVE_CASE.site).userdata;
  const before = shipped(good);
  const after = shipped(NEGATIVE_CASE.breakUserdata!(good));
  assert.match(before, /^ +put 0755 \/etc\/rc\.local <<'PCI_PASSTHROUGH_EOF'\n#!\/bin\/sh\n/m);
  assert.match(after, /^ +put 0755 \/etc\/rc\.local <<'PCI_PASSTHROUGH_EOF'\n# \/etc\/rc\.local: /m);
  assert.match(before, /append 0644 \/etc\/initramfs-tools\/modules/);
  assert.doesNotMatch(after, /initramfs-tools\/modules/);
  // Only those lines are gone: each line of the script, counted.
  const count = (text: string) => text.split("\n").reduce((m, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map<string, number>());
  const [was, is] = [count(before), count(after)];
  const gone = [...was].flatMap(([l, n]) => Array<string>(n - (is.get(l) ?? 0)).fill(l));
  assert.deepEqual(gone.sort(), [
    "#!/bin/sh",
    "        append 0644 /etc/initramfs-tools/modules <<'PCI_PASSTHROUGH_EOF'",
    "# Added by pci-passthrough: vfio in the initramfs, before any GPU driver.",
    "vfio",
    "vfio_iommu_type1",
    "vfio_pci",
    "PCI_PASSTHROUGH_EOF",
  ].sort());
  assert.ok([...is].every(([l]) => was.has(l)), "nothing added");
});

describe("host preparation on booted machines", { concurrency: PARALLEL, skip: missing }, () => {
  let image: Image | undefined;
  const suiteStart = Date.now();

  before(async () => {
    const start = Date.now();
    image = await ensureImage(log);
    log(`image ${image.built ? "built" : "cached"}: ${((Date.now() - start) / 1000).toFixed(1)} s`);
  });

  after(() => log(`whole suite: ${((Date.now() - suiteStart) / 1000).toFixed(1)} s, ${PARALLEL} machines at a time`));

  for (const c of [...POSITIVE_CASES, MIXED_GROUPS_CASE]) {
    test(c.name, { skip: only(c) }, async (t) => {
      const r = await runCase(c, image!, log);
      t.diagnostic(summary(c, r));
      assert.deepEqual(r.failures, [], summary(c, r));
    });
  }

  test(NEGATIVE_CASE.name, { skip: only(NEGATIVE_CASE) }, async (t) => {
    const r = await runCase(NEGATIVE_CASE, image!, log);
    t.diagnostic(summary(NEGATIVE_CASE, r));
    const phases = [...new Set(r.failures.map((f) => f.phase))].sort();
    // rc.local without a shebang: rc-local.service fails at the reboot (exec format error) and nothing
    // binds the devices; vfio left out of the initramfs shows in the initramfs the machine booted; both
    // userdata edits show as files that differ from the render. Nothing before the reboot notices.
    assert.deepEqual(phases, ["intel: boot 2: drivers", "intel: boot 2: files", "intel: boot 2: initramfs", "intel: boot 2: systemd"], summary(NEGATIVE_CASE, r));
    const text = (phase: string) => r.failures.filter((f) => f.phase === phase).map((f) => f.message).join("\n");
    assert.match(text("intel: boot 2: systemd"), /rc-local\.service/);
    assert.match(text("intel: boot 2: systemd"), /Exec format error/);
    assert.match(text("intel: boot 2: drivers"), /0000:00:05\.0 uses no driver, expected vfio-pci/);
    assert.match(text("intel: boot 2: initramfs"), /lacks vfio, vfio_iommu_type1, vfio_pci/);
  });
});
