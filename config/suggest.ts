// "Did you mean": the known key nearest to an unknown one, and the known keys at a place of a section's schema.
import { z } from "zod";
import type { PathPart } from "./problems";

/** Levenshtein distance, for "did you mean" on unknown keys. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

/** ` (did you mean "KEY"?)` for the known key nearest to `key`, or "" when none is near. */
export function suggestion(key: string, known: readonly string[]): string {
  const best = known
    .map((k) => ({ k, d: k.toLowerCase() === key.toLowerCase() ? 0 : distance(k, key) }))
    .sort((x, y) => x.d - y.d)[0];
  return best !== undefined && best.d <= 2 ? ` (did you mean "${best.k}"?)` : "";
}

/** Known keys of the strict object at `path` in the section schema, for suggestions. */
export function knownKeysAt(schema: z.ZodType, path: readonly PathPart[]): string[] {
  let s: z.ZodType | undefined = schema;
  for (const part of [...path, null]) {
    // Unwrap defaults, optionals, pipes and effects until an object or array.
    for (let guard = 0; s && guard < 10; guard++) {
      const def: { type: string; innerType?: z.ZodType; in?: z.ZodType; element?: z.ZodType; schema?: z.ZodType } =
        (s as unknown as { def: never }).def;
      if (def.type === "default" || def.type === "optional" || def.type === "prefault") s = def.innerType;
      else if (def.type === "pipe") s = def.in;
      else break;
    }
    if (!s) return [];
    if (part === null) break;
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(part)];
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else return [];
  }
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}
