// verify --hosts on the booted guests. The guest cannot be reached while it runs (no network to it; it powers itself
// off after its report), so the unit's side of `juju exec` happens inside it: the harness installs the exact command
// line verify sends (render/steps/host-reads.ts probeCommandLine: the project's host probe, base64 in one argument),
// and the guest's report service runs it at the end of each boot as the unit agent would (as root, bash reading it on
// stdin; probe.sh exec_probe), after cloud-init's final stage. The juju fake then answers verify's `juju exec` for the
// unit with what the guest printed, and refuses any other command (test/fakes/juju, a unit's "ran"). Everything
// between is the real path: verify's read script on the local runner, the fake's JSON in Juju's shape, the parser,
// the analysis. So each verdict is the one the guest's real kernel, initramfs and files give.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { SiteConfig } from "../../config/types";
import { renderSite } from "../../render/site";
import { probeCommandLine } from "../../render/steps/host-reads";
import { hostsFromJuju } from "../../tools/verify/hosts-main";
import type { HostReport } from "../../tools/verify/hosts";
import { hostsReport } from "../../tools/verify/hosts-report";
import { FAKES } from "../fakes-world";
import type { Recorder } from "./checks";
import type { Report } from "./report";
import type { ExpectedVerdict } from "./types";

/** Where the guest finds the command line to run (probe.sh). */
export const EXEC_COMMAND_PATH = "/usr/local/etc/host-vm-exec.cmd";
/** The change made after boot 2's report (probe.sh). */
export const CHANGE_SCRIPT_PATH = "/usr/local/etc/host-vm-then.sh";

/** The command line verify sends the units of a site. */
export const execCommand = (site: SiteConfig): string => probeCommandLine(renderSite(site).probe);

/** The unit the machine is, in the application of its group. */
export function unitOf(site: SiteConfig, group: string | undefined): string {
  const g = site.groups.find((x) => (x.name ?? "") === (group ?? site.groups[0]!.name ?? ""));
  if (!g) throw new Error(`no host group ${group}`);
  return `${g.application}/0`;
}

/**
 * `verify --hosts` for `site` (through the juju fake), the machine being `unit` whose guest ran `ranFor`'s command:
 * the report's section NAME (exec, or exec_after_change). Returns the unit's report.
 */
export function verifyGuest(site: SiteConfig, ranFor: SiteConfig, unit: string, report: Report, name: string): HostReport {
  const rc = report.get(`${name} rc`);
  if (rc === undefined) throw new Error(`the guest's report has no ${name} section: it did not run the probe`);
  const dir = mkdtempSync(path.join(tmpdir(), "pcipt-host-vm-juju-"));
  try {
    const units = {
      [unit]: { ran: { command: execCommand(ranFor), code: Number(rc), stdout: report.get(`${name} stdout`) ?? "", stderr: report.get(`${name} stderr`) ?? "" } },
    };
    const file = path.join(dir, "units.json");
    writeFileSync(file, JSON.stringify(units));
    const env = {
      ...process.env,
      PATH: `${FAKES}:${process.env.PATH ?? "/usr/bin:/bin"}`,
      FAKE_STATE_DIR: dir,
      FAKE_JUJU_VERSION: site.juju.version,
      FAKE_JUJU_MODELS: site.juju.model,
      FAKE_JUJU_APPS: [...new Set(site.groups.map((g) => `${g.application}=nova-compute`))].join(","),
      FAKE_JUJU_UNITS: file,
    };
    const result = hostsFromJuju(site, { sshKey: {}, env });
    if (result.problems.length > 0) throw new Error(`verify --hosts could not read the hosts: ${result.problems.join("; ")}`);
    const mine = result.reports.find((r) => r.host === unit);
    if (!mine) throw new Error(`verify --hosts did not report ${unit}: ${JSON.stringify(result.reports)}`);
    return mine;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Checks a unit's report against the verdict expected; a mismatch is the phase's failure, with the whole report. */
export function checkVerdict(rec: Recorder, phase: string, got: HostReport, want: ExpectedVerdict): void {
  const reasons = got.reasons.join("\n");
  if (got.verdict !== want.verdict || (want.reason !== undefined && !want.reason.test(reasons))) {
    rec.fail(phase, `verify --hosts says ${got.verdict}, expected ${want.verdict}${want.reason ? ` with a reason matching ${want.reason}` : ""}:\n${hostsReport([got])}`);
  }
}
