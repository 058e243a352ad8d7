// What `npm run verify` compares for maas and juju: the live objects, as the read script (render/steps/reads.ts
// liveReadCommand) prints them, against the render of the stack (the flavors are tools/lib/openstack.ts's).
// Pure: the CLI in tools/verify/main.ts runs the commands.
import { createTwoFilesPatch } from "diff";
import type { SiteConfig } from "../../config/types";
import { quoteValue, unreachable, verdict, type Finding, type Read } from "../lib/findings";
import { parseTagComment } from "../../render/steps/maas-claim";
import { READ_MARK, READS } from "../../render/steps/reads";
import type { GroupArtifacts, SiteArtifacts } from "../../render/site";

/** Splits the read script's output into its sections, by name: after each mark line, the command's stdout
 * and stderr as one base64 line each. */
export function parseReads(output: string): Map<string, Read> {
  const reads = new Map<string, Read>();
  const lines = output.split("\n");
  const decode = (line: string | undefined) => Buffer.from(line ?? "", "base64").toString("utf8");
  lines.forEach((line, i) => {
    const m = line.startsWith(`${READ_MARK} `) ? /^(.*) (\d+)$/.exec(line.slice(READ_MARK.length + 1)) : null;
    if (m) reads.set(m[1]!, { rc: Number(m[2]), out: decode(lines[i + 1]), err: decode(lines[i + 2]) });
  });
  return reads;
}

const trimEnd = (s: string) => s.replace(/\n+$/, "");

/** The machines carrying a tag, from `maas machines read` (each machine lists its `tag_names`). */
const carrying = (json: string, tag: string): string[] =>
  (JSON.parse(json) as Array<{ system_id: string; tag_names?: string[] }>)
    .filter((m) => (m.tag_names ?? []).includes(tag))
    .map((m) => m.system_id)
    .sort();

function setDiff(live: readonly string[], want: readonly string[]): string[] {
  const missing = want.filter((x) => !live.includes(x));
  const extra = live.filter((x) => !want.includes(x));
  return [...(missing.length > 0 ? [`not tagged: ${missing.join(" ")}`] : []), ...(extra.length > 0 ? [`tagged but not selected: ${extra.join(" ")}`] : [])];
}

interface LiveTag {
  readonly name: string;
  readonly comment?: string;
  readonly kernel_opts?: string;
  readonly definition?: string;
}

/** A group's MAAS tag (from `maas tags read`, every tag) and its machines (from `maas machines read`, every
 * machine). */
function compareTag(g: GroupArtifacts, tags: Read | undefined, reads: Map<string, Read>): Finding[] {
  const m = g.group.maas;
  const tagName = `MAAS tag ${m.tag}`;
  // A definition's machines are MAAS's to keep; machines and selectByDevice are the steps'.
  const object = m.definition === undefined ? `${tagName} machines` : undefined;
  if (tags?.rc !== 0) return [unreachable(tagName, tags), ...(object ? [unreachable(object, tags)] : [])];
  const live = (JSON.parse(tags.out) as LiveTag[]).find((t) => t.name === m.tag);
  if (live === undefined) return [verdict(tagName, ["missing"]), ...(object ? [verdict(object, ["the tag is missing, so no machine carries it"])] : [])];
  const details: string[] = [];
  const comment = parseTagComment(live.comment ?? "");
  if (comment.comment !== m.comment) details.push(`comment is ${quoteValue(comment.comment)}, want ${quoteValue(m.comment)}`);
  if ((live.kernel_opts ?? "") !== g.kernelOptions) details.push(`kernel_opts is ${quoteValue(live.kernel_opts ?? "")}, want ${quoteValue(g.kernelOptions)}`);
  if (m.definition !== undefined && live.definition !== m.definition) {
    details.push(`definition is ${quoteValue(live.definition ?? "")}, want ${quoteValue(m.definition)}`);
  }
  const out = [verdict(tagName, details)];
  if (object) {
    const machines = reads.get(READS.machines);
    const selected = m.selectByDevice ? reads.get(READS.selected(m.tag)) : { rc: 0, out: (m.machines ?? []).join(" ") };
    if (machines?.rc !== 0) out.push(unreachable(object, machines));
    else if (selected?.rc !== 0) out.push(unreachable(`${object} (selection by device)`, selected));
    else out.push(verdict(object, setDiff(carrying(machines.out, m.tag), selected.out.split(/\s+/).filter((x) => x !== "").sort())));
  }
  return out;
}

