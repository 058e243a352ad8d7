import { test } from "node:test";
import assert from "node:assert/strict";
import {
  RELEASES,
  findRelease,
  defaultSchedulerFilters,
  filterRemovedIn,
  whitelistOption,
  validatesExtraSpecs,
  ubuntuBases,
  ubuntuFor,
} from "../../domain/releases";
import { charmTrack, computeChannel, computeEndpoints } from "../../domain/charms";

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

test("each release's default Ubuntu is the one the charms build it for; its bases the LTSes that ship it or whose Cloud Archive carries it", () => {
  const series = Object.fromEntries(RELEASES.map((r) => [r.name, r.series]));
  assert.deepEqual(series, {
    queens: "bionic", rocky: "bionic", stein: "bionic", train: "bionic",
    ussuri: "focal", victoria: "focal", wallaby: "focal", xena: "focal",
    yoga: "jammy", zed: "jammy", "2023.1": "jammy", "2023.2": "jammy",
    // nova-cloud-controller's stable/2024.1 builds for 22.04 only.
    "2024.1": "jammy", "2024.2": "noble", "2025.1": "noble", "2025.2": "noble",
  });
  assert.deepEqual(ubuntuFor("yoga"), { series: "jammy", version: "22.04" });
  assert.deepEqual(ubuntuFor("2024.1"), { series: "jammy", version: "22.04" });
  assert.deepEqual(ubuntuFor("yoga", "ubuntu@20.04"), { series: "focal", version: "20.04" });
  // An LTS's first release is also in the previous LTS's Cloud Archive (bionic-ussuri, focal-yoga, jammy-caracal).
  const bases = (r: string) => ubuntuBases(r).map((u) => u.series);
  assert.deepEqual(bases("queens"), ["bionic"]);
  assert.deepEqual(bases("ussuri"), ["bionic", "focal"]);
  assert.deepEqual(bases("xena"), ["focal"]);
  assert.deepEqual(bases("yoga"), ["focal", "jammy"]);
  assert.deepEqual(bases("2024.1"), ["jammy", "noble"]);
  for (const r of RELEASES) assert.ok(r.bases.includes(r.series), r.name);
});

test("AggregateCoreFilter, AggregateRamFilter and AggregateDiskFilter exist up to ussuri (deprecated) and are gone in victoria", () => {
  for (const f of ["AggregateCoreFilter", "AggregateRamFilter", "AggregateDiskFilter"]) {
    assert.equal(filterRemovedIn(f, "train"), undefined);
    assert.equal(filterRemovedIn(f, "ussuri"), undefined);
    assert.equal(filterRemovedIn(f, "victoria"), "victoria");
  }
  assert.equal(filterRemovedIn("CoreFilter", "train"), "train");
  assert.equal(filterRemovedIn("RetryFilter", "victoria"), "victoria");
});

test("the charms' tracks: stable from ussuri to 2024.1, candidate only before, none after; the endpoints of the release's charm", () => {
  assert.deepEqual(charmTrack("queens"), { track: "queens", risk: "candidate" });
  assert.deepEqual(charmTrack("train"), { track: "train", risk: "candidate" });
  assert.deepEqual(charmTrack("ussuri"), { track: "ussuri", risk: "stable" });
  assert.equal(computeChannel("2023.2"), "2023.2/stable");
  assert.equal(computeChannel("2024.1"), "2024.1/stable");
  assert.equal(computeChannel("stein"), "stein/candidate");
  for (const r of ["2024.2", "2025.1", "2025.2"]) {
    assert.equal(charmTrack(r), undefined, r);
    assert.throws(() => computeChannel(r), /the OpenStack charms have no track for/);
  }
  assert.ok(computeEndpoints("2024.1").includes("storage-backend"));
  assert.ok(!computeEndpoints("2023.2").includes("storage-backend"));
});
