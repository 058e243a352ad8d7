// `pci-passthrough:smokeTest`: servers booted with and without a GPU flavor, on an image and a network of the
// operator's (runbook: "Boot an instance").
import { z } from "zod";
import { ALWAYS, bool, mapping, name, unique } from "../primitives";

export const smokeTestSchema = mapping({
  /** false: no smoke-test server and no vfio-pci check is rendered or created (the flavors still are), the
   * keys below kept for later: e.g. a stack pointed at a cloud without an image service or networks, like
   * the OpenStack API lab. */
  enabled: bool.default(true),
  /** Glance image name or ID. */
  image: name("image name or ID"),
  /** Network name or ID for the servers' NIC. */
  network: name("network name or ID"),
  keyPair: name("key pair name").optional(),
  servers: z
    .array(mapping({ name: name("server name"), flavor: name("flavor name") }), { error: "expected a list of servers" })
    .min(1, { error: "list at least one server" })
    .superRefine(unique("server name", (s) => s.name), ALWAYS),
});
