// The MAAS steps of one tag (docs/domain.md, "MAAS"): the tag itself (created or adopted, its comment, kernel
// options and definition set in place, deleted only while it carries this step's claim) and, unless MAAS selects
// by the tag's definition, the machines it is on. The CLI calls are steps/maas-cli.ts's, the claim
// steps/maas-claim.ts's, the selection steps/maas-selection.ts's.
import type { MaasAccess } from "../../config/types";
import { shellQuote } from "../shell";
import { MAAS_FAILED, maas, maasLogin } from "./maas-cli";
import { NEW_CLAIM, STACK_ENV, TAG_COMMENT_UNCLAIMED, readTagLines, tagCommentWithClaim } from "./maas-claim";
import {
  keepUnknownLines,
  scopeText,
  selectionCheckLines,
  selectionEnv,
  selectionLines,
  taggedLines,
  type MaasTagInput,
} from "./maas-selection";
import { STATE_PREFIX, resyncEnv, script, type CommandSpec } from "./script";

/**
 * The MAAS tag: created, or adopted and updated when it exists; comment (with the claim), kernel options
 * and, when configured, definition set in place. An update never clears a definition that this stack did
 * not set. Before anything changes, the tag's selection is checked against MAAS (listed machines exist, in
 * the scope; the scope exists). Its delete removes the tag only when the tag still carries this step's
 * claim and was created by the stack (or `maas.deleteAdoptedTag` is true); anything else is kept and said,
 * and a tag kept because it existed before the stack is handed back: its claim is taken off the comment,
 * so that another stack can adopt it later.
 */
export function maasTagCommand(access: MaasAccess, input: MaasTagInput, kernelOptions: string, resync?: string): CommandSpec {
  const tag = input.tag.tag;
  const login = maasLogin(access);
  const fields = [
    `"comment=${tagCommentWithClaim("$PCIPT_TAG_COMMENT", "$claim", `\${${STACK_ENV}:+ stack $${STACK_ENV}}`, "$suffix")}"`,
    `"kernel_opts=$PCIPT_KERNEL_OPTS"`,
  ];
  const upsert = [
    ...selectionCheckLines(access.profile, input),
    // create mints a claim; update keeps its own (a new one only when its state has none).
    "claim=$(prev claim)",
    `if [ "$phase" = create ] || [ -z "$claim" ]; then claim=$(${NEW_CLAIM}); fi`,
    "definition=$(prev definition)",
    'if [ "$tag_exists" = 1 ]; then',
    // Adopted: the tag existed before this stack. A replacement finds the claim of the step it replaces
    // and keeps that step's flag; a tag without any claim was made by someone else. A tag another stack
    // claims is refused: both stacks' machines steps would untag each other's hosts, and the other
    // stack's delete would remove the tag under this one.
    "  adopted=$(prev adopted)",
    `  if [ -z "$adopted" ] && [ "$tag_stack" != - ] && [ -n "\${${STACK_ENV}:-}" ] && [ "$tag_stack" != "$${STACK_ENV}" ]; then`,
    `    fail "MAAS tag ${tag} belongs to stack $tag_stack: two stacks cannot share a tag (each would untag the other's machines); give this stack its own tag"`,
    "  fi",
    '  if [ -z "$adopted" ]; then if [ "$tag_claim" != - ]; then adopted=$tag_adopted; else adopted=yes; fi; fi',
    `  suffix=""; if [ "$adopted" = yes ]; then suffix=" adopted"; fi`,
    `  set -- ${fields.join(" ")}`,
    '  if [ -n "$PCIPT_TAG_DEFINITION" ]; then set -- "$@" "definition=$PCIPT_TAG_DEFINITION"; definition=ours',
    '  elif [ "$definition" = ours ]; then set -- "$@" "definition="; definition=none',
    "  else definition=none; fi",
    `  out=$(${maas(access.profile, "tag", "update", tag)} "$@") || maas_failed ${shellQuote(maas(access.profile, "tag", "update", tag))} "$out"`,
    `  if [ "$adopted" = yes ]; then how="it existed before this stack"; else how="created by this stack"; fi`,
    `  echo "pci-passthrough: MAAS tag ${tag} updated ($how)"`,
    "else",
    '  adopted=no definition=none suffix=""',
    `  set -- "name=${tag}" ${fields.join(" ")}`,
    '  if [ -n "$PCIPT_TAG_DEFINITION" ]; then set -- "$@" "definition=$PCIPT_TAG_DEFINITION"; definition=ours; fi',
    `  out=$(${maas(access.profile, "tags", "create")} "$@") || maas_failed ${shellQuote(maas(access.profile, "tags", "create"))} "$out"`,
    `  echo "pci-passthrough: MAAS tag ${tag} created"`,
    "fi",
    `echo "${STATE_PREFIX} claim=$claim adopted=$adopted definition=$definition"`,
  ];
  const remove = [
    "claim=$(prev claim)",
    'if [ "$tag_exists" = 0 ]; then',
    `  echo "pci-passthrough: MAAS tag ${tag} is already gone"`,
    'elif [ -z "$claim" ]; then',
    `  echo "pci-passthrough: kept MAAS tag ${tag}: this step's state has no claim (after pulumi refresh?); to delete it: ${maas(access.profile, "tag", "delete", tag)}"`,
    'elif [ "$tag_claim" = - ]; then',
    `  echo "pci-passthrough: kept MAAS tag ${tag}: its comment carries no claim (edited by hand?), so it may not be this step's; to delete it: ${maas(access.profile, "tag", "delete", tag)}"`,
    'elif [ "$tag_claim" != "$claim" ]; then',
    `  echo "pci-passthrough: kept MAAS tag ${tag}: a newer step has claimed it ($tag_claim), e.g. the replacement of this one"`,
    `elif [ "$(prev adopted)" != no ] && [ "$PCIPT_DELETE_ADOPTED" != true ]; then`,
    // Handed back as it was found: without this stack's claim, any stack may adopt it again.
    `  unclaimed=$(printf '%s' "$tags" | ${TAG_COMMENT_UNCLAIMED} ${shellQuote(tag)}) || fail "cannot read MAAS's tag list"`,
    `  out=$(${maas(access.profile, "tag", "update", tag)} "comment=\${unclaimed%x}") || maas_failed ${shellQuote(maas(access.profile, "tag", "update", tag))} "$out"`,
    `  echo "pci-passthrough: kept MAAS tag ${tag}: it existed before this stack (maas.deleteAdoptedTag is false); this stack's claim is taken off it"`,
    "else",
    `  out=$(${maas(access.profile, "tag", "delete", tag)}) || maas_failed ${shellQuote(maas(access.profile, "tag", "delete", tag))} "$out"`,
    `  echo "pci-passthrough: MAAS tag ${tag} deleted"`,
    "fi",
  ];
  return {
    id: "tag",
    step: `MAAS tag ${tag}`,
    script: script(`MAAS tag ${tag}`, Object.keys(login.secrets), {
      common: [...MAAS_FAILED, ...login.lines, ...readTagLines(access.profile, tag)],
      upsert,
      delete: remove,
      keepsState: true,
    }),
    deletes: true,
    environment: {
      ...login.env,
      PCIPT_TAG_COMMENT: input.tag.comment,
      PCIPT_KERNEL_OPTS: kernelOptions,
      PCIPT_TAG_DEFINITION: input.tag.definition ?? "",
      PCIPT_DELETE_ADOPTED: String(input.tag.deleteAdoptedTag),
      ...(input.tag.machines !== undefined ? { PCIPT_MACHINES: input.tag.machines.join(" ") } : {}),
      ...resyncEnv(resync),
    },
    secrets: login.secrets,
    // A renamed tag is a new MAAS object: create the new one, then delete the old (delete has old inputs).
    triggers: [tag],
  };
}


