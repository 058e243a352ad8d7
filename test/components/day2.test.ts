// Day 2, run for real: the program's own command resources (recorded under mocks, secrets included) run
// against the fake maas and juju in the orders the Pulumi engine uses (test/pulumi-emulator.ts), for what
// operators do to a running site: `--replace` a step, in either order, with or without new settings; a
// changed tag name (a trigger); `pulumi destroy`; adopted objects. Mocks cannot show these orders.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { requireSiteConfig } from "../../config/parse";
import type { SiteConfig } from "../../config/types";
import { parseTagComment } from "../../render/steps/maas-claim";
import { renderSite } from "../../render/site";
import { fakeSeeds } from "../../tools/lab/commands";
import { argvLog, cloneWorld, fakeState, seededMachines, world, type World } from "../fakes-world";
import { editStack, rawStack } from "../helpers";
import {
  EMPTY_STACK,
  ORDERS,
  commandResources,
  destroy,
  recordProgram,
  unprotect,
  up,
  type ProgramResource,
  type StackState,
} from "../pulumi-emulator";

/** A site variant: its raw config, its SiteConfig and its program's command resources. */
interface Variant {
  readonly raw: Record<string, unknown>;
  readonly site: SiteConfig;
  readonly program: ProgramResource[];
}

const programs = new Map<string, Variant>();
/** The recorded program of a stack variant (memoised: each recording spawns the program under mocks). */
function variant(stack: "dev" | "lab" | "mixed", key: string, edit: (raw: Record<string, any>) => void = () => {}): Variant {
  const id = `${stack}/${key}`;
  if (!programs.has(id)) {
    const raw = editStack(stack, edit);
    programs.set(id, { raw, site: requireSiteConfig(raw), program: commandResources(recordProgram(raw, stack)) });
  }
  return programs.get(id)!;
}

/** A fresh fake world seeded like a real site: the profile logged in, machines with their devices, the
 * OpenStack applications deployed. */
function siteWorld(site: SiteConfig): World {
  return world(fakeSeeds(site));
}

/** A fresh site world with the variant's first `up` done: the world and the stack state it left. */
function deploy(v: Variant): { w: World; state: StackState } {
  const w = siteWorld(v.site);
  return { w, state: up(w, EMPTY_STACK, v.program).state };
}

/** What a site looks like in the fakes, in the terms the assertions compare: every group's tag. */
function observed(w: World, site: SiteConfig) {
  const maas = fakeState(w, "maas");
  const juju = fakeState(w, "juju");
  const model = juju.models[site.juju.model];
  return {
    tags: Object.fromEntries(
      site.groups.map((g) => {
        const tag = maas.tags[g.maas.tag];
        return [g.maas.tag, tag && { comment: parseTagComment(tag.comment).comment, kernel_opts: tag.kernel_opts, machines: tag.machines }];
      }),
    ),
    userdata: model?.config["cloudinit-userdata"],
    options: model?.applications,
  };
}

/** What the site must look like after the program ran for `site`. */
function expected(site: SiteConfig) {
  const a = renderSite(site);
  return {
    tags: Object.fromEntries(
      a.groups.map((g) => [g.group.maas.tag, { comment: g.group.maas.comment, kernel_opts: g.kernelOptions, machines: seededMachines(site, g.group) }]),
    ),
    userdata: a.userdata,
    options: a.charmOptions,
  };
}

/** The site as the first `up` leaves it, made once (and checked); every case starts from a copy of it. */
function deployedOnce(v: Variant): () => { w: World; first: StackState } {
  let deployed: { w: World; state: StackState } | undefined;
  return () => {
    if (!deployed) {
      deployed = deploy(v);
      assert.deepEqual(observed(deployed.w, v.site), expected(v.site));
    }
    return { w: cloneWorld(deployed.w), first: deployed.state };
  };
}

const stepNames = (stack: string, v: Variant) => v.program.map((p) => p.name.slice(stack.length + 1));

