// Within a host group: an address listed once, entries sharing an alias agree, a companion is not the device
// itself.
import { deviceId } from "../../domain/pci";
import { formatPath, type ConfigProblem, type PathPart } from "../problems";
import { quote } from "../primitives";
import type { DeviceConfig } from "../types";
import type { GroupView } from "./view";

/** The device rules of each group, on every device that parsed. */
export function deviceProblems(views: readonly GroupView[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (path: PathPart[], message: string) => problems.push({ path: formatPath(path), message });

  for (const view of views) {
    const at = (i: number, ...rest: PathPart[]) => [...view.base, "devices", i, ...rest];
    const seen = new Map<string, string>();
    for (const [i, d] of view.devices) {
      d.addresses.forEach((a, j) => {
        const first = seen.get(a);
        if (first !== undefined) add(at(i, "addresses", j), `address ${a} is already listed at ${first}`);
        else seen.set(a, formatPath(at(i, "addresses", j)));
      });
    }
    const byAlias = new Map<string, { index: number; device: DeviceConfig }>();
    for (const [i, d] of view.devices) {
      const first = byAlias.get(d.alias);
      if (!first) {
        byAlias.set(d.alias, { index: i, device: d });
        continue;
      }
      for (const key of ["deviceType", "numaPolicy"] as const) {
        if (d[key] !== first.device[key]) {
          add(
            at(i, key),
            `alias "${d.alias}" has ${key} ${quote(d[key] ?? "unset")} here but ${quote(first.device[key] ?? "unset")} at devices[${first.index}]; entries sharing an alias must agree`,
          );
        }
      }
    }
    for (const [i, d] of view.devices) {
      d.companions.forEach((id, j) => {
        if (id === deviceId(d)) add(at(i, "companions", j), `${id} is the device itself, not a companion`);
      });
    }
  }

  return problems;
}
