// `pci-passthrough:juju`: the model that holds the cloud, where it lives, the Juju CLI's version, and what the
// stack may do to it (docs/domain.md, "Juju models and cloudinit-userdata").
import { z } from "zod";
import { JUJU_MODEL_NAME } from "../../domain/juju";
import { bool, mapping, quote } from "../primitives";

const jujuVersion = z.union([z.number(), z.string()], { error: "expected the Juju version, 2.9 or 3" }).transform((v, ctx) => {
  const s = String(v).trim();
  if (/^2\.9(\.\d+)*$/.test(s)) return "2.9" as const;
  if (/^3(\.\d+)*$/.test(s)) return "3" as const;
  ctx.addIssue({ code: "custom", message: `${quote(v)} is not a supported Juju version (2.9 or 3)` });
  return z.NEVER;
});

export const jujuSchema = mapping({
    /** The model that holds (or will hold) the OpenStack deployment. */
    model: z
      .string({ error: "expected a model name" })
      .regex(JUJU_MODEL_NAME, {
        error: (i) => `${quote(i.input)} is not a Juju model name (lowercase letters, digits and hyphens, not starting with a hyphen)`,
      }),
    /** Cloud (and region, `cloud/region`) for `juju add-model`. */
    cloud: z
      .string({ error: "expected a cloud name" })
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)?$/, { error: (i) => `${quote(i.input)} is not a cloud[/region]` })
      .optional(),
    /** Controller to use (`-c`); the current one when left out. */
    controller: z
      .string({ error: "expected a controller name" })
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { error: (i) => `${quote(i.input)} is not a controller name` })
      .optional(),
    /** Juju CLI major version: flags differ between 2.9 and 3. */
    version: jujuVersion.default("3"),
    /** Adopt a model that already runs the cloud: only set its model-config. */
    existingModel: bool.default(false),
    /** Destroy the model when the stack is deleted. Off by default: a model holds the whole cloud. */
    destroyModelOnDelete: bool.default(false),
  })
  .superRefine((j, ctx) => {
    if (j.existingModel && j.destroyModelOnDelete) {
      ctx.addIssue({
        code: "custom",
        path: ["destroyModelOnDelete"],
        message: "cannot be true with existingModel: a model this stack adopted is never destroyed by it",
      });
    }
  });
