// Hostile input, as properties (fast-check, bounded run counts): free text in every config field reaches the fake
// CLIs verbatim, through the steps and commands.sh, and never executes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { parseSiteConfig } from "../../config/parse";
import type { SiteConfig } from "../../config/types";
import { renderSite } from "../../render/site";
import { renderRunbook } from "../../render/runbook";
import { renderUserdata } from "../../render/host/userdata";
import { parseTagComment, tagCommentWithClaim } from "../../render/steps/maas-claim";
import { registry, validatedNamespace, validatorFor } from "../../domain/extra-specs/releases";
import { argvLog, fakeState, ok, openstackBin, runStep, world, type World } from "../fakes-world";
import { editStack } from "../helpers";

// A canary per process: any hostile fragment that executes creates it.
// Failures print the assertion that failed, not only the counterexample.
fc.configureGlobal({ includeErrorInReport: true });

const CANARY = path.join(tmpdir(), `pcipt-property-canary-${process.pid}`);
const canaryGone = () => assert.equal(existsSync(CANARY), false, "hostile input executed");

/** Shell- and CLI-hostile pieces, mixed with arbitrary Unicode. */
const FRAGMENTS = [
  "'",
  '"',
  "\\",
  "$(touch " + CANARY + ")",
  "`touch " + CANARY + "`",
  "; touch " + CANARY,
  "&& touch " + CANARY,
  "| touch " + CANARY,
  "$HOME",
  "${IFS}",
  "$1",
  "*",
  "?",
  "~",
  "!",
  "#",
  "%s",
  "%n",
  "\\n",
  "=",
  "--",
  "-x",
  " ",
  "\t",
  "\n",
  ">",
  "<",
  "{a,b}",
  "é",
  "🐧",
];

// What config/primitives.ts accepts: `text` refuses control characters but tab and newline; `name` is
// one line without surrounding blanks.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/g;
const rawText = fc
  .array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ unit: "binary", maxLength: 8 }), fc.string({ maxLength: 8 })), {
    minLength: 1,
    maxLength: 6,
  })
  .map((parts) => parts.join(""));
const freeText = rawText.map((s) => s.replace(CONTROL, "")).filter((s) => s.length > 0);
const oneLine = (max = 255) =>
  rawText
    // Cut by code points: slicing UTF-16 could split a surrogate pair.
    .map((s) => [...s.replace(CONTROL, "").replace(/[\n\t]/g, " ").trim()].slice(0, max).join("").trim())
    // A leading - would be an option to the CLIs: config refuses it.
    .map((s) => s.replace(/^-+\s*/, ""))
    .filter((s) => s.length > 0);
/** MAAS profile names: letters, digits, _ . -, not a maas CLI command (see domain/maas.ts). */
const profileName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,30}$/).filter((s) => !["login", "logout", "list", "refresh", "init", "apikey"].includes(s));

/** Parses an edited dev stack and insists the generator produced what config accepts. */
function accepted(edit: (raw: Record<string, any>) => void): SiteConfig {
  const r = parseSiteConfig(editStack("dev", edit));
  assert.ok(r.ok, `the generated config is valid: ${r.ok ? "" : JSON.stringify(r.problems)}`);
  return r.config;
}

const cleanup = (w: World) => rmSync(w.dir, { recursive: true, force: true });

// ---------------------------------------------------------------------------------------------------
// Free text reaches the fakes verbatim

