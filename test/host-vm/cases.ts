// The cases of the host-vm test: the stand-in stack (Pulumi.standin.yaml) for each binding and IOMMU,
// the QEMU machine that has its devices, what the machine must look like after its reboot, the
// userdata broken on purpose, and a host of one group of a two-group site (Pulumi.standin-groups.yaml).
// Another stack shape is one more HostVmCase: its own site, machines and expectations.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { BINDINGS } from "../../config/sections/host";
import { requireSiteConfig } from "../../config/parse";
import type { Binding, SiteConfig } from "../../config/types";
import { fromStackFile } from "../../config/stack";
import { RC_LOCAL_PATH } from "../../render/host/binding";
import { INITRAMFS_MODULES_PATH } from "../../render/host/files";
import { JUJU_YAML_OPTIONS } from "../../domain/juju";
import { PREPARE_SCRIPT_PATH } from "../../render/host/prepare";
import type { Iommu } from "./guest";
import type { HostVmCase, HostsVerdicts, Machine } from "./types";

/** A stack file of this folder, as the program reads it. */
const standinStack = (file: string) => fromStackFile(readFileSync(path.join(__dirname, file), "utf8")).raw as Record<string, any>;

/** The stand-in site with the binding and IOMMU vendor of a case (and the host keys `host` sets). */
export function standinSite(binding: Binding, iommu: Iommu, host: Record<string, unknown> = {}): SiteConfig {
  const raw = standinStack("Pulumi.standin.yaml");
  raw.host = { ...raw.host, binding, iommu, ...host };
  return requireSiteConfig(raw);
}

/** What verify --hosts says of a stand-in host the userdata prepared: after the first boot, which rebuilt the
 * initramfs, a reboot is pending (the kernel options are already on the command line: MAAS deployed it with
 * them); after the reboot it is ready. */
const PREPARED_HOST: HostsVerdicts = {
  boot1: { verdict: "needs reboot", reason: /^\/boot\/initrd\.img-\S+ was rebuilt after this boot/m },
  boot2: { verdict: "ready" },
};

/** One case also proves what verify --hosts says of a host changed later (no boot of its own): judged against a
 * later render of its site (another driver blacklisted: the model's userdata changed after the machine was
 * deployed), and after its companion was handed back to its host driver by hand. */
const PREPARED_HOST_LATER = (binding: Binding, iommu: Iommu): HostsVerdicts => ({
  ...PREPARED_HOST,
  laterSite: {
    site: standinSite(binding, iommu, { blacklistDrivers: ["bochs", "cirrus"] }),
    expect: { verdict: "needs redeploy", reason: /^prepared by another render of the userdata/m },
  },
  change: {
    what: "the companion back on snd_hda_intel",
    // The kernel's own interfaces: clear the override, unbind from vfio-pci, bind to the sound driver.
    script: [
      "set -e",
      "a=0000:00:05.1",
      'echo > "/sys/bus/pci/devices/$a/driver_override"',
      'echo "$a" > "/sys/bus/pci/devices/$a/driver/unbind"',
      "modprobe snd_hda_intel",
      'echo "$a" > /sys/bus/pci/drivers/snd_hda_intel/bind',
      'readlink "/sys/bus/pci/devices/$a/driver"',
      "",
    ].join("\n"),
    expect: { verdict: "broken", reason: /^0000:00:05\.1 on snd_hda_intel$/m },
  },
});

// Where the stand-ins sit on the machine: the addresses Pulumi.standin.yaml configures.
const GPU = "0000:00:05.0";
const GPU_AUDIO = "0000:00:05.1";
const GPU2 = "0000:00:06.0";
const NIC = "0000:00:07.0";

/** QEMU's VGA at 00:05.0 with the HDA companion as its slot's second function, and the e1000e NIC. */
const GPU_WITH_AUDIO = ["VGA,bus=pcie.0,addr=05.0,multifunction=on", "ich9-intel-hda,bus=pcie.0,addr=05.1"];
const E1000E = "e1000e,netdev=net0,bus=pcie.0,addr=07.0,romfile=";
const NETDEVS = ["user,id=net0,restrict=on"];
/** vfio modules in the initramfs, before any GPU driver. */
const VFIO_IN_INITRAMFS = ["vfio", "vfio_iommu_type1", "vfio_pci"];

