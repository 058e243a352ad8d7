// Reads V8 .cpuprofile files (`node --cpu-prof`) and sums self time by where the code lives: an npm
// package, a project directory, or Node's own internals. Used by `npm run bench -- --profile` and by
// hand: `tsx tools/bench/profile.ts FILE.cpuprofile...`.
import { readFileSync } from "node:fs";
import * as path from "node:path";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Where a frame's code lives: `npm:<package>`, `project:<dir>`, `node:internal`, or a V8 pseudo-frame. */
export function bucketOf(frame: CallFrame, root: string): string {
  const url = frame.url.replace(/^file:\/\//, "");
  if (url === "") {
    // (garbage collector), (program), (idle), and native functions without a script.
    return frame.functionName.startsWith("(") ? frame.functionName : `native:${frame.functionName || "anonymous"}`;
  }
  // cjs-module-lexer / es-module-lexer, which the loaders run over every CommonJS file they load.
  if (url.startsWith("wasm:")) return "wasm (module lexers)";
  if (url.startsWith("node:")) return url.startsWith("node:internal/modules") ? "node:module loader" : "node:internal";
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const parts = url.slice(nm + "/node_modules/".length).split("/");
    return `npm:${parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]}`;
  }
  const rel = path.relative(root, url);
  if (!rel.startsWith("..")) return `project:${rel.includes("/") ? path.dirname(rel) : rel}`;
  return url;
}

/** Self time in milliseconds per bucket, plus the profile's wall time. */
export function selfTimeByBucket(file: string, root: string): { total: number; buckets: Map<string, number> } {
  const prof = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const buckets = new Map<string, number>();
  prof.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node) return;
    const b = bucketOf(node.callFrame, root);
    buckets.set(b, (buckets.get(b) ?? 0) + (prof.timeDeltas[i] ?? 0) / 1000);
  });
  return { total: (prof.endTime - prof.startTime) / 1000, buckets };
}

/** Inclusive time (ms) of the frames whose function name matches, counted once per sample. */
export function inclusiveTime(file: string, match: (f: CallFrame) => boolean): number {
  const prof = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  let ms = 0;
  prof.samples.forEach((id, i) => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      if (match(byId.get(cur)!.callFrame)) {
        ms += (prof.timeDeltas[i] ?? 0) / 1000;
        return;
      }
    }
  });
  return ms;
}

/** A table of the top buckets of one profile. */
export function formatBuckets(file: string, root: string, top = 12): string {
  const { total, buckets } = selfTimeByBucket(file, root);
  const rows = [...buckets.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [`  ${path.basename(file)}: ${total.toFixed(0)} ms profiled`, ...rows.map(([b, ms]) => `    ${ms.toFixed(0).padStart(6)} ms  ${b}`)].join("\n");
}

if (require.main === module) {
  const root = path.resolve(__dirname, "..", "..");
  for (const f of process.argv.slice(2)) process.stdout.write(formatBuckets(f, root, 25) + "\n");
}

/** Inclusive times of the places the benchmark found hot (docs/performance.md has the figures). */
export function hotspots(file: string): [string, number][] {
  const fn = (name: string, urlPart = "") => (f: CallFrame) => f.functionName === name && f.url.includes(urlPart);
  const { buckets } = selfTimeByBucket(file, path.resolve(__dirname, "..", ".."));
  const loader = ["node:module loader", "npm:tsx", "wasm (module lexers)", "native:readFileUtf8", "native:internalModuleStat", "native:lstat", "native:compileFunction"]
    .map((b) => buckets.get(b) ?? 0)
    .reduce((a, b) => a + b, 0);
  return [
    ["module loader and tsx hooks, self time (resolve, read, lex, compile)", loader],
    ["Error().stack captured by @pulumi/pulumi (debuggablePromise, callsites)", inclusiveTime(file, fn("get stack"))],
    ["  of which source-map lookups", inclusiveTime(file, fn("prepareStackTraceWithSourceMaps"))],
    ["Output containsUnknowns walks", inclusiveTime(file, fn("containsUnknowns", "@pulumi/pulumi"))],
    ["stack file YAML parse (fromStackFile)", inclusiveTime(file, fn("fromStackFile"))],
    ["the program's resources (PciPassthrough constructor)", inclusiveTime(file, fn("PciPassthrough"))],
  ];
}
