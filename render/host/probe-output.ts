// Reading the host probe's output (render/host/probe.ts, format PROBE_FORMAT): its key=value lines into one
// record per host, refused when it is not the probe's, of another format, or cut short. Pure.
import { parseMarker, type Marker } from "./marker";
import { PROBE_FORMAT, PROBE_NAME } from "./probe";

const unique = <T>(items: readonly T[]): T[] => [...new Set(items)];

/** One PCI function as the probe saw it. */
export interface ProbedFunction {
  readonly address: string;
  /** The configured address whose IOMMU group it was reported for (function= only). */
  readonly of?: string;
  readonly present: boolean;
  readonly id?: string;
  /** sysfs class, e.g. 0x030200; undefined when unreadable. */
  readonly class?: string;
  /** The driver in use; undefined when none. */
  readonly driver?: string;
  /** Its IOMMU group; undefined when it has none (no IOMMU). */
  readonly iommuGroup?: string;
}

export interface ProbedFile {
  readonly path: string;
  readonly present: boolean;
  readonly mode?: number;
  readonly sha256?: string;
}

export interface ProbeOutput {
  readonly format: number;
  /** Ended with end=ok. */
  readonly complete: boolean;
  readonly container: boolean;
  readonly hostname?: string;
  readonly kernel?: string;
  /** This boot's start, seconds since the epoch. */
  readonly booted?: number;
  /** /proc/cmdline, split at blanks. */
  readonly cmdline: readonly string[];
  readonly grubCfg: boolean;
  /** Each linux line of grub.cfg (kernel image, then its arguments), the default entry first. */
  readonly grubLinux: readonly string[];
  /** vfio modules loaded, as /proc/modules names them. */
  readonly modules: readonly string[];
  readonly vfioPciDriver: boolean;
  /** vfio modules built into the kernel, as module names. */
  readonly builtin: readonly string[];
  readonly initramfs: {
    readonly path?: string;
    readonly present: boolean;
    /** Last written, seconds since the epoch. */
    readonly mtime?: number;
    readonly list: "ok" | "unknown" | "failed";
    /** vfio modules in it, as module names (vfio-pci.ko.zst -> vfio_pci). */
    readonly modules: readonly string[];
  };
  /** The marker's lines; undefined when there is no marker file. */
  readonly markerText?: string;
  readonly marker?: Marker;
  /** Why the marker could not be read. */
  readonly markerProblem?: string;
  readonly prepareScript: boolean;
  readonly prepareLog: readonly string[];
  readonly cloudInit: { readonly state: "finished" | "running" | "absent"; readonly errors: readonly string[]; readonly problem?: string };
  readonly rebootRequired: boolean;
  readonly functions: readonly ProbedFunction[];
  readonly found: readonly ProbedFunction[];
  readonly files: readonly ProbedFile[];
  /** Lines of the files the prepare script appends to, by path. */
  readonly lines: ReadonlyMap<string, readonly string[]>;
  readonly links: ReadonlyMap<string, boolean>;
}

/** A module's name from its file (kmod: '-' and '_' are the same in a name): .../vfio-pci.ko.zst -> vfio_pci. */
export function moduleName(file: string): string {
  const base = file.slice(file.lastIndexOf("/") + 1);
  return base.replace(/\.ko(\.(zst|xz|gz))?$/, "").replace(/-/g, "_");
}

/** A record value: its subject and its fields. */
function record(value: string): { subject: string; fields: Map<string, string> } {
  const [subject = "", ...rest] = value.split(" ").filter((w) => w !== "");
  const fields = new Map<string, string>();
  for (const w of rest) {
    const eq = w.indexOf("=");
    if (eq > 0) fields.set(w.slice(0, eq), w.slice(eq + 1));
  }
  return { subject, fields };
}

const orUndefined = (v: string | undefined): string | undefined => (v === undefined || v === "-" || v === "" ? undefined : v);
const num = (v: string | undefined): number | undefined => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);

function probedFunction(value: string): ProbedFunction {
  const { subject, fields } = record(value);
  const of = fields.get("of");
  if (fields.get("present") === "no") return { address: subject, ...(of ? { of } : {}), present: false };
  return {
    address: subject,
    ...(of ? { of } : {}),
    present: true,
    id: orUndefined(fields.get("id")),
    class: orUndefined(fields.get("class")),
    driver: orUndefined(fields.get("driver")),
    iommuGroup: orUndefined(fields.get("iommu_group")),
  };
}

