// Names the importers propose, from what the hardware says of itself.

/**
 * A device's model as a name (`a100` from "NVIDIA Corporation GA100 [A100 PCIe 80GB]", `l40s`, `connectx6`,
 * `e810c`, `p5000`): the first word with letters and digits, in the last bracket of lspci's name (pci.ids
 * puts the marketing name there) or else in the whole name; lower-case, letters and digits only, so that
 * it is an alias, a group name and a part of a Juju application name (juju/names: every part of a name
 * between hyphens holds a letter). Undefined when no such word exists ("Virtio 1.0 network device").
 */
export function modelName(description: string): string | undefined {
  const bracket = /\[([^\]]+)\]\s*$/.exec(description);
  const places = bracket ? [bracket[1]!, description.slice(0, bracket.index)] : [description];
  for (const place of places) {
    for (const word of place.split(/[\s/,;]+/)) {
      const w = word.toLowerCase().replace(/[^a-z0-9]/g, "");
      if (/[a-z]/.test(w) && /[0-9]/.test(w) && w.length <= 16) return w;
    }
  }
  return undefined;
}