/**
 * Tags exactly the selected machines: the configured system IDs (each checked against MAAS first: one it
 * does not have, or outside the pool or zone, stops the step with its key path before anything changes),
 * or (`selectByDevice`) every machine of the pool and/or zone whose MAAS node devices include a configured
 * vendor:product. Adds the missing, removes those no longer selected (a tagged machine outside the scope
 * included); the current set is read from MAAS, so drift made by hand is corrected too. Undefined when MAAS
 * selects by the tag's definition. Deleting it removes nothing: deleting the tag (its own step) drops its
 * machines, and a replaced step must not untag what the new one tagged.
 */
export function maasMachinesCommand(access: MaasAccess, input: MaasTagInput, resync?: string): CommandSpec | undefined {
  const { machines, selectByDevice, tag } = input.tag;
  if (machines === undefined && selectByDevice !== true) return undefined;
  const login = maasLogin(access);
  const upsert = [
    ...MAAS_FAILED,
    ...login.lines,
    ...selectionLines(access.profile, input),
    ...(selectByDevice === true
      ? [`if [ -z "$wanted" ]; then echo "pci-passthrough: WARNING: no machine${scopeText(input.tag)} has a device of this group ($PCIPT_SELECT_DEVICES): the tag is on none" >&2; fi`]
      : []),
    ...taggedLines(access.profile, input),
    ...(selectByDevice === true ? keepUnknownLines(access.profile) : []),
    "set --",
    // System IDs are [a-z0-9]+ (config and MAAS), so splitting the lists on blanks is safe.
    `for id in $wanted; do case " $current " in *" $id "*) ;; *) set -- "$@" "add=$id" ;; esac; done`,
    `for id in $current; do case " $wanted " in *" $id "*) ;; *) set -- "$@" "remove=$id" ;; esac; done`,
    `if [ "$#" -gt 0 ]; then out=$(${maas(access.profile, "tag", "update-nodes", tag)} "$@") || maas_failed ${shellQuote(maas(access.profile, "tag", "update-nodes", tag))} "$out"; fi`,
    `echo "pci-passthrough: MAAS tag ${tag} is on: $wanted"`,
  ];
  // The scope is in the step's name: the preview and every message say where the machines come from.
  const step = `tag machines${scopeText(input.tag)} with ${tag}`;
  return {
    id: "machines",
    step,
    script: script(step, Object.keys(login.secrets), { upsert }),
    deletes: false,
    environment: { ...login.env, ...selectionEnv(input), ...resyncEnv(resync) },
    secrets: login.secrets,
  };
}