/** cloud-init's result.json: {"v1": {"datasource": ..., "errors": [...]}} (cloudinit/cmd/main.py status_wrapper). */
function cloudInitErrors(json: string): { errors: string[]; problem?: string } {
  try {
    const v1 = (JSON.parse(json) as { v1?: { errors?: unknown } }).v1;
    const errors = Array.isArray(v1?.errors) ? v1.errors.map(String) : undefined;
    return errors ? { errors } : { errors: [], problem: "result.json has no v1.errors" };
  } catch (e) {
    return { errors: [], problem: `result.json is not JSON: ${(e as Error).message}` };
  }
}

/** Reads the probe's output. Lines it does not know are skipped (a newer probe may say more); another format,
 * or no first line, is refused. */
export function parseProbe(text: string): { ok: true; probe: ProbeOutput } | { ok: false; problem: string } {
  const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
  const start = lines.findIndex((l) => l.startsWith(`${PROBE_NAME}=`));
  if (start < 0) return { ok: false, problem: `no ${PROBE_NAME}= line: not the probe's output` };
  const format = lines[start]!.slice(PROBE_NAME.length + 1);
  if (format !== String(PROBE_FORMAT)) return { ok: false, problem: `probe output format ${format}; this verify reads format ${PROBE_FORMAT} (render the probe again)` };
  const all = new Map<string, string[]>();
  for (const line of lines.slice(start + 1)) {
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    all.set(key, [...(all.get(key) ?? []), line.slice(eq + 1)]);
  }
  const list = (key: string): string[] => all.get(key) ?? [];
  const one = (key: string): string | undefined => all.get(key)?.[0];
  const initramfs = record(one("initramfs") ?? "");
  const markerText = one("marker_file") === "present" ? list("marker").join("\n") : undefined;
  const marker = markerText === undefined ? undefined : parseMarker(markerText);
  const cloudState = one("cloud_init");
  const cloud = cloudState === "finished" ? cloudInitErrors(list("cloud_init_result").join("\n")) : { errors: [] };
  const lineMap = new Map<string, string[]>();
  for (const v of list("line")) {
    const sp = v.indexOf(" ");
    const path = sp < 0 ? v : v.slice(0, sp);
    lineMap.set(path, [...(lineMap.get(path) ?? []), sp < 0 ? "" : v.slice(sp + 1)]);
  }
  return {
    ok: true,
    probe: {
      format: PROBE_FORMAT,
      complete: one("end") === "ok",
      container: one("container") === "yes",
      hostname: orUndefined(one("hostname")),
      kernel: orUndefined(one("kernel")),
      booted: num(one("booted")),
      cmdline: (one("cmdline") ?? "").split(/\s+/).filter((w) => w !== ""),
      grubCfg: one("grub_cfg") === "present",
      grubLinux: list("grub_linux"),
      modules: list("module"),
      vfioPciDriver: one("vfio_pci_driver") === "yes",
      builtin: list("builtin").map(moduleName),
      initramfs: {
        ...(initramfs.subject ? { path: initramfs.subject } : {}),
        present: initramfs.subject !== "" && initramfs.fields.get("present") !== "no",
        mtime: num(initramfs.fields.get("mtime")),
        list: (["ok", "failed"] as const).find((s) => s === initramfs.fields.get("list")) ?? "unknown",
        modules: unique(list("initramfs_file").map(moduleName)),
      },
      ...(markerText !== undefined ? { markerText } : {}),
      ...(marker?.ok ? { marker: marker.marker } : {}),
      ...(marker && !marker.ok ? { markerProblem: marker.problem } : {}),
      prepareScript: one("prepare_script") === "present",
      prepareLog: list("prepare_log"),
      cloudInit: { state: cloudState === "finished" || cloudState === "running" ? cloudState : "absent", ...cloud },
      rebootRequired: one("reboot_required") === "yes",
      functions: list("function").map(probedFunction),
      found: list("found").map(probedFunction),
      files: list("file").map((v) => {
        const { subject, fields } = record(v);
        const mode = fields.get("mode");
        return fields.get("present") === "no"
          ? { path: subject, present: false }
          : { path: subject, present: true, mode: mode !== undefined && /^[0-7]+$/.test(mode) ? parseInt(mode, 8) : undefined, sha256: fields.get("sha256") };
      }),
      lines: lineMap,
      links: new Map(list("link").map((v) => [record(v).subject, record(v).fields.get("present") === "yes"])),
    },
  };
}