for (const stack of ["dev", "lab"] as const) {
  describe(`${stack}: every maas/juju step replaced, in each of Pulumi's orders`, () => {
    const before = variant(stack, "as-is");
    // New settings in the same `up` as the replacement: a changed comment, kernel option, userdata and option.
    const after = variant(stack, "changed", (r) => {
      r.maas.comment = "GPU hosts, changed on day 2";
      r.host.iommuPassthrough = !r.host.iommuPassthrough;
      r.openstack.consoleAccessProtocol = "vnc";
    });
    const start = deployedOnce(before);
    for (const step of stepNames(stack, before)) {
      for (const order of ORDERS) {
        for (const [label, next] of [["same settings", before], ["new settings", after]] as const) {
          test(`--replace ${step}, ${order}, ${label}: the objects exist with the new settings`, () => {
            const { w, first } = start();
            const { ops } = up(w, first, next.program, { replace: [`${stack}-${step}`], order });
            assert.ok(ops.includes(`replace ${stack}-${step}`), ops.join(", "));
            assert.deepEqual(observed(w, next.site), expected(next.site));
            assert.ok(!argvLog(w, "juju").some((a) => a[0] === "destroy-model"), "no replacement destroys the model");
          });
        }
      }
    }
  });
}

describe("mixed: one group's steps replaced, in each order, leave every group as configured", () => {
  const before = variant("mixed", "as-is");
  const after = variant("mixed", "changed", (r) => {
    r.hostGroups[0].maas.comment = "A100 hosts, changed on day 2";
    r.hostGroups[2].host.allowUnsafeInterrupts = true;
  });
  const start = deployedOnce(before);
  for (const step of ["maas-a100-tag", "maas-nic-machines", "maas-l40s-tag", "charms-charm-config"]) {
    for (const order of ORDERS) {
      test(`--replace ${step}, ${order}, with new settings for two groups`, () => {
        const { w, first } = start();
        const { ops } = up(w, first, after.program, { replace: [`mixed-${step}`], order });
        assert.ok(ops.includes(`replace mixed-${step}`), ops.join(", "));
        assert.deepEqual(observed(w, after.site), expected(after.site));
      });
    }
  }
});

describe("the model survives every replacement, with destroyModelOnDelete too", () => {
  const v = variant("dev", "destroy", (r) => (r.juju.destroyModelOnDelete = true));
  for (const order of ORDERS) {
    test(`--replace the model step (${order}): the model is still there, with its userdata`, () => {
      const { w, state: first } = deploy(v);
      up(w, first, v.program, { replace: ["dev-juju-model"], order });
      assert.equal(observed(w, v.site).userdata, renderSite(v.site).userdata);
      assert.ok(!argvLog(w, "juju").some((a) => a[0] === "destroy-model"));
    });
  }
  test("the teardown step is protected: replacing it or deleting the stack is refused until unprotected", () => {
    const { w, state: first } = deploy(v);
    assert.deepEqual(
      first.resources.filter((r) => r.protect).map((r) => r.name),
      ["dev-juju-model-teardown"],
    );
    assert.throws(() => up(w, first, v.program, { replace: ["dev-juju-model-teardown"] }), /marked for protection/);
    assert.throws(() => destroy(w, first), /refusing to delete protected resources: dev-juju-model-teardown/);
    assert.ok(fakeState(w, "juju").models["openstack-deployment"], "nothing was destroyed");
    // Deliberately: `pulumi state unprotect URN`, then `pulumi destroy`.
    destroy(w, unprotect(first, "dev-juju-model-teardown"));
    assert.deepEqual(fakeState(w, "juju").models, {});
  });
});

describe("pulumi destroy does what docs/day2.md, \"Deleting the stack\", says", () => {
  test("dev: the tag this stack created is deleted; the model and the charm options are kept", () => {
    const v = variant("dev", "as-is");
    const { w, state } = deploy(v);
    const ops = destroy(w, state);
    assert.deepEqual(ops, [...state.resources].reverse().map((r) => `delete ${r.name}`));
    assert.equal(fakeState(w, "maas").tags["pci-pass"], undefined);
    const o = observed(w, v.site);
    assert.equal(o.userdata, renderSite(v.site).userdata, "the kept model keeps its userdata");
    assert.deepEqual(o.options, renderSite(v.site).charmOptions, "the charm options are kept");
  });

  test("a tag already deleted by hand: destroy says so and succeeds", () => {
    const v = variant("dev", "as-is");
    const { w, state } = deploy(v);
    spawnSync("maas", ["admin", "tag", "delete", "pci-pass"], { env: w.env });
    const printed: string[] = [];
    destroy(w, state, printed);
    assert.ok(printed.some((p) => p.includes("pci-passthrough: MAAS tag pci-pass is already gone")), printed.join("\n"));
  });

  test("an adopted tag is kept, with deleteAdoptedTag it goes", () => {
    for (const deleteAdoptedTag of [false, true]) {
      const v = variant("lab", `adopted-${deleteAdoptedTag}`, (r) => (r.maas.deleteAdoptedTag = deleteAdoptedTag));
      const w = siteWorld(v.site);
      // The tag exists before the stack: someone made it by hand.
      spawnSync("maas", ["lab-admin", "tags", "create", "name=gpu-lab", "comment=made by hand"], { env: w.env });
      const state = up(w, EMPTY_STACK, v.program).state;
      destroy(w, state);
      assert.equal(fakeState(w, "maas").tags["gpu-lab"] === undefined, deleteAdoptedTag);
    }
  });
});

