// What the host-vm harness takes and gives: a case (a site, its machines and what each must show), what the
// render gives a machine, and the result with every failure and each phase's time.
import type { SiteConfig } from "../../config/types";
import type { Verdict } from "../../tools/verify/hosts";
import { type HostFile } from "../../render/host/files";
import { type Iommu } from "./guest";

/** What one machine must look like after its reboot. Addresses are DDDD:BB:SS.F as lspci -D prints them. */
export interface MachineExpectations {
  /** Functions that must use vfio-pci. */
  readonly vfio: readonly string[];
  /** Functions that must keep their own driver (address -> driver). */
  readonly keep: Readonly<Record<string, string>>;
  /** Kernel modules that must not be loaded. */
  readonly notLoaded: readonly string[];
  /** Sets of functions that share one IOMMU group (proves the machine really has the situation tested). */
  readonly sameGroup: readonly (readonly string[])[];
  /** Kernel modules the initramfs rebuilt in the guest must hold. */
  readonly initramfsModules: readonly string[];
  /** What the userdata's commands must have said on the first boot: patterns /var/log/cloud-init-output.log
   * must match (cloud-init's `output` setting tees the final stage's runcmd there). */
  readonly cloudInitOutput?: readonly RegExp[];
  /** What `npm run verify -- STACK --hosts` must say of the machine (hosts.ts says how it reaches the guest). */
  readonly hosts?: HostsVerdicts;
}

/** A verdict, and a pattern one of its reasons must match. */
export interface ExpectedVerdict {
  readonly verdict: Verdict;
  readonly reason?: RegExp;
}

/** verify --hosts on the machine, after each boot, as the real kernel shows it. */
export interface HostsVerdicts {
  readonly boot1: ExpectedVerdict;
  readonly boot2: ExpectedVerdict;
  /** Boot 2 judged against a later render of the site: the machine was prepared by an older userdata. */
  readonly laterSite?: { readonly site: SiteConfig; readonly expect: ExpectedVerdict };
  /** A change made in the guest after boot 2's report (a shell script run as root), then verify again. */
  readonly change?: { readonly what: string; readonly script: string; readonly expect: ExpectedVerdict };
}

/** One machine of a case: a QEMU machine the userdata is run on, then rebooted. */
export interface Machine {
  /** Names the machine in phase names and file names. */
  readonly name: string;
  readonly iommu: Iommu;
  /** `-device` values of its PCI devices (the boot disk is added by the harness at 00:02.0). */
  readonly devices: readonly string[];
  /** `-netdev` values its devices refer to. */
  readonly netdevs: readonly string[];
  /** The host group this machine is a host of (hostGroups[].name): it is deployed with that group's tag's
   * kernel options and must end up with that group's files. The site's first group when absent. */
  readonly group?: string;
  /** The MAAS kernel options this machine is deployed with (its tags' kernel_opts), when they are not its
   * group's tag's, e.g. a machine of no group (none). */
  readonly kernelOptions?: string;
  /** The files the userdata must leave on this machine, when they are not its group's (hostFiles). */
  readonly files?: readonly HostFile[];
  readonly expect: MachineExpectations;
}

export interface HostVmCase {
  readonly name: string;
  /** The validated site; everything the machines get and must show is rendered from it. */
  readonly site: SiteConfig;
  readonly machines: readonly Machine[];
  /** Also run the userdata in a container (cheap; once per distinct userdata is enough). */
  readonly container: boolean;
  /** Breaks the rendered userdata on purpose (negative cases). The expectations stay those of the site. */
  readonly breakUserdata?: (userdata: string) => string;
  /** Patterns the container run's output must match (what the shipped scripts say there). */
  readonly containerOutput?: readonly RegExp[];
}

export interface Failure {
  readonly phase: string;
  readonly message: string;
}

export interface PhaseTime {
  readonly phase: string;
  readonly ms: number;
}

export interface CaseResult {
  readonly failures: Failure[];
  readonly times: PhaseTime[];
  /** Where the case's disks, consoles and reports are. */
  readonly dir: string;
}

/** Guest time bounds. Measured on 2 cores: a first boot with update-initramfs about 90 s, a reboot about
 * 40 s; the bounds leave room for a loaded CI machine. */


export interface Rendered {
  /** The userdata as cloud-init receives it from Juju. */
  readonly cloudConfig: string;
  /** The kernel_opts of each group's MAAS tag, by group name ("" for a site's one unnamed group). */
  readonly kernelOptions: ReadonlyMap<string, string>;
  /** The files each group's hosts get, by group name likewise. */
  readonly files: ReadonlyMap<string, readonly HostFile[]>;
  /** What cloud-init's write_files writes on every machine of the model, containers included. */
  readonly written: readonly HostFile[];
}

/** What a machine gets and must show: its group's tag's kernel options and its group's files. */
export interface MachineRendered {
  readonly cloudConfig: string;
  readonly kernelOptions: string;
  readonly files: readonly HostFile[];
  /** What only the site's other groups have: none of it may reach this machine. */
  readonly foreign: ForeignToGroup;
}

/** What the other host groups of a site would put on a machine and its own group does not: the paths of
 * their files that are neither its group's files nor written by write_files on every machine (a file at a
 * path both groups write is checked by its content), and their tags' kernel options that its tag lacks.
 * Empty for a machine of a site's only group. */
export interface ForeignToGroup {
  /** Path -> the other groups that write it. */
  readonly files: ReadonlyMap<string, readonly string[]>;
  /** Option -> the other groups whose tag has it. */
  readonly kernelOptions: ReadonlyMap<string, readonly string[]>;
}
