// What a host of each group must show once prepared by this render and rebooted, as data: its files (whole or
// appended lines), the links that enable the binding unit, its kernel options, its vfio ids and modules and the
// render's hash (render/host/marker.ts). Taken from the same renderers that write the prepare script, so nothing
// describes a path, an option or a file a second time. Pure: tools/verify/hosts.ts judges a probe against it.
import { createHash } from "node:crypto";
import type { Binding, HostGroup } from "../../config/types";
import { BIND_UNIT_NAME, bindingUnit } from "./binding";
import { hostActions, hostFiles, type HostFile } from "./files";
import { VFIO_MODULES, addressIds, kernelOptions, vfioIds } from "./kernel";
import { markerGroupName, preparationHash } from "./marker";

/**
 * The symlink `systemctl enable` makes for the driver-override binding's unit: one in the .wants/ directory of
 * each unit its [Install] section's WantedBy= names (man systemd.unit, "[Install] Section Options"), read from
 * the unit as rendered.
 */
export function bindUnitLinks(): string[] {
  const unit = bindingUnit("driver-override") ?? "";
  const wanted = /^WantedBy=(.+)$/m.exec(unit)?.[1]?.trim().split(/\s+/) ?? [];
  return wanted.map((target) => `/etc/systemd/system/${target}.wants/${BIND_UNIT_NAME}`);
}

/** The lines of a file the prepare script appends to that matter: neither comments nor blank. */
export const meaningfulLines = (content: string): string[] => content.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));

const sha256 = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex");

/** A file a host of the group must have as the prepare script wrote it. */
export interface ExpectedFile {
  readonly path: string;
  /** Mode bits, e.g. 0o644. */
  readonly mode: number;
  /** Written whole: its SHA-256. */
  readonly sha256?: string;
  /** Appended to the distribution's file: the lines it must hold. */
  readonly lines?: readonly string[];
}

/** What a host of one group must show, as data (tools/verify/hosts.ts judges a probe's output against it). */
export interface HostExpectations {
  /** The group as the prepare script and the marker name it. */
  readonly group: string;
  /** The group's nova-compute application, whose units are its hosts. */
  readonly application: string;
  /** The application is not added by the bundle overlay (the bundle's own nova-compute, or the operator's): it
   * may have units on compute hosts that are in no group, which hold none of the group's devices. */
  readonly sharedApplication: boolean;
  readonly binding: Binding;
  /** The group's kernel options (the MAAS tag's kernel_opts and the grub drop-in's). */
  readonly kernelOptions: readonly string[];
  /** preparationHash of the group's preparation: the marker of a host prepared by this render. */
  readonly render: string;
  /** Each configured address with the vendor:product configured there. */
  readonly devices: ReadonlyArray<{ readonly address: string; readonly id: string }>;
  /** Every vendor:product vfio-pci must have: the devices' and their companions'. */
  readonly vfioIds: readonly string[];
  /** The vfio modules the initramfs must hold. */
  readonly vfioModules: readonly string[];
  readonly files: readonly ExpectedFile[];
  /** Links that must exist (the binding unit enabled). */
  readonly links: readonly string[];
}

function expectedFile(f: HostFile): ExpectedFile {
  const mode = parseInt(f.permissions, 8);
  return f.append ? { path: f.path, mode, lines: meaningfulLines(f.content) } : { path: f.path, mode, sha256: sha256(f.content) };
}

/** What a host of `group` must show once prepared by this render and rebooted. */
export function hostExpectations(group: HostGroup): HostExpectations {
  const files = hostFiles(group);
  return {
    group: markerGroupName(group),
    application: group.application,
    sharedApplication: !group.addToBundle,
    binding: group.host.binding,
    kernelOptions: kernelOptions(group),
    render: preparationHash({ group, files, actions: hostActions(group) }),
    devices: addressIds(group.devices).map(([address, id]) => ({ address, id })),
    vfioIds: vfioIds(group.devices),
    vfioModules: [...VFIO_MODULES],
    files: files.map(expectedFile),
    links: group.host.binding === "driver-override" ? bindUnitLinks() : [],
  };
}
