// The Juju steps (docs/domain.md, "Juju models and cloudinit-userdata"): the model and its cloudinit-userdata,
// the protected step that destroys it with the stack (when asked), the charm options, and the smoke test's check
// that the GPU hosts have vfio-pci bound. Each takes the model (`juju` config) and the values it sets.
//
// How juju answers (juju/cmd cmd.go Main): output on stdout, an error as "ERROR <message>" on stderr with
// exit 1 (2 for refused arguments), whatever the cause: a model or application that is not there and a
// controller that cannot be reached look alike but for the text. So whether a model or an application
// exists is read from `--format json` data (juju/cmd output.go FormatJson): `juju models` lists the
// controller's models, `juju status` the model's applications. A failing call stops the step, with juju's
// own words on stderr.
import type { HostGroup, JujuConfig } from "../../config/types";
import { configuredAddresses, vfioIds } from "../host/kernel";
import { shellCommand, shellQuote } from "../shell";
import { resyncEnv, script, tempFileFrom, type CommandSpec } from "./script";

/** The model's place: its name and, when given, its controller. */
export type ModelRef = Pick<JujuConfig, "model" | "controller">;

/** `-m` argument: `controller:model` when a controller is given. */
export function modelRef(juju: ModelRef): string {
  return juju.controller ? `${juju.controller}:${juju.model}` : juju.model;
}

/** `juju models [-c CONTROLLER] --format json`: the controller's models. */
export function modelsArgv(juju: Pick<JujuConfig, "controller">): string[] {
  return ["juju", "models", ...(juju.controller ? ["-c", juju.controller] : []), "--format", "json"];
}

/** Reads `juju models --format json` (cmd/juju/controller/listmodels.go ModelSet) on stdin; its argument is
 * the model's name. Prints 1 when one of the models has that short name, else 0. */
export const MODEL_LISTED = `python3 -c 'import json, sys; print(1 if any(m.get("short-name") == sys.argv[1] for m in json.load(sys.stdin).get("models") or []) else 0)'`;

/** Lines that set `$model_exists` (1/0) from `juju models`. */
function modelExistsLines(juju: ModelRef): string[] {
  return [
    `models=$(${shellCommand(modelsArgv(juju))}) || fail "juju models failed: cannot tell whether model ${modelRef(juju)} exists"`,
    `model_exists=$(printf '%s' "$models" | ${MODEL_LISTED} ${shellQuote(juju.model)}) || fail "cannot read juju models' answer"`,
  ];
}

/** `juju status -m MODEL --format json`: the model's applications. */
export function statusArgv(juju: ModelRef): string[] {
  return ["juju", "status", "-m", modelRef(juju), "--format", "json"];
}

/** Reads `juju status --format json` (cmd/juju/status formattedStatus: `applications` by name) on stdin; its
 * arguments are application names. Prints those the model does not have, on one line. */
export const APPS_MISSING = `python3 -c 'import json, sys; apps = json.load(sys.stdin).get("applications") or {}; print(" ".join(a for a in sys.argv[1:] if a not in apps))'`;

/** `juju model-config` with a file: 3.x takes `--file F`; in 2.9 the file is a bare argument. */
function modelConfigFromFile(juju: ModelRef & Pick<JujuConfig, "version">, fileVar: string): string {
  const base = shellCommand(["juju", "model-config", "-m", modelRef(juju)]);
  return juju.version === "2.9" ? `${base} "$${fileVar}"` : `${base} --file "$${fileVar}"`;
}

/** `juju destroy-model` without a prompt: 3.x `--no-prompt`, 2.9 `-y`. Storage is released, not destroyed. */
export function destroyModelArgv(juju: ModelRef & Pick<JujuConfig, "version">): string[] {
  const noPrompt = juju.version === "2.9" ? "-y" : "--no-prompt";
  return ["juju", "destroy-model", noPrompt, "--release-storage", modelRef(juju)];
}

/** The model: `juju add-model --config` when it does not exist (unless adopted), else `model-config`.
 * Its userdata is an environment value, so a change is an in-place update, never a replacement. Deleting
 * it removes nothing: the model holds the whole cloud (see modelTeardownCommand). */
