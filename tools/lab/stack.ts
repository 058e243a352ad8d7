// A stack's validated SiteConfig, read from Pulumi.<stack>.yaml (or the given file) the way the offline render
// reads it.
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { fromStackFile } from "../../config/stack";
import { requireSiteConfig } from "../../config/parse";
import type { SiteConfig } from "../../config/types";
import { REPO } from "./paths";
import { LabError } from "./process";

export function loadSite(stack: string, stackFile?: string): SiteConfig {
  const file = stackFile !== undefined ? path.resolve(stackFile) : path.join(REPO, `Pulumi.${stack}.yaml`);
  if (!existsSync(file)) throw new LabError(`no stack file ${path.relative(REPO, file)} (a stack is a Pulumi.<stack>.yaml)`, 2);
  return requireSiteConfig(fromStackFile(readFileSync(file, "utf8")).raw);
}
