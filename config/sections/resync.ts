// `pci-passthrough:resync`: a token whose every new value re-runs the steps' idempotent updates in place.
import { z } from "zod";
import { quote } from "../primitives";

/** Any new value re-runs every maas/juju step's idempotent update in place (drift repair). */
export const resyncSchema = z
  .union([z.string(), z.number()], { error: "expected a string or number, e.g. the date" })
  .transform(String)
  .refine((s) => /^[A-Za-z0-9_.:+-]{1,64}$/.test(s), { error: (i) => `${quote(i.input)} is not a resync token (letters, digits, _ . : + -; at most 64)` });