export function jujuModelCommand(juju: JujuConfig, modelConfigYaml: string, resync?: string): CommandSpec {
  const ref = modelRef(juju);
  const model = juju.model;
  const addModel = [
    "juju",
    "add-model",
    model,
    ...(juju.cloud ? [juju.cloud] : []),
    ...(juju.controller ? ["-c", juju.controller] : []),
    "--no-switch",
  ];
  const whenMissing = juju.existingModel
    ? [`  fail "model ${ref} does not exist (juju.existingModel is true: it must already run the cloud)"`]
    : [`  ${shellCommand(addModel)} --config "$cfg" || fail "juju add-model failed"`, `  echo "pci-passthrough: Juju model ${ref} added"`];
  const upsert = [
    ...tempFileFrom("PCIPT_MODEL_CONFIG", "cfg"),
    ...modelExistsLines(juju),
    'if [ "$model_exists" = 1 ]; then',
    `  ${modelConfigFromFile(juju, "cfg")} || fail "juju model-config failed"`,
    `  echo "pci-passthrough: Juju model ${ref} config set"`,
    "else",
    ...whenMissing,
    "fi",
  ];
  return {
    id: "model",
    step: `Juju model ${ref}`,
    script: script(`Juju model ${ref}`, [], { upsert }),
    deletes: false,
    environment: { PCIPT_MODEL_CONFIG: modelConfigYaml, ...resyncEnv(resync) },
    secrets: {},
    retainOnDelete: true,
  };
}

/**
 * With `juju.destroyModelOnDelete`, the one step whose delete destroys the model. Pulumi runs a delete for a
 * stack deletion and for a replacement alike (`--replace`, a changed provider), in either order, so no script
 * can tell them apart: the step is protected, and destroying the model is a deliberate act
 * (`pulumi state unprotect URN`, then `pulumi destroy`; docs/day2.md, "Deleting the stack").
 */
export function modelTeardownCommand(juju: JujuConfig, resync?: string): CommandSpec | undefined {
  if (!juju.destroyModelOnDelete || juju.existingModel) return undefined;
  const ref = modelRef(juju);
  return {
    id: "model-teardown",
    step: `destroy Juju model ${ref} with the stack`,
    script: script(`destroy Juju model ${ref} with the stack`, [], {
      upsert: [`echo "pci-passthrough: Juju model ${ref} is destroyed when this step is deleted; it is protected: pulumi state unprotect it first"`],
      delete: [
        ...modelExistsLines(juju),
        'if [ "$model_exists" = 1 ]; then',
        `  ${shellCommand(destroyModelArgv(juju))} || fail "juju destroy-model failed"`,
        `  echo "pci-passthrough: Juju model ${ref} destroyed"`,
        "else",
        `  echo "pci-passthrough: Juju model ${ref} is already gone"`,
        "fi",
      ],
    }),
    deletes: true,
    environment: { ...resyncEnv(resync) },
    secrets: {},
    protect: true,
  };
}

/** The charm options: one `juju config APP --file F` per application (the file holds both sections).
 * Deleting it removes nothing (docs/day2.md: a replaced step must not reset what the new one set);
 * `charmResetArgv` gives the reset commands for removing a site by hand. */
export function charmConfigCommand(juju: ModelRef, charmConfigYaml: string, apps: readonly string[], resync?: string): CommandSpec {
  const ref = modelRef(juju);
  const m = ["-m", ref];
  const upsert = [
    ...tempFileFrom("PCIPT_CHARM_CONFIG", "cfg"),
    `status=$(${shellCommand(statusArgv(juju))}) || fail "juju status failed: cannot tell which applications model ${ref} has"`,
    `missing=$(printf '%s' "$status" | ${APPS_MISSING} ${apps.map(shellQuote).join(" ")}) || fail "cannot read juju status' answer"`,
    `for app in $missing; do fail "application $app is not deployed in model ${ref}: deploy OpenStack first (see bundle-overlay.yaml)"; done`,
    ...apps.map((app) => `${shellCommand(["juju", "config", ...m, app])} --file "$cfg" || fail "juju config ${app} failed"`),
    `echo "pci-passthrough: options set on ${apps.join(", ")}"`,
  ];
  return {
    id: "charm-config",
    step: `charm options in ${ref}`,
    script: script(`charm options in ${ref}`, [], { upsert }),
    deletes: false,
    environment: { PCIPT_CHARM_CONFIG: charmConfigYaml, ...resyncEnv(resync) },
    secrets: {},
  };
}

