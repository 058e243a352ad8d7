// `pci-passthrough:flavors`: the Nova flavors that ask for the devices, with their own extra specs (docs/domain.md,
// "Nova: PCI aliases, device specs and flavors").
import { z } from "zod";
import { ALWAYS, intFrom, mapping, name, quote, unique } from "../primitives";

export const flavorSchema = mapping({
  name: name("flavor name").refine((s) => s.length <= 255, { error: "is longer than 255 characters" }),
  /** MB */
  ram: intFrom(1),
  vcpus: intFrom(1),
  /** GB */
  disk: intFrom(0),
  /** Devices per alias, e.g. `{ gpu: 1 }` -> `pci_passthrough:alias=gpu:1`. */
  pci: z
    .record(z.string(), intFrom(1), { error: "expected a mapping of alias to device count, e.g. { gpu: 1 }" })
    .refine((r) => Object.keys(r).length > 0, { error: "ask for at least one device, e.g. { gpu: 1 }" }),
  /** Further flavor extra specs, e.g. `hw:pci_numa_affinity_policy: preferred`. */
  extraSpecs: z
    .record(
      // Nova's extra spec key pattern (nova/api/validation/parameter_types.py) without the blank, which
      // `openstack flavor set --property k=v` and commands.sh's stale-key loop cannot carry.
      z.string().regex(/^[a-zA-Z0-9_:.-]{1,255}$/, { error: (i) => `${quote(i.input)} is not an extra spec key (letters, digits, _ : . -)` }),
      z.union([z.string(), z.number(), z.boolean()], { error: "expected a string, number or boolean" }).transform(String),
      { error: (i) => (i.code === "invalid_type" ? "expected a mapping of extra spec to value" : undefined) },
    )
    .superRefine((specs, ctx) => {
      if ("pci_passthrough:alias" in specs) {
        ctx.addIssue({
          code: "custom",
          path: ["pci_passthrough:alias"],
          message: "is derived from pci; set the devices there instead",
        });
      }
    })
    .default({}),
});

/** `pci-passthrough:flavors`: the GPU flavors, names unique. */
export const flavorsSchema = z
  .array(flavorSchema, { error: "expected a list of flavors" })
  .superRefine(unique("flavor name", (f) => f.name), ALWAYS)
  .default([]);