/** What the prepare script says (render/host/prepare.ts prepareScript). */
const PREPARE_SAYS = (what: string) => new RegExp(`^pci-passthrough-prepare: ${what}\\r?$`, "m");

/** The companion on its host driver at the first boot (snd_hda_intel is not blacklisted), taken by the prepare
 * script before any reboot: vfio-pci's ids= never takes a function that has a driver. */
const COMPANION_TAKEN = PREPARE_SAYS("0000:00:05\\.1 handed to vfio-pci \\(driver before: snd_hda_intel\\)");

/**
 * The GPU host: QEMU's VGA (1234:1111, class 0300) with an ICH9 HDA controller (8086:293e) as the second
 * function of its slot, like a GPU's HDMI audio, in one IOMMU group; a bochs-display (1234:1111, class
 * 0380) alone in its slot; and an e1000e NIC (8086:10d3: same vendor as the companion, other product).
 * The NIC has no option ROM, so nothing is loaded from the network at boot. On the first boot snd_hda_intel
 * takes the HDA companion; after the prepare script (boot 1's checks) it must be on vfio-pci.
 */
export function standinMachine(iommu: Iommu, hosts: HostsVerdicts = PREPARED_HOST): Machine {
  return {
    name: iommu,
    iommu,
    devices: [...GPU_WITH_AUDIO, "bochs-display,bus=pcie.0,addr=06.0", E1000E],
    netdevs: NETDEVS,
    expect: {
      vfio: [GPU, GPU_AUDIO, GPU2],
      keep: { [NIC]: "e1000e" },
      notLoaded: ["bochs"],
      sameGroup: [[GPU, GPU_AUDIO]],
      initramfsModules: VFIO_IN_INITRAMFS,
      cloudInitOutput: [COMPANION_TAKEN, PREPARE_SAYS("host group pci-pass: prepared")],
      hosts,
    },
  };
}

/**
 * Every binding on Intel's IOMMU, and the default binding on AMD's (QEMU's amd-iommu works under TCG:
 * AMD-Vi enables interrupt remapping and fills the IOMMU groups). The bindings do not depend on the IOMMU
 * vendor, the kernel options do: one AMD machine proves those, and keeps the suite in its time budget.
 */
export const POSITIVE_CASES: readonly HostVmCase[] = [
  ...BINDINGS.map((binding) => ({
    name: `${binding}, intel`,
    site: standinSite(binding, "intel"),
    machines: [standinMachine("intel", binding === "modprobe" ? PREPARED_HOST_LATER(binding, "intel") : PREPARED_HOST)],
    container: true,
    containerOutput: [PREPARE_SAYS("running in a container, nothing to prepare")],
  })),
  {
    name: "modprobe, amd",
    site: standinSite("modprobe", "amd"),
    machines: [standinMachine("amd")],
    // The same userdata as "modprobe, intel" but for one kernel option: its container run says nothing new.
    container: false,
  },
];

/**
 * A host of group "vga" of the mixed-group stand-in site (Pulumi.standin-groups.yaml), whose group
 * "other" has its device at the same slot 00:05.0 with another vendor:product (QEMU's cirrus-vga,
 * 1013:00b8): the machine has only vga's devices and the NIC, and is deployed with vga's tag. The harness
 * checks vga's files and kernel options and that none of group other's is on it (its driver-override
 * script and unit, its iommu=pt and blacklist); the prepare script must say it found vga. In the
 * container, the one userdata must do nothing, and say why.
 */
