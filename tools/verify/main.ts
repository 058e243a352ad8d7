// `npm run verify -- <stack> [--stack-file FILE] [--identity FILE] [--no-openstack]`: reads the live
// objects of a site read-only and prints, object by object, what differs from the render. The command
// provider has no read, so `pulumi refresh` cannot see drift in the maas/juju steps: this can.
//   maas and juju: one read-only script (render/steps/reads.ts liveReadCommand), run where the
//   steps run: here, or on the jump host of `pci-passthrough:runner` over the same SSH path (key from
//   --identity, a plain-text runner.privateKey, or your agent; runner.hostKey pinned).
//   flavors: `openstack flavor list --long --all -f json` here (every flavor with its extra specs, one call),
//   with the usual OS_* credentials.
// Each kind of object is read once, and the two reads (the script, the flavor list) run at the same time.
// Exit 0 in sync, 1 drift, 2 config error (or usage), 3 a CLI or API could not be reached.
// `--hosts [--from DIR] [--json]`: the booted hosts instead (hosts-main.ts; docs/verify-hosts.md).
import { readFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { SECRET_PLACEHOLDER } from "../../config/problems";
import type { SiteConfig } from "../../config/types";
import { liveReadCommand } from "../../render/steps/reads";
import { secretsStdin } from "../../render/steps/script";
import { runnerWhere, stepInputs } from "../../render/steps/ssh";
import { renderSite } from "../../render/site";
import { exitCode, report, type Finding } from "../lib/findings";
import { compareFlavors, listFlavors } from "../lib/openstack";
import { compareJuju, parseReads } from "./compare";
import { loadStack } from "../lib/stack-file";
import { hostsMain } from "./hosts-main";

const USAGE =
  "usage: npm run verify -- <stack> [--stack-file FILE] [--identity FILE] [--no-openstack]\n" +
  "       npm run verify -- <stack> --hosts [--from DIR] [--json] [--stack-file FILE] [--identity FILE]   (docs/verify-hosts.md)\n";

function usage(message: string): never {
  process.stderr.write(`verify: ${message}\n${USAGE}`);
  process.exit(2);
}

/** The SSH key for the runner: --identity, else a plain-text runner.privateKey, else none (agent). */
function sshKey(site: SiteConfig, identity: string | undefined): Record<string, string> {
  if (identity !== undefined) return { PCIPT_SSH_KEY: readFileSync(identity, "utf8") };
  const key = site.runner?.privateKey;
  return key !== undefined && key !== SECRET_PLACEHOLDER ? { PCIPT_SSH_KEY: key } : {};
}

/** `/bin/sh -c SCRIPT` with `input` on stdin: its exit status and output, or why it did not run. */
function runShell(script: string, env: NodeJS.ProcessEnv, input: string): Promise<{ status: number | null; stdout: string; stderr: string; error?: Error }> {
  return new Promise((resolve) => {
    const child = spawn("/bin/sh", ["-c", script], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (error) => resolve({ status: null, stdout, stderr, error }));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** maas and juju, through the read script on the steps' runner. */
async function readJuju(site: SiteConfig, identity: string | undefined): Promise<Finding[]> {
  const a = renderSite(site);
  const spec = liveReadCommand(site.maas, a.groups.map((g) => g.tag), site.juju, Object.keys(a.charmOptions));
  // The read spec asks for no secret; only the SSH key, when there is a runner, travels on stdin.
  const inputs = stepInputs(spec, site.runner ? { ...site.runner, privateKey: undefined } : undefined);
  const r = await runShell(inputs.create, { ...process.env, ...inputs.environment }, site.runner ? secretsStdin(sshKey(site, identity)) : "");
  if (r.status !== 0 || r.error) {
    const why = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split("\n").pop()!;
    return [{ object: `maas and juju on ${runnerWhere(site.runner)}`, status: "unreachable", details: [why] }];
  }
  return compareJuju(site, a, parseReads(r.stdout));
}

/** Every flavor of the render against Nova's list, read here. */
async function readFlavors(site: SiteConfig): Promise<Finding[]> {
  return compareFlavors(renderSite(site).flavors, await listFlavors());
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        "stack-file": { type: "string" },
        identity: { type: "string" },
        "no-openstack": { type: "boolean" },
        // The booted hosts instead of the objects (hosts-main.ts).
        hosts: { type: "boolean" },
        from: { type: "string" },
        json: { type: "boolean" },
      },
    });
  } catch (e) {
    usage((e as Error).message);
  }
  const v = parsed.values;
  if (!v.hosts && (v.from !== undefined || v.json)) usage("--from and --json go with --hosts");
  if (v.hosts && v["no-openstack"]) usage("--no-openstack does not go with --hosts (the hosts are read through Juju only)");
  const { stack, site } = loadStack(parsed.positionals, v["stack-file"], usage);
  if (site === undefined) return 2;
  if (v.hosts) return hostsMain(site, stack, { from: v.from, json: v.json ?? false, sshKey: site.runner && v.from === undefined ? sshKey(site, v.identity) : {} });
  process.stdout.write(`Verifying stack ${stack}: maas and juju on ${runnerWhere(site.runner)}, read-only\n\n`);
  const [juju, flavors] = await Promise.all([readJuju(site, parsed.values.identity), parsed.values["no-openstack"] ? [] : readFlavors(site)]);
  const findings = [...juju, ...flavors];
  process.stdout.write(report(findings));
  const code = exitCode(findings);
  const resync = "`pulumi config set pci-passthrough:resync \"$(date +%s)\" && pulumi up` (flavors: `pulumi refresh && pulumi up`)";
  // Drift the program's own steps cannot repair (an option the charm lacks, an application not deployed) says
  // what to do instead; a resync would only fail on it.
  const manual = findings.filter((f) => f.status === "drift" && f.manual);
  const summary = {
    0: "nothing to do",
    1:
      manual.length === 0
        ? `drift: repair it in place with ${resync}`
        : `drift: ${manual.map((f) => f.object).join(", ")} first need${manual.length === 1 ? "s" : ""} what is said above (a resync cannot repair ${manual.length === 1 ? "it" : "them"}); then repair the rest in place with ${resync}`,
    3: "could not read everything: nothing is known about the objects marked UNREACHABLE",
  }[code];
  process.stdout.write(`\n${findings.filter((f) => f.status === "in sync").length} of ${findings.length} objects in sync: ${summary}\n`);
  return code;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`verify: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
