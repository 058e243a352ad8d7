// Conformance of the host artifacts with their real consumers (Debian packages cloud-init and shellcheck):
// the userdata as cloud-init sees it after Juju's merge passes `cloud-init schema`, and the shipped prepare
// script, its postruncmd command and every file it embeds that is shell (the binding script, the grub drop-in,
// which update-grub sources) pass shellcheck.
// For every binding, both example stacks and a set of generated variations.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { BINDINGS } from "../../config/sections/host";
import { requireSiteConfig } from "../../config/parse";
import type { HostGroup } from "../../config/types";
import { GRUB_DROPIN_PATH, hostFiles, type HostFile } from "../../render/host/files";
import { renderUserdata } from "../../render/host/userdata";
import { asCloudInitSeesIt } from "../juju-userdata-merge";
import { cloudInitSchema, outcome, slug } from "./cloud-init-schema";
import { editStack, needTool, ONE_GROUP_STACKS } from "../helpers";

const CLOUD_INIT = needTool("cloud-init", "cloud-init");
const SHELLCHECK = needTool("shellcheck", "shellcheck");

/** Variations on an example stack, each changing what the host artifacts depend on. */
const VARIATIONS: Readonly<Record<string, (raw: Record<string, any>) => void>> = {
  "as shipped": () => {},
  "no blacklist, iommu=pt, safe interrupts only": (raw) => {
    raw.host.blacklistDrivers = [];
    raw.host.iommuPassthrough = true;
    raw.host.allowUnsafeInterrupts = false;
  },
  "other CPU vendor, unsafe interrupts": (raw) => {
    raw.host.iommu = raw.host.iommu === "intel" ? "amd" : "intel";
    raw.host.allowUnsafeInterrupts = true;
  },
  "eight devices in another PCI domain": (raw) => {
    raw.devices[0].addresses = Array.from({ length: 8 }, (_, i) => `0001:${(0x0a + i).toString(16).padStart(2, "0")}:00.0`);
  },
  "companions everywhere and an extra alias": (raw) => {
    raw.devices[0].companions = ["10de:10f0", "10de:1aef"];
    raw.devices.push({ alias: "extra", vendorId: "1002", productId: "67df", addresses: ["0000:05:00.0"], companions: ["1002:aaf0"] });
    raw.host.blacklistDrivers = [...raw.host.blacklistDrivers, "amdgpu", "radeon"];
  },
};

interface Case {
  readonly name: string;
  readonly userdata: string;
  readonly groups: readonly HostGroup[];
}

function cases(stack: string, binding: string): Case[] {
  return Object.entries(VARIATIONS).map(([variation, edit]) => {
    const site = requireSiteConfig(
      editStack(stack, (raw) => {
        edit(raw);
        raw.host.binding = binding;
      }),
    );
    return { name: `${stack}, ${binding}, ${variation}`, userdata: renderUserdata(site.groups), groups: site.groups };
  });
}


interface WriteFileEntry {
  path: string;
  content: string;
  encoding?: string;
}

/** Writes the shell among `files` for shellcheck: scripts (content decoded), and the grub drop-in, which
 * update-grub sources with /bin/sh. Returns the files written. */
function writeShell(dir: string, name: string, files: readonly Pick<HostFile, "path" | "content" | "script">[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    const text = f.script ? f.content : f.path === GRUB_DROPIN_PATH ? `#!/bin/sh\n${f.content}` : undefined;
    if (text === undefined) continue;
    const file = path.join(dir, `${slug(`${name} ${f.path}`)}.sh`);
    writeFileSync(file, text);
    out.push(file);
  }
  return out;
}

/** The shell a userdata ships, as files for shellcheck: decoded scripts, the grub drop-in, each postruncmd. */
function shellFiles(dir: string, c: Case): string[] {
  const value = parse(c.userdata, { version: "1.1" }) as { write_files: WriteFileEntry[]; postruncmd: string[] };
  const decoded = value.write_files.map((f) => ({
    path: f.path,
    script: f.encoding === "b64",
    content: f.encoding === "b64" ? Buffer.from(f.content, "base64").toString("utf8") : f.content,
  }));
  // Juju writes every postruncmd entry into cloud-init's runcmd script, run by /bin/sh.
  const postruncmd = value.postruncmd.map((cmd, i) => ({ path: `postruncmd ${i}`, script: true, content: `#!/bin/sh\n${cmd}\n` }));
  return writeShell(dir, c.name, [...decoded, ...postruncmd]);
}

