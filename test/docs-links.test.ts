// The operator docs hold together: every relative link and #anchor in README.md and docs/**/*.md resolves as
// GitHub renders it, every docs page is reachable from the README, every repository path the docs name in
// code (`tools/lab/install-packages.sh`) exists, every `npm run NAME` is a script of package.json, and nothing
// in them points outside the repository. The checker is plain functions over a set of files, so the planted
// cases at the end prove each rule can fail.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");

/** What the checker reads: files by repository-relative POSIX path, and the npm scripts. */
export interface Repo {
  /** A file's text, or undefined when there is no such file. */
  read(rel: string): string | undefined;
  /** Whether a file or folder exists. */
  exists(rel: string): boolean;
  readonly scripts: ReadonlySet<string>;
}

// Spelled in pieces so that this file does not itself name what it forbids.
const FORBIDDEN: readonly string[] = [["DOMAIN", "md"].join("."), [".", ".", "/shared"].join(""), ["/wo", "rk/"].join("")];

/** Top-level folders of the repository: a path in code that starts with one of them must exist. */
const REPO_DIRS = ["components", "config", "domain", "render", "tools", "test", "docs", "scripts", ".ci", ".github"];
const REPO_PATH = new RegExp(`^(?:\\./)?(?:${REPO_DIRS.map((d) => d.replace(".", "\\.")).join("|")})/[\\w./-]*$`);

/** The anchor GitHub gives a heading: its text as rendered, lower case, without punctuation but `-` and `_`,
 * each space a `-` (github-slugger). */
export function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // a link or image: its text
    .replace(/<[^>]+>/g, "") // inline HTML
    .replace(/`+/g, "") // code spans keep their text
    .replace(/\*+/g, "");
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

interface Parsed {
  /** The anchors of the headings, duplicates numbered as GitHub does (`x`, `x-1`, ...). */
  anchors: Set<string>;
  /** Link targets outside code, with the line they are on. */
  links: Array<{ target: string; line: number }>;
  /** Text inside code (spans and fenced blocks), with its line. */
  code: Array<{ text: string; line: number }>;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;
const LINK = /!?\[((?:[^[\]]|\[[^\]]*\])*)\]\(\s*<?([^()\s<>]*)>?(?:\s+"[^"]*")?\s*\)/g;
const REFERENCE = /^ {0,3}\[[^\]]+\]:[ \t]*<?(\S+?)>?(?:[ \t]+"[^"]*")?[ \t]*$/;
const CODE_SPAN = /(`+)([\s\S]*?[^`])\1(?!`)/g;
const HTML_ANCHOR = /<a\s+(?:id|name)="([^"]+)"/g;

/** Headings, links and code of one Markdown file (CommonMark's fences and code spans; ATX headings). */
export function parseMarkdown(text: string): Parsed {
  const lines = text.split("\n");
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const links: Parsed["links"] = [];
  const code: Parsed["code"] = [];
  let fence: string | undefined;
  // Prose is taken a paragraph at a time, so a code span may wrap onto the next line.
  let block: Array<{ text: string; line: number }> = [];
  const flush = () => {
    if (block.length === 0) return;
    const joined = block.map((b) => b.text).join("\n");
    const lineAt = (offset: number) => block[0]!.line + joined.slice(0, offset).split("\n").length - 1;
    const masked = joined.replace(CODE_SPAN, (whole, _ticks: string, inner: string, offset: number) => {
      code.push({ text: inner, line: lineAt(offset) });
      return whole.replace(/[^\n]/g, " ");
    });
    for (const m of masked.matchAll(LINK)) links.push({ target: m[2]!, line: lineAt(m.index) });
    for (const m of masked.matchAll(HTML_ANCHOR)) anchors.add(m[1]!);
    block = [];
  };
  lines.forEach((raw, i) => {
    const line = i + 1;
    const f = FENCE.exec(raw);
    if (fence !== undefined) {
      if (f && f[1]![0] === fence[0] && f[1]!.length >= fence.length && raw.trim() === f[1]) fence = undefined;
      else code.push({ text: raw, line });
      return;
    }
    if (f) {
      flush();
      fence = f[1]!;
      return;
    }
    const h = HEADING.exec(raw);
    if (h) {
      flush();
      const base = slug(h[2]!);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
      block = [{ text: h[2]!, line }];
      flush();
      return;
    }
    const r = REFERENCE.exec(raw);
    if (r) {
      flush();
      links.push({ target: r[1]!, line });
      return;
    }
    if (raw.trim() === "") flush();
    else block.push({ text: raw, line });
  });
  flush();
  return { anchors, links, code };
}

