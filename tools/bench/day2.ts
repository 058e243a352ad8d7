// The bench's day-2 figures, on the OpenStack API lab (Keystone + nova-api on loopback, `npm run lab`) with the
// maas and juju doubles (test/fakes) seeded for each site:
//   verify: `npm run verify` of the full generated site against verify of the dev stack, both in sync after
//     their commands.sh ran. Goal: full <= 3x dev.
//   commands.sh: the runbook of a 1/8 generated site against the program's own path for the same site (its
//     command steps and its flavors, tools/bench/program-steps.ts), each from a fresh MAAS/Juju state and a
//     Nova without flavors. Goal: commands.sh <= 3x the program.
// The generated sites have smokeTest.enabled: false (the lab cannot boot servers). Judged on wall time: most
// of the work is the lab's (Keystone, nova-api) and the doubles', outside the measured process tree.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { requireSiteConfig } from "../../config/parse";
import { fromStackFile, toStackFile } from "../../config/stack";
import { fakeSeeds } from "../lib/fake-seeds";
import { medianTiming, timeOk, type Sample, type Timing } from "./measure";
import { generateSite, sizeAt } from "./site";

export const GOAL_VERIFY = 3;
export const GOAL_RUNBOOK = 3;

const PORTS = ["--keystone-port", "45000", "--nova-port", "48774"];

export interface Day2Result {
  readonly verify: number;
  readonly runbook: number;
}

interface Ctx {
  readonly root: string;
  readonly tsx: string;
  readonly tmp: string;
  readonly labDir: string;
  readonly say: (line?: string) => void;
}

function run(ctx: Ctx, argv: string[], env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd: ctx.root, env, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

const lab = (ctx: Ctx, ...args: string[]) => run(ctx, [ctx.tsx, path.join(ctx.root, "tools", "lab", "main.ts"), ...args, "--state-dir", ctx.labDir]);

/** The lab admin's OS_* variables, from `npm run lab -- env`. */
function labEnv(ctx: Ctx): Record<string, string> {
  const vars = [...lab(ctx, "env").matchAll(/^export (OS_[A-Z_]+)=(.*)$/gm)];
  return Object.fromEntries(vars.map((m) => [m[1]!, m[2]!.replace(/^'(.*)'$/, "$1")]));
}

/** The environment of a site's commands: the doubles first on PATH with a fresh state of their own, the lab's
 * OS_* (and no other OS_*), stevedore's cache in the lab's folder. */
function siteEnv(ctx: Ctx, stackFile: string, os: Record<string, string>): NodeJS.ProcessEnv {
  const site = requireSiteConfig(fromStackFile(readFileSync(stackFile, "utf8")).raw);
  const state = mkdtempSync(path.join(ctx.tmp, "fakes-"));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("OS_") && !k.startsWith("FAKE_")) env[k] = v;
  return {
    ...env,
    ...os,
    ...fakeSeeds(site),
    PATH: `${path.join(ctx.root, "test", "fakes")}${path.delimiter}${process.env.PATH ?? ""}`,
    FAKE_STATE_DIR: state,
    XDG_CACHE_HOME: path.join(ctx.labDir, "cache"),
    SKIP_SMOKE_TEST: "1",
  };
}

// Every flavor of the lab's Nova deleted, from one process: the start of each commands.sh / program run.
const WIPE = `import openstack
nova = openstack.connect().compute
for f in list(nova.flavors()):
    nova.delete_flavor(f)
`;

function wipeFlavors(ctx: Ctx, os: Record<string, string>): void {
  run(ctx, ["/usr/bin/python3", "-c", WIPE], { ...process.env, ...os, XDG_CACHE_HOME: path.join(ctx.labDir, "cache") });
}

/** Renders a stack file into DIR (commands.sh among the files). */
function render(ctx: Ctx, stackFile: string, out: string): string {
  run(ctx, [ctx.tsx, path.join(ctx.root, "tools", "render", "main.ts"), "bench", "--out", out, "--stack-file", stackFile]);
  return path.join(out, "commands.sh");
}

/** A generated site at `scale` with its smoke test disabled, as a stack file. */
function generated(ctx: Ctx, label: string, scale: number): string {
  const raw = generateSite(sizeAt(scale)) as { smokeTest: Record<string, unknown> };
  raw.smokeTest.enabled = false;
  const file = path.join(ctx.tmp, `Pulumi.day2-${label}.yaml`);
  writeFileSync(file, toStackFile(raw as unknown as Record<string, unknown>));
  return file;
}

