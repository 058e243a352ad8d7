// The Debian packages the lab runs from (docs/development.md, the lab), each with a probe that tells whether
// it is installed, so a missing one is named instead of surfacing as a Python traceback.
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";

/** Debian's Python: the OpenStack libraries live in its dist-packages, not in a pyenv or venv python3. */
export const PYTHON = "/usr/bin/python3";
export const UWSGI = "/usr/bin/uwsgi-core";
export const OPENSTACK = "/usr/bin/openstack";
export const KEYSTONE_MANAGE = "/usr/bin/keystone-manage";
export const KEYSTONE_WSGI = "/usr/bin/keystone-wsgi-public";
/** uwsgi-core finds `plugins = python3` here (an alternatives link owned by uwsgi-plugin-python3). */
export const UWSGI_PYTHON3_PLUGIN = "/usr/lib/uwsgi/plugins/python3_plugin.so";

export const INSTALL_HINT = "run tools/lab/install-packages.sh (as root) to install them";

const importable = (module: string) => () =>
  spawnSync(PYTHON, ["-c", `import ${module}`], { stdio: "ignore" }).status === 0;

const files = (...paths: string[]) => () => paths.every((f) => existsSync(f));

/** Every package, in install order, with its probe. */
export const LAB_PACKAGES: ReadonlyArray<{ readonly name: string; readonly present: () => boolean }> = [
  { name: "python3-nova", present: importable("nova") },
  { name: "python3-keystone", present: () => files(KEYSTONE_MANAGE, KEYSTONE_WSGI)() && importable("keystone")() },
  { name: "python3-openstackclient", present: files(OPENSTACK) },
  { name: "uwsgi-core", present: files(UWSGI) },
  { name: "uwsgi-plugin-python3", present: files(UWSGI_PYTHON3_PLUGIN) },
];

/** The Debian packages that are not installed. */
export function missingPackages(): string[] {
  if (!existsSync(PYTHON)) return LAB_PACKAGES.map((p) => p.name);
  return LAB_PACKAGES.filter((p) => !p.present()).map((p) => p.name);
}
