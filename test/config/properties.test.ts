// Hostile input, as properties (fast-check, bounded run counts): invalid configs are rejected with key paths under
// pci-passthrough: and never throw.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { formatPath } from "../../config/problems";
import { parseSiteConfig } from "../../config/parse";
import { fromRuntimeConfig } from "../../config/stack";
import { editStack, rawStack } from "../helpers";

// Failures print the assertion that failed, not only the counterexample.
fc.configureGlobal({ includeErrorInReport: true });

// ---------------------------------------------------------------------------------------------------
// Invalid configs are rejected with key paths, and never throw

type Path = (string | number)[];

/** Every path in a raw value, containers included. */
function pathsOf(value: unknown, prefix: Path = []): Path[] {
  const here = prefix.length > 0 ? [prefix] : [];
  if (Array.isArray(value)) return [...here, ...value.flatMap((v, i) => pathsOf(v, [...prefix, i]))];
  if (value !== null && typeof value === "object") {
    return [...here, ...Object.entries(value).flatMap(([k, v]) => pathsOf(v, [...prefix, k]))];
  }
  return here;
}

const getAt = (root: unknown, p: Path): unknown => p.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], root);
function setAt(root: Record<string, unknown>, p: Path, value: unknown): void {
  const parent = getAt(root, p.slice(0, -1)) as Record<string | number, unknown>;
  Object.defineProperty(parent, p[p.length - 1]!, { value, enumerable: true, writable: true, configurable: true });
}

// What a stack file can hold: JSON-like values with ordinary prototypes (keys such as toString included:
// see the test below).
const CONVERSION_KEYS = new Set(["toString", "valueOf"]);
const asStackValue = (v: unknown): unknown => JSON.parse(JSON.stringify(v ?? null));
const anyValue = fc.jsonValue().map(asStackValue);

/** A value of another kind than `v`: no config field takes both a scalar and a container, nor both a list
 * and a mapping, and none takes null. */
const otherKind = (v: unknown): fc.Arbitrary<unknown> => {
  const scalar = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null));
  const list = fc.array(anyValue, { minLength: 1, maxLength: 3 });
  const mapping = fc
    .dictionary(fc.oneof(fc.string({ minLength: 1 }), fc.constantFrom(...CONVERSION_KEYS)), anyValue, { minKeys: 1, maxKeys: 3 })
    .map(asStackValue);
  if (Array.isArray(v)) return fc.oneof(scalar, mapping);
  if (v !== null && typeof v === "object") return fc.oneof(scalar, list);
  return fc.oneof(list, mapping, fc.constant(null));
};

/** The strict mappings of the dev stack (records like pci and extraSpecs take any key). */
const MAPPINGS: Path[] = [[], ["maas"], ["juju"], ["host"], ["devices", 0], ["openstack"], ["flavors", 0], ["smokeTest"], ["smokeTest", "servers", 0]];