describe("a renamed tag is a new MAAS object; the old one goes, unless it was adopted", () => {
  for (const order of ORDERS) {
    test(`tag renamed (${order})`, () => {
      const before = variant("lab", "as-is");
      const renamed = variant("lab", "renamed", (r) => (r.maas.tag = "gpu-lab-2"));
      const { w, state: first } = deploy(before);
      const { ops } = up(w, first, renamed.program, { order });
      assert.ok(ops.includes("replace lab-maas-tag"), ops.join(", "));
      assert.ok(ops.includes("update lab-maas-machines"), "the machines are tagged with the new tag in place");
      const tags = fakeState(w, "maas").tags;
      assert.deepEqual(Object.keys(tags), ["gpu-lab-2"]);
      assert.deepEqual(tags["gpu-lab-2"].machines, ["4y3h7n", "8fbxqa"]);
    });
  }
});

/** The top-level tag, host and devices of a one-group stack moved into `hostGroups` as one named group. */
function asNamedGroup(r: Record<string, any>, name: string): void {
  const { profile, url, apiKey, ...tag } = r.maas;
  r.hostGroups = [{ name, maas: tag, host: r.host, devices: r.devices }];
  r.maas = { profile, ...(url !== undefined ? { url, apiKey } : {}) };
  delete r.host;
  delete r.devices;
}

describe("a one-group stack rewritten as a named host group keeps its tag, model and options", () => {
  // Day 2 on a running site: the operator moves the top-level maas tag, host and devices into
  // hostGroups (e.g. before adding a second kind of host). The group's steps get new names, so Pulumi
  // creates them and deletes the old ones at the end; the old tag step's delete must find the new
  // step's claim on the tag and keep it.
  for (const stack of ["dev", "lab"] as const) {
    for (const order of ORDERS) {
      test(`${stack} (${order})`, () => {
        const before = variant(stack, "as-is");
        const grouped = variant(stack, "as-named-group", (r) => asNamedGroup(r, "gpu"));
        const { w, state: first } = deploy(before);
        const { ops, state } = up(w, first, grouped.program, { order });
        assert.ok(ops.includes(`delete ${stack}-maas-tag`) && ops.includes(`create ${stack}-maas-gpu-tag`), ops.join(", "));
        assert.deepEqual(observed(w, grouped.site), expected(grouped.site));
        assert.ok(!argvLog(w, "maas").some((a) => a.includes("delete")), "no tag deleted");
        assert.ok(!argvLog(w, "juju").some((a) => a[0] === "destroy-model"));
        // The new step took the tag over as the stack's own, not as adopted: deleting the stack deletes it.
        destroy(w, state);
        assert.deepEqual(fakeState(w, "maas").tags, {});
      });
    }
  }
});

