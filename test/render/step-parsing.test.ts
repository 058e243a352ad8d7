// The steps read the CLIs' answers with small parsers (render/steps/) and verify reads them
// with tools/verify/compare.ts: here both are fed the exact bytes the real CLIs write, the transcripts of
// test/contract/ (which test/components/cli-contract.test.ts holds the doubles to).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { APPS_MISSING, MODEL_LISTED } from "../../render/steps/juju";
import { JSON_LIST_LENGTH, LISTED_MACHINE_PROBLEMS, SYSTEM_IDS } from "../../render/steps/maas-selection";
import { READS } from "../../render/steps/reads";
import { TAG_COMMENT_UNCLAIMED, TAG_STATE } from "../../render/steps/maas-claim";
import { renderSite } from "../../render/site";
import { compareJuju } from "../../tools/verify/compare";
import type { Read } from "../../tools/lib/findings";
import { contract, transcript } from "../contract";
import { loadStack } from "../helpers";

/** Runs one of the steps' parsers (`python3 -c '...'`) with its arguments on the given bytes. */
function parse(parser: string, input: Buffer | string, ...args: string[]): string {
  const r = spawnSync("/bin/sh", ["-c", `${parser} "$@"`, "sh", ...args], { input, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

const row = (id: string) => contract.rows.find((r) => r.id === id) ?? assert.fail(`no row ${id}`);
const literal = (id: string, stream: "stdout" | "stderr") => {
  const v = row(id)[stream];
  assert.equal(typeof v, "string", `${id} ${stream} is exact`);
  return v === "transcript" ? transcript(id, stream).toString("utf8") : (v as string);
};

test("a tag's existence and claim come from `maas tags read`: the tag listed or not", () => {
  const tags = transcript("maas-tags-read", "stdout");
  assert.equal(parse(TAG_STATE, tags, "pci-pass"), "1 0123456789ab no pci-passthrough/dev\n");
  assert.equal(parse(TAG_STATE, tags, "virtual"), "1 - no -\n", "a tag made by hand carries no claim");
  assert.equal(parse(TAG_STATE, tags, "pci-pas"), "0 - no -\n", "a name that is not listed is a missing tag");
  assert.equal(parse(TAG_STATE, literal("maas-tags-read-empty", "stdout"), "pci-pass"), "0 - no -\n");
  // Handing a kept tag back: its comment without the claim (the trailing x keeps what the shell would strip).
  assert.equal(parse(TAG_COMMENT_UNCLAIMED, tags, "pci-pass"), "PCI Passthrough kernel parametersx");
  assert.equal(parse(TAG_COMMENT_UNCLAIMED, tags, "virtual"), "hand made, no claimx");
  // A failed read's body is not a tag list: the parser fails rather than call the tag missing.
  assert.notEqual(spawnSync("/bin/sh", ["-c", `${TAG_STATE} pci-pass`], { input: literal("maas-tag-read-missing", "stdout") }).status, 0);
});

test("listed machines are checked against `maas machines read`: unknown ones and those outside the pool or zone, by key path", () => {
  const all = transcript("maas-machines-read", "stdout");
  assert.equal(parse(LISTED_MACHINE_PROBLEMS, all, "pci-passthrough:maas", "", "", "gpuhost1", "gpuhost2"), "");
  assert.equal(
    parse(LISTED_MACHINE_PROBLEMS, all, "pci-passthrough:hostGroups[2].maas", "openstack", "az2", "gpuhost2", "gpuhots1", "gpuelsewhere", "gpuhost1"),
    [
      "pci-passthrough:hostGroups[2].maas.machines[1]: MAAS has no machine gpuhots1 (a typo? maas PROFILE machines read lists them)",
      "pci-passthrough:hostGroups[2].maas.machines[2]: machine gpuelsewhere is in resource pool other-team, not in pci-passthrough:hostGroups[2].maas.pool openstack",
      "pci-passthrough:hostGroups[2].maas.machines[3]: machine gpuhost1 is in zone default, not in pci-passthrough:hostGroups[2].maas.zone az2",
      "",
    ].join("\n"),
  );
});

test("system IDs, node devices, models and applications are read from the CLIs' JSON", () => {
  assert.equal(parse(SYSTEM_IDS, transcript("maas-machines-read", "stdout")), "gpuelsewhere gpuhost1 gpuhost2\n");
  assert.equal(parse(SYSTEM_IDS, transcript("maas-machines-read-pool", "stdout")), "gpuhost2\n", "pool= and zone= choose");
  assert.equal(parse(SYSTEM_IDS, transcript("maas-tag-machines", "stdout")), "gpuhost1\n");
  assert.equal(parse(JSON_LIST_LENGTH, transcript("maas-node-devices-read", "stdout")), "1\n");
  assert.equal(parse(JSON_LIST_LENGTH, literal("maas-tags-read-empty", "stdout")), "0\n");
  const models = transcript("juju-models", "stdout");
  assert.equal(parse(MODEL_LISTED, models, "openstack-deployment"), "1\n");
  assert.equal(parse(MODEL_LISTED, models, "openstack"), "0\n", "by the short name, exactly");
  assert.equal(parse(MODEL_LISTED, models, "admin/openstack-deployment"), "0\n");
  const status = transcript("juju-status", "stdout");
  assert.equal(parse(APPS_MISSING, status, "nova-compute", "nova-cloud-controller", "nova-compute-a100"), "\n");
  assert.equal(parse(APPS_MISSING, status, "nova-compute", "nova-compute-l40s"), "nova-compute-l40s\n");
});

test("verify reads every answer from its data: a failed read is unreachable, never missing; unset and not-an-option differ", () => {
  const site = loadStack("dev");
  const a = renderSite(site);
  const ok = (id: string): Read => ({ rc: 0, out: transcript(id, "stdout").toString("utf8"), err: "" });
  const reads = new Map<string, Read>([
    [READS.tags, ok("maas-tags-read")],
    // A failing `machines read` (the region went away after the tag list): nothing is known of the tag's
    // machines, none is taken for untagged.
    [READS.machines, { rc: 2, out: "", err: "\n[Errno 111] Connection refused\n" }],
    [READS.selected("pci-pass"), { rc: 0, out: "gpuhost1 gpuhost2" }],
    [READS.models, ok("juju-models")],
    [READS.userdata, ok("juju-model-config-get")],
    [READS.status, ok("juju-status")],
    [READS.config("nova-cloud-controller"), ok("juju-config-json")],
    [READS.config("nova-compute"), { rc: 1, out: "", err: literal("juju-models-unreachable", "stderr") }],
  ]);
  const findings = compareJuju(site, a, reads);
  const by = (object: string) => findings.find((f) => f.object === object) ?? assert.fail(`no finding for ${object}: ${JSON.stringify(findings)}`);
  assert.deepEqual(by("MAAS tag pci-pass").details, [`kernel_opts is "intel_iommu=on vfio-pci.ids=10de:10f0,10de:1bb0", want ${JSON.stringify(a.groups[0]!.kernelOptions)}`]);
  assert.deepEqual(by("MAAS tag pci-pass machines"), { object: "MAAS tag pci-pass machines", status: "unreachable", details: ["[Errno 111] Connection refused"] });
  assert.equal(by(`Juju model ${site.juju.model} cloudinit-userdata`).status, "drift");
  const ncc = by("nova-cloud-controller options");
  assert.deepEqual(ncc.details, [
    `pci-alias is unset, want ${JSON.stringify(a.charmOptions["nova-cloud-controller"]!["pci-alias"])}`,
    `scheduler-default-filters is unset, want ${JSON.stringify(a.charmOptions["nova-cloud-controller"]!["scheduler-default-filters"])}`,
  ]);
  assert.equal(ncc.manual, undefined, "unset options are the program's to set again (resync)");
  assert.deepEqual(by("nova-compute options"), {
    object: "nova-compute options",
    status: "unreachable",
    details: ["ERROR cannot connect to API: dial tcp 10.0.0.1:17070: connect: connection refused"],
  });
});

test("verify reads which machines carry a tag from the one machine list (tag_names), not from a read per tag", () => {
  const site = loadStack("dev");
  const a = renderSite(site);
  const ok = (id: string): Read => ({ rc: 0, out: transcript(id, "stdout").toString("utf8"), err: "" });
  const tags = ok("maas-tags-read");
  const machines = ok("maas-machines-read-tagged");
  const findings = compareJuju(site, a, new Map([[READS.tags, tags], [READS.machines, machines], [READS.selected("pci-pass"), { rc: 0, out: "gpuhost1 gpuhost2" }]]));
  assert.deepEqual(
    findings.find((f) => f.object === "MAAS tag pci-pass machines"),
    { object: "MAAS tag pci-pass machines", status: "drift", details: ["not tagged: gpuhost2"] },
  );
});
