// Host preparation renderers: kernel options, the model's cloudinit-userdata and the model-config file.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { requireSiteConfig } from "../../config/parse";
import type { Binding, SiteConfig } from "../../config/types";
import { GRUB_DROPIN_PATH, INITRAMFS_MODULES_PATH, MODPROBE_CONF_PATH, hostActions, hostFiles } from "../../render/host/files";
import { bindingScript, bindingUnit } from "../../render/host/binding";
import { kernelCmdline, kernelOptions, vfioIds } from "../../render/host/kernel";
import { renderModelConfig, renderUserdata, userdataParts } from "../../render/host/userdata";
import { asCloudInitSeesIt } from "../juju-userdata-merge";
import { jujuUserdataProblems } from "../../domain/juju";
import { PREPARE_SCRIPT_PATH } from "../../render/host/prepare";
import { editStack, expectGolden, loadStack, STACKS } from "../helpers";

const BINDINGS: readonly Binding[] = ["modprobe", "driver-override", "rc-local"];

/** A stack with every group's hosts on `binding`. */
const withBinding = (stack: string, binding: Binding): SiteConfig =>
  requireSiteConfig(editStack(stack, (raw) => [...(raw.hostGroups ?? [raw]).map((g: { host: { binding?: string } }) => g.host)].forEach((h) => (h.binding = binding))));

interface WriteFileEntry {
  path: string;
  content: string;
  permissions: string;
  owner: string;
  encoding?: string;
  append?: boolean;
}

const userdataOf = (site: SiteConfig) => parse(renderUserdata(site.groups), { version: "1.1" }) as { write_files: WriteFileEntry[]; postruncmd: string[] };

for (const stack of STACKS) {
  test(`${stack}: kernel options and model config match the golden files`, () => {
    const site = loadStack(stack);
    // One line per group's tag.
    expectGolden(`${stack}-kernel-options.txt`, site.groups.map((g) => `${kernelCmdline(g)}\n`).join(""));
    expectGolden(`${stack}-model-config.yaml`, renderModelConfig(renderUserdata(site.groups)));
  });
}

test("lab: the driver-override script and unit match the golden files", () => {
  const site = loadStack("lab");
  expectGolden("host-lab-pci-passthrough-bind.sh", bindingScript(site.groups[0]!) ?? "");
  expectGolden("host-lab-pci-passthrough-bind.service", bindingUnit(site.groups[0]!.host.binding) ?? "");
});

test("dev with rc-local binding: /etc/rc.local matches the golden file", () => {
  expectGolden("host-dev-rc.local", bindingScript(withBinding("dev", "rc-local").groups[0]!) ?? "");
});

test("kernel options: the runbook's options for dev, in a stable order", () => {
  assert.deepEqual(kernelOptions(loadStack("dev").groups[0]!), [
    "intel_iommu=on",
    "vfio_iommu_type1.allow_unsafe_interrupts=1",
    "modprobe.blacklist=nvidiafb,nouveau",
    "vfio-pci.ids=10de:10f0,10de:1bb0",
  ]);
  assert.equal(
    kernelCmdline(loadStack("dev").groups[0]!),
    "intel_iommu=on vfio_iommu_type1.allow_unsafe_interrupts=1 modprobe.blacklist=nvidiafb,nouveau vfio-pci.ids=10de:10f0,10de:1bb0",
  );
});

test("kernel options: AMD, iommu=pt, no unsafe interrupts, vfio-pci.ids only for the modprobe binding", () => {
  // Nothing for the AMD IOMMU itself: on by default, and the kernel has no amd_iommu=on.
  assert.deepEqual(kernelOptions(loadStack("lab").groups[0]!), ["iommu=pt", "modprobe.blacklist=nouveau,nvidiafb,snd_hda_intel"]);
  assert.deepEqual(kernelOptions(withBinding("lab", "modprobe").groups[0]!), [
    "iommu=pt",
    "modprobe.blacklist=nouveau,nvidiafb,snd_hda_intel",
    "vfio-pci.ids=10de:1aef,10de:2230,8086:1592",
  ]);
  assert.deepEqual(kernelOptions(withBinding("lab", "rc-local").groups[0]!), kernelOptions(loadStack("lab").groups[0]!));
});

