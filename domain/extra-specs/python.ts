// Python's own rules where Nova's extra-spec checks rely on them, so that a check here answers as Nova's does.

/** Python's `re.fullmatch(pattern, s)` for the regexes Nova uses (named groups are the only syntax that
 * differs in JavaScript). */
const compiled = new Map<string, RegExp>();
export function fullMatch(pattern: string, s: string): boolean {
  let re = compiled.get(pattern);
  if (re === undefined) {
    re = new RegExp(`^(?:${pattern.replace(/\(\?P</g, "(?<")})$`);
    compiled.set(pattern, re);
  }
  return re.test(s);
}

/** Python's int(s): surrounding blanks, a sign and digit-separating underscores are accepted. */
export function pythonInt(s: string): number | undefined {
  return /^\s*[+-]?\d+(_\d+)*\s*$/.test(s) ? Number(s.trim().replace(/_/g, "")) : undefined;
}
