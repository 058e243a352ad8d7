// Child processes of the lab: one-shot setup commands, and the uwsgi servers, found again through their pid
// files (never by name, so nothing else on the machine is touched).
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, rmSync } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import type { ServicePaths } from "./paths";
import { UWSGI } from "./packages";

export class LabError extends Error {
  constructor(
    message: string,
    public readonly exitCode = 1,
  ) {
    super(message);
    this.name = "LabError";
  }
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion, collecting its output; never throws for a non-zero exit. */
export function run(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv, input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    child.stdin.end(input ?? "");
  });
}

/** Runs a setup command and throws with the tail of its output when it fails. */
export async function mustRun(what: string, cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<RunResult> {
  const r = await run(cmd, args, env);
  if (r.code !== 0) {
    const tail = (r.stderr + r.stdout).trim().split("\n").slice(-15).join("\n");
    throw new LabError(`${what} failed (exit ${r.code}): ${cmd} ${args.join(" ")}\n${tail}`);
  }
  return r;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether `pid` runs. A zombie counts as dead: it has exited, and where PID 1 does not reap orphans
 * (containers) it stays in the process table. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    // Without procfs trust kill(0); with it, an unreadable status means the process just went away.
    return !existsSync("/proc/self");
  }
}

/** The pid in a service's pid file when that process is alive and is uwsgi (guards against pid reuse). */
export function livePid(s: ServicePaths): number | undefined {
  if (!existsSync(s.pidFile)) return undefined;
  const pid = Number(readFileSync(s.pidFile, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return undefined;
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("uwsgi")) return undefined;
  } catch {
    // No /proc: trust kill(0).
  }
  return pid;
}

/** Starts uwsgi on `s.uwsgiIni`, detached, output appended to `s.log`. */
export function startUwsgi(s: ServicePaths): void {
  rmSync(s.pidFile, { force: true });
  const log = openSync(s.log, "a");
  try {
    const child = spawn(UWSGI, ["--ini", s.uwsgiIni], { detached: true, stdio: ["ignore", log, log], cwd: s.dir });
    child.unref();
  } finally {
    closeSync(log);
  }
}

/** SIGTERM through the pid file (uwsgi `die-on-term`), SIGKILL after `graceMs`; waits until it is gone. */
export async function stopUwsgi(s: ServicePaths, graceMs = 10_000): Promise<boolean> {
  const pid = livePid(s);
  if (pid === undefined) {
    rmSync(s.pidFile, { force: true });
    return false;
  }
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  // livePid stops matching as soon as the exiting process drops its command line; wait until it is gone.
  while (livePid(s) !== undefined || alive(pid)) {
    if (Date.now() > deadline) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // It went away meanwhile.
      }
      await sleep(100);
    } else await sleep(50);
  }
  rmSync(s.pidFile, { force: true });
  return true;
}

/** The HTTP status of a GET, or undefined when nothing answers. */
export function httpStatus(url: string, timeoutMs = 3000): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs, headers: { Connection: "close" } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

/** Waits until `url` answers 2xx/3xx while the service's process lives; throws with its log tail otherwise. */
export async function waitHttp(s: ServicePaths, url: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // The pid file appears a moment after the spawn.
  const grace = Date.now() + 2000;
  for (;;) {
    const status = await httpStatus(url, 2000);
    if (status !== undefined && status < 400) return;
    if (livePid(s) === undefined && Date.now() > grace) {
      throw new LabError(`${s.name} exited while starting; last lines of ${s.log}:\n${logTail(s.log)}`);
    }
    if (Date.now() > deadline) {
      throw new LabError(`${s.name} did not answer ${url} within ${timeoutMs / 1000} s; see ${s.log}:\n${logTail(s.log)}`);
    }
    await sleep(100);
  }
}

export function logTail(file: string, lines = 20): string {
  if (!existsSync(file)) return "(no log)";
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}
