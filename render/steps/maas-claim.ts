// The claim a MAAS tag's comment carries: which step and stack last set the tag, and whether it existed before;
// how a step writes it, how the scripts and `npm run verify` read it back, and reading the tag list.
import { shellQuote } from "../shell";
import { maasRead } from "./maas-cli";

/**
 * The claim a MAAS tag carries at the end of its comment: which step last set it (a random token the step
 * keeps in its state line), which stack that step belongs to, and whether the tag existed before the stack
 * adopted it. A delete removes the tag only while the claim is still its own: a replacement's new step
 * claims the tag before the old one's delete runs. A step never takes over a tag another stack claims.
 * Claims written before the stack was part of them have none. The scripts (python3 over MAAS's JSON) and
 * `verify` read it with the same pattern.
 */
const TAG_CLAIM_PATTERN = String.raw` \[pci-passthrough claim ([0-9a-f]+)(?: stack ([^\] ]+))?( adopted)?\]`;

/** The environment variable that names the stack a step belongs to (PROJECT/STACK), set by the Pulumi
 * wiring (components/maas-tag.ts); empty when a step runs outside Pulumi (commands.sh). */
export const STACK_ENV = "PCIPT_STACK";

/** The comment as a step writes it; `stack` and `adopted` are " stack P/S" or "", " adopted" or "" (shell
 * words in the scripts). */
export function tagCommentWithClaim(comment: string, claim: string, stack: string, adopted: string): string {
  return `${comment} [pci-passthrough claim ${claim}${stack}${adopted}]`;
}

/** Splits a live tag comment into the configured comment and its claim. */
export function parseTagComment(comment: string): { comment: string; claim?: string; stack?: string; adopted: boolean } {
  const m = new RegExp(`${TAG_CLAIM_PATTERN}$`).exec(comment);
  if (!m) return { comment, adopted: false };
  return { comment: comment.slice(0, m.index), claim: m[1], ...(m[2] !== undefined ? { stack: m[2] } : {}), adopted: m[3] !== undefined };
}

/** A fresh claim token: 12 hex digits from /dev/urandom. */
export const NEW_CLAIM = "od -An -N6 -tx1 /dev/urandom | tr -d ' \\n'";

/**
 * Reads `maas PROFILE tags read` (a JSON list of every tag, maasserver/api/tags.py TagsHandler.read) on stdin;
 * its argument is the tag's name. Prints `1 CLAIM ADOPTED STACK` when the tag is in the list (`-`, `no`, `-`
 * for a comment without a claim), `0 - no -` when it is not.
 */
export const TAG_STATE =
  `python3 -c 'import json, re, sys; t = [x for x in json.load(sys.stdin) if x.get("name") == sys.argv[1]]; ` +
  `m = t and re.search(r"${TAG_CLAIM_PATTERN}\\Z", t[0].get("comment") or ""); ` +
  `print(1 if t else 0, m.group(1) if m else "-", "yes" if m and m.group(3) else "no", (m.group(2) if m else None) or "-")'`;

/** Reads `maas PROFILE tags read` on stdin and prints the named tag's comment without its claim, and an `x`
 * (so that the shell keeps trailing newlines). */
export const TAG_COMMENT_UNCLAIMED =
  `python3 -c 'import json, re, sys; t = [x for x in json.load(sys.stdin) if x.get("name") == sys.argv[1]]; ` +
  `sys.stdout.write(re.sub(r"${TAG_CLAIM_PATTERN}\\Z", "", t[0].get("comment") or "") + "x")'`;

/**
 * Lines that define read_tag: it sets `tag_exists` (1/0), `tag_claim` (or -), `tag_adopted` (yes/no) and
 * `tag_stack` (the claiming stack, or -), and keeps MAAS's tag list in `$tags`. Whether the tag exists is
 * whether `tags read` lists it; a failing `tags read` (an unreachable region, a profile not logged in) stops
 * the step: it is never taken for a missing tag.
 */
export function readTagLines(profile: string, tag: string): string[] {
  return [
    "read_tag() {",
    `  ${maasRead(profile, "tags", "tags", "read")}`,
    `  parsed=$(printf '%s' "$tags" | ${TAG_STATE} ${shellQuote(tag)}) || fail "cannot read MAAS's tag list"`,
    // Four words without blanks (a hex claim, yes/no, PROJECT/STACK): the function's own positional parameters.
    "  # shellcheck disable=SC2086",
    "  set -- $parsed",
    '  tag_exists=$1 tag_claim=$2 tag_adopted=$3 tag_stack=$4',
    "}",
    "read_tag",
  ];
}
