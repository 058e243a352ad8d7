// What a booted machine reports from inside (the probe's sections on the second serial port), and reading the
// grub.cfg and /etc/default/grub it boots with.

/** The probe's report: its sections by name. */
export type Report = ReadonlyMap<string, string>;

export function parseReport(text: string): Report {
  const sections = new Map<string, string>();
  const parts = text.replace(/\r/g, "").split(/^@@host-vm@@ /m).slice(1);
  for (const part of parts) {
    const nl = part.indexOf("\n");
    const name = nl === -1 ? part : part.slice(0, nl);
    sections.set(name.trim(), nl === -1 ? "" : part.slice(nl + 1).replace(/\n+$/, ""));
  }
  return sections;
}

/** Drivers in use by PCI address, from `lspci -nnk -D`. */
export function driversInUse(lspci: string): Map<string, string> {
  const drivers = new Map<string, string>();
  let current: string | undefined;
  for (const line of lspci.split("\n")) {
    const dev = /^([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) /.exec(line);
    if (dev) {
      current = dev[1]!;
      drivers.set(current, "");
      continue;
    }
    const drv = /^\s+Kernel driver in use: (\S+)/.exec(line);
    if (drv && current) drivers.set(current, drv[1]!);
  }
  return drivers;
}

/** The first menu entry's `linux` and `initrd` lines of a grub.cfg made by grub-mkconfig (10_linux). */
export function firstGrubEntry(grubCfg: string): { kernel: string; args: string; initrd: string } {
  const entry = grubCfg.split(/^menuentry /m)[1];
  if (entry === undefined) throw new Error("grub.cfg has no menuentry");
  const linux = /^\s*linux\s+(\S+)\s*(.*)$/m.exec(entry);
  const initrd = /^\s*initrd\s+(\S+)\s*$/m.exec(entry);
  if (!linux || !initrd) throw new Error("grub.cfg's first menuentry has no linux or initrd line");
  return { kernel: linux[1]!, args: linux[2]!.trim(), initrd: initrd[1]! };
}

/**
 * /etc/default/grub as curtin leaves it on a MAAS deployment: GRUB_CMDLINE_LINUX_DEFAULT replaced by the
 * deployment environment's console= options and everything MAAS put after its "---" separator, which
 * is where MAAS puts the tags' kernel_opts (canonical/curtin curtin/commands/install_grub.py
 * get_carryover_params and replace_grub_cmdline_linux_default; canonical/maas
 * src/provisioningserver/kernel_opts.py compose_kernel_command_line).
 */
export function curtinDefaultGrub(debianDefault: string, carried: string): string {
  const line = `GRUB_CMDLINE_LINUX_DEFAULT="${carried}"`;
  const re = /^GRUB_CMDLINE_LINUX_DEFAULT=.*$/m;
  return re.test(debianDefault) ? debianDefault.replace(re, line) : `${debianDefault}${line}\n`;
}

/** The console the test reads: both boots print the kernel's and systemd's messages on the first serial port. */
