import { test } from "node:test";
import assert from "node:assert/strict";
import {
  RELEASES,
  findRelease,
  defaultSchedulerFilters,
  filterRemovedIn,
  whitelistOption,
  validatesExtraSpecs,
} from "../components/render/releases";

test("release table runs queens ... 2025.2 in Nova version order", () => {
  assert.equal(RELEASES[0]!.name, "queens");
  assert.equal(RELEASES.at(-1)!.name, "2025.2");
  RELEASES.forEach((r, i) => i > 0 && assert.equal(r.nova, RELEASES[i - 1]!.nova + 1));
});

test("codenames and canonical names both resolve", () => {
  assert.equal(findRelease("Bobcat")?.name, "2023.2");
  assert.equal(findRelease("2024.1")?.codename, "caracal");
  assert.equal(findRelease("folsom"), undefined);
});

test("default filters drop what each release removed and always carry PciPassthroughFilter", () => {
  assert.deepEqual(defaultSchedulerFilters("queens").slice(0, 2), ["RetryFilter", "AvailabilityZoneFilter"]);
  assert.ok(!defaultSchedulerFilters("victoria").includes("RetryFilter"));
  assert.ok(defaultSchedulerFilters("2023.1").includes("AvailabilityZoneFilter"));
  assert.ok(!defaultSchedulerFilters("2023.2").includes("AvailabilityZoneFilter"));
  for (const r of RELEASES) {
    const filters = defaultSchedulerFilters(r.name);
    assert.ok(filters.includes("PciPassthroughFilter"), r.name);
    assert.deepEqual(filters.filter((f) => filterRemovedIn(f, r.name)), [], r.name);
  }
});

test("whitelist option is renamed device_spec in zed; extra specs validated from ussuri", () => {
  assert.equal(whitelistOption("yoga"), "passthrough_whitelist");
  assert.equal(whitelistOption("zed"), "device_spec");
  assert.equal(validatesExtraSpecs("train"), false);
  assert.equal(validatesExtraSpecs("ussuri"), true);
});
