// The CLI contract (test/contract/cli-contract.yaml) and its transcripts, and how a row runs against the maas
// and juju test doubles: shared by test/components/cli-contract.test.ts and test/render/step-parsing.test.ts.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { world, type World } from "./fakes-world";
import { ROOT } from "./helpers";

const CONTRACT = path.join(ROOT, "test", "contract");

type Expected = string | { contains: string } | { endsWith: string };

export interface ContractRow {
  readonly id: string;
  readonly call: string;
  readonly case: string;
  readonly real: string;
  readonly source: string;
  readonly seed?: Record<string, string>;
  readonly before?: string[][];
  readonly stdin?: string;
  readonly argv: string[];
  readonly exit: number;
  readonly stdout: Expected;
  readonly stderr: Expected;
}

export const contract = parseYaml(readFileSync(path.join(CONTRACT, "cli-contract.yaml"), "utf8")) as {
  defaults: Record<string, string>;
  rows: ContractRow[];
};

/** The exact bytes of a row's transcript, test/contract/transcripts/<id>.<stream>. */
export function transcript(id: string, stream: "stdout" | "stderr"): Buffer {
  return readFileSync(path.join(CONTRACT, "transcripts", `${id}.${stream}`));
}

/** Compares what a double wrote with a row's expectation; a missing transcript fails unless UPDATE_GOLDEN=1,
 * which writes it (review it against the row's source before committing it). */
export function expectStream(row: ContractRow, stream: "stdout" | "stderr", actual: Buffer): void {
  const want = row[stream];
  const where = `${row.id} (${row.call}: ${row.case}) ${stream}`;
  if (want === "transcript") {
    const file = path.join(CONTRACT, "transcripts", `${row.id}.${stream}`);
    if (process.env.UPDATE_GOLDEN === "1") {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, actual);
      return;
    }
    assert.ok(existsSync(file), `${where}: the transcript ${path.relative(ROOT, file)} is missing (UPDATE_GOLDEN=1 writes it)`);
    assert.equal(actual.toString("utf8"), readFileSync(file, "utf8"), `${where}: not the transcript's bytes`);
    assert.ok(actual.equals(readFileSync(file)), `${where}: not the transcript's bytes`);
  } else if (typeof want === "string") {
    assert.equal(actual.toString("utf8"), want, where);
  } else if ("contains" in want) {
    assert.ok(actual.toString("utf8").includes(want.contains), `${where}: ${JSON.stringify(actual.toString("utf8"))} lacks ${JSON.stringify(want.contains)}`);
  } else {
    assert.ok(actual.toString("utf8").endsWith(want.endsWith), `${where}: ${JSON.stringify(actual.toString("utf8"))} does not end with ${JSON.stringify(want.endsWith)}`);
  }
}

const expand = (w: World, s: string) => s.split("$FAKE_STATE_DIR").join(w.dir);

/** Runs a row against the doubles in a fresh world: its state set up by `before`, then its call. */
export function runRow(row: ContractRow): { w: World; status: number | null; stdout: Buffer; stderr: Buffer } {
  const w = world({ ...contract.defaults, ...(row.seed ?? {}) });
  for (const argv of row.before ?? []) {
    const r = spawnSync(argv[0]!, argv.slice(1).map((a) => expand(w, a)), { env: w.env, encoding: "utf8" });
    assert.equal(r.status, 0, `${row.id}: before ${argv.join(" ")}: ${r.stdout}${r.stderr}`);
  }
  const [cmd, ...args] = row.argv.map((a) => expand(w, a));
  const r = spawnSync(cmd!, args, { env: w.env, input: row.stdin ?? "" });
  return { w, status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** What kind of call an argv is, in the terms of the table: `maas tags read`, `juju config --file`. */
export function callKind(cli: "maas" | "juju", argv: readonly string[]): string {
  if (cli === "maas") return argv[0] === "login" ? "maas login" : `maas ${argv[1]} ${argv[2]}`;
  const [cmd, ...rest] = argv;
  const flags = ["--file", "--format", "--reset", "--config", "--no-prompt", "-y", "--application"].filter((f) => rest.includes(f));
  const positional = rest.filter((a, i) => !a.startsWith("-") && !/^-/.test(rest[i - 1] ?? "") && a !== "json");
  const shape = cmd === "config" || cmd === "model-config" ? positional.slice(cmd === "config" ? 1 : 0).map((p) => (p.includes("=") ? "KEY=VALUE" : p.startsWith("/") || p.startsWith("$FAKE_STATE_DIR") ? "FILE" : "KEY")) : [];
  return ["juju", cmd, ...flags, ...shape].join(" ");
}

