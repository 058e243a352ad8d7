// What the config tests share: a raw stack edited one key at a time, refused with exactly the expected lines or
// accepted as a SiteConfig.
import assert from "node:assert/strict";
import { formatProblems } from "../../config/problems";
import { parseSiteConfig } from "../../config/parse";
import type { SiteConfig } from "../../config/types";
import { editStack } from "../helpers";

export type Raw = Record<string, any>;
export type Edit = (raw: Raw) => void;

/** The error lines of a raw config, `[]` when it is valid. */
export function linesOf(raw: Record<string, unknown>): string[] {
  const r = parseSiteConfig(raw);
  return r.ok ? [] : formatProblems(r.problems).split("\n");
}

/** The dev stack with `edit` applied must be refused with exactly these lines, in this order. */
export function refused(edit: Edit, expected: string[], stack = "dev"): void {
  assert.deepEqual(linesOf(editStack(stack, edit)), expected);
}

/** The dev stack with `edit` applied must validate; returns the SiteConfig. */
export function accepted(edit: Edit, stack = "dev"): SiteConfig {
  const r = parseSiteConfig(editStack(stack, edit));
  assert.ok(r.ok, r.ok ? "" : formatProblems(r.problems));
  return r.config;
}

/** The namespace every key path starts with. */
export const P = "pci-passthrough";
