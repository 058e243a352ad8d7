// nova-api's one-time database setup, and its `[pci] alias` lines taken from the site's own rendering.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { allDevices, type SiteConfig } from "../../config/types";
import { pciAliasEntries } from "../../render/nova/aliases";
import { DEB_CACHE, REPO, type LabPaths } from "./paths";
import { INSTALL_HINT, PYTHON } from "./packages";
import { LabError, mustRun, run } from "./process";
import { sqliteWal } from "./keystone";

/** nova.conf `[pci] alias` values for a site: one JSON object per line, the entries rendered for the charms. */
export function aliasLines(site: SiteConfig): string[] {
  return pciAliasEntries(allDevices(site)).map((entry) => JSON.stringify(entry));
}

/** nova-manage ships in nova-common (not installed); python3-nova has the same entry point. */
function novaManage(p: LabPaths, args: string[], env: NodeJS.ProcessEnv) {
  return mustRun(`nova-manage ${args.join(" ")}`, PYTHON, [
    "-c",
    "import sys; from nova.cmd.manage import main; sys.argv[0] = 'nova-manage'; sys.exit(main())",
    "--config-file",
    p.nova.conf,
    // Named, or oslo.log calls it after the outermost frame's file: "<string>.log".
    "--log-file",
    path.join(p.nova.dir, "nova-manage.log"),
    ...args,
  ], env);
}

/** `api_db sync` (flavors live there) and `db sync --local_cell` (nova-api registers its service row there
 * at start), once per state folder (marker file `ready`). The two databases are independent: both at once. */
export async function setupNova(p: LabPaths, env: NodeJS.ProcessEnv): Promise<void> {
  const n = p.nova;
  if (existsSync(n.ready)) return;
  rmSync(n.apiDb, { force: true });
  rmSync(n.db, { force: true });
  await Promise.all([
    novaManage(p, ["api_db", "sync"], env).then(() => sqliteWal(n.apiDb)),
    novaManage(p, ["db", "sync", "--local_cell"], env).then(() => sqliteWal(n.db)),
  ]);
  writeFileSync(n.ready, new Date().toISOString() + "\n");
}

const cachedDeb = (): string | undefined => {
  if (!existsSync(DEB_CACHE)) return undefined;
  const debs = readdirSync(DEB_CACHE).filter((f) => /^nova-common_.*\.deb$/.test(f)).sort();
  const last = debs[debs.length - 1];
  return last === undefined ? undefined : path.join(DEB_CACHE, last);
};

/** Where Debian's nova-common keeps api-paste.ini (its postinst copies it to /etc/nova), and upstream's place. */
const API_PASTE_IN_DEB = ["usr/share/nova-common/api-paste.ini", "etc/nova/api-paste.ini"];

/**
 * nova-api's api-paste.ini, extracted from nova-common's .deb without installing the package (it brings
 * service scripts and dbconfig prompts). The .deb comes from install-lab-packages.sh's cache, or is
 * downloaded into it here (`apt-get download` needs no root).
 */
export async function ensureApiPaste(p: LabPaths): Promise<void> {
  if (existsSync(p.nova.apiPaste)) return;
  let deb = cachedDeb();
  if (deb === undefined) {
    mkdirSync(DEB_CACHE, { recursive: true });
    const r = await run("sh", ["-c", 'cd "$1" && apt-get download nova-common', "sh", DEB_CACHE]);
    deb = cachedDeb();
    if (r.code !== 0 || deb === undefined) {
      throw new LabError(
        `nova-api needs api-paste.ini from nova-common's .deb, which is not cached in ${path.relative(REPO, DEB_CACHE)}/ ` +
          `and \`apt-get download nova-common\` failed: ${INSTALL_HINT}\n${r.stderr.trim()}`,
        4,
      );
    }
  }
  const scratch = mkdtempSync(path.join(tmpdir(), "lab-nova-common-"));
  try {
    await mustRun("extracting nova-common", "dpkg-deb", ["-x", deb, scratch]);
    const found = API_PASTE_IN_DEB.map((f) => path.join(scratch, f)).find((f) => existsSync(f));
    if (found === undefined) throw new LabError(`${deb} holds no api-paste.ini (looked for ${API_PASTE_IN_DEB.join(", ")})`);
    mkdirSync(p.nova.dir, { recursive: true });
    copyFileSync(found, p.nova.apiPaste);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