/** Fields with a format, and strings that can never match it. */
const FORMATTED: [Path, RegExp][] = [
  [["devices", 0, "vendorId"], /^[0-9a-fA-F]{4}$/],
  [["devices", 0, "productId"], /^[0-9a-fA-F]{4}$/],
  [["devices", 0, "addresses", 0], /^\s*(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[01][0-9a-fA-F]\.[0-7]\s*$/],
  [["juju", "model"], /^[a-z0-9]+[a-z0-9-]*$/],
  [["maas", "tag"], /^[a-zA-Z0-9_-]+$/],
  [["host", "iommu"], /^(intel|amd)$/],
  [["openstack", "consoleAccessProtocol"], /^(spice|novnc|vnc|xvpvnc)$/],
];

interface Mutation {
  /** The mapping or list the mutation writes into; it must still be one when the mutation applies. */
  readonly parent: Path;
  /** The key path a problem must point at (or below). */
  readonly at: Path;
  /** For an unknown key: the exact problem path. */
  readonly exact?: string;
  readonly apply: (raw: Record<string, unknown>) => void;
}

const dev = rawStack("dev");
const wrongKind: fc.Arbitrary<Mutation> = fc
  .constantFrom(...pathsOf(dev))
  .chain((p) => otherKind(getAt(dev, p)).map((v): Mutation => ({ parent: p.slice(0, -1), at: p, apply: (raw) => setAt(raw, p, v) })));
const unknownKey: fc.Arbitrary<Mutation> = fc
  .tuple(fc.constantFrom(...MAPPINGS), fc.string({ minLength: 1, maxLength: 12 }), anyValue)
  .filter(([p, key]) => !knownKeys(p).includes(key))
  .map(([p, key, v]): Mutation => ({ parent: p, at: p, exact: formatPath([...p, key]), apply: (raw) => setAt(raw, [...p, key], v) }));
const badFormat: fc.Arbitrary<Mutation> = fc
  .constantFrom(...FORMATTED)
  .chain(([p, rule]) =>
    fc
      .string({ maxLength: 12 })
      .filter((s) => !rule.test(s))
      .map((s): Mutation => ({ parent: p.slice(0, -1), at: p, apply: (raw) => setAt(raw, p, s) })),
  );

/** Whether `m` still applies to `raw`: an earlier mutation may have replaced a container on its path. */
function applies(raw: unknown, m: Mutation): boolean {
  let v: unknown = raw;
  for (const k of m.parent) {
    // The same kind of container as in the dev stack: a list is indexed by numbers, a mapping by names.
    if (v === null || typeof v !== "object" || Array.isArray(v) !== (typeof k === "number")) return false;
    if (!Object.prototype.hasOwnProperty.call(v, k)) return false;
    v = (v as Record<string | number, unknown>)[k];
  }
  if (v === null || typeof v !== "object") return false;
  // An unknown key goes into a mapping; a replacement needs its key to be there still.
  if (m.exact !== undefined) return !Array.isArray(v);
  const key = m.at[m.at.length - 1]!;
  return Array.isArray(v) === (typeof key === "number") && Object.prototype.hasOwnProperty.call(v, key);
}

/** The keys a strict mapping of the schema knows (from the dev stack plus the optional ones). */
function knownKeys(p: Path): string[] {
  const optional: Record<string, string[]> = {
    "": ["maas", "juju", "host", "devices", "openstack", "flavors", "smokeTest", "runner"],
    maas: ["profile", "tag", "comment", "machines", "definition", "url", "apiKey"],
    juju: ["model", "cloud", "controller", "version", "existingModel", "destroyModelOnDelete"],
    host: ["iommu", "iommuPassthrough", "allowUnsafeInterrupts", "blacklistDrivers", "binding"],
    devices: ["alias", "vendorId", "productId", "addresses", "deviceType", "numaPolicy", "companions"],
    openstack: ["release", "consoleAccessProtocol", "schedulerFilters"],
    flavors: ["name", "ram", "vcpus", "disk", "pci", "extraSpecs"],
    smokeTest: p.length === 3 ? ["name", "flavor"] : ["image", "network", "keyPair", "servers"],
  };
  return optional[String(p[0] ?? "")] ?? [];
}

test("invalid configs: rejected, every problem located under pci-passthrough:, never a throw", () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(wrongKind, unknownKey, badFormat), { minLength: 1, maxLength: 3 }), (mutations) => {
      const raw = structuredClone(dev);
      const applied: Mutation[] = [];
      for (const m of mutations) {
        if (!applies(raw, m)) continue;
        m.apply(raw);
        applied.push(m);
      }
      fc.pre(applied.length > 0);
      const r = parseSiteConfig(raw);
      assert.equal(r.ok, false, "a mutated config was accepted");
      if (r.ok) return;
      assert.ok(r.problems.length > 0);
      for (const p of r.problems) {
        assert.match(p.path, /^pci-passthrough:/);
        assert.equal(typeof p.message, "string");
        assert.ok(p.message.length > 0);
      }
      const last = applied[applied.length - 1]!;
      if (last.exact !== undefined) assert.ok(r.problems.some((p) => p.path === last.exact && p.message.startsWith("unknown key")), `no problem at ${last.exact}`);
      else {
        const at = formatPath(last.at);
        assert.ok(r.problems.some((p) => p.path.startsWith(at)), `no problem at or under ${at}: ${JSON.stringify(r.problems)}`);
      }
    }),
    { numRuns: 200 },
  );
});

test("junk configs and junk runtime config text never throw", () => {
  fc.assert(
    fc.property(fc.dictionary(fc.string(), anyValue).map(asStackValue), (raw) => {
      assert.ok(raw !== null && typeof raw === "object" && !Array.isArray(raw));
      const r = parseSiteConfig(raw as Record<string, unknown>);
      if (!r.ok) for (const p of r.problems) assert.match(p.path, /^pci-passthrough:/);
    }),
    { numRuns: 200 },
  );
  fc.assert(
    fc.property(fc.dictionary(fc.string().map((k) => `pci-passthrough:${k}`), fc.oneof(fc.string(), fc.json().map((j) => JSON.stringify(asStackValue(JSON.parse(j)))))), (all) => {
      const r = parseSiteConfig(fromRuntimeConfig(all));
      assert.equal(r.ok, false);
      if (!r.ok) for (const p of r.problems) assert.match(p.path, /^pci-passthrough:/);
    }),
    { numRuns: 200 },
  );
});

test(
  "a mapping with a toString key where text is expected is a problem, not a crash",
  () => {
    for (const key of CONVERSION_KEYS) {
      const r = parseSiteConfig(editStack("dev", (raw) => (raw.host.iommu = { [key]: "x" })));
      assert.equal(r.ok, false);
      if (!r.ok) assert.ok(r.problems.some((p) => p.path === "pci-passthrough:host.iommu"));
    }
  },
);
