// SSH host keys as ssh-keyscan prints them and ssh pins them: the key types, the HostKeyAlgorithms that make a
// server present each, and reading a pinned key. Pure data and functions.

/** SSH host key types ssh-keyscan prints, with the HostKeyAlgorithms that make the server present it. */
export const HOST_KEY_ALGORITHMS: Readonly<Record<string, string>> = {
  "ssh-ed25519": "ssh-ed25519",
  "ecdsa-sha2-nistp256": "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384": "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521": "ecdsa-sha2-nistp521",
  // An RSA key is one key for the rsa-sha2-* signature algorithms (ssh-rsa/SHA-1 is off in OpenSSH >= 8.8).
  "ssh-rsa": "rsa-sha2-512,rsa-sha2-256",
};

/** A pinned host key: its type and base64 body (a trailing comment, or a leading host name as
 * ssh-keyscan prints it, is dropped). */
export interface HostKey {
  readonly type: string;
  readonly key: string;
}

/** Reads a host key line, `TYPE KEY [COMMENT]` or ssh-keyscan's `HOST TYPE KEY`; undefined when it is none. */
export function parseHostKey(line: string): HostKey | undefined {
  const words = line.trim().split(/\s+/);
  // `ssh-keyscan` prints "HOST TYPE KEY": take the words from the key type on.
  const at = words.findIndex((w) => w in HOST_KEY_ALGORITHMS);
  const key = at >= 0 ? words[at + 1] : undefined;
  if (at < 0 || at > 1 || key === undefined || !/^AAAA[A-Za-z0-9+/]+={0,2}$/.test(key)) return undefined;
  return { type: words[at]!, key };
}