test("kernel options: no blacklist option without drivers, and never a duplicate", () => {
  const site = requireSiteConfig(
    editStack("dev", (raw) => {
      raw.host.blacklistDrivers = [];
      raw.host.allowUnsafeInterrupts = false;
      raw.devices.push({ alias: "gpu", vendorId: "10de", productId: "1bb0", addresses: ["0000:85:00.0"] });
    }),
  );
  assert.deepEqual(kernelOptions(site.groups[0]!), ["intel_iommu=on", "vfio-pci.ids=10de:10f0,10de:1bb0"]);
});

test("kernel options: never amd_iommu=on; an AMD host with nothing asked has none, and no grub drop-in", () => {
  const amd = (edit: (host: Record<string, unknown>) => void) =>
    requireSiteConfig(
      editStack("lab", (raw) => {
        raw.host.iommuPassthrough = false;
        raw.host.blacklistDrivers = [];
        edit(raw.host);
      }),
    );
  // drivers/iommu/amd/init.c parse_amd_iommu_options has no "on" (it would log "Unknown option").
  for (const binding of BINDINGS) {
    for (const pt of [false, true]) {
      const opts = kernelOptions(amd((h) => Object.assign(h, { binding, iommuPassthrough: pt })).groups[0]!);
      assert.ok(!opts.some((o) => o.startsWith("amd_iommu")), opts.join(" "));
      assert.equal(opts.includes("iommu=pt"), pt);
    }
  }
  const bare = amd((h) => (h.binding = "driver-override"));
  assert.deepEqual(kernelOptions(bare.groups[0]!), []);
  assert.equal(kernelCmdline(bare.groups[0]!), "");
  assert.equal(hostFiles(bare.groups[0]!).find((f) => f.path === GRUB_DROPIN_PATH), undefined);
  // The same host on Intel still needs intel_iommu=on, and gets its drop-in.
  const intel = requireSiteConfig(editStack("lab", (raw) => Object.assign(raw.host, { iommu: "intel", iommuPassthrough: false, blacklistDrivers: [] })));
  assert.deepEqual(kernelOptions(intel.groups[0]!), ["intel_iommu=on"]);
  assert.ok(hostFiles(intel.groups[0]!).some((f) => f.path === GRUB_DROPIN_PATH));
});

test("vfioIds: device ids and companions, sorted, without duplicates", () => {
  // The P5000 and its HDMI audio (the runbook leaves the audio out).
  assert.deepEqual(vfioIds(loadStack("dev").groups[0]!.devices), ["10de:10f0", "10de:1bb0"]);
  assert.deepEqual(vfioIds(loadStack("lab").groups[0]!.devices), ["10de:1aef", "10de:2230", "8086:1592"]);
  const site = requireSiteConfig(
    editStack("lab", (raw) => {
      raw.devices[1].companions = ["10de:1aef", "8086:0001"];
    }),
  );
  assert.deepEqual(vfioIds(site.groups[0]!.devices), ["10de:1aef", "10de:2230", "8086:0001", "8086:1592"]);
});

test("userdata: only write_files and postruncmd, nothing Juju refuses: one script, written and run, for one group as for several", () => {
  for (const stack of STACKS) {
    for (const binding of BINDINGS) {
      const value = userdataOf(withBinding(stack, binding));
      assert.deepEqual(Object.keys(value), ["write_files", "postruncmd"], `${stack}/${binding}`);
      assert.deepEqual(jujuUserdataProblems(value), [], `${stack}/${binding}`);
      assert.deepEqual(value.write_files.map((f) => [f.path, f.permissions, f.encoding]), [[PREPARE_SCRIPT_PATH, "0755", "b64"]], `${stack}/${binding}`);
      assert.deepEqual(value.postruncmd, [PREPARE_SCRIPT_PATH], `${stack}/${binding}`);
    }
  }
});

