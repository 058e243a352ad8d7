// The bundle overlay against Juju's own bundle code: test/bundle-check (Go, github.com/juju/charm/v12 at
// v12.0.0) merges the rendered overlay onto operator bundles with charm.ReadAndMergeBundleData and verifies
// the result with BundleData.Verify, as `juju deploy BUNDLE --overlay F` does. For every example stack on
// every base bundle in test/bundle-check/bases: no error, and the merged bundle is the base bundle with our
// options added and, for host groups whose application the bundle lacks, that application and its relations
// (each one the bundle's own nova-compute has); nothing else changed. The overlay shape shipped before (test/fixtures/overlay) is refused
// with Juju's own message, or rewrites the operator's machines where Juju lets it merge.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { requireSiteConfig } from "../../config/parse";
import type { SiteConfig } from "../../config/types";
import { COMPUTE_CHARM, computeChannel, computeEndpoints, computeRelations, CHARM_APPS } from "../../domain/charms";
import { ROOT, STACKS, editStack, loadStack } from "../helpers";
import { BASES, BASES_DIR, SKIP, buildBundleCheck, runBundleCheck, type Checked, type Summary } from "./bundle-check";
import { renderSite } from "../../render/site";
import { charmOptions } from "../../render/nova/charm-options";

const BEFORE_DIR = path.join(ROOT, "test", "fixtures", "overlay");

let work = "";
let binary = "";

