// OpenSSH known_hosts: plain and `[host]:port` patterns, wildcards and negation, hashed `|1|salt|hash` names,
// `@revoked` keys. `@cert-authority` lines are skipped (host certificates are not supported).
import { createHmac, timingSafeEqual } from "node:crypto";

interface Entry {
  marker: "" | "@revoked" | "@cert-authority";
  patterns: string[];
  keyType: string;
  key: Buffer;
}

/** What known_hosts says about a host's key. */
export type HostKeyVerdict = "match" | "mismatch" | "unknown" | "revoked";

/** The name OpenSSH looks a host up by: `host` on port 22, else `[host]:port`. */
export function hostLookupName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function wildcardMatch(pattern: string, name: string): boolean {
  const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
  return regex.test(name);
}

function hashedMatch(pattern: string, name: string): boolean {
  const [, magic, salt, hash] = pattern.split("|");
  if (magic !== "1" || !salt || !hash) return false;
  const expected = Buffer.from(hash, "base64");
  const actual = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

function patternMatches(pattern: string, name: string): boolean {
  return pattern.startsWith("|") ? hashedMatch(pattern, name) : wildcardMatch(pattern, name);
}

/** The key type inside an SSH wire-format public key (its first string). */
export function keyTypeOf(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  return length > 0 && length < 64 && blob.length >= 4 + length ? blob.subarray(4, 4 + length).toString("latin1") : undefined;
}

/** Host key algorithms (as ssh2 names them) that verify a key of each known_hosts key type. */
const ALGORITHMS_OF_KEY_TYPE: Record<string, readonly string[]> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
};

/** Parsed known_hosts content. */
export class KnownHosts {
  readonly #entries: Entry[];

  constructor(text: string) {
    this.#entries = [];
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.trim();
      if (!line || line.startsWith("#")) continue;
      const fields = line.split(/\s+/);
      let marker: Entry["marker"] = "";
      if (fields[0]?.startsWith("@")) {
        const word = fields.shift()!;
        if (word !== "@revoked" && word !== "@cert-authority") continue;
        marker = word;
      }
      const [patterns, keyType, key] = fields;
      if (!patterns || !keyType || !key || !/^[A-Za-z0-9+/]+={0,2}$/.test(key)) continue;
      this.#entries.push({ marker, patterns: patterns.split(","), keyType, key: Buffer.from(key, "base64") });
    }
  }

  /** Number of usable lines. */
  get size(): number {
    return this.#entries.length;
  }

  #matching(host: string, port: number): Entry[] {
    const name = hostLookupName(host, port);
    return this.#entries.filter(({ patterns }) => {
      let positive = false;
      for (const pattern of patterns) {
        if (pattern.startsWith("!")) {
          if (patternMatches(pattern.slice(1), name)) return false;
        } else if (patternMatches(pattern, name)) {
          positive = true;
        }
      }
      return positive;
    });
  }

  /** Whether `key` (SSH wire format, as the server sent it) is the known key of `host`:`port`. */
  verify(host: string, port: number, key: Buffer): HostKeyVerdict {
    if (this.#entries.some((entry) => entry.marker === "@revoked" && entry.key.equals(key))) return "revoked";
    const entries = this.#matching(host, port).filter((entry) => entry.marker === "");
    if (entries.length === 0) return "unknown";
    return entries.some((entry) => entry.key.equals(key)) ? "match" : "mismatch";
  }

  /**
   * Host key algorithms for `host`:`port`, those of its known keys first: a server with several host keys then
   * offers the one known_hosts holds (as OpenSSH's client orders them). Undefined when no line names the host.
   */
  preferredAlgorithms(host: string, port: number, all: readonly string[]): string[] | undefined {
    const types = new Set(this.#matching(host, port).filter((e) => e.marker === "").map((e) => e.keyType));
    if (types.size === 0) return undefined;
    const known = [...types].flatMap((type) => ALGORITHMS_OF_KEY_TYPE[type] ?? []).filter((algorithm) => all.includes(algorithm));
    return [...known, ...all.filter((algorithm) => !known.includes(algorithm))];
  }
}
