// Hostile input, as properties (fast-check, bounded run counts): the lspci importer survives truncated and garbage
// input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import fc from "fast-check";
import { parseSiteConfig } from "../../config/parse";
import { importLspci } from "../../tools/import-lspci/import";
import { parseLspci } from "../../tools/import-lspci/lspci";
import { renderSnippet } from "../../tools/import-lspci/proposal";
import { ROOT, editStack } from "../helpers";

// Failures print the assertion that failed, not only the counterexample.
fc.configureGlobal({ includeErrorInReport: true });

// ---------------------------------------------------------------------------------------------------
// lspci importer

const FIXTURES = path.join(ROOT, "test", "fixtures", "lspci");
const fixtures = readdirSync(FIXTURES).map((f) => readFileSync(path.join(FIXTURES, f), "utf8"));

/** Importing must not throw, and what it suggests must be a valid devices section. */
function importsCleanly(text: string): void {
  const parsed = parseLspci(text);
  assert.ok(parsed.skippedLines >= 0);
  const result = importLspci(text);
  const snippet = renderSnippet(result);
  assert.equal(typeof snippet, "string");
  if (result.devices.length > 0) {
    const devices = result.devices.map(({ description: _d, ...d }) => d);
    const r = parseSiteConfig(
      editStack("dev", (raw) => {
        raw.devices = devices;
        // The dev flavors and smoke test ask for the dev stack's alias.
        raw.flavors = [];
        delete raw.smokeTest;
      }),
    );
    assert.ok(r.ok, `suggested devices are not valid config: ${r.ok ? "" : JSON.stringify(r.problems)}`);
  }
}

test("lspci import: truncated captures never crash and suggest valid devices", () => {
  fc.assert(
    fc.property(fc.constantFrom(...fixtures.keys()), fc.double({ min: 0, max: 1, noNaN: true }), (i, cut) => {
      const text = fixtures[i]!;
      importsCleanly(text.slice(0, Math.floor(text.length * cut)));
    }),
    { numRuns: 100 },
  );
});

test("lspci import: garbage, shuffled and spliced lines never crash", () => {
  const lines = fixtures.flatMap((t) => t.split("\n"));
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.constantFrom(...lines), fc.string({ unit: "binary", maxLength: 120 }), fc.constantFrom(...lines).chain((l) => fc.nat(l.length).map((n) => l.slice(n)))), { maxLength: 30 }),
      fc.constantFrom("\n", "\r\n"),
      (parts, eol) => importsCleanly(parts.join(eol)),
    ),
    { numRuns: 100 },
  );
  fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 3000 }), (s) => importsCleanly(s)), { numRuns: 100 });
  importsCleanly("x".repeat(100_000));
});
