// Timing child processes: wall time, and the CPU time (user + system) the process and its children used,
// read from the POSIX shell's `times` builtin. CPU time is the figure the goals are judged on: on a shared
// machine wall time mostly measures the neighbours, while CPU time stays what this program costs.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

export interface Timing {
  readonly wallMs: number;
  readonly cpuMs: number;
}

export interface Sample extends Timing {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `0m1.230000s` (dash, bash) -> milliseconds. */
function parseTimesField(s: string): number {
  const m = /^(\d+)m([\d.]+)s$/.exec(s);
  if (!m) throw new Error(`unexpected \`times\` output field ${JSON.stringify(s)}`);
  return (Number(m[1]) * 60 + Number(m[2])) * 1000;
}

/** Runs argv once under /bin/sh and returns its wall and CPU time and its output. */
export function timeProcess(argv: readonly string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Sample {
  const dir = mkdtempSync(path.join(tmpdir(), "pcipt-bench-run-"));
  const out = path.join(dir, "stdout");
  const err = path.join(dir, "stderr");
  // `times` prints the shell's own times, then its children's: user and system, one line each.
  const script = `"$@" >"${out}" 2>"${err}"; rc=$?; times; exit $rc`;
  const start = process.hrtime.bigint();
  const r = spawnSync("/bin/sh", ["-c", script, "sh", ...argv], { cwd: opts.cwd, env: opts.env ?? process.env, encoding: "utf8" });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  const children = r.stdout.trim().split("\n").pop() ?? "";
  const [user, sys] = children.trim().split(/\s+/);
  const cpuMs = parseTimesField(user ?? "") + parseTimesField(sys ?? "");
  const sample = { wallMs, cpuMs, status: r.status, stdout: readFileSync(out, "utf8"), stderr: readFileSync(err, "utf8") };
  rmSync(dir, { recursive: true, force: true });
  return sample;
}

/** Runs argv and fails loudly when it does not exit 0: a benchmark of a failing run means nothing. */
export function timeOk(argv: readonly string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Sample {
  const s = timeProcess(argv, opts);
  if (s.status !== 0) throw new Error(`${argv.join(" ")} exited ${s.status}:\n${s.stderr}`);
  return s;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Medians of a list of timings. */
export function medianTiming(samples: readonly Timing[]): Timing {
  return { wallMs: median(samples.map((s) => s.wallMs)), cpuMs: median(samples.map((s) => s.cpuMs)) };
}

/** Least-squares line y = a + b x, with R². */
export function linearFit(points: readonly { x: number; y: number }[]): { a: number; b: number; r2: number } {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const b = sxx === 0 ? 0 : sxy / sxx;
  const a = my - b * mx;
  const ssTot = points.reduce((s, p) => s + (p.y - my) ** 2, 0);
  const ssRes = points.reduce((s, p) => s + (p.y - (a + b * p.x)) ** 2, 0);
  return { a, b, r2: ssTot === 0 ? 1 : 1 - ssRes / ssTot };
}
