// How the maas steps call the maas CLI (docs/domain.md, "MAAS"): every call with the profile, its failure shown
// as maascli printed it, and the profile's login, whose API key travels on standard input only.
//
// How maascli answers (canonical/maas src/maascli): an API call prints the region's response body on
// stdout; when the status is not 2xx it then exits 2 (api.py Action.__call__ raises CommandError(2), and
// command.py makes CommandError a SystemExit), with nothing on stderr: a missing tag is "No Tag matches the
// given query." on stdout and exit 2, exactly like a refused request. A region that cannot be reached is an
// error on stderr and exit 2 too. So no step reads an answer's error text: whether an object exists is read
// from the JSON MAAS gives on success (`tags read` lists every tag; `machines read` every machine), and any
// failing call stops the step, showing what maascli printed.
import type { MaasAccess, SecretSource } from "../../config/types";
import { shellCommand, shellQuote } from "../shell";

const MAAS_KEY_ENV = "PCIPT_MAAS_API_KEY";

/** `maas PROFILE ...` argv, quoted. */
export function maas(profile: string, ...args: string[]): string {
  return shellCommand(["maas", profile, ...args]);
}

/** The shell function every maas step calls when a maas call fails: maascli wrote the region's answer (an
 * HTTP error's body) to stdout, which the step captured; it is shown on stderr, then the step stops. */
export const MAAS_FAILED = [
  "# maas_failed WHAT OUTPUT: maascli prints an HTTP error's body on stdout (it was captured); show it, then stop.",
  `maas_failed() { if [ -n "$2" ]; then printf '%s\\n' "$2" >&2; fi; fail "$1 failed"; }`,
];

/** `var=$(maas PROFILE ARGS...) || maas_failed ...`: a maas call whose answer (JSON) the step reads. */
export function maasRead(profile: string, variable: string, ...args: string[]): string {
  const call = maas(profile, ...args);
  return `${variable}=$(${call}) || maas_failed ${shellQuote(call)} "$${variable}"`;
}

/** Logs the profile in first when the stack gives url and apiKey; the key goes through stdin (`-`),
 * never on a command line (maascli auth.py obtain_credentials reads one line of stdin for "-"). Its output
 * is never shown: maascli repeats a malformed key in its error (apiclient/creds.py convert_string_to_tuple). */
export function maasLogin(access: MaasAccess): { lines: string[]; env: Record<string, string>; secrets: Record<string, SecretSource> } {
  if (access.url === undefined || access.apiKey === undefined) return { lines: [], env: {}, secrets: {} };
  return {
    lines: [
      `printf '%s\\n' "$${MAAS_KEY_ENV}" | ${shellCommand(["maas", "login", access.profile])} "$PCIPT_MAAS_URL" - >/dev/null 2>&1 \\`,
      `  || fail "maas login failed (check maas.url and maas.apiKey)"`,
    ],
    env: { PCIPT_MAAS_URL: access.url },
    secrets: { [MAAS_KEY_ENV]: "maas.apiKey" },
  };
}
