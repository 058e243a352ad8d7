// What `npm run import-maas` proposes for the mixed fixture machines, made into a stack (the operator's juju,
// openstack and one flavor per alias added), is a valid config that renders, and its artifacts pass the
// suite's real consumers: Nova's own parsers and filters (test/nova_conformance.py, python3-nova) schedule
// every flavor on its group's host as MAAS saw it (SR-IOV capability included), Juju's bundle code
// (test/bundle-check) merges and verifies the overlay with the groups' applications, and cloud-init's schema
// takes the userdata as Juju merges it.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import { parseSiteConfig } from "../../config/parse";
import { formatProblems } from "../../config/problems";
import { toStackFile } from "../../config/stack";
import type { SiteConfig } from "../../config/types";
import { deviceId } from "../../domain/pci";
import { charmOptions } from "../../render/nova/charm-options";
import { flavorSpecs } from "../../render/nova/flavors";
import { proposeSite } from "../../tools/import-maas/propose";
import { renderMaasProposal } from "../../tools/import-maas/render";
import { machinesFromDocuments, readDocumentsDir } from "../../tools/lib/maas-documents";
import { renderStack, needTool } from "../helpers";
import { asCloudInitSeesIt } from "../juju-userdata-merge";
import { MAAS_FIXTURES } from "../maas-fixtures";
import { BASES_DIR, SKIP as NO_GO, buildBundleCheck, runBundleCheck } from "../render/bundle-check";
import { cloudInitSchema } from "../render/cloud-init-schema";
import { passes, skip as noNova, type Input } from "../render/nova-harness";

const docs = readDocumentsDir(MAAS_FIXTURES, [{ pool: "gpu-compute" }]);
assert.ok(docs.ok);
const read = machinesFromDocuments(docs.value);
assert.ok(read.ok);
const machines = read.value.machines;
const proposal = proposeSite(machines, { ids: ["8086:1592"], scope: { pool: "gpu-compute" } });
const text = renderMaasProposal(proposal, { profile: "admin", machines: machines.length });

/** The proposal as the operator completes it: their model and release, one flavor per alias. */
function stackOf(proposalText: string): Record<string, unknown> {
  const raw: Record<string, any> = {};
  for (const [k, v] of Object.entries(parse(proposalText) as Record<string, unknown>)) raw[k.replace(/^pci-passthrough:/, "")] = v;
  const aliases = [...new Set((raw.hostGroups as any[]).flatMap((g) => g.devices.map((d: any) => d.alias as string)))];
  raw.juju = { model: "openstack" };
  raw.openstack = { release: "2024.1" };
  raw.flavors = aliases.map((a) => ({ name: `g1.${a}`, ram: 8192, vcpus: 4, disk: 40, pci: { [a]: 1 } }));
  return raw;
}

const raw = stackOf(text);
const parsed = parseSiteConfig(raw);

test("the proposal for the mixed machines is a valid site config, as it is printed", () => {
  assert.ok(parsed.ok, parsed.ok ? "" : formatProblems(parsed.problems));
  assert.deepEqual(
    parsed.config.groups.map((g) => [g.name, g.maas.tag, g.application, g.addToBundle]),
    proposal.groups.map((g) => [g.name, g.tag, g.application, true]),
  );
});

test("it renders (npm run render) into the artifacts the consumers take", () => {
  const r = renderStack("maas", toStackFile(raw));
  assert.equal(r.status, 0, r.stderr);
  const overlay = parse(readFileSync(path.join(r.dir, "bundle-overlay.yaml"), "utf8")) as { applications: Record<string, { constraints?: string }> };
  for (const g of proposal.groups) assert.equal(overlay.applications[g.application]?.constraints, `tags=${g.tag}`, g.name);
});

const site = (): SiteConfig => {
  assert.ok(parsed.ok);
  return parsed.config;
};

test("Nova parses the aliases and whitelists, and schedules each flavor on its group's host as MAAS saw it", { skip: noNova }, () => {
  const s = site();
  const input: Input = {
    charm: charmOptions(s.openstack, s.groups, s.flavors),
    // Each group's first host, its devices as commissioning recorded them: SR-IOV capable when sriov_totalvfs > 0.
    groups: s.groups.map((g) => {
      const host = machines.find((m) => m.systemId === proposal.groups.find((p) => p.name === g.name)!.hosts[0]!.systemId)!;
      return {
        name: g.name!,
        application: g.application,
        devices: g.devices.flatMap((d) =>
          d.addresses.flatMap((address) => {
            const f = host.functions.find((x) => x.address === address && deviceId(x) === deviceId(d));
            return f ? [{ alias: d.alias, vendor_id: d.vendorId, product_id: d.productId, address, sriov_totalvfs: f.sriov?.totalVfs ?? 0, physfn: null }] : [];
          }),
        ),
      };
    }),
    flavors: flavorSpecs(s.flavors),
    check_filters: true,
  };
  const report = passes(input);
  for (const g of s.groups) {
    const alias = g.devices[0]!.alias;
    const flavor = report.flavors[`g1.${alias}`]!;
    assert.ok(flavor.fits.includes(g.name!), `g1.${alias} fits ${g.name}: ${JSON.stringify(flavor)}`);
    assert.ok(flavor.scheduled.includes(g.name!), `g1.${alias} scheduled on ${g.name}: ${JSON.stringify(flavor)}`);
    assert.ok(report.groups[g.name!]!.whitelist.assignable.length > 0, g.name);
  }
  // The SR-IOV capable ones are PFs to Nova, and the proposal said type-PF for exactly those.
  assert.equal(report.groups["a100"]!.reported["0000:17:00.0"], "type-PF");
  assert.equal(report.groups["e810c"]!.reported["0000:41:00.0"], "type-PF");
});

describe("Juju's bundle code merges and verifies the overlay", { skip: NO_GO }, () => {
  let work = "";
  let binary = "";
  before(() => ({ work, binary } = buildBundleCheck()));
  after(() => work && rmSync(work, { recursive: true, force: true }));

  test("on the HA bundle: no error, each group's application added with its tag as constraint", () => {
    const r = renderStack("maas", toStackFile(raw));
    const merged = runBundleCheck(binary, path.join(BASES_DIR, "openstack-ha.yaml"), path.join(r.dir, "bundle-overlay.yaml"));
    assert.equal(merged.status, 0, merged.stderr);
    assert.deepEqual(merged.summary.errors, []);
    for (const g of proposal.groups) assert.equal(merged.summary.applications[g.application]?.constraints, `tags=${g.tag}`, g.name);
  });
});

test("cloud-init's schema takes the userdata as Juju merges it", { skip: needTool("cloud-init", "cloud-init") }, async () => {
  const r = renderStack("maas", toStackFile(raw));
  const modelConfig = parse(readFileSync(path.join(r.dir, "model-config.yaml"), "utf8")) as { "cloudinit-userdata": string };
  const dir = mkdtempSync(path.join(tmpdir(), "pcipt-maas-ci-"));
  await cloudInitSchema(dir, "import-maas proposal", asCloudInitSeesIt(modelConfig["cloudinit-userdata"]));
});
