// The `pulumi import --file` document that moves a site's Nova flavors, made by commands.sh (or by hand), under
// the program: each flavor the stack declares that Nova already has, as the program would create it, by its
// Nova ID, with the components the program puts it under. Pure: tools/import-flavors/main.ts reads Nova.
//
// Pulumi's import file (pulumi/pulumi pkg/cmd/pulumi import, `pulumi import --file`): `resources`, each with
// `type`, `name`, `id` (a custom resource) or `component: true` (an empty component the import creates), the
// name of its `parent` among the file's resources or in `nameTable`, and the provider `version`. The import
// reads each flavor from Nova (the provider's Read); the next `pulumi up` finds the program's flavors and
// components already in the stack, and changes nothing when Nova's flavor is what the stack declares.
import type { RecordedResource } from "../lib/mock-program";
import type { FlavorSpec } from "../../render/nova/flavors";
import { compareFlavor, type LiveFlavor } from "../lib/openstack";
import type { Finding } from "../lib/findings";

export const FLAVOR_TYPE = "openstack:compute/flavor:Flavor";

export interface ImportResource {
  readonly type: string;
  readonly name: string;
  readonly id?: string;
  readonly component?: true;
  readonly parent?: string;
  readonly version?: string;
}

export interface ImportFile {
  readonly nameTable: Record<string, string>;
  readonly resources: ImportResource[];
}

export interface ImportPlan {
  readonly file: ImportFile;
  /** The flavors the file imports. */
  readonly imported: string[];
  /** Flavors Nova does not have: `pulumi up` creates them. */
  readonly absent: string[];
  /** Flavors Nova has otherwise than the stack declares, or could not be read: nothing may be imported. */
  readonly problems: Finding[];
}

/**
 * The import of a stack's flavors. `resources` are the program's own (tools/lib/mock-program.ts: type, name,
 * parent), `flavors` the render's, `live` gives Nova's flavor of a name (undefined when Nova has none), `version`
 * is @pulumi/openstack's (the provider the program registers its flavors with). A flavor that differs from
 * the render is a problem: Pulumi refuses to import a resource whose declared inputs differ from what it reads
 * ("inputs to import do not match the existing resource"), and adopting it as it is would hide the drift.
 */
export function flavorImportPlan(resources: readonly RecordedResource[], flavors: readonly FlavorSpec[], live: (name: string) => LiveFlavor | undefined, version: string, root: string): ImportPlan {
  const byName = new Map(resources.map((r) => [r.name, r]));
  const imported: string[] = [];
  const absent: string[] = [];
  const problems: Finding[] = [];
  const entries: ImportResource[] = [];
  const components: ImportResource[] = [];
  const componentOf = (name: string) => {
    // Every component between the flavor and the stack, outermost first, each once.
    const chain: RecordedResource[] = [];
    for (let r = byName.get(name); r && r.name !== root; r = byName.get(r.parent)) chain.unshift(r);
    for (const c of chain) {
      if (components.some((x) => x.name === c.name)) continue;
      components.push({ type: c.type, name: c.name, component: true, ...(c.parent !== root ? { parent: c.parent } : {}) });
    }
  };
  for (const r of resources.filter((x) => x.type === FLAVOR_TYPE)) {
    const flavor = flavors.find((f) => f.name === r.inputs.name);
    if (!flavor) throw new Error(`${r.name}: no flavor ${String(r.inputs.name)} in the render`);
    const nova = live(flavor.name);
    const finding = compareFlavor(flavor, nova);
    if (finding.status === "drift" && finding.details.length === 1 && finding.details[0] === "missing") {
      absent.push(flavor.name);
      continue;
    }
    if (finding.status !== "in sync") {
      problems.push(finding);
      continue;
    }
    const id = nova?.id;
    if (typeof id !== "string" || id === "") {
      problems.push({ object: finding.object, status: "unreachable", details: ["Nova gave no ID for it"] });
      continue;
    }
    componentOf(r.parent);
    entries.push({ type: r.type, name: r.name, id, parent: r.parent, version });
    imported.push(flavor.name);
  }
  return { file: { nameTable: {}, resources: [...components, ...entries] }, imported, absent, problems };
}