test("host files: what each binding writes on a group's host, never replacing grub, /etc/modules or the initramfs list", () => {
  const paths = (binding: Binding) => hostFiles(withBinding("lab", binding).groups[0]!).map((f) => [f.path, f.permissions]);
  const common = [
    ["/etc/modprobe.d/pci-passthrough.conf", "0644"],
    ["/etc/modules-load.d/pci-passthrough.conf", "0644"],
    ["/etc/initramfs-tools/modules", "0644"],
    ["/etc/default/grub.d/99-pci-passthrough.cfg", "0644"],
  ];
  assert.deepEqual(paths("modprobe"), common);
  assert.deepEqual(paths("driver-override"), [
    ...common,
    ["/usr/local/sbin/pci-passthrough-bind", "0755"],
    ["/etc/systemd/system/pci-passthrough-bind.service", "0644"],
  ]);
  assert.deepEqual(paths("rc-local"), [...common, ["/etc/rc.local", "0755"]]);
  for (const binding of BINDINGS) {
    const files = hostFiles(withBinding("dev", binding).groups[0]!);
    for (const f of files) assert.ok(!["/etc/default/grub", "/etc/modules"].includes(f.path), f.path);
    const initramfs = files.find((f) => f.path === INITRAMFS_MODULES_PATH);
    assert.equal(initramfs?.append, true);
    assert.equal(initramfs?.content, "# Added by pci-passthrough: vfio in the initramfs, before any GPU driver.\nvfio\nvfio_iommu_type1\nvfio_pci\n");
  }
});