test("MAAS tag step: any comment, XPath definition and profile reach MAAS verbatim, the API key never shows", () => {
  fc.assert(
    fc.property(
      freeText,
      fc.option(freeText, { nil: undefined }),
      profileName,
      fc.stringMatching(/^[A-Za-z0-9]{1,12}:[A-Za-z0-9]{1,12}:[A-Za-z0-9]{1,24}$/),
      (comment, definition, profile, apiKey) => {
        const site = accepted((r) =>
          Object.assign(r.maas, { comment, definition, profile, url: "http://maas.test:5240/MAAS/", apiKey }, definition === undefined ? {} : { selectByDevice: undefined, pool: undefined }),
        );
        const a = renderSite(site);
        const w = world({ FAKE_MAAS_POOLS: "openstack" });
        try {
          const created = ok(runStep(w, site, a.groups[0]!.commands.tag));
          const updated = ok(runStep(w, site, a.groups[0]!.commands.tag, "update", created.stdout.trimEnd()));
          const state = fakeState(w, "maas");
          assert.deepEqual(Object.keys(state.profiles), [profile]);
          assert.equal(state.profiles[profile].key, apiKey);
          const claim = /claim=([0-9a-f]+)/.exec(created.stdout)![1]!;
          assert.deepEqual(state.tags["pci-pass"], {
            name: "pci-pass",
            comment: tagCommentWithClaim(comment, claim, "", ""),
            kernel_opts: a.groups[0]!.kernelOptions,
            definition: definition ?? "",
            machines: [],
          });
          const log = argvLog(w, "maas");
          assert.deepEqual(log[0], ["login", profile, "http://maas.test:5240/MAAS/", "-"]);
          assert.ok(log.slice(1).every((argv) => argv[0] === profile || argv[0] === "login"));
          const seen = [JSON.stringify(log), created.stdout, created.stderr, updated.stdout, updated.stderr].join("\n");
          assert.ok(!seen.includes(apiKey), "the API key shows in argv or output");
          canaryGone();
        } finally {
          cleanup(w);
        }
      },
    ),
    { numRuns: 50, endOnFailure: true },
  );
});

const modelName = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/);
const controllerName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,15}$/);
const cloudName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,10}(\/[A-Za-z0-9][A-Za-z0-9_.-]{0,10})?$/);
const aliasName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,20}$/);

test("Juju model and charm steps: any valid model, controller, cloud and alias reach Juju verbatim", () => {
  fc.assert(
    fc.property(
      modelName,
      fc.option(controllerName, { nil: undefined }),
      fc.option(cloudName, { nil: undefined }),
      aliasName,
      fc.constantFrom("3", "2.9"),
      (model, controller, cloud, alias, version) => {
        const site = accepted((r) => {
          Object.assign(r.juju, { model, controller, cloud, version });
          r.devices[0].alias = alias;
          r.flavors[0].pci = { [alias]: 1 };
        });
        const a = renderSite(site);
        const w = world({ FAKE_JUJU_VERSION: version });
        try {
          ok(runStep(w, site, a.commands.model));
          ok(runStep(w, site, a.commands.charmConfig));
          const state = fakeState(w, "juju").models[model];
          assert.ok(state, `model ${model} added`);
          assert.equal(state.cloud, cloud ?? "");
          assert.equal(state.config["cloudinit-userdata"], renderUserdata(site.groups));
          assert.deepEqual(state.applications, renderSite(site).charmOptions);
          const log = argvLog(w, "juju");
          const ref = controller ? `${controller}:${model}` : model;
          assert.deepEqual(log[0], ["models", ...(controller ? ["-c", controller] : []), "--format", "json"]);
          assert.deepEqual(log[1]!.slice(0, 2), ["add-model", model]);
          assert.ok(log.slice(2).every((argv) => argv.includes(ref)), "every later call names the model");
          canaryGone();
        } finally {
          cleanup(w);
        }
      },
    ),
    { numRuns: 25, endOnFailure: true },
  );
});