export const MIXED_GROUPS_CASE: HostVmCase = {
  name: "host groups: a vga host beside group other at the same slot, intel",
  site: requireSiteConfig(standinStack("Pulumi.standin-groups.yaml")),
  machines: [
    {
      name: "vga",
      iommu: "intel",
      group: "vga",
      devices: [...GPU_WITH_AUDIO, E1000E],
      netdevs: NETDEVS,
      expect: {
        vfio: [GPU, GPU_AUDIO],
        keep: { [NIC]: "e1000e" },
        notLoaded: ["bochs"],
        sameGroup: [[GPU, GPU_AUDIO]],
        initramfsModules: VFIO_IN_INITRAMFS,
        cloudInitOutput: [
          PREPARE_SAYS("0000:00:05\\.0 holds 1234:1111, a device of host group vga"),
          PREPARE_SAYS("preparing this machine for host group vga"),
          COMPANION_TAKEN,
          PREPARE_SAYS("host group vga: prepared"),
        ],
        hosts: PREPARED_HOST,
      },
    },
  ],
  container: true,
  containerOutput: [PREPARE_SAYS("running in a container, nothing to prepare")],
};

interface WriteFile {
  path: string;
  content?: string;
  encoding?: string;
}

/** Edits the prepare script of a userdata (Juju's YAML 1.1), where every file of the group is a here-document,
 * keeping everything else. */
function editPrepareScript(userdata: string, edit: (script: string) => string): string {
  const doc = parse(userdata, { version: "1.1" }) as { write_files: WriteFile[] };
  const entry = doc.write_files.find((f) => f.path === PREPARE_SCRIPT_PATH);
  if (!entry || entry.encoding !== "b64") throw new Error(`the userdata writes no ${PREPARE_SCRIPT_PATH}`);
  const script = Buffer.from(entry.content ?? "", "base64").toString("utf8");
  const edited = edit(script);
  if (edited === script) throw new Error("the edit changed nothing");
  doc.write_files = doc.write_files.map((f) => (f === entry ? { ...f, content: Buffer.from(edited, "utf8").toString("base64") } : f));
  return stringify(doc, JUJU_YAML_OPTIONS);
}

/** The here-document that writes `file` in the prepare script (`put` or `append`), up to its end line. */
const embedded = (file: string) => new RegExp(`^ +(?:put|append) \\d{4} ${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} <<'PCI_PASSTHROUGH_EOF'\\n[\\s\\S]*?^PCI_PASSTHROUGH_EOF\\n`, "m");

/** The runbook's /etc/rc.local mistake: no shebang, so systemd cannot execute it (ENOEXEC). */
export function dropRcLocalShebang(userdata: string): string {
  return editPrepareScript(userdata, (script) =>
    script.replace(embedded(RC_LOCAL_PATH), (block) => {
      const lines = block.split("\n");
      if (!lines[1]!.startsWith("#!")) throw new Error(`${RC_LOCAL_PATH} has no shebang to drop`);
      return [lines[0], ...lines.slice(2)].join("\n");
    }),
  );
}

/** vfio left out of the initramfs: the prepare script no longer appends the modules to initramfs-tools' list. */
export function dropInitramfsModules(userdata: string): string {
  return editPrepareScript(userdata, (script) => script.replace(embedded(INITRAMFS_MODULES_PATH), ""));
}

/**
 * Both mistakes at once, on the rc-local binding: one boot pair shows both, each in its own phase (the
 * budget has room for one more machine, not two). Each alone would show the same failures: they do not
 * hide each other (the initramfs is listed by the probe whatever binds the devices).
 */
export const NEGATIVE_CASE: HostVmCase = {
  name: "broken on purpose: rc-local without shebang, vfio not in the initramfs, intel",
  site: standinSite("rc-local", "intel"),
  // The initramfs the userdata rebuilt lacks vfio: broken from the first boot on (a reboot binds the devices
  // late, if at all), whatever else is wrong.
  machines: [
    standinMachine("intel", {
      boot1: { verdict: "broken", reason: /^vfio, vfio_iommu_type1, vfio_pci not in \/boot\/initrd\.img-\S+: the devices are bound late at boot/m },
      boot2: { verdict: "broken", reason: /^vfio, vfio_iommu_type1, vfio_pci not in \/boot\/initrd\.img-\S+: the devices are bound late at boot/m },
    }),
  ],
  container: false,
  breakUserdata: (userdata) => dropInitramfsModules(dropRcLocalShebang(userdata)),
};