/** `juju config APP --reset a,b`: what an operator runs to take this stack's options off an application. */
export function charmResetArgv(juju: ModelRef, app: string, options: readonly string[]): string[] {
  return ["juju", "config", "-m", modelRef(juju), app, "--reset", options.join(",")];
}

/** Where the binding check looks at a GPU host's PCI functions (a test runs the check on a fake tree there). */
export const SYS_PCI_DEVICES = "/sys/bus/pci/devices";

/** What the binding check runs on each GPU host (sh -c): each configured address and the members of its IOMMU
 * group, once each, listed by `lspci -Dnnk` when their vendor:product is configured (sysfs vendor/device read as
 * id_of does in the host scripts). */
export function bindingCheckScript(group: Pick<HostGroup, "devices">): string {
  return (
    `ids=" ${vfioIds(group.devices).join(" ")} "; seen=" "; ` +
    `for a in ${configuredAddresses(group.devices).join(" ")}; do for f in "${SYS_PCI_DEVICES}/$a" "${SYS_PCI_DEVICES}/$a"/iommu_group/devices/*; do ` +
    `[ -e "$f" ] || continue; d=\${f##*/}; case "$seen" in *" $d "*) continue ;; esac; seen="$seen$d "; ` +
    `v=$(cat "$f/vendor"); p=$(cat "$f/device"); case "$ids" in *" \${v#0x}:\${p#0x} "*) lspci -Dnnk -s "$d" ;; esac; ` +
    "done; done"
  );
}

/** After the smoke test: does each GPU host show `Kernel driver in use: vfio-pci` for each configured device and
 * for each function of its IOMMU group with a configured vendor:product (a companion such as a GPU's HDMI audio:
 * QEMU refuses the device while any of them has another driver, "group N is not viable")? Fails when one does
 * not. `juju exec` in 3.x, `juju run` in 2.9; read-only, so deleting it removes nothing. */
export function verifyBindingCommand(juju: ModelRef & Pick<JujuConfig, "version">, group: Pick<HostGroup, "name" | "application" | "devices">, resync?: string): CommandSpec {
  const ref = modelRef(juju);
  const exec = juju.version === "2.9" ? "run" : "exec";
  const addresses = configuredAddresses(group.devices);
  const remote = bindingCheckScript(group);
  const step = group.name === undefined ? `verify vfio-pci binding in ${ref}` : `verify vfio-pci binding of ${group.application} in ${ref}`;
  return {
    id: group.name === undefined ? "verify" : `verify-${group.name}`,
    step,
    script: script(step, [], {
      upsert: [
        // The remote script is single-quoted on purpose: its variables expand on the GPU host.
        "# shellcheck disable=SC2016",
        `out=$(${shellCommand(["juju", exec, "-m", ref, "--application", group.application, "--", "sh", "-c", remote])}) || fail "juju ${exec} failed"`,
        `printf '%s\\n' "$out"`,
        // lspci's line of a function: its address and [vendor:product]; juju exec indents each unit's output.
        `listed=$(printf '%s\\n' "$out" | grep -cE '([0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7] .*\\[[0-9a-f]{4}:[0-9a-f]{4}\\]' || true)`,
        `bound=$(printf '%s\\n' "$out" | grep -c 'Kernel driver in use: vfio-pci' || true)`,
        `echo "pci-passthrough: vfio-pci bound on $bound of $listed function(s): the devices (${addresses.length} per GPU host) and their IOMMU groups' functions with a configured vendor:product"`,
        `[ "$bound" -ge "$listed" ] || fail "$((listed - bound)) function(s) above are not on vfio-pci: QEMU refuses their devices (group not viable) until they are"`,
      ],
    }),
    deletes: false,
    environment: { ...resyncEnv(resync) },
    secrets: {},
  };
}
