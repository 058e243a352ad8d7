// How the config speaks about itself: the stack namespace, where a value is (its key path, as `pulumi config set
// --path` takes it), the problems found there, and the placeholder the offline render sees for a secret.

/** What the offline render sees in place of a `secure:` stack value (it never decrypts). */
export const SECRET_PLACEHOLDER = "[secret]";

/** The stack config namespace: every key is `pci-passthrough:<key>`. */
export const NAMESPACE = "pci-passthrough";

/** One problem in a stack config, located by its key path (`pci-passthrough:devices[0].addresses[1]`). */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** Thrown by requireSiteConfig: carries every problem at once, one line each. */
export class ConfigError extends Error {
  constructor(public readonly problems: readonly ConfigProblem[]) {
    super(`invalid stack configuration:\n${formatProblems(problems)}`);
    this.name = "ConfigError";
  }
}

/** One line per warning, `warning: <key path>: <message>`, as `npm run render` prints them on stderr. */
export function formatWarnings(warnings: readonly ConfigProblem[]): string {
  return warnings.map((w) => `warning: ${w.path}: ${w.message}`).join("\n");
}

/** One line per problem, `<key path>: <message>`. */
export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems.map((p) => `${p.path}: ${p.message}`).join("\n");
}

/** One step of a key path: a key or a list index. */
export type PathPart = string | number;

/** Renders a key path the way `pulumi config set --path` takes it. */
export function formatPath(path: readonly PathPart[]): string {
  let out = NAMESPACE;
  path.forEach((part, i) => {
    if (typeof part === "number") out += `[${part}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(part)) out += i === 0 ? `:${part}` : `.${part}`;
    else out += i === 0 ? `:${JSON.stringify(part)}` : `[${JSON.stringify(part)}]`;
  });
  return out;
}