before(() => {
  if (SKIP) return;
  ({ work, binary } = buildBundleCheck());
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const check = (base: string, ...overlays: string[]): Checked => runBundleCheck(binary, base, ...overlays);

/** Writes `text` into the work dir as `name`, for bundle-check to read. */
function file(name: string, text: string): string {
  const p = path.join(work, name);
  writeFileSync(p, text);
  return p;
}

const base = (name: string) => path.join(BASES_DIR, name);

/**
 * The stack's site for a base bundle: as written when every application its overlay relates the added applications
 * to is in the bundle (openstack-base's shape), else with the bundle's own nova-compute relations in
 * openstack.computeRelations, copied as docs/bundle-overlay.md tells an operator of such a bundle to do.
 */
function siteFor(stack: string, alone: Summary): SiteConfig {
  const site = loadStack(stack);
  const missing = computeRelations(site.openstack).some((r) => alone.applications[r.remote.split(":")[0]!] === undefined);
  if (!site.groups.some((g) => g.addToBundle) || !missing) return site;
  const own = alone.relations.filter((r) => r.some((side) => side.startsWith(`${COMPUTE_CHARM}:`)));
  return requireSiteConfig(editStack(stack, (raw) => (raw.openstack.computeRelations = own)));
}

describe("the rendered overlay on the operator's bundles, with juju/charm v12", { skip: SKIP }, () => {
  test("the base bundles are valid for Juju on their own, and there are HA and single-node ones", () => {
    assert.ok(BASES.includes("openstack-ha.yaml") && BASES.includes("single-node.yaml"), BASES.join(", "));
    for (const b of BASES) {
      const r = check(base(b));
      assert.deepEqual([r.status, r.summary.errors], [0, []], `${b}: ${r.stderr}`);
      assert.ok(r.summary.applications[CHARM_APPS.compute]!.num_units >= 1, b);
    }
  });

  for (const stack of STACKS) {
    for (const b of BASES) {
      test(`${stack} on ${b}: merges without error, changes nothing of the bundle's but our options, adds what it says`, () => {
        const alone = check(base(b)).summary;
        const site = siteFor(stack, alone);
        // The HA bases are openstack-base's shape: the default relations fit them as they are.
        if (b.startsWith("openstack-ha")) assert.equal(site.openstack.computeRelations, undefined);
        const overlay = file(`${stack}-overlay.yaml`, renderSite(site).bundleOverlay);
        const merged = check(base(b), overlay);
        assert.equal(merged.status, 0, merged.stderr);
        assert.equal(merged.stderr, "");
        assert.deepEqual(merged.summary.errors, []);
        const m = merged.summary;
        assert.deepEqual(m.machines, alone.machines, "the same machines");
        for (const [name, app] of Object.entries(alone.applications)) {
          const got = m.applications[name]!;
          assert.deepEqual([got.num_units, got.to, got.constraints], [app.num_units, app.to, app.constraints], `${name}: units, placement, constraints`);
        }
        // All of it: the base bundle with our options merged key by key into the bundle's applications' own, the
        // added applications with their charm, channel, tag and options, and their relations appended; every other
        // option, application, relation and the base's OS untouched, no new YAML warning.
        const expected = structuredClone(alone);
        const ours = charmOptions(site.openstack, site.groups, site.flavors);
        for (const [app, options] of Object.entries(ours)) {
          const group = site.groups.find((g) => g.application === app);
          if (group?.addToBundle) {
            assert.equal(alone.applications[app], undefined, `${app} is not in ${b}`);
            expected.applications[app] = {
              charm: COMPUTE_CHARM,
              channel: computeChannel(site.openstack.release),
              num_units: group.units,
              to: [],
              constraints: `tags=${group.maas.tag}`,
              options,
            };
          } else {
            expected.applications[app]!.options = { ...alone.applications[app]!.options, ...options };
          }
          for (const [k, v] of Object.entries(options)) assert.equal(m.applications[app]!.options[k], v, `${app} ${k}`);
        }
        const added = site.groups.filter((g) => g.addToBundle);
        const relations = computeRelations(site.openstack);
        expected.relations = [...alone.relations, ...added.flatMap((g) => relations.map((r) => [`${g.application}:${r.endpoint}`, r.remote]))];
        assert.deepEqual(m, expected);
        // Each added relation is one the bundle's own nova-compute has, on an endpoint of the charm: its other side
        // exists in the bundle and takes a nova-compute.
        for (const [ours, remote] of m.relations.slice(alone.relations.length)) {
          const endpoint = ours!.split(":")[1]!;
          assert.ok(computeEndpoints(site.openstack.release).includes(endpoint), ours);
          assert.ok(
            alone.relations.some((r) => r.includes(`${COMPUTE_CHARM}:${endpoint}`) && r.includes(remote!)),
            `[${ours}, ${remote}]: ${b}'s nova-compute has no such relation`,
          );
        }
      });
    }
  }

  test("mixed, openstack-base's relations on a bundle without cinder-ceph and ntp: Juju refuses each relation naming them", () => {
    const site = loadStack("mixed");
    const added = site.groups.filter((g) => g.addToBundle).map((g) => g.application);
    assert.deepEqual(added, ["nova-compute-a100", "nova-compute-l40s", "nova-compute-nic"]);
    for (const b of BASES.filter((x) => x.startsWith("single-node"))) {
      const alone = check(base(b)).summary;
      const r = check(base(b), file("mixed-default.yaml", renderSite(site).bundleOverlay));
      assert.equal(r.status, 1, b);
      assert.equal(r.summary.stage, "verify");
      const missing = computeRelations(site.openstack).filter((x) => alone.applications[x.remote.split(":")[0]!] === undefined);
      assert.deepEqual(missing.map((x) => x.remote), ["cinder-ceph:ceph-access", "ntp:juju-info"]);
      assert.deepEqual(
        r.summary.errors,
        added
          .flatMap((app) => missing.map((x) => `relation ["${app}:${x.endpoint}" "${x.remote}"] refers to application "${x.remote.split(":")[0]}" not defined in this bundle`))
          .sort(),
      );
    }
  });

  test("mixed with units: the added applications' units go onto new machines, the bundle's machines stay", () => {
    const site = requireSiteConfig(editStack("mixed", (raw) => ((raw.hostGroups[0].units = 2), (raw.hostGroups[1].units = 1))));
    for (const b of BASES.filter((x) => x.startsWith("openstack-ha"))) {
      const alone = check(base(b)).summary;
      const r = check(base(b), file("mixed-units.yaml", renderSite(site).bundleOverlay));
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.summary.machines, alone.machines);
      // No `to`: juju/charm replicates "new", a new machine per unit, provisioned with the tag constraint.
      assert.deepEqual(
        ["nova-compute-a100", "nova-compute-l40s"].map((app) => [r.summary.applications[app]!.num_units, r.summary.applications[app]!.to, r.summary.applications[app]!.constraints]),
        [
          [2, [], "tags=gpu-a100"],
          [1, [], "tags=gpu-l40s"],
        ],
      );
    }
  });

  // The overlay shipped before host groups, kept for the stacks it was rendered for.
  for (const stack of STACKS.filter((x) => existsSync(path.join(BEFORE_DIR, `${x}-before.yaml`)))) {
    const before = path.join(BEFORE_DIR, `${stack}-before.yaml`);
    const lost = stack === "dev" ? "lxd:2" : "lxd:3";

    test(`${stack}, the overlay shipped before: Juju refuses it on the HA bundles (placement "${lost}")`, () => {
      for (const b of BASES.filter((x) => x.startsWith("openstack-ha"))) {
        const r = check(base(b), before);
        assert.equal(r.status, 1, b);
        assert.equal(r.summary.stage, "verify", b);
        assert.ok(r.summary.errors.includes(`placement "${lost}" refers to a machine not defined in this bundle`), r.stderr);
        // Juju's own messages, one per line, are what bundle-check prints on stderr.
        assert.deepEqual(r.stderr.trimEnd().split("\n"), r.summary.errors);
        for (const e of r.summary.errors) assert.match(e, /^placement "[^"]+" refers to a machine not defined in this bundle$/);
        // And before Verify refused it, the merge had scaled the HA controller down to one unit.
        assert.equal(check(base(b)).summary.applications[CHARM_APPS.controller]!.num_units, 3);
        assert.equal(r.summary.applications[CHARM_APPS.controller]!.num_units, 1);
      }
    });

    test(`${stack}, the overlay shipped before: on the single-node bundles Juju merges it and replaces the machines`, () => {
      for (const b of BASES.filter((x) => x.startsWith("single-node"))) {
        const alone = check(base(b)).summary;
        const r = check(base(b), before);
        assert.equal(r.status, 0, `${b}: ${r.stderr}`);
        assert.deepEqual(Object.keys(alone.machines), ["0"]);
        const tag = loadStack(stack).groups[0]!.maas.tag;
        // Machine 0 (the operator's all-in-one host) became a GPU host, and new machines appeared.
        assert.equal(r.summary.machines["0"]!.constraints, `tags=${tag}`);
        assert.ok(Object.keys(r.summary.machines).length > 1, b);
        assert.notDeepEqual(r.summary.applications[CHARM_APPS.controller]!.to, alone.applications[CHARM_APPS.controller]!.to);
      }
    });
  }

  test("why the overlay names no OS: Juju's merge lets series and per-application base overwrite, and drops default-base", () => {
    const options = "applications:\n  nova-compute:\n    options:\n      virt-type: kvm\n";
    const series = check(base("single-node-juju29.yaml"), file("series.yaml", `series: jammy\n${options}`)).summary;
    assert.equal(series.series, "jammy", "a top-level series overwrites the bundle's (focal)");
    const defaultBase = check(base("single-node.yaml"), file("default-base.yaml", `default-base: ubuntu@24.04\n${options}`)).summary;
    assert.equal(defaultBase["default-base"], "ubuntu@22.04", "a top-level default-base is dropped by the merge");
    const appBase = check(base("single-node.yaml"), file("app-base.yaml", options.replace("    options:", "    base: ubuntu@24.04\n    options:"))).summary;
    assert.equal(appBase.applications[CHARM_APPS.compute]!.base, "ubuntu@24.04", "an application's base overwrites its own");
  });
});