describe("two stacks and one MAAS tag", () => {
  // Two sites on one MAAS region, both with the same tag name (e.g. the default pci-pass): the second
  // would untag the first's hosts on every run, and its `pulumi destroy` would delete the first's tag.
  test("a second stack refuses a tag another stack claims; the first's tag and machines stay as they were", () => {
    const a = variant("lab", "as-is");
    const { w, state: first } = deploy(a);
    const before = fakeState(w, "maas").tags["gpu-lab"];
    assert.equal(parseTagComment(before.comment).stack, "pci-passthrough/lab");
    const other = commandResources(recordProgram(editStack("lab", (r) => (r.maas.machines = ["8fbxqa"])), "lab-b"));
    assert.throws(
      () => up(w, EMPTY_STACK, other),
      /MAAS tag gpu-lab belongs to stack pci-passthrough\/lab: two stacks cannot share a tag/,
    );
    assert.deepEqual(fakeState(w, "maas").tags["gpu-lab"], before);
    // The first stack goes on as before: a replacement of its own tag step keeps the tag, in one order and
    // then the other, each `up` starting from the state the last one left (as Pulumi's would).
    let state = first;
    for (const order of ORDERS) {
      state = up(w, state, a.program, { replace: ["lab-maas-tag"], order }).state;
      assert.deepEqual(observed(w, a.site), expected(a.site), order);
    }
    // And its destroy still deletes its own tag: the replacements kept the claim its state knows.
    destroy(w, state);
    assert.equal(fakeState(w, "maas").tags["gpu-lab"], undefined);
  });

  test("a claim written before claims named their stack is still this stack's own: a replacement keeps the tag", () => {
    const v = variant("dev", "as-is");
    const { w, state: first } = deploy(v);
    // What an earlier version of the program left on the tag: the claim without the stack.
    const comment = fakeState(w, "maas").tags["pci-pass"].comment as string;
    const old = comment.replace(/ stack [^\] ]+/, "");
    assert.notEqual(old, comment);
    spawnSync("maas", ["admin", "tag", "update", "pci-pass", `comment=${old}`], { env: w.env });
    let state = first;
    for (const order of ORDERS) {
      state = up(w, state, v.program, { replace: ["dev-maas-tag"], order }).state;
      assert.deepEqual(observed(w, v.site), expected(v.site), order);
      assert.equal(parseTagComment(fakeState(w, "maas").tags["pci-pass"].comment).stack, "pci-passthrough/dev");
    }
    destroy(w, state);
    assert.equal(fakeState(w, "maas").tags["pci-pass"], undefined, "the stack's own tag goes with it");
  });

  test("a tag kept on destroy because it existed before the stack is handed back: a new stack may adopt it", () => {
    const a = variant("lab", "as-is");
    const w = siteWorld(a.site);
    spawnSync("maas", ["lab-admin", "tags", "create", "name=gpu-lab", "comment=made by hand"], { env: w.env });
    destroy(w, up(w, EMPTY_STACK, a.program).state);
    const kept = fakeState(w, "maas").tags["gpu-lab"];
    assert.equal(kept.comment, a.site.groups[0]!.maas.comment, "kept, without this stack's claim");
    // Another stack (a rebuilt site, the same tag) adopts it, and in turn keeps it.
    const b = commandResources(recordProgram(rawStack("lab"), "lab-b"));
    const state = up(w, EMPTY_STACK, b).state;
    assert.equal(parseTagComment(fakeState(w, "maas").tags["gpu-lab"].comment).stack, "pci-passthrough/lab-b");
    assert.equal(parseTagComment(fakeState(w, "maas").tags["gpu-lab"].comment).adopted, true);
    destroy(w, state);
    assert.equal(fakeState(w, "maas").tags["gpu-lab"].comment, a.site.groups[0]!.maas.comment);
  });
});

describe("drift is repaired in place by resync", () => {
  test("a tag deleted by hand, an option reset, the userdata edited: a new resync value updates every step", () => {
    const v = variant("dev", "as-is");
    const resynced = variant("dev", "resync-1", (r) => Object.assign(r, { resync: "2026-11-30" }));
    const { w, state } = deploy(v);
    const sp = (cmd: string, args: string[]) => spawnSync(cmd, args, { env: w.env });
    sp("maas", ["admin", "tag", "delete", "pci-pass"]);
    sp("juju", ["config", "-m", "openstack-deployment", "nova-compute", "--reset", "pci-alias"]);
    sp("juju", ["model-config", "-m", "openstack-deployment", "cloudinit-userdata=edited by hand"]);
    assert.notDeepEqual(observed(w, v.site), expected(v.site));
    const { ops } = up(w, state, resynced.program);
    assert.deepEqual(
      ops.filter((o) => !o.startsWith("update")),
      [],
      `every step is updated in place, nothing replaced or deleted: ${ops.join(", ")}`,
    );
    assert.deepEqual(observed(w, v.site), expected(v.site));
  });
});

test("steps keep their names and get the former remote type as an alias (runner switch stays in place)", () => {
  const run = recordProgram(rawStack("lab"), "lab");
  const commands = run.resources.filter((r) => r.type.startsWith("command:"));
  assert.ok(commands.length > 0);
  for (const c of commands) {
    assert.equal(c.type, "command:local:Command", c.name);
    assert.deepEqual(c.options.aliases, [{ type: "command:remote:Command" }], c.name);
  }
});