async function shellcheck(files: readonly string[]): Promise<{ status: number; output: string }> {
  const r = await outcome("shellcheck", ["--shell=sh", "--severity=style", ...files]);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

for (const stack of ONE_GROUP_STACKS) {
  for (const binding of BINDINGS) {
    test(`${stack}, ${binding}: cloud-init schema accepts the merged userdata of every variation`, { skip: CLOUD_INIT }, async () => {
      const dir = mkdtempSync(path.join(tmpdir(), "host-conformance-"));
      try {
        await Promise.all(cases(stack, binding).map((c) => cloudInitSchema(dir, c.name, asCloudInitSeesIt(c.userdata))));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test(`${stack}, ${binding}: shellcheck passes the prepare script, its postruncmd, and the scripts and grub drop-in it embeds`, { skip: SHELLCHECK }, async () => {
      const dir = mkdtempSync(path.join(tmpdir(), "host-shellcheck-"));
      try {
        const files = cases(stack, binding).flatMap((c) => checkedShell(dir, c));
        const r = await shellcheck(files);
        assert.equal(r.output, "");
        assert.equal(r.status, 0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
}

/** What shellcheck reads of a case: the shipped prepare script and the postruncmd entry running it, and what the
 * script embeds as here-documents (which shellcheck does not read as code): each group's grub drop-in (every
 * variation has kernel options) and its binding script (all but modprobe). */
function checkedShell(dir: string, c: Case): string[] {
  const shipped = shellFiles(dir, c);
  assert.equal(shipped.length, 2, c.name);
  const embedded = c.groups.flatMap((g) => writeShell(dir, `${c.name} ${g.name ?? ""}`, hostFiles(g)));
  assert.equal(embedded.length, c.groups.reduce((n, g) => n + (g.host.binding === "modprobe" ? 1 : 2), 0), c.name);
  return [...shipped, ...embedded];
}

// Several host groups (Pulumi.mixed.yaml): one userdata whose script embeds every group's files. As shipped
// (modprobe, driver-override, driver-override) and with every group on each binding.
const MIXED_CASES: readonly Case[] = [undefined, ...BINDINGS].map((binding) => {
  const site = requireSiteConfig(
    editStack("mixed", (raw) => {
      if (binding) for (const g of raw.hostGroups) g.host.binding = binding;
    }),
  );
  return { name: `mixed, ${binding ? `every group ${binding}` : "as shipped"}`, userdata: renderUserdata(site.groups), groups: site.groups };
});

test("mixed: cloud-init schema accepts the merged userdata, as shipped and with every binding", { skip: CLOUD_INIT }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "host-conformance-"));
  try {
    await Promise.all(MIXED_CASES.map((c) => cloudInitSchema(dir, c.name, asCloudInitSeesIt(c.userdata))));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("mixed: shellcheck passes the prepare script, its postruncmd, and every group's scripts and grub drop-in", { skip: SHELLCHECK }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "host-shellcheck-"));
  try {
    const r = await shellcheck(MIXED_CASES.flatMap((c) => checkedShell(dir, c)));
    assert.equal(r.output, "");
    assert.equal(r.status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The checks must be able to fail: feed each tool something broken and expect it to say so.
test("the cloud-init check fails on a broken userdata", { skip: CLOUD_INIT }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "host-conformance-"));
  try {
    const broken = asCloudInitSeesIt("write_files:\n  - path: /etc/x\n    content: x\n    permissions: 644\n");
    await assert.rejects(cloudInitSchema(dir, "broken", broken), /permissions: 644 is not of type 'string'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the shellcheck check fails on a broken command", { skip: SHELLCHECK }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "host-shellcheck-"));
  try {
    const file = path.join(dir, "broken.sh");
    writeFileSync(file, "#!/bin/sh\nif [ -e $1 ]; then echo present; fi\n");
    const r = await shellcheck([file]);
    assert.notEqual(r.status, 0);
    assert.match(r.output, /SC2086/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
