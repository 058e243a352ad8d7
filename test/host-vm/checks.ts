// The checks of a booted machine's report, each failure a Failure naming its phase, and the recorder of failures and
// phase times.
import * as path from "node:path";
import type { Failure, MachineExpectations, MachineRendered, PhaseTime } from "./types";
import { driversInUse, type Report } from "./report";


export class Recorder {
  readonly failures: Failure[] = [];
  readonly times: PhaseTime[] = [];
  constructor(private readonly log: (line: string) => void) {}

  fail(phase: string, message: string): void {
    this.failures.push({ phase, message });
    this.log(`FAIL ${phase}: ${message}`);
  }

  /** Runs a phase, timing it; a thrown error becomes the phase's failure and returns undefined. */
  async phase<T>(phase: string, fn: () => Promise<T>): Promise<T | undefined> {
    const start = Date.now();
    this.log(`${phase} ...`);
    try {
      return await fn();
    } catch (e) {
      this.fail(phase, e instanceof Error ? e.message : String(e));
      return undefined;
    } finally {
      const ms = Date.now() - start;
      this.times.push({ phase, ms });
      this.log(`${phase}: ${(ms / 1000).toFixed(1)} s`);
    }
  }
}


export function checkCloudInit(rec: Recorder, phase: string, report: Report): void {
  const raw = report.get("cloud_init_result") ?? "";
  let errors: unknown;
  try {
    errors = (JSON.parse(raw) as { v1: { errors: unknown } }).v1.errors;
  } catch {
    rec.fail(phase, `no cloud-init result: ${raw}`);
    return;
  }
  if (!Array.isArray(errors) || errors.length > 0) rec.fail(phase, `cloud-init reported errors: ${JSON.stringify(errors)}`);
}

export function checkFailedUnits(rec: Recorder, phase: string, report: Report): void {
  const failed = (report.get("failed_units") ?? "").trim();
  if (failed !== "") rec.fail(phase, `failed units:\n${failed}\n${report.get("failed_units_status") ?? ""}`);
}

/** What the userdata's commands said, as cloud-init's output log holds it. */
export function checkCloudInitOutput(rec: Recorder, phase: string, report: Report, expect: MachineExpectations): void {
  const log = report.get("cloud_init_output") ?? "";
  const unmatched = (expect.cloudInitOutput ?? []).filter((re) => !re.test(log));
  if (unmatched.length > 0) rec.fail(phase, `/var/log/cloud-init-output.log does not match ${unmatched.map(String).join(", ")}; its end:\n${log.split("\n").slice(-30).join("\n")}`);
}

/** The devices on vfio-pci and the others on their own drivers, as `lspci -nnk` shows them. */
export function checkDrivers(rec: Recorder, phase: string, report: Report, expect: MachineExpectations): void {
  const drivers = driversInUse(report.get("lspci") ?? "");
  const wanted: [string, string][] = [...expect.vfio.map((a): [string, string] => [a, "vfio-pci"]), ...Object.entries(expect.keep)];
  const wrong = wanted.filter(([addr, driver]) => drivers.get(addr) !== driver).map(([addr, driver]) => `${addr} uses ${drivers.get(addr) || "no driver"}, expected ${driver}`);
  if (wrong.length > 0) rec.fail(phase, `${wrong.join("; ")}\n${report.get("lspci")}`);
}

/** Module names as modprobe compares them: - and _ alike (vfio_pci is the file vfio-pci.ko on Linux 6.1). */
export const moduleName = (s: string) => s.replace(/-/g, "_");

export function checkAfterReboot(rec: Recorder, p: (phase: string) => string, report: Report, expect: MachineExpectations, r: MachineRendered): void {
  checkCloudInit(rec, p("cloud-init"), report);
  checkFailedUnits(rec, p("systemd"), report);

  checkDrivers(rec, p("drivers"), report, expect);

  const loaded = new Set((report.get("modules") ?? "").split("\n").map(moduleName));
  const present = expect.notLoaded.filter((mod) => loaded.has(moduleName(mod)));
  if (present.length > 0) rec.fail(p("blacklist"), `loaded although blacklisted: ${present.join(", ")}`);

  const cmdline = (report.get("cmdline") ?? "").trim().split(/\s+/);
  const counts = r.kernelOptions.split(/\s+/).filter(Boolean).map((opt) => `${opt} x${cmdline.filter((w) => w === opt).length}`);
  if (counts.some((c) => !c.endsWith(" x1"))) rec.fail(p("kernel command line"), `each MAAS tag option must be there exactly once: ${counts.join(", ")}\n/proc/cmdline: ${cmdline.join(" ")}`);
  const foreignOptions = [...r.foreign.kernelOptions].filter(([opt]) => cmdline.includes(opt));
  if (foreignOptions.length > 0) rec.fail(p("kernel command line"), `options of other host groups' tags: ${foreignOptions.map(([opt, groups]) => `${opt} (${groups.join(", ")})`).join(", ")}\n/proc/cmdline: ${cmdline.join(" ")}`);

  const groups = new Map<string, string>();
  for (const line of (report.get("iommu_groups") ?? "").split("\n")) {
    const [group, , addr] = line.split("/");
    if (group && addr) groups.set(addr, group);
  }
  if (groups.size === 0) rec.fail(p("iommu groups"), `/sys/kernel/iommu_groups is empty\n${report.get("iommu_dmesg")}`);
  for (const set of expect.sameGroup) {
    const ids = new Set(set.map((a) => groups.get(a)));
    if (ids.size !== 1 || ids.has(undefined)) rec.fail(p("iommu groups"), `${set.join(", ")} are not in one IOMMU group: ${set.map((a) => `${a} in ${groups.get(a) ?? "none"}`).join(", ")}`);
  }

  const initramfs = new Set((report.get("initramfs") ?? "").split("\n").map((f) => moduleName(path.basename(f).replace(/\.ko(\.\w+)?$/, ""))));
  const missing = expect.initramfsModules.filter((mod) => !initramfs.has(moduleName(mod)));
  if (missing.length > 0) rec.fail(p("initramfs"), `the initramfs it booted lacks ${missing.join(", ")}`);

  for (const f of r.files) {
    const got = report.get(`file ${f.path}`);
    if (got === undefined || got === "missing") {
      rec.fail(p("files"), `${f.path} is missing`);
      continue;
    }
    const [stat = "", b64 = ""] = got.split("\n");
    const content = Buffer.from(b64, "base64").toString("utf8");
    const [mode] = stat.split(" ");
    if (`0${mode}` !== f.permissions) rec.fail(p("files"), `${f.path} has mode 0${mode}, the render says ${f.permissions}`);
    const ok = f.append ? content.endsWith(f.content) : content === f.content;
    if (!ok) rec.fail(p("files"), `${f.path} ${f.append ? "does not end with" : "differs from"} what the render says:\n${content}`);
  }
  for (const [file, groups] of r.foreign.files) {
    const got = report.get(`file ${file}`);
    if (got !== "missing") rec.fail(p("files"), `${file} is there, but only host group ${groups.join(", ")} writes it:\n${got ?? "(not reported)"}`);
  }
}