const fmt = (t: Timing) => `wall ${t.wallMs.toFixed(0).padStart(6)} ms  (CPU ${t.cpuMs.toFixed(0).padStart(5)} ms)`;
const verdict = (ok: boolean) => (ok ? "PASS" : "MISS");

export function benchDay2(root: string, tsx: string, tmp: string, runs: number, say: (line?: string) => void): Day2Result | { skipped: string } {
  const labDir = path.join(root, ".lab", "bench");
  mkdirSync(labDir, { recursive: true });
  const ctx: Ctx = { root, tsx, tmp, labDir, say };
  const t0 = Date.now();
  const up = spawnSync(tsx, [path.join(root, "tools", "lab", "main.ts"), "up", "--stack", "dev", ...PORTS, "--state-dir", labDir], { cwd: root, encoding: "utf8" });
  // `npm run lab` exits 4 when a Debian package it runs from is missing, and names it.
  if (up.status === 4) return { skipped: up.stderr.trim().split("\n").pop() ?? "a lab package is missing" };
  if (up.status !== 0) throw new Error(`lab up exited ${up.status}:\n${up.stderr}`);
  say(`4. Day 2 on the OpenStack API lab (${((Date.now() - t0) / 1000).toFixed(0)} s to bring it up) with the maas and juju doubles; median of ${runs} runs each, judged on wall time`);
  try {
    const os = labEnv(ctx);

    // verify: each site applied once by its commands.sh (Nova holds only that site's flavors), then verified
    // (in sync) `runs` times.
    const dev = path.join(root, "Pulumi.dev.yaml");
    const full = generated(ctx, "full", 1);
    const sites = [
      { label: "dev", file: dev },
      { label: "full", file: full },
    ].map((s) => {
      wipeFlavors(ctx, os);
      const env = siteEnv(ctx, s.file, os);
      run(ctx, ["/bin/sh", render(ctx, s.file, path.join(tmp, `day2-${s.label}`))], env);
      const samples: Sample[] = [];
      for (let i = 0; i < runs; i++) {
        const sample = timeOk([tsx, path.join(root, "tools", "verify", "main.ts"), "bench", "--stack-file", s.file], { cwd: root, env });
        if (!/objects in sync: nothing to do\n$/.test(sample.stdout)) throw new Error(`verify of ${s.label} is not in sync:\n${sample.stdout}`);
        samples.push(sample);
      }
      return { ...s, samples };
    });
    const [vd, vf] = sites.map((s) => medianTiming(s.samples)) as [Timing, Timing];
    const verifyRatio = vf.wallMs / vd.wallMs;
    const full1 = sizeAt(1);
    say(`   ${"verify of dev".padEnd(52)} ${fmt(vd)}`);
    say(`   ${`verify of the full site (${full1.flavors} flavors, ${full1.machines} machines)`.padEnd(52)} ${fmt(vf)}`);
    say(`   verify full/dev = ${verifyRatio.toFixed(2)}   goal <= ${GOAL_VERIFY}   ${verdict(verifyRatio <= GOAL_VERIFY)}`);

    // commands.sh vs the program's path, 1/8 site, each from scratch.
    const eighth = generated(ctx, "eighth", 1 / 8);
    const script = render(ctx, eighth, path.join(tmp, "day2-eighth"));
    const shell: Sample[] = [];
    const program: Sample[] = [];
    for (let i = 0; i < runs; i++) {
      wipeFlavors(ctx, os);
      shell.push(timeOk(["/bin/sh", script], { cwd: root, env: siteEnv(ctx, eighth, os) }));
      wipeFlavors(ctx, os);
      program.push(timeOk([tsx, path.join(root, "tools", "bench", "program-steps.ts"), eighth], { cwd: root, env: siteEnv(ctx, eighth, os) }));
    }
    const ts = medianTiming(shell);
    const tp = medianTiming(program);
    const runbookRatio = ts.wallMs / tp.wallMs;
    const size = sizeAt(1 / 8);
    say(`   1/8 site: ${size.flavors} flavors, ${size.machines} machines, ${size.addresses} device addresses`);
    say(`   ${"the program's path (program, its steps, its flavors)".padEnd(52)} ${fmt(tp)}`);
    say(`   ${"commands.sh".padEnd(52)} ${fmt(ts)}`);
    say(`   commands.sh/program = ${runbookRatio.toFixed(2)}   goal <= ${GOAL_RUNBOOK}   ${verdict(runbookRatio <= GOAL_RUNBOOK)}`);
    say();
    return { verify: verifyRatio, runbook: runbookRatio };
  } finally {
    wipeFlavors(ctx, labEnv(ctx));
    lab(ctx, "down");
    rmSync(path.join(tmp, "day2-full"), { recursive: true, force: true });
  }
}