// Nova's extra spec key rule (nova/api/validation/parameter_types.py, flavor extra specs): word
// characters, '-', '.', ':' (and blanks: left out here, as config/sections/flavors.ts refuses them: `openstack
// flavor set --property k=v` and commands.sh's stale-key loop cannot carry them). Keys in a namespace Nova
// validates are checked per release (test/domain/extra-specs.test.ts), and keys without one are refused while
// AggregateInstanceExtraSpecsFilter runs (test/config/openstack-flavors.test.ts): left out here.
const yoga = registry("yoga");
const specKey = fc
  .stringMatching(/^[A-Za-z0-9_.-]{1,20}:[A-Za-z0-9_.:-]{1,20}$/)
  .filter((k) => validatorFor(yoga, k) === undefined && validatedNamespace(yoga, k) === undefined);
const specValue = oneLine(255);

const flavorsArb = fc.uniqueArray(
  fc.record({ name: oneLine(255), ram: fc.integer({ min: 1, max: 1 << 20 }), vcpus: fc.integer({ min: 1, max: 64 }), extraSpecs: fc.dictionary(specKey, specValue, { maxKeys: 3 }) }),
  { minLength: 1, maxLength: 3, selector: (f) => f.name },
);

/** A bin dir with the openstack double (maas and juju are the doubles of test/fakes). */
const commandsShBin = openstackBin;

test("commands.sh: flavor names, extra specs, smoke-test names and the tag comment reach the CLIs verbatim, twice", () => {
  const bin = commandsShBin();
  try {
    fc.assert(
      fc.property(
        flavorsArb,
        freeText,
        oneLine(),
        oneLine(),
        fc.option(oneLine(), { nil: undefined }),
        fc.uniqueArray(oneLine(64), { minLength: 1, maxLength: 2 }),
        (flavors, comment, image, network, keyPair, serverNames) => {
          const site = accepted((r) => {
            r.maas.comment = comment;
            r.flavors = flavors.map((f) => ({ ...f, disk: 10, pci: { gpu: 1 } }));
            r.smokeTest = { image, network, keyPair, servers: serverNames.map((name, i) => ({ name, flavor: flavors[i % flavors.length]!.name })) };
          });
          const w = world({ FAKE_MAAS_PROFILES: "admin", FAKE_MAAS_POOLS: "openstack" }, [bin]);
          try {
            const script = path.join(w.dir, "commands.sh");
            writeFileSync(script, renderRunbook(site, renderSite(site), "dev"));
            const sh = () => spawnSync("/bin/sh", [script], { cwd: w.dir, env: w.env, encoding: "utf8" });
            ok(sh());
            const first = fakeState(w, "openstack");
            const expectedFlavors = Object.fromEntries(
              flavors.map((f) => [
                f.name,
                { name: f.name, ram: f.ram, vcpus: f.vcpus, disk: 10, properties: { "pci_passthrough:alias": "gpu:1", ...f.extraSpecs } },
              ]),
            );
            // Nova's IDs aside (the double gives each flavor one).
            assert.deepEqual(Object.fromEntries(Object.entries(first.flavors as Record<string, { id: string }>).map(([k, { id: _id, ...f }]) => [k, f])), expectedFlavors);
            const expectedServers = Object.fromEntries(
              serverNames.map((name, i) => [
                name,
                { name, image, network, flavor: flavors[i % flavors.length]!.name, ...(keyPair !== undefined ? { key_name: keyPair } : {}) },
              ]),
            );
            assert.deepEqual(first.servers, expectedServers);
            assert.equal(parseTagComment(fakeState(w, "maas").tags["pci-pass"].comment).comment, comment);
            // Run again: nothing is created twice, nothing changes.
            const calls = argvLog(w, "openstack").length;
            ok(sh());
            assert.deepEqual(fakeState(w, "openstack"), first);
            const again = argvLog(w, "openstack").slice(calls);
            // The OpenStack step reads, and writes nothing: no create_*, delete_* call of the SDK.
            assert.ok(!again.some((argv) => argv[0] === "sdk" && /^(create|delete)_/.test(argv[1] ?? "")), JSON.stringify(again));
            canaryGone();
          } finally {
            cleanup(w);
          }
        },
      ),
      { numRuns: 20, endOnFailure: true },
    );
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});
