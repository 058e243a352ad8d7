// The smoke test's binding check (render/steps/juju.ts bindingCheckScript), run for real on a fake GPU
// host (test/fake-host.ts): it must list each configured device and every function of its IOMMU group with a
// configured vendor:product (a GPU's HDMI audio), once each, and nothing else of the host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { SYS_PCI_DEVICES, bindingCheckScript } from "../../render/steps/juju";
import { withFakeHost, type FakeFunction } from "../fake-host";
import { loadStack } from "../helpers";

/** lspci -Dnnk -s ADDR as the fake sysfs shows it: the function's line with [vendor:product], and its driver. */
const LSPCI = `#!/bin/sh
d="$SYSFS_ROOT/bus/pci/devices/$3"
v=$(cat "$d/vendor"); p=$(cat "$d/device")
printf '%s Fake function [%s:%s]\\n' "$3" "\${v#0x}" "\${p#0x}"
if [ -e "$d/driver" ]; then drv=$(readlink "$d/driver"); printf '\\tKernel driver in use: %s\\n' "\${drv##*/}"; fi
`;

/** Runs the binding check of `group` on a fake host with `functions`, lspci answering from its sysfs. */
function runCheck(group: Parameters<typeof bindingCheckScript>[0], functions: readonly FakeFunction[], fn: (r: { status: number | null; stdout: string; stderr: string }) => void): void {
  withFakeHost(functions, {}, (h) => {
    writeFileSync(path.join(h.bin, "lspci"), LSPCI);
    chmodSync(path.join(h.bin, "lspci"), 0o755);
    fn(h.run(bindingCheckScript(group).replaceAll(SYS_PCI_DEVICES, "$SYSFS_ROOT/bus/pci/devices")));
  });
}

test("the binding check lists each device and its group's configured functions once, and nothing else", () => {
  const dev = loadStack("dev").groups[0]!;
  const host: FakeFunction[] = [
    { address: "0000:01:00.0", id: "8086:1521", driver: "igb", group: 3 },
    { address: "0000:83:00.0", id: "10de:1bb0", driver: "vfio-pci", group: 30 },
    { address: "0000:83:00.1", id: "10de:10f0", driver: "snd_hda_intel", group: 30 },
    // A root port in the same group: not a configured id, not listed.
    { address: "0000:80:01.0", id: "8086:2030", driver: "pcieport", group: 30 },
    // Both GPUs of the second slot in one group: each listed once.
    { address: "0000:84:00.0", id: "10de:1bb0", driver: "vfio-pci", group: 31 },
    { address: "0000:84:00.1", id: "10de:10f0", driver: "vfio-pci", group: 31 },
  ];
  runCheck(dev, host, (r) => {
    assert.equal(r.stderr, "");
    assert.equal(r.status, 0);
    assert.equal(
      r.stdout,
      [
        "0000:83:00.0 Fake function [10de:1bb0]",
        "\tKernel driver in use: vfio-pci",
        "0000:83:00.1 Fake function [10de:10f0]",
        "\tKernel driver in use: snd_hda_intel",
        "0000:84:00.0 Fake function [10de:1bb0]",
        "\tKernel driver in use: vfio-pci",
        "0000:84:00.1 Fake function [10de:10f0]",
        "\tKernel driver in use: vfio-pci",
        "",
      ].join("\n"),
    );
  });
});

test("the binding check lists nothing on a host without the devices", () => {
  runCheck(loadStack("dev").groups[0]!, [{ address: "0000:83:00.0", id: "8086:1593", driver: "ice", group: 7 }], (r) => {
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "");
  });
});
