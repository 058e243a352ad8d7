// `--write STACK` of the importers: a proposal (the YAML they print, `pci-passthrough:*` keys) merged into
// Pulumi.<stack>.yaml, keeping what is there: every other key, every comment, the maas access (profile, url,
// apiKey), a tag's name, a group's application and units, a host's other settings (binding, iommuPassthrough).
// What the proposal says replaces what it is about: the devices, the drivers, the IOMMU, the tag's selection.
// A stack of the other shape (host groups against one kind of host, or the reverse) is refused: moving between
// them is a decision for the operator (docs/host-groups.md), not for an importer.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { Document, isMap, isSeq, parseDocument, YAMLMap, YAMLSeq } from "yaml";
import { NAMESPACE } from "../../config/problems";
import { TAG_KEYS } from "../../config/sections/maas";
import { YAML_OUTPUT } from "./proposal-yaml";

const key = (k: string) => `${NAMESPACE}:${k}`;
/** A tag's selection: the proposal's replaces the stack's whole (they exclude each other). */
const SELECTION_KEYS = ["machines", "definition", "selectByDevice", "pool", "zone"];
/** Kept from the stack when it has them: renaming a tag or moving a group's units is not an import's business. */
const KEPT_TAG_KEYS = ["tag", "comment", "deleteAdoptedTag"];

function mergeMap(into: YAMLMap, from: YAMLMap, keep: readonly string[] = []): void {
  for (const pair of from.items) {
    const k = String((pair.key as { value?: unknown }).value ?? pair.key);
    if (keep.includes(k) && into.has(k)) continue;
    into.set(pair.key, pair.value);
  }
}

function mergeTag(into: YAMLMap, from: YAMLMap): void {
  if (SELECTION_KEYS.some((k) => from.has(k))) for (const k of SELECTION_KEYS) into.delete(k);
  mergeMap(into, from, KEPT_TAG_KEYS);
}

function mergeGroup(into: YAMLMap, from: YAMLMap): void {
  for (const pair of from.items) {
    const k = String((pair.key as { value?: unknown }).value ?? pair.key);
    const mine = into.get(k, true);
    if (k === "maas" && isMap(mine) && isMap(pair.value)) mergeTag(mine, pair.value);
    else if (k === "host" && isMap(mine) && isMap(pair.value)) mergeMap(mine, pair.value);
    else if (["application", "addToBundle", "units"].includes(k) && into.has(k)) continue;
    else into.set(k, pair.value);
  }
}

const groupName = (g: unknown) => (isMap(g) ? String(g.get("name")) : undefined);

/**
 * The stack file's text with the proposal merged in, or why not. `stackText` undefined: a new stack file
 * holding the proposal.
 */
export function mergeIntoStack(stackText: string | undefined, proposalText: string, stackName: string): { ok: true; text: string } | { ok: false; problem: string } {
  const doc = stackText !== undefined ? parseDocument(stackText) : new Document({ config: {} });
  if (doc.errors.length > 0) return { ok: false, problem: `${stackName} is not YAML: ${doc.errors[0]!.message}` };
  if (doc.contents === null) doc.contents = doc.createNode({ config: {} }) as YAMLMap;
  if (!isMap(doc.contents)) return { ok: false, problem: `${stackName} is not a mapping` };
  if (!doc.contents.has("config")) doc.contents.set("config", new YAMLMap());
  const config = doc.contents.get("config", true);
  if (!isMap(config)) return { ok: false, problem: `${stackName}: config is not a mapping` };
  const proposal = parseDocument(proposalText).contents;
  if (!isMap(proposal)) return { ok: false, problem: "the proposal is not a mapping" };

  const has = (k: string) => config.has(key(k));
  const proposesGroups = proposal.has(key("hostGroups"));
  if (proposesGroups && (has("devices") || has("host"))) {
    return {
      ok: false,
      problem: `${stackName} has one kind of host (pci-passthrough:devices and host) and the proposal has host groups: move the stack to host groups by hand (docs/host-groups.md), then write again`,
    };
  }
  if (!proposesGroups && has("hostGroups")) {
    return { ok: false, problem: `${stackName} has pci-passthrough:hostGroups and the proposal is for one kind of host: merge it into the right group by hand` };
  }
  const stackMaas = config.get(key("maas"), true);
  if (proposesGroups && isMap(stackMaas)) {
    const tagKeys = TAG_KEYS.filter((k) => stackMaas.has(k));
    if (tagKeys.length > 0) {
      return { ok: false, problem: `${stackName}: pci-passthrough:maas has ${tagKeys.join(", ")}, a tag of one kind of host; with host groups each group has its own: remove them by hand, then write again` };
    }
  }

  for (const pair of proposal.items) {
    const k = String((pair.key as { value?: unknown }).value ?? pair.key);
    const mine = config.get(k, true);
    if (k === key("maas") && isMap(mine) && isMap(pair.value)) mergeTag(mine, pair.value);
    else if (k === key("host") && isMap(mine) && isMap(pair.value)) mergeMap(mine, pair.value);
    else if (k === key("hostGroups") && isSeq(mine) && isSeq(pair.value)) {
      for (const g of (pair.value as YAMLSeq).items) {
        const same = mine.items.find((x) => groupName(x) === groupName(g));
        if (isMap(same) && isMap(g)) mergeGroup(same, g);
        else mine.add(g);
      }
    } else config.set(pair.key, pair.value);
  }
  return { ok: true, text: doc.toString(YAML_OUTPUT) };
}

/** `--write STACK [--stack-file FILE]`: the stack file's path (Pulumi.STACK.yaml here, or FILE). */
export const stackFilePath = (stack: string, stackFile: string | undefined): string => path.resolve(stackFile ?? `Pulumi.${stack}.yaml`);

/** Merges the proposal into the stack file (a new one when there is none) and says so, or says why not and
 * writes nothing; the importer exits 2 then. */
export function writeProposal(tool: string, file: string, proposalText: string): boolean {
  const before = existsSync(file) ? readFileSync(file, "utf8") : undefined;
  const merged = mergeIntoStack(before, proposalText, path.basename(file));
  if (!merged.ok) {
    process.stderr.write(`${tool}: ${merged.problem}; nothing written\n`);
    return false;
  }
  writeFileSync(file, merged.text);
  process.stderr.write(`${tool}: ${before === undefined ? "wrote" : "merged into"} ${file}; check it with npm run render -- <stack> --stack-file ${file}\n`);
  return true;
}