test("userdata: the prepare script travels base64-encoded and holds each file verbatim, the binding script among them", () => {
  for (const binding of BINDINGS) {
    const site = withBinding("lab", binding);
    const entry = userdataOf(site).write_files[0]!;
    const script = Buffer.from(entry.content, "base64").toString("utf8");
    assert.equal(script, userdataParts(site.groups).files[0]!.content);
    assert.match(script, /^#!\/bin\/sh\n/);
    for (const f of hostFiles(site.groups[0]!)) assert.ok(script.includes(`${f.path} <<'PCI_PASSTHROUGH_EOF'\n${f.content}PCI_PASSTHROUGH_EOF\n`), `${binding}: ${f.path}`);
  }
  for (const binding of ["driver-override", "rc-local"] as const) {
    const script = bindingScript(withBinding("lab", binding).groups[0]!) ?? "";
    assert.match(script, /^#!\/bin\/sh\n/);
    assert.match(script, /\nexit 0\n$/);
  }
  assert.equal(bindingScript(loadStack("dev").groups[0]!), undefined);
  assert.equal(bindingUnit(withBinding("dev", "rc-local").groups[0]!.host.binding), undefined);
});

test("modprobe binding: the modprobe file names every id including companions, with a softdep per driver", () => {
  const file = hostFiles(withBinding("lab", "modprobe").groups[0]!).find((f) => f.path === MODPROBE_CONF_PATH);
  assert.equal(
    file?.content,
    [
      "# Generated by pci-passthrough (binding: modprobe): vfio-pci claims the passthrough devices first.",
      "blacklist nouveau",
      "blacklist nvidiafb",
      "blacklist snd_hda_intel",
      "options vfio-pci ids=10de:1aef,10de:2230,8086:1592",
      "softdep nouveau pre: vfio-pci",
      "softdep nvidiafb pre: vfio-pci",
      "softdep snd_hda_intel pre: vfio-pci",
      "",
    ].join("\n"),
  );
});

test("other bindings: the modprobe file only blacklists, and is left out when there is nothing to blacklist", () => {
  const file = hostFiles(loadStack("lab").groups[0]!).find((f) => f.path === MODPROBE_CONF_PATH);
  assert.equal(
    file?.content,
    "# Generated by pci-passthrough (binding: driver-override): keep these drivers from loading.\nblacklist nouveau\nblacklist nvidiafb\nblacklist snd_hda_intel\n",
  );
  const none = requireSiteConfig(editStack("lab", (raw) => (raw.host.blacklistDrivers = [])));
  assert.equal(hostFiles(none.groups[0]!).find((f) => f.path === MODPROBE_CONF_PATH), undefined);
});

// The drop-in's exact text is pinned by the golden files (dev-host-files.txt); this runs it as update-grub does.
test("grub drop-in, sourced by sh: appends each MAAS tag option the command line lacks, once", () => {
  const site = loadStack("dev");
  const opts = kernelCmdline(site.groups[0]!);
  const dropin = hostFiles(site.groups[0]!).find((f) => f.path === GRUB_DROPIN_PATH)!.content;
  const dir = mkdtempSync(path.join(tmpdir(), "grub-dropin-"));
  const script = path.join(dir, "99.cfg");
  writeFileSync(script, dropin);
  const source = (linux: string, linuxDefault: string) => {
    const r = spawnSync("sh", ["-c", '. "$1"; printf "%s|%s" "$GRUB_CMDLINE_LINUX_DEFAULT" "${pcipt_opt-unset}${pcipt_opts+ and pcipt_opts}"', "sh", script], {
      encoding: "utf8",
      env: { ...process.env, GRUB_CMDLINE_LINUX: linux, GRUB_CMDLINE_LINUX_DEFAULT: linuxDefault },
    });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  after(() => rmSync(dir, { recursive: true, force: true }));
  // A machine deployed before the tag existed: every option added.
  assert.equal(source("", "quiet"), `quiet ${opts}|unset`);
  // What curtin leaves on a MAAS deployment (console= and the tag's options): nothing added.
  assert.equal(source("", `console=ttyS0 ${opts}`), `console=ttyS0 ${opts}|unset`);
  // Options set in GRUB_CMDLINE_LINUX count too; only the missing one is added.
  const [first, ...rest] = opts.split(" ");
  assert.equal(source(rest.join(" "), "quiet"), `quiet ${first}|unset`);
});

test("host actions: the unit enabled (driver-override), then for every binding the devices bound now, update-initramfs -u, update-grub", () => {
  const bindNow = ["bind_now", "0000:83:00.0", "10de:1bb0", "0000:84:00.0", "10de:1bb0"];
  const rest = [["update-initramfs", "-u"], ["update-grub"]];
  assert.deepEqual(hostActions(loadStack("dev").groups[0]!).map((a) => a.argv), [bindNow, ...rest]);
  assert.deepEqual(hostActions(withBinding("dev", "rc-local").groups[0]!).map((a) => a.argv), [bindNow, ...rest]);
  assert.deepEqual(hostActions(withBinding("dev", "driver-override").groups[0]!).map((a) => a.argv), [
    ["systemctl", "enable", "pci-passthrough-bind.service"],
    bindNow,
    ...rest,
  ]);
});

test("model config: one key, cloudinit-userdata, holding the userdata text verbatim", () => {
  for (const stack of STACKS) {
    const site = loadStack(stack);
    assert.deepEqual(parse(renderModelConfig(renderUserdata(site.groups)), { version: "1.1" }), { "cloudinit-userdata": renderUserdata(site.groups) });
    assert.match(renderModelConfig(renderUserdata(site.groups)), /^cloudinit-userdata: \|/);
  }
});

test("asCloudInitSeesIt: preruncmd, Juju's commands and postruncmd folded into runcmd, other keys kept", () => {
  const merged = asCloudInitSeesIt("preruncmd: [a, [b, c]]\npostruncmd: [d]\nwrite_files: []\n");
  assert.match(merged, /^#cloud-config\n/);
  assert.deepEqual(parse(merged), {
    write_files: [],
    runcmd: ["a", ["b", "c"], "set -xe", "mkdir -p /var/lib/juju/locks", "mkdir -p /var/log/juju", "set +xe", "d"],
  });
  const fromRendered = parse(asCloudInitSeesIt(renderUserdata(loadStack("dev").groups))) as { runcmd: string[] };
  assert.deepEqual(fromRendered.runcmd.slice(-2), ["set +xe", PREPARE_SCRIPT_PATH]);
});

test("asCloudInitSeesIt refuses what Juju refuses", () => {
  assert.throws(() => asCloudInitSeesIt("runcmd: [x]\n"), /runcmd not allowed, use preruncmd or postruncmd instead/);
  assert.throws(() => asCloudInitSeesIt("users: []\n"), /users not allowed/);
  assert.throws(() => asCloudInitSeesIt("bootcmd: [x]\n"), /bootcmd not allowed/);
  assert.throws(() => asCloudInitSeesIt("postruncmd: [{a: b}]\n"), /postruncmd\[0\] must be a string or a list of strings/);
  assert.throws(() => asCloudInitSeesIt("packages: [[x]]\n"), /packages must be a list of strings/);
  assert.throws(() => asCloudInitSeesIt("- x\n"), /must be a YAML mapping/);
});
