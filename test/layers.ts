// The layout's rules, read from the imports (the TypeScript compiler's own pre-processor, so `import type`,
// `export ... from`, `import()` and `require()` all count): data flows one way, domain <- config <- render <-
// components <- index.ts, with the tools beside them.
//   - a layer imports only itself and the layers to its left, never tools/;
//   - a tool imports any layer, its own folder and tools/lib/, never another tool's folder (tools/lib/ only
//     tools/lib/);
//   - only components/, index.ts and the tools import @pulumi/* (the renderers and what they stand on are pure);
//   - no two files import each other, directly or through others (no cycle).
import { readFileSync, readdirSync, statSync } from "node:fs";
import * as path from "node:path";
import ts from "typescript";

/** The layers, left to right. */
export const LAYERS = ["domain", "config", "render", "components", "index.ts"] as const;
const TOOLS = "tools";

/** Every .ts file of the layers and the tools, repository-relative, with its text. */
export function sourcesOf(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    const abs = path.join(root, rel);
    if (statSync(abs).isDirectory()) for (const e of readdirSync(abs).sort()) walk(path.posix.join(rel, e));
    else if (rel.endsWith(".ts")) out.set(rel, readFileSync(abs, "utf8"));
  };
  for (const top of [...LAYERS, TOOLS]) walk(top);
  return out;
}

/** The module specifiers a file imports. */
export function importsOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** A relative specifier as the file it names among `files` (`x` -> `x.ts` or `x/index.ts`). */
function resolve(files: ReadonlyMap<string, string>, from: string, spec: string): string | undefined {
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  return [`${base}.ts`, `${base}/index.ts`, base].find((c) => files.has(c));
}

/** `domain`, `config`, `render`, `components`, `index.ts`, or `tools/<folder>` (`tools/lib` for the shared code). */
function placeOf(file: string): string {
  const [top, second] = file.split("/");
  if (top === TOOLS) return `${TOOLS}/${second}`;
  return top!;
}

const rank = (place: string): number => LAYERS.indexOf(place as (typeof LAYERS)[number]);

/** Every broken rule among `files` (repository-relative path -> text), one sentence each. */
export function layerViolations(files: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  const edges = new Map<string, string[]>();
  for (const [file, source] of files) {
    const from = placeOf(file);
    const targets: string[] = [];
    for (const spec of importsOf(source)) {
      if (spec.startsWith("@pulumi/") && rank(from) >= 0 && rank(from) < rank("components")) {
        problems.push(`${file} imports ${spec}: ${from}/ is pure, only components/, index.ts and the tools use Pulumi`);
      }
      if (!spec.startsWith(".")) continue;
      const target = resolve(files, file, spec);
      if (target === undefined) continue;
      targets.push(target);
      const to = placeOf(target);
      if (rank(from) >= 0) {
        if (to.startsWith(`${TOOLS}/`)) problems.push(`${file} imports ${target}: a layer never imports a tool`);
        else if (rank(to) > rank(from)) problems.push(`${file} imports ${target}: ${from} is left of ${to}, an import runs back up`);
      } else if (from === `${TOOLS}/lib` && to.startsWith(`${TOOLS}/`) && to !== from) {
        problems.push(`${file} imports ${target}: tools/lib/ imports no tool`);
      } else if (to.startsWith(`${TOOLS}/`) && to !== from && to !== `${TOOLS}/lib`) {
        problems.push(`${file} imports ${target}: a tool imports its own folder and tools/lib/ only`);
      }
    }
    edges.set(file, targets);
  }
  for (const cycle of cycles(edges)) problems.push(`import cycle: ${[...cycle, cycle[0]].join(" -> ")}`);
  return problems;
}

/** The cycles of a directed graph, one per strongly connected component of more than one file (or a file that
 * imports itself), each as the files on one loop through it (Tarjan's algorithm). */
function cycles(edges: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      on.delete(w);
      component.push(w);
      if (w === v) break;
    }
    if (component.length > 1 || (edges.get(v) ?? []).includes(v)) found.push(loopThrough(edges, new Set(component), v));
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

/** One loop from `start` back to it inside a strongly connected component (breadth first: a shortest one). */
function loopThrough(edges: ReadonlyMap<string, readonly string[]>, component: ReadonlySet<string>, start: string): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of edges.get(v) ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(previous.get(path[0]!)!);
        return path;
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}
