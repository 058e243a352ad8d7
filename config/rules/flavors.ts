// A flavor asks for aliases that exist, and some kind of host has every device it asks for on one host
// (docs/domain.md, "Nova: PCI aliases, device specs and flavors").
import { devicesPerHost, flavorGroups } from "../../domain/nova-pci";
import { formatPath, type ConfigProblem, type PathPart } from "../problems";
import type { DeviceConfig, FlavorConfig } from "../types";
import type { Groups } from "./view";

/** What a group's hosts offer per alias, as "gpu:2, nic:1". */
const offer = (devices: readonly DeviceConfig[]) =>
  [...devicesPerHost(devices)].map(([a, n]) => `${a}:${n}`).join(", ");

/** The flavor rules: a flavor's alias against the raw device aliases when some device has other problems, device
 * counts only when every group parsed. */
export function flavorProblems(flavors: readonly FlavorConfig[] | undefined, groups: Groups): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (path: PathPart[], message: string) => problems.push({ path: formatPath(path), message });
  const all = groups.parsed;

  // Flavors: every alias defined somewhere, and one group whose hosts have every device the flavor asks for.
  const known = all
    ? new Set(all.flatMap((g) => g.devices.map((d) => d.alias)))
    : groups.views.every((v) => v.rawAliases)
      ? new Set(groups.views.flatMap((v) => [...v.rawAliases!]))
      : undefined;
  if (flavors && known && known.size > 0) {
    const single = all?.length === 1 || (!all && groups.views.length === 1);
    flavors.forEach((f, i) => {
      const asked = Object.entries(f.pci);
      const perHost = all && single ? devicesPerHost(all[0]!.devices) : undefined;
      for (const [alias, count] of asked) {
        const have = perHost?.get(alias);
        if (!known.has(alias)) {
          add(["flavors", i, "pci", alias], `alias "${alias}" is not defined in ${single ? "devices" : "any host group"} (known: ${[...known].join(", ")})`);
        } else if (have !== undefined && count > have) {
          add(["flavors", i, "pci", alias], `asks for ${count} "${alias}" devices but a GPU host has ${have}`);
        }
      }
      if (all && !single && asked.every(([alias]) => known.has(alias)) && flavorGroups(all, f).length === 0) {
        add(
          ["flavors", i, "pci"],
          `no host group has ${asked.map(([a, n]) => `${a}:${n}`).join(", ")} on one host (${all.map((g) => `${g.name} has ${offer(g.devices)}`).join("; ")})`,
        );
      }
    });
  }

  return problems;
}
