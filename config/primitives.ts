// The value rules several keys share, as zod schemas: integers and booleans that `pulumi config set --path` may
// store as strings, text and names, hex ids and PCI addresses, strict mappings and lists without duplicates.
// Each says what it got in its message, without printing a container.
import { z } from "zod";
import { normalizePciAddress } from "../domain/pci";

/** A value for an error message. Containers are named, not printed: String() throws on a mapping whose
 * toString is not a function (`{toString: x}` is valid YAML). */
export const quote = (v: unknown): string =>
  typeof v === "string" ? JSON.stringify(v) : v !== null && typeof v === "object" ? (Array.isArray(v) ? "a list" : "a mapping") : String(v);

/** `pulumi config set --path k v` may store numbers and booleans as strings: accept both. */
export const intFrom = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(
    (v) => (typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : v),
    z
      .number({ error: (i) => `expected an integer, got ${quote(i.input)}` })
      .int({ error: (i) => `expected an integer, got ${quote(i.input)}` })
      .min(min, { error: `must be at least ${min}` })
      .max(max, { error: `must be at most ${max}` }),
  );

export const bool = z.preprocess(
  (v) => (v === "true" ? true : v === "false" ? false : v),
  z.boolean({ error: (i) => `expected true or false, got ${quote(i.input)}` }),
);

export const text = (what = "a non-empty string") =>
  z
    .string({ error: `expected ${what}` })
    .min(1, { error: `expected ${what}` })
    // Control characters other than tab/newline have no business in config text.
    // eslint-disable-next-line no-control-regex
    .refine((s) => !/[\u0000-\u0008\u000b-\u001f\u007f]/.test(s), { error: "contains control characters" });

/** A single-line name: no control characters, no leading/trailing blanks, and no leading `-` (CLIs such
 * as openstack would read it as an option). */
export const name = (what: string) =>
  text(what)
    .refine((s) => !/[\n\t]/.test(s) && s.trim() === s, {
      error: (i) => `${quote(i.input)} is not a valid ${what} (one line, no surrounding blanks)`,
    })
    .refine((s) => !s.startsWith("-"), { error: (i) => `${quote(i.input)} is not a valid ${what} (must not start with -)` });

// YAML reads an unquoted 8086 as a number; take it back when it has exactly four digits. Anything else
// numeric (0300 may even be read as octal) must be quoted.
export const hex4 = z
  .preprocess(
    (v) => (typeof v === "number" && Number.isInteger(v) && v >= 1000 && v <= 9999 ? String(v) : v),
    z
      .string({ error: (i) => `expected 4 hex digits as a quoted string, e.g. "10de", got ${quote(i.input)}` })
      .regex(/^[0-9a-fA-F]{4}$/, { error: (i) => `${quote(i.input)} is not 4 hex digits` })
      .transform((s) => s.toLowerCase()),
  );

/** A PCI vendor:product pair such as `10de:10f0`. */
export const pciId = z
  .string({ error: "expected vendor:product, e.g. \"10de:10f0\"" })
  .regex(/^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$/, {
    error: (i) => `${quote(i.input)} is not a vendor:product id (expected vvvv:pppp, 4 hex digits each)`,
  })
  .transform((s) => s.toLowerCase());

export const pciAddress = z
  .string({ error: "expected a PCI address DDDD:BB:SS.F" })
  .transform((s, ctx) => {
    const n = normalizePciAddress(s);
    if (n === undefined) {
      ctx.addIssue({ code: "custom", message: `${quote(s)} is not a PCI address (expected DDDD:BB:SS.F)` });
      return z.NEVER;
    }
    return n;
  });

/** A strict mapping: unknown keys are errors (a typo like `vendorID` must not be ignored), and a value
 * that is not a mapping says what it got. */
export const mapping = <T extends z.ZodRawShape>(shape: T) =>
  z.strictObject(shape, {
    error: (i) => (i.code === "invalid_type" && i.input !== undefined ? `expected a mapping, got ${quote(i.input)}` : undefined),
  });

/** Reports duplicates in a list. Used with ALWAYS, so a duplicate is reported even when another element
 * has a type error: items may then be raw input, hence the guard. */
export const unique = <T>(what: string, key: (t: T) => unknown = (t) => t) =>
  (items: T[], ctx: z.RefinementCtx) => {
    const seen = new Map<string, number>();
    items.forEach((item, i) => {
      // Only strings are compared: an invalid element (a mapping, even one with a toString key) is skipped.
      const k = item !== null && (typeof item === "object" || typeof item === "string") ? key(item) : undefined;
      if (typeof k !== "string") return;
      const first = seen.get(k);
      if (first !== undefined) {
        ctx.addIssue({ code: "custom", path: [i], message: `duplicate ${what} ${quote(k)} (also at [${first}])` });
      } else seen.set(k, i);
    });
  };

/** Run a list refinement even after element errors (zod skips refinements after aborting issues). */
export const ALWAYS = { when: (payload: { value: unknown }) => Array.isArray(payload.value) };
