// The SSH runner against a real OpenSSH server: Debian's openssh-server with its stock sshd_config (no
// AcceptEnv for our variables), started by the test on 127.0.0.1 with its own host key, port and
// authorized_keys. The jump host's maas and juju are the fakes: the authorized key's forced command puts
// them on PATH (what a real jump host has installed). The program's own command resources run in the
// engine's order (test/pulumi-emulator.ts).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { requireSiteConfig } from "../../config/parse";
import { parseTagComment } from "../../render/steps/maas-claim";
import { renderSite } from "../../render/site";
import { fakeSeeds } from "../../tools/lab/commands";
import { FAKES, argvLog, fakeLogText, fakeState, world, type World } from "../fakes-world";
import { editStack } from "../helpers";
import { EMPTY_STACK, attempt, commandResources, destroy, recordProgram, up } from "../pulumi-emulator";
import { kernelCmdline } from "../../render/host/kernel";
import { hostsFromJuju } from "../../tools/verify/hosts-main";
import { withBootedHost } from "../fake-booted-host";
import { P5000_HOST } from "../render/probe-helpers";

const SSHD = "/usr/sbin/sshd";
const STOCK_CONFIG = "/etc/ssh/sshd_config";

/** Why the suite cannot run here (locally it skips and says why; under CI it fails instead). */
function skipReason(): string | false {
  // Not being root is a property of the machine, not a missing tool: it skips under CI too (GitHub's
  // runner user); .ci/run runs as root.
  if (process.getuid?.() !== 0) {
    process.stderr.write("skip: sshd must run as root to log a user in\n");
    return "sshd must run as root to log a user in";
  }
  const reason = !existsSync(SSHD) || !existsSync(STOCK_CONFIG) ? "openssh-server is not installed (apt-get install -y openssh-server)" : undefined;
  if (!reason) return false;
  if (process.env.CI) return false;
  process.stderr.write(`skip: ${reason} (CI fails instead of skipping)\n`);
  return reason;
}
const skip = skipReason();

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Server {
  readonly dir: string;
  readonly port: number;
  readonly clientKey: string;
  /** The host's public key line, as `ssh-keyscan` prints it without the host name. */
  readonly hostKey: string;
  readonly process: ChildProcess;
}

let server: Server;
/** The world the jump host's fakes use: the forced command points them at it. */
let jumpWorld: World;

