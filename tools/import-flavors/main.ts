// `npm run import-flavors -- <stack> [--stack-file FILE] [--out FILE]`: moves a site's Nova flavors, made by
// commands.sh (or by hand), under the program. It reads Nova's flavors (`openstack flavor list --long`, one
// call, the usual OS_* credentials) and writes the `pulumi import --file` document for those Nova
// has as the stack declares them (tools/import-flavors/plan.ts). Then:
//   pulumi import --file import.json --protect=false --generate-code=false --yes && pulumi up
// Exit 0 written (or nothing to import), 1 a flavor differs from the stack (fix it, or let the program
// replace it: delete it by hand), 2 config or usage, 3 Nova could not be read.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { renderSite } from "../../render/site";
import { runtimeConfig, runProgram } from "../lib/mock-program";
import { report } from "../lib/findings";
import { compareFlavors, listFlavors } from "../lib/openstack";
import { flavorImportPlan } from "./plan";
import { loadStack } from "../lib/stack-file";
import { getVersion } from "@pulumi/openstack/utilities";

const USAGE = "usage: npm run import-flavors -- <stack> [--stack-file FILE] [--out FILE]\n";

function usage(message: string): never {
  process.stderr.write(`import-flavors: ${message}\n${USAGE}`);
  process.exit(2);
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { "stack-file": { type: "string" }, out: { type: "string" } } });
  } catch (e) {
    usage((e as Error).message);
  }
  const { stack, file: stackFile, site } = loadStack(parsed.positionals, parsed.values["stack-file"], usage);
  if (site === undefined) return 2;
  // The program's own resources (names, types, parents), as `pulumi up` registers them.
  process.setSourceMapsEnabled(false);
  const run = await runProgram({ ...runtimeConfig(stackFile), stack });
  if (run.error) throw run.error;
  // The provider version the SDK registers its resources with (@pulumi/openstack utilities.js getVersion).
  const version = getVersion();
  const flavors = renderSite(site).flavors;
  const list = await listFlavors();
  if ("error" in list) {
    process.stderr.write(report(compareFlavors(flavors, list)));
    process.stderr.write("import-flavors: could not read every flavor from Nova: nothing written\n");
    return 3;
  }
  const plan = flavorImportPlan(run.resources, flavors, (name) => list.flavors.get(name), version, `pci-passthrough-${stack}`);
  if (plan.problems.length > 0) {
    process.stderr.write(report(plan.problems));
    process.stderr.write(
      plan.problems.some((p) => p.status === "unreachable")
        ? "import-flavors: could not read every flavor from Nova: nothing written\n"
        : "import-flavors: Nova has these flavors otherwise than the stack declares; Pulumi would refuse to import them as they are. " +
            "Make them match (or delete them, and `pulumi up` creates them): nothing written\n",
    );
    return plan.problems.some((p) => p.status === "unreachable") ? 3 : 1;
  }
  for (const name of plan.absent) process.stderr.write(`import-flavors: Nova has no flavor ${name}: \`pulumi up\` creates it\n`);
  if (plan.imported.length === 0) {
    process.stderr.write("import-flavors: no flavor to import\n");
    return 0;
  }
  const text = JSON.stringify(plan.file, null, 2) + "\n";
  if (parsed.values.out !== undefined) writeFileSync(parsed.values.out, text);
  else process.stdout.write(text);
  const where = parsed.values.out ?? "import.json";
  process.stderr.write(
    `import-flavors: ${plan.imported.join(", ")}: then \`pulumi import --file ${where} --protect=false --generate-code=false --yes\` and \`pulumi up\`\n`,
  );
  return 0;
}

// The exit code is set, not forced: the program under mocks settles its promises as the process ends (a forced
// exit would have @pulumi/pulumi report them as leaked).
main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: Error) => {
    process.stderr.write(`import-flavors: ${e.message}\n`);
    process.exitCode = 2;
  },
);