interface LiveSetting {
  readonly value?: unknown;
  readonly source?: string;
}

/** Each group's MAAS tag and its machines, the model's userdata and each application's charm options, from
 * the data the CLIs print on success; a failed read is never taken for a missing object. */
export function compareJuju(site: SiteConfig, a: SiteArtifacts, reads: Map<string, Read>): Finding[] {
  const out: Finding[] = [];
  const tags = reads.get(READS.tags);
  for (const g of a.groups) out.push(...compareTag(g, tags, reads));

  const modelName = `Juju model ${site.juju.model} cloudinit-userdata`;
  const apps = Object.entries(a.charmOptions);
  const appObject = (app: string) => `${app} options`;
  const models = reads.get(READS.models);
  if (models?.rc !== 0) return [...out, unreachable(modelName, models), ...apps.map(([app]) => unreachable(appObject(app), models))];
  const listed = ((JSON.parse(models.out) as { models?: Array<{ "short-name"?: string }> }).models ?? []).some((m) => m["short-name"] === site.juju.model);
  if (!listed) {
    const adopt = site.juju.existingModel;
    out.push(verdict(modelName, [adopt ? "the model is missing (juju.existingModel is true: the program does not create it)" : "the model is missing"], adopt));
    for (const [app] of apps) out.push(verdict(appObject(app), ["the model is missing: deploy OpenStack in it first (see bundle-overlay.yaml)"], true));
    return out;
  }

  const userdata = reads.get(READS.userdata);
  if (userdata?.rc !== 0) out.push(unreachable(modelName, userdata));
  else if (trimEnd(userdata.out) === trimEnd(a.userdata)) out.push(verdict(modelName, []));
  else {
    const patch = createTwoFilesPatch("rendered", "live", `${trimEnd(a.userdata)}\n`, `${trimEnd(userdata.out)}\n`, "", "", { context: 2 });
    out.push(verdict(modelName, ["differs from the render:", ...patch.split("\n").slice(1).map((l) => l.replace(/\t$/, "")).filter((l) => l !== "")]));
  }

  const status = reads.get(READS.status);
  if (status?.rc !== 0) return [...out, ...apps.map(([app]) => unreachable(appObject(app), status))];
  const deployed = (JSON.parse(status.out) as { applications?: Record<string, unknown> }).applications ?? {};
  for (const [app, options] of apps) {
    if (!(app in deployed)) {
      out.push(verdict(appObject(app), ["the application is not deployed: deploy it first (see bundle-overlay.yaml)"], true));
      continue;
    }
    const read = reads.get(READS.config(app));
    if (read?.rc !== 0) {
      out.push(unreachable(appObject(app), read));
      continue;
    }
    const config = JSON.parse(read.out) as { charm?: string; settings?: Record<string, LiveSetting> };
    const settings = config.settings ?? {};
    const details: string[] = [];
    const lacking: string[] = [];
    for (const [option, want] of Object.entries(options)) {
      const s = settings[option];
      if (s === undefined) lacking.push(option);
      else if (s.value === undefined || s.value === null || s.value === "") details.push(`${option} is unset, want ${quoteValue(want)}`);
      else if (String(s.value) !== want) details.push(`${option} is ${quoteValue(String(s.value))}, want ${quoteValue(want)}`);
    }
    // Juju refuses an option the charm does not have ("unknown option"): no resync can set it.
    for (const option of lacking) {
      details.push(`${option} is not an option of charm ${config.charm ?? "?"} (the revision ${app} runs): juju refuses it; refresh ${app} to a charm revision that has it`);
    }
    out.push(verdict(appObject(app), details, lacking.length > 0));
  }
  return out;
}