before(async () => {
  if (skip) return;
  // sshd's StrictModes refuses key files under a world-writable directory such as /tmp: /run is root's.
  const base = existsSync("/run") ? "/run" : tmpdir();
  const dir = mkdtempSync(path.join(base, "pcipt-sshd-"));
  chmodSync(dir, 0o755);
  const keygen = (file: string) => {
    const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", path.join(dir, file)], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
  };
  keygen("host_ed25519");
  keygen("client");
  keygen("impostor");
  jumpWorld = world();
  const env = [`PATH=${FAKES}:$PATH`, `FAKE_STATE_DIR=${jumpWorld.dir}`, "PCIPT_VIA_SSH=1"];
  const forced = `command="${env.join(" ")} sh -c \\"$SSH_ORIGINAL_COMMAND\\""`;
  writeFileSync(path.join(dir, "authorized_keys"), `${forced} ${readFileSync(path.join(dir, "client.pub"), "utf8")}`, { mode: 0o600 });
  mkdirSync("/run/sshd", { recursive: true });
  const port = await freePort();
  const args = ["-D", "-e", "-f", STOCK_CONFIG, "-o", `Port=${port}`, "-o", "ListenAddress=127.0.0.1"];
  args.push("-o", `HostKey=${path.join(dir, "host_ed25519")}`, "-o", `AuthorizedKeysFile=${path.join(dir, "authorized_keys")}`, "-o", `PidFile=${path.join(dir, "pid")}`);
  const proc = spawn(SSHD, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  proc.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  for (let i = 0; i < 100 && !log.includes("Server listening"); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(log, /Server listening on 127\.0\.0\.1/, `sshd did not start:\n${log}`);
  const [type, key] = readFileSync(path.join(dir, "host_ed25519.pub"), "utf8").trim().split(/\s+/);
  server = { dir, port, clientKey: readFileSync(path.join(dir, "client"), "utf8"), hostKey: `${type} ${key}`, process: proc };
});

after(() => {
  if (skip || !server) return;
  server.process.kill();
  rmSync(server.dir, { recursive: true, force: true });
});

const HOSTILE = `it's "quoted" $(touch /tmp/pcipt-ssh-canary) \`touch /tmp/pcipt-ssh-canary\` ; \\ $HOME\nsecond line & | > <`;

/** The dev stack (with a hostile tag comment), locally or through the test's sshd. The key is passed as
 * `pulumi config set --secret --path runner.privateKey < key` stores it: without its final newline (the CLI
 * trims the value), which OpenSSH alone would refuse ("error in libcrypto"). */
function devSite(runner: "local" | "ssh", extra: (r: Record<string, any>) => void = () => {}) {
  return editStack("dev", (r) => {
    r.maas.comment = HOSTILE;
    if (runner === "ssh") r.runner = { host: "127.0.0.1", user: "root", port: server.port, privateKey: server.clientKey.trimEnd(), hostKey: server.hostKey };
    extra(r);
  });
}

describe("the SSH runner against a stock OpenSSH server", { skip }, () => {
  test("local -> SSH -> local: every step is updated in place, nothing is deleted, free text arrives verbatim", () => {
    const local = devSite("local");
    const ssh = devSite("ssh");
    const site = requireSiteConfig(local);
    // The local runner and the jump host share the fakes' state: one MAAS, one controller.
    // The fakes take their seeds when they first save: the first (local) run seeds the jump host's state too.
    const w: World = { dir: jumpWorld.dir, env: { ...jumpWorld.env, ...fakeSeeds(site) } };
    for (const f of ["maas", "juju"]) rmSync(path.join(w.dir, `${f}.json`), { force: true });
    const first = up(w, EMPTY_STACK, commandResources(recordProgram(local, "dev"))).state;
    const claim = parseTagComment(fakeState(w, "maas").tags["pci-pass"].comment).claim;
    const calls = argvLog(w, "maas").length;

    const toSsh = up(w, first, commandResources(recordProgram(ssh, "dev")));
    assert.deepEqual(toSsh.ops, first.resources.map((r) => `update ${r.name}`), "switching the runner updates every step in place");
    const viaSsh = fakeLogText(w, "maas").split("\n").filter((l) => l !== "").slice(calls);
    assert.ok(viaSsh.length > 0 && viaSsh.every((l) => l.includes('"PCIPT_VIA_SSH": "1"')), "the steps ran on the jump host");

    const back = up(w, toSsh.state, commandResources(recordProgram(local, "dev")));
    assert.deepEqual(back.ops, first.resources.map((r) => `update ${r.name}`));

    const tag = fakeState(w, "maas").tags["pci-pass"];
    assert.deepEqual(parseTagComment(tag.comment), { comment: HOSTILE, claim, stack: "pci-passthrough/dev", adopted: false }, "the tag was never re-created");
    assert.deepEqual(tag.machines, ["gpuhost1", "gpuhost2"]);
    const a = renderSite(site);
    const model = fakeState(w, "juju").models["openstack-deployment"];
    assert.equal(model.config["cloudinit-userdata"], a.userdata, "the userdata arrives byte for byte");
    assert.deepEqual(model.applications, a.charmOptions);
    assert.ok(!argvLog(w, "maas").some((argv) => argv.includes("delete")), "nothing deleted in MAAS");
    assert.ok(!argvLog(w, "juju").some((argv) => argv[0] === "destroy-model" || argv.includes("--reset")), "nothing reset or destroyed");
    assert.equal(existsSync("/tmp/pcipt-ssh-canary"), false, "free text never executes");
  });

  test("a second stack with the same tag is refused over SSH as it is locally: the stack's name reaches the jump host", () => {
    const site = requireSiteConfig(devSite("local"));
    const w: World = { dir: jumpWorld.dir, env: { ...jumpWorld.env, ...fakeSeeds(site) } };
    for (const f of ["maas", "juju"]) rmSync(path.join(w.dir, `${f}.json`), { force: true });
    // The fakes take their seeds (here, locally) when they first save: a local stack's life seeds the jump host's state.
    destroy(w, up(w, EMPTY_STACK, commandResources(recordProgram(devSite("local"), "dev"))).state);
    assert.equal(fakeState(w, "maas").tags["pci-pass"], undefined);
    const first = up(w, EMPTY_STACK, commandResources(recordProgram(devSite("ssh"), "dev"))).state;
    const tag = fakeState(w, "maas").tags["pci-pass"];
    assert.equal(parseTagComment(tag.comment).stack, "pci-passthrough/dev", "the claim names the stack: PCIPT_STACK reached the jump host");
    for (const runner of ["ssh", "local"] as const) {
      assert.throws(
        () => up(w, EMPTY_STACK, commandResources(recordProgram(devSite(runner), "dev-b"))),
        /MAAS tag pci-pass belongs to stack pci-passthrough\/dev: two stacks cannot share a tag/,
        runner,
      );
      assert.deepEqual(fakeState(w, "maas").tags["pci-pass"], tag, `${runner}: the first stack's tag and machines are untouched`);
    }
    // The first stack's own destroy, over SSH, still deletes its tag.
    destroy(w, first);
    assert.equal(fakeState(w, "maas").tags["pci-pass"], undefined);
  });

  test("a jump host showing another key than runner.hostKey is refused, with a clear error, before anything runs", () => {
    const impostor = readFileSync(path.join(server.dir, "impostor.pub"), "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
    const raw = devSite("ssh", (r) => (r.runner.hostKey = impostor));
    const [tagStep] = commandResources(recordProgram(raw, "dev"));
    const before = fakeLogText(jumpWorld, "maas");
    const r = attempt(jumpWorld, tagStep!.build({}), "create");
    assert.equal(r.status, 1);
    assert.match(r.stderr, /Host key verification failed/);
    assert.match(
      r.stderr,
      new RegExp(`pci-passthrough: MAAS tag pci-pass \\(on root@127\\.0\\.0\\.1:${server.port}\\): the jump host's key is not the one pinned in runner\\.hostKey: refused`),
    );
    assert.equal(fakeLogText(jumpWorld, "maas"), before, "no maas command ran");
  });

  test("the MAAS API key reaches `maas login` on the jump host through stdin only", () => {
    const apiKey = "sSHc0nsumer:t0ken:s3cretPartOverSsh";
    const raw = devSite("ssh", (r) => Object.assign(r.maas, { url: "http://10.0.0.2:5240/MAAS/", apiKey }));
    const [tagStep] = commandResources(recordProgram(raw, "dev"));
    const resource = tagStep!.build({});
    assert.ok(!JSON.stringify(resource.inputs).includes(apiKey), "the key is in no input but stdin");
    const r = attempt(jumpWorld, resource, "create");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fakeState(jumpWorld, "maas").profiles.admin.key, apiKey, "maas login got the key");
    assert.ok(!fakeLogText(jumpWorld, "maas").includes(apiKey), "not in any argv or environment there");
    assert.ok(!(r.stdout + r.stderr).includes(apiKey));
  });

  test("verify --hosts reads the hosts through the jump host's juju: the probe arrives whole, the verdict comes back", () => {
    const raw = devSite("ssh");
    const site = requireSiteConfig(raw);
    // The jump host's controller: the dev model with one unit of nova-compute, a fake host prepared and rebooted.
    rmSync(path.join(jumpWorld.dir, "juju.json"), { force: true });
    const seed = spawnSync("juju", ["model-config", "-m", site.juju.model, "logging-config=<root>=INFO"], { env: { ...jumpWorld.env, ...fakeSeeds(site), FAKE_JUJU_MODELS: site.juju.model }, encoding: "utf8" });
    assert.equal(seed.status, 0, seed.stderr);
    withBootedHost(site.groups, P5000_HOST, { maasKernelOptions: kernelCmdline(site.groups[0]!) }, (h) => {
      h.prepare();
      h.reboot();
      const e = h.env();
      const unit = { env: { SYSFS_ROOT: e.SYSFS_ROOT, DESTDIR: e.DESTDIR, PROC_ROOT: e.PROC_ROOT, PATH: e.PATH } };
      writeFileSync(path.join(jumpWorld.dir, "juju-units.json"), JSON.stringify({ [`${site.groups[0]!.application}/0`]: unit }));
      try {
        // Here, juju is not on PATH: only the jump host has it.
        const result = hostsFromJuju(site, { sshKey: { PCIPT_SSH_KEY: server.clientKey.trimEnd() }, env: { ...process.env, PATH: "/usr/bin:/bin" } });
        assert.deepEqual(result.problems, []);
        assert.deepEqual(result.reports.map((r) => [r.host, r.verdict, r.reasons]), [["nova-compute/0", "ready", []]]);
        assert.equal(result.code, 0);
      } finally {
        rmSync(path.join(jumpWorld.dir, "juju-units.json"), { force: true });
      }
    });
  });
});

// Runs anywhere (no sshd needed): what the wrapper forwards is the step's whole environment.
test("over SSH the wrapper forwards every variable of a step's one environment, those only the deployment knows included", () => {
  const raw = editStack("lab", (r) => (r.runner = { host: "jump.example", user: "ubuntu", port: 2222 }));
  const commands = recordProgram(raw, "lab").resources.filter((r) => r.type === "command:local:Command");
  assert.ok(commands.length >= 4);
  const own = new Set(["PCIPT_STEP", "PCIPT_RUNNER_STEP", "PCIPT_SSH_HOST_KEY"]);
  for (const c of commands) {
    const env = c.inputs.environment as Record<string, string>;
    const emitted = [...env.PCIPT_STEP!.matchAll(/^ {2}emit ([A-Z_]+) "\$\1"$/gm)].map((m) => m[1]);
    assert.deepEqual(emitted.sort(), Object.keys(env).filter((k) => !own.has(k)).sort(), c.name);
  }
  // The two that came after the wrapper before: the stack's name (the tag's claim) and the tag step's ID.
  const tag = commands.find((c) => c.name === "lab-maas-tag")!;
  assert.match(String((tag.inputs.environment as Record<string, string>).PCIPT_STEP), /^ {2}emit PCIPT_STACK "\$PCIPT_STACK"$/m);
  const machines = commands.find((c) => c.name === "lab-maas-machines")!;
  assert.match(String((machines.inputs.environment as Record<string, string>).PCIPT_STEP), /^ {2}emit PCIPT_TAG_STEP "\$PCIPT_TAG_STEP"$/m);
});
