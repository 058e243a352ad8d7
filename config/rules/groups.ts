// Across host groups: what cannot work in one model and one MAAS (docs/domain.md, "The OpenStack charms" and
// "Nova: PCI aliases, device specs and flavors").
import { CHARM_APPS } from "../../domain/charms";
import { deviceId } from "../../domain/pci";
import { formatPath, type ConfigProblem, type PathPart } from "../problems";
import { quote } from "../primitives";
import type { DeviceConfig, HostGroup } from "../types";

/** The vendor:product ids an alias means in a list of devices. */
const aliasIds = (devices: readonly DeviceConfig[], alias: string): string[] =>
  [...new Set(devices.filter((d) => d.alias === alias).map(deviceId))].sort();

/** The rules across groups, when every group parsed and there are several. */
export function groupProblems(all: readonly HostGroup[] | undefined): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (path: PathPart[], message: string) => problems.push({ path: formatPath(path), message });

  if (all && all.length > 1) {
    const firstOf = new Map<string, string>();
    const once = (key: string, path: PathPart[], what: string) => {
      const first = firstOf.get(key);
      if (first !== undefined) add(path, `${what} is also ${first}'s: every group needs its own`);
      else firstOf.set(key, formatPath(path.slice(0, 2)));
    };
    all.forEach((g, i) => {
      once(`tag ${g.maas.tag}`, ["hostGroups", i, "maas", "tag"], `tag ${quote(g.maas.tag)}`);
      once(`app ${g.application}`, ["hostGroups", i, "application"], `application ${quote(g.application)}`);
      (g.maas.machines ?? []).forEach((m, j) => once(`machine ${m}`, ["hostGroups", i, "maas", "machines", j], `machine ${quote(m)}`));
    });
    // Charm options are per application: every unit of the group's application gets its whitelist, whatever
    // machine it runs on, and Nova attaches a whitelisted device with libvirt managed="yes", taking it from the
    // host's driver when a guest starts; the group's tag and the prepare script never reach Nova. In a site with
    // host groups the bundle's own nova-compute is the application of the compute hosts of no group (each kind of
    // GPU host has its own, `npm run import-lspci`): a group on it hands whatever those hosts have at its
    // addresses to guests, unless the group's tag follows the devices (selectByDevice: a host with the device is
    // then a host of the group). An application the overlay adds runs on the group's tag only.
    all.forEach((g, i) => {
      if (g.application !== CHARM_APPS.compute || g.addToBundle || g.maas.selectByDevice) return;
      const d = g.devices[0]!;
      const selection = g.maas.machines !== undefined ? "maas.machines" : "maas.definition";
      add(
        ["hostGroups", i, "application"],
        `${CHARM_APPS.compute} is the bundle's own application, which with host groups runs the compute hosts of no group too: ` +
          `charm options are per application, so its pci-passthrough-whitelist reaches every one of them, and any with ${deviceId(d)} at ` +
          `${d.addresses[0]} would offer it to guests (Nova takes it from the host's driver when a guest starts); the group's ${selection} ` +
          `does not reach Nova. Give the group its own application (e.g. ${CHARM_APPS.compute}-${g.name}, which the bundle overlay ` +
          `adds with constraints tags=${g.maas.tag}), or select its hosts by device (maas.selectByDevice: true)`,
      );
    });
    // selectByDevice tags the machines that have a group's device: another group's device in it would put
    // a machine with both in two groups.
    all.forEach((g, i) => {
      if (!g.maas.selectByDevice) return;
      g.devices.forEach((d, j) => {
        const id = deviceId(d);
        const other = all.find((h, k) => k !== i && h.devices.some((e) => deviceId(e) === id));
        if (other) add(["hostGroups", i, "devices", j], `${id} is also a device of group ${quote(other.name)}: selectByDevice would put its hosts in both groups`);
      });
    });
    // pci-alias is one list for the whole cloud: an alias name must mean the same devices everywhere.
    const meaning = new Map<string, { ids: string; group: HostGroup; device: DeviceConfig }>();
    all.forEach((g, i) =>
      g.devices.forEach((d, j) => {
        const ids = aliasIds(g.devices, d.alias).join(" ");
        const first = meaning.get(d.alias);
        if (!first) meaning.set(d.alias, { ids, group: g, device: d });
        else if (first.group !== g) {
          if (first.ids !== ids) {
            add(["hostGroups", i, "devices", j, "alias"], `alias "${d.alias}" means ${ids} here but ${first.ids} in group ${quote(first.group.name)}: one alias, one meaning across the cloud`);
          } else {
            for (const key of ["deviceType", "numaPolicy"] as const) {
              if (d[key] !== first.device[key]) {
                add(["hostGroups", i, "devices", j, key], `alias "${d.alias}" has ${key} ${quote(d[key] ?? "unset")} here but ${quote(first.device[key] ?? "unset")} in group ${quote(first.group.name)}; entries sharing an alias must agree`);
              }
            }
          }
        }
      }),
    );
  }

  return problems;
}