/** README.md and every .md under docs/, repository-relative, sorted. */
export function docFiles(repoRoot: string): string[] {
  const found: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(repoRoot, rel)).sort()) {
      const child = `${rel}/${name}`;
      if (statSync(path.join(repoRoot, child)).isDirectory()) walk(child);
      else if (name.endsWith(".md")) found.push(child);
    }
  };
  if (existsSync(path.join(repoRoot, "docs"))) walk("docs");
  return ["README.md", ...found];
}

/** Every problem of the docs `files` (the first is the entry, README.md), as `file:line: message`. */
export function docProblems(files: readonly string[], repo: Repo): string[] {
  const problems: string[] = [];
  const parsed = new Map<string, Parsed>();
  const parse = (rel: string): Parsed | undefined => {
    if (!parsed.has(rel)) {
      const text = repo.read(rel);
      if (text === undefined) return undefined;
      parsed.set(rel, parseMarkdown(text));
    }
    return parsed.get(rel);
  };
  const linked = new Map<string, Set<string>>();

  for (const file of files) {
    const text = repo.read(file);
    if (text === undefined) {
      problems.push(`${file}: missing`);
      continue;
    }
    text.split("\n").forEach((l, i) => {
      for (const f of FORBIDDEN) if (l.includes(f)) problems.push(`${file}:${i + 1}: names ${f}, which is outside the repository`);
    });
    const doc = parse(file)!;
    const out = new Set<string>();
    linked.set(file, out);

    for (const { target, line } of doc.links) {
      const at = `${file}:${line}`;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:: not ours to check
      if (target === "") {
        problems.push(`${at}: empty link`);
        continue;
      }
      const hash = target.indexOf("#");
      const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
      const anchor = hash < 0 ? undefined : target.slice(hash + 1);
      if (pathPart.startsWith("/")) {
        problems.push(`${at}: ${target} is absolute: link relative to the file`);
        continue;
      }
      const rel = pathPart === "" ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), pathPart)).replace(/\/$/, "");
      if (rel === ".." || rel.startsWith("../")) {
        problems.push(`${at}: ${target} points outside the repository`);
        continue;
      }
      if (!repo.exists(rel)) {
        problems.push(`${at}: ${target}: no ${rel}`);
        continue;
      }
      if (rel.endsWith(".md")) out.add(rel);
      if (anchor === undefined) continue;
      if (!rel.endsWith(".md")) {
        if (!/^L\d+(-L\d+)?$/.test(anchor)) problems.push(`${at}: ${target}: #${anchor} in a file that is not Markdown`);
        continue;
      }
      const anchors = parse(rel)?.anchors ?? new Set<string>();
      if (!anchors.has(anchor)) problems.push(`${at}: ${target}: ${rel} has no heading #${anchor}`);
    }

    for (const { text: c, line } of doc.code) {
      const at = `${file}:${line}`;
      for (const m of c.matchAll(/\bnpm run(?: -s)? ([\w:-]+)/g)) {
        if (!repo.scripts.has(m[1]!)) problems.push(`${at}: npm run ${m[1]}: package.json has no such script`);
      }
      for (const token of c.split(/[\s'"`(),;=|&]+/)) {
        const p = token.replace(/[.:]+$/, "");
        if (/[<>*{}$]|\.\.\./.test(p) || !REPO_PATH.test(p)) continue;
        if (!repo.exists(p.replace(/^\.\//, "").replace(/\/$/, ""))) problems.push(`${at}: ${p}: no such path in the repository`);
      }
    }
  }

  // Every page is reachable from the first file (the README's map, and the pages it leads to).
  const reached = new Set<string>([files[0]!]);
  const queue = [files[0]!];
  while (queue.length > 0) {
    for (const next of linked.get(queue.shift()!) ?? []) {
      if (!reached.has(next)) {
        reached.add(next);
        queue.push(next);
      }
    }
  }
  for (const f of files) if (!reached.has(f)) problems.push(`${f}: no link leads here from ${files[0]}`);
  return problems;
}

function realRepo(): Repo {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
  return {
    read: (rel) => {
      const p = path.join(ROOT, rel);
      return existsSync(p) && statSync(p).isFile() ? readFileSync(p, "utf8") : undefined;
    },
    exists: (rel) => existsSync(path.join(ROOT, rel)),
    scripts: new Set(Object.keys(pkg.scripts)),
  };
}

test("README.md and docs/: every link, anchor, path and npm script resolves, nothing points outside", () => {
  const files = docFiles(ROOT);
  assert.ok(files.length > 1, "docs/ has pages");
  assert.deepEqual(docProblems(files, realRepo()), []);
});

test("docs/domain.md has the sections the code comments cite", () => {
  const anchors = parseMarkdown(readFileSync(path.join(ROOT, "docs", "domain.md"), "utf8")).anchors;
  const cited = [
    "The runbook and what is dated in it",
    "Pulumi and the command provider",
    "MAAS",
    "Juju models and cloudinit-userdata",
    "Juju bundles and overlays",
    "The OpenStack charms",
    "Nova: PCI aliases, device specs and flavors",
    "Nova: scheduler filters by release",
    "Nova: extra specs by release",
    "The kernel: IOMMU groups, vfio-pci and companions",
    "SR-IOV devices are PFs to Nova",
    "Neighbours",
  ];
  for (const title of cited) assert.ok(anchors.has(slug(title)), `docs/domain.md has no section "${title}"`);
});

// ---------------------------------------------------------------------------------------------------
// The checker itself, on planted files

function fakeRepo(files: Record<string, string>, dirs: readonly string[] = [], scripts: readonly string[] = ["render"]): Repo {
  return {
    read: (rel) => files[rel],
    exists: (rel) => rel in files || dirs.includes(rel),
    scripts: new Set(scripts),
  };
}

test("slug: headings as GitHub anchors them", () => {
  assert.equal(slug("Safety: what runs, what is kept, what is secret"), "safety-what-runs-what-is-kept-what-is-secret");
  assert.equal(slug("The jump host: `pci-passthrough:runner`"), "the-jump-host-pci-passthroughrunner");
  assert.equal(slug("Nova: PCI aliases, device specs and flavors"), "nova-pci-aliases-device-specs-and-flavors");
  assert.equal(slug("`hw:pci_numa_affinity_policy` and [NUMA](x.md)"), "hwpci_numa_affinity_policy-and-numa");
  assert.equal(slug("Deleting the stack (`pulumi destroy`)"), "deleting-the-stack-pulumi-destroy");
});

test("a sound set of docs has no problem", () => {
  const repo = fakeRepo(
    {
      "README.md": "# Top\n\nSee [a](docs/a.md#two-words), [code](tools/x/main.ts) and [site](https://example.com/x).\n\n## Top\n",
      "docs/a.md": "# A\n\n## Two words\n\nBack to [the top](../README.md#top-1), [here](#a); run `npm run render -- dev` and `sudo tools/x/main.ts`.\n\n```sh\nnpm run -s render\ncat tools/x/main.ts\n```\n",
      "tools/x/main.ts": "",
    },
    ["tools/x"],
  );
  assert.deepEqual(docProblems(["README.md", "docs/a.md"], repo), []);
});

test("planted faults are each reported with file and line", () => {
  const repo = fakeRepo({
    "README.md": [
      "# Top", // 1
      "", // 2
      "[gone](docs/gone.md) [bad anchor](docs/a.md#nope) [out](../x.md) [abs](/etc/x)", // 3
      "Not a link in code: `[x](nothing.md)`; a path that moved: `tools/old/main.ts`; `npm run rendr`.", // 4
      "", // 5
      "```sh", // 6
      "[fenced](nothing.md) sudo scripts/install-lab-packages.sh", // 7
      "```", // 8
      "[a](docs/a.md) and the notes in " + FORBIDDEN[0], // 9
    ].join("\n"),
    "docs/a.md": "# A\n",
    "docs/orphan.md": "# Orphan\n\n[loop](orphan.md)\n",
  });
  assert.deepEqual(docProblems(["README.md", "docs/a.md", "docs/orphan.md"], repo), [
    `README.md:9: names ${FORBIDDEN[0]}, which is outside the repository`,
    "README.md:3: docs/gone.md: no docs/gone.md",
    "README.md:3: docs/a.md#nope: docs/a.md has no heading #nope",
    "README.md:3: ../x.md points outside the repository",
    "README.md:3: /etc/x is absolute: link relative to the file",
    "README.md:4: tools/old/main.ts: no such path in the repository",
    "README.md:4: npm run rendr: package.json has no such script",
    "README.md:7: scripts/install-lab-packages.sh: no such path in the repository",
    "docs/orphan.md: no link leads here from README.md",
  ]);
});
