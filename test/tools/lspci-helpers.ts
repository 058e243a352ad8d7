// What the import-lspci tests share: the lspci captures, the selections worth a golden snippet, and the CLI.
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import type { Selection } from "../../tools/import-lspci/import";
import { ROOT } from "../helpers";

export const FIXTURES = path.join(ROOT, "test", "fixtures", "lspci");
export const fixture = (name: string): string => readFileSync(path.join(FIXTURES, name), "utf8");
export const select = (s: Partial<Selection>): Selection => ({ classes: [], ids: [], ...s });

/** Every fixture with the selections worth a golden snippet. */
export const CASES: { golden: string; file: string; args: string[]; selection?: Selection }[] = [
  { golden: "lspci-runbook.yaml", file: "runbook-nn.txt", args: [] },
  { golden: "lspci-nvidia-multi-gpu.yaml", file: "nvidia-multi-gpu-nnk.txt", args: [] },
  { golden: "lspci-nvidia-p5000-by-id.yaml", file: "nvidia-multi-gpu-nnk.txt", args: ["--id", "10de:1bb0"], selection: select({ ids: ["10de:1bb0"] }) },
  { golden: "lspci-amd-gpu.yaml", file: "amd-gpu-nnk.txt", args: [] },
  { golden: "lspci-intel-nic-class02.yaml", file: "intel-nic-nnk.txt", args: ["--class", "02"], selection: select({ classes: ["02"] }) },
  { golden: "lspci-intel-nic-e810.yaml", file: "intel-nic-nnk.txt", args: ["--id", "8086:1592"], selection: select({ ids: ["8086:1592"] }) },
  { golden: "lspci-tesla-domain.yaml", file: "tesla-domain-Dnnk.txt", args: [] },
  { golden: "lspci-intel-e810-sriov.yaml", file: "intel-e810-sriov-nnvvv.txt", args: ["--class", "02"], selection: select({ classes: ["02"] }) },
  { golden: "lspci-intel-e810-not-root.yaml", file: "intel-e810-user-nnkvvv.txt", args: ["--id", "8086:1592"], selection: select({ ids: ["8086:1592"] }) },
  { golden: "lspci-quadro-p5000-vvv.yaml", file: "quadro-p5000-nnkvvv.txt", args: [] },
];

// -nn and -nnk cannot show capabilities: the importer says so, because an SR-IOV device needs type-PF.
export const SRIOV_UNKNOWN =
  "SR-IOV capability not known: the input has no `Capabilities` lines (use `sudo lspci -nnkvvv`); a device that can do SR-IOV needs deviceType: type-PF";

/** Runs the CLI the way `npm run import-lspci` does (tsx), from the repository root. */
export function cli(args: string[], input?: string) {
  const r = spawnSync(process.execPath, ["--import", "tsx", "tools/import-lspci/main.ts", ...args], {
    cwd: ROOT,
    input: input ?? "",
    encoding: "utf8",
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
