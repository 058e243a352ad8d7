// `npm run lab -- up | down | status | env | apply <stack> | verify <stack>`: a real Keystone and nova-api on 127.0.0.1
// from Debian packages (docs/development.md, the lab), to apply the generated commands.sh against.
//
//   up     [--stack dev] [--keystone-port 5000] [--nova-port 8774]
//          starts both APIs (first time: databases, keys, catalog, ~25 s; then ~3 s) and waits until they
//          answer; nothing happens when they already run with the same configuration. nova.conf's
//          `[pci] alias` lines are the stack's; a changed stack rewrites nova.conf and restarts nova-api.
//          Ports given once are remembered in .lab/lab.json for the next commands.
//   down   stops both through their pid files
//   status prints each service's pid and HTTP answer; exit 0 when both are up, 3 otherwise
//   env    prints the lab admin's openrc (`eval "$(npm run -s lab -- env)"`)
//   apply <stack> [--stack-file FILE]
//          runs out/<stack>/commands.sh (from `npm run render -- <stack>`) with maas and juju from
//          test/fakes and the real openstack client against the lab
//   verify <stack> [--stack-file FILE]
//          `npm run verify -- <stack>` against what apply left: the fakes' maas and juju, the lab's flavors
//   --stack-file FILE: the stack's config from FILE instead of Pulumi.<stack>.yaml (as render and verify take it)
//
// --state-dir DIR keeps the state elsewhere than .lab/ (the tests run their own labs).
// Exit codes: 0 ok, 1 failure, 2 usage or missing input, 3 lab down, 4 missing Debian package
// (tools/lab/install-packages.sh installs them).
import { parseArgs } from "node:util";
import { apply, down, env, status, up, verify, type LabOptions } from "./commands";
import { LabError } from "./process";

const USAGE = `usage: npm run lab -- up|down|status|env [--stack NAME] [--keystone-port N] [--nova-port N] [--state-dir DIR]
       npm run lab -- apply|verify STACK [--stack-file FILE] [--state-dir DIR]`;

function port(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new LabError(`${flag} ${value} is not a port number\n${USAGE}`, 2);
  return n;
}

const OPTIONS = {
  stack: { type: "string" },
  "stack-file": { type: "string" },
  "keystone-port": { type: "string" },
  "nova-port": { type: "string" },
  "state-dir": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (e) {
    throw new LabError(`${(e as Error).message}\n${USAGE}`, 2);
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  const [command, ...rest] = positionals;
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const options: LabOptions = {
    stateDir: values["state-dir"],
    stack: command === "apply" || command === "verify" ? rest[0] : values.stack,
    stackFile: values["stack-file"],
    ports: { keystone: port(values["keystone-port"], "--keystone-port"), nova: port(values["nova-port"], "--nova-port") },
  };
  const extra = command === "apply" || command === "verify" ? rest.slice(1) : rest;
  if (extra.length > 0) throw new LabError(`unexpected argument ${extra.join(" ")}\n${USAGE}`, 2);
  switch (command) {
    case "up":
      return up(options);
    case "down":
      return down(options);
    case "status":
      return status(options);
    case "env":
      return env(options);
    case "apply":
      return apply(options);
    case "verify":
      return verify(options);
    default:
      throw new LabError(`${command === undefined ? "no command" : `unknown command ${command}`}\n${USAGE}`, 2);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof LabError) {
      process.stderr.write(`lab: ${e.message}\n`);
      process.exitCode = e.exitCode;
    } else {
      process.stderr.write(`lab: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    }
  },
);
