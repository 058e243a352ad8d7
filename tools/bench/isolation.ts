// Change isolation: which resources' recorded inputs differ between two renders of the same stack.
import type { RecordedResource } from "../lib/mock-program";

export interface ResourceChange {
  readonly name: string;
  /** Input paths that differ (`environment.PCIPT_KERNEL_OPTS`, `ram`), at most two levels deep. */
  readonly paths: string[];
}

export interface RenderDiff {
  /** Resources in both renders whose inputs differ. */
  readonly changed: ResourceChange[];
  readonly added: string[];
  readonly removed: string[];
  /** Resources whose parent, dependsOn or options differ (a replacement or re-ordering). */
  readonly rewired: string[];
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Paths (dot-separated, at most `depth` keys deep) where a and b differ. */
export function differingPaths(a: unknown, b: unknown, depth = 2, prefix = ""): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (depth === 0 || !isObject(a) || !isObject(b)) return [prefix || "(value)"];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.flatMap((k) => differingPaths(a[k], b[k], depth - 1, prefix ? `${prefix}.${k}` : k));
}

export function diffRenders(base: readonly RecordedResource[], changed: readonly RecordedResource[]): RenderDiff {
  const before = new Map(base.map((r) => [r.name, r]));
  const after = new Map(changed.map((r) => [r.name, r]));
  const out: RenderDiff = { changed: [], added: [], removed: [], rewired: [] };
  for (const [name, b] of before) {
    const a = after.get(name);
    if (!a) {
      out.removed.push(name);
      continue;
    }
    const paths = differingPaths(b.inputs, a.inputs);
    if (paths.length > 0) out.changed.push({ name, paths });
    const wiring = (r: RecordedResource) => JSON.stringify([r.type, r.parent, r.dependsOn, r.options]);
    if (wiring(a) !== wiring(b)) out.rewired.push(name);
  }
  for (const name of after.keys()) if (!before.has(name)) out.added.push(name);
  return out;
}
