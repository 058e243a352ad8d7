// The one place that turns values into shell text. Every argument that reaches a command line goes
// through shellQuote; free text (comments, userdata, JSON) never does: it travels in environment variables.

/** Quotes one word for POSIX sh: single quotes, with embedded single quotes closed, escaped and reopened. */
export function shellQuote(word: string): string {
  if (word !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A command line from its argv, every word quoted. */
export function shellCommand(argv: readonly string[]): string {
  return argv.map(shellQuote).join(" ");
}

/** `NAME=value` assignments for a script (commands.sh), every value quoted. Names must be identifiers. */
export function shellAssignments(env: Readonly<Record<string, string>>): string[] {
  return Object.entries(env).map(([name, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not an environment variable name: ${name}`);
    return `${name}=${shellQuote(value)}`;
  });
}
