// The layout's rules hold for the repository (test/layers.ts reads every import), and the check finds a planted
// violation of each.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ROOT } from "./helpers";
import { importsOf, layerViolations, sourcesOf } from "./layers";

test("the repository: no import runs back up, no layer imports a tool, no tool another's folder, no cycle, no Pulumi below components", () => {
  const files = sourcesOf(ROOT);
  assert.ok(files.size > 80, `read ${files.size} files`);
  for (const must of ["domain/releases.ts", "config/parse.ts", "render/site.ts", "components/index.ts", "index.ts", "tools/render/main.ts"]) {
    assert.ok(files.has(must), `${must} is read`);
  }
  assert.deepEqual(layerViolations(files), []);
});

test("every kind of import counts: import type, export from, import() and require()", () => {
  const src = [
    'import type { A } from "./a";',
    'export { B } from "./b";',
    'export * from "./c";',
    'const d = import("./d");',
    'const e = require("./e");',
    'import "./f";',
  ].join("\n");
  assert.deepEqual(importsOf(src), ["./a", "./b", "./c", "./d", "./e", "./f"]);
});

/** A small, valid tree to plant one violation in at a time. */
const TREE: ReadonlyArray<[string, string]> = [
  ["domain/pci.ts", "export const x = 1;"],
  ["config/types.ts", 'import { x } from "../domain/pci";'],
  ["render/site.ts", 'import type { x } from "../config/types";'],
  ["components/site.ts", 'import * as pulumi from "@pulumi/pulumi";\nimport { renderSite } from "../render/site";'],
  ["components/index.ts", 'export * from "./site";'],
  ["index.ts", 'import { PciPassthrough } from "./components";'],
  ["tools/lib/mock.ts", 'import * as pulumi from "@pulumi/pulumi";'],
  ["tools/render/main.ts", 'import { runProgram } from "../lib/mock";\nimport { renderSite } from "../../render/site";'],
  ["tools/verify/main.ts", 'import { y } from "./compare";'],
  ["tools/verify/compare.ts", 'export const y = 2;'],
];

function planted(file: string, extra: string): string[] {
  const files = new Map(TREE);
  files.set(file, `${files.get(file) ?? ""}\n${extra}`);
  return layerViolations(files);
}

test("the small tree is valid as it is", () => {
  assert.deepEqual(layerViolations(new Map(TREE)), []);
});

test("a planted violation of each rule is found, and named", () => {
  // An import back up in this tree also closes a loop: both are said.
  assert.deepEqual(planted("config/types.ts", 'import type { SiteArtifacts } from "../render/site";'), [
    "config/types.ts imports render/site.ts: config is left of render, an import runs back up",
    "import cycle: render/site.ts -> config/types.ts -> render/site.ts",
  ]);
  assert.deepEqual(planted("render/site.ts", 'import { MaasPciTag } from "../components/site";'), [
    "render/site.ts imports components/site.ts: render is left of components, an import runs back up",
    "import cycle: components/site.ts -> render/site.ts -> components/site.ts",
  ]);
  assert.deepEqual(planted("components/site.ts", 'import { runProgram } from "../tools/lib/mock";'), [
    "components/site.ts imports tools/lib/mock.ts: a layer never imports a tool",
  ]);
  assert.deepEqual(planted("tools/render/main.ts", 'import { y } from "../verify/compare";'), [
    "tools/render/main.ts imports tools/verify/compare.ts: a tool imports its own folder and tools/lib/ only",
  ]);
  assert.deepEqual(planted("tools/lib/mock.ts", 'import { y } from "../verify/compare";'), [
    "tools/lib/mock.ts imports tools/verify/compare.ts: tools/lib/ imports no tool",
  ]);
  assert.deepEqual(planted("render/site.ts", 'import * as pulumi from "@pulumi/pulumi";'), [
    "render/site.ts imports @pulumi/pulumi: render/ is pure, only components/, index.ts and the tools use Pulumi",
  ]);
  assert.deepEqual(planted("domain/pci.ts", 'import { z } from "./other";'), [], "an import of a file that is not there is no edge");
});

test("a cycle is found, within a layer and within a tool, with the files on its loop", () => {
  const files = new Map(TREE);
  files.set("domain/q.ts", 'import { x } from "./pci";');
  files.set("domain/pci.ts", 'import { q } from "./q";\nexport const x = 1;');
  assert.deepEqual(layerViolations(files), ["import cycle: domain/pci.ts -> domain/q.ts -> domain/pci.ts"]);
  const tools = new Map(TREE);
  tools.set("tools/verify/compare.ts", 'import { main } from "./main";');
  assert.deepEqual(layerViolations(tools), ["import cycle: tools/verify/compare.ts -> tools/verify/main.ts -> tools/verify/compare.ts"]);
});
