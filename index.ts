// The Pulumi program: one site per stack. Reads and validates the stack's `pci-passthrough:*` config
// before any resource is registered.
import * as pulumi from "@pulumi/pulumi";
import { requireSiteConfig } from "./components/config";
import { fromRuntimeConfig } from "./components/config-source";

const site = requireSiteConfig(fromRuntimeConfig(pulumi.runtime.allConfig()));

export const tag = site.maas.tag;
export const model = site.juju.model;
