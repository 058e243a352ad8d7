// `pci-passthrough:runner`: the jump host the maas and juju steps run on, over SSH, with its pinned host key.
import { z } from "zod";
import { parseHostKey } from "../../domain/ssh";
import { SECRET_PLACEHOLDER } from "../problems";
import { intFrom, mapping, quote } from "../primitives";

export const runnerSchema = mapping({
  /** Jump host that has the maas and juju CLIs logged in. */
  host: z
    .string({ error: "expected a host name or address" })
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, { error: (i) => `${quote(i.input)} is not a host name or address` }),
  user: z
    .string({ error: "expected a user name" })
    .regex(/^[a-z_][a-z0-9_.-]*$/, { error: (i) => `${quote(i.input)} is not a user name` }),
  port: intFrom(1, 65535).default(22),
  /** SSH private key (PEM); always handled as a secret and never echoed. Without it, ssh uses the
   * operator's agent and ~/.ssh/config. */
  privateKey: z
    .string({ error: "expected an SSH private key" })
    .refine((s) => s === SECRET_PLACEHOLDER || /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(s), {
      error: "is not a PEM private key (-----BEGIN ... PRIVATE KEY-----)",
    })
    .optional(),
  /** The jump host's public host key, the `ssh-ed25519 AAAA...` line of `ssh-keyscan HOST` without the
   * host name: pinned, a host that shows another key is refused. */
  hostKey: z
    .string({ error: "expected a host key line such as \"ssh-ed25519 AAAA...\"" })
    .transform((s, ctx) => {
      const key = parseHostKey(s);
      if (!key) {
        ctx.addIssue({
          code: "custom",
          message: `${quote(s.length > 40 ? `${s.slice(0, 40)}...` : s)} is not a host key (expected "<type> <base64>", e.g. the ssh-ed25519 line of ssh-keyscan)`,
        });
        return z.NEVER;
      }
      return key;
    })
    .optional(),
});
