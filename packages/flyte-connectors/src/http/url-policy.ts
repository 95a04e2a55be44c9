import dns from "node:dns";
import net from "node:net";
import { Agent, type Dispatcher } from "undici";
import { ConnectorError } from "../errors.js";

/** Resolves a host name to its addresses (as `dns.lookup` with `{ all: true }`). */
export type ResolveHost = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

/** Options of {@link UrlPolicy}. */
export interface UrlPolicyOptions {
  /**
   * Origins (`https://jobs.example.com`) that may be called; when set, every other origin is refused. A listed
   * origin is trusted as named, so an operator may list a loopback sidecar or a local fake
   * (`http://127.0.0.1:8080`). Default: any http(s) origin whose host is not refused (see {@link UrlPolicy}).
   */
  allowedOrigins?: readonly string[];
  /** Resolves host names at connect time. Default: `dns.lookup` (the system resolver, /etc/hosts included). */
  resolve?: ResolveHost;
}

/** A URL the policy refuses: INVALID_ARGUMENT, naming the origin and why (never the path or query). */
export class UrlRefusedError extends ConnectorError {
  constructor(message: string) {
    super("INVALID_ARGUMENT", message);
  }

  override get name(): string {
    return "UrlRefusedError";
  }
}

// Names of the host itself and of cloud metadata services (GCP, AWS, Tencent); `*.localhost` too (RFC 6761).
const REFUSED_NAMES = new Set([
  "localhost",
  "localhost.localdomain",
  "ip6-localhost",
  "ip6-loopback",
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "instance-data",
  "instance-data.ec2.internal",
  "metadata.tencentyun.com",
]);

// Single cloud metadata addresses outside the link-local range: Alibaba, Azure's wire server, Oracle's legacy one.
const METADATA_V4 = new Set(["100.100.100.200", "168.63.129.16", "192.0.0.192"]);

function v4Kind(a: number, b: number, c: number, d: number): string | undefined {
  if (a === 127) return "loopback";
  if (a === 0) return "unspecified";
  if (a === 169 && b === 254) return "link-local (cloud metadata)";
  if (METADATA_V4.has(`${a}.${b}.${c}.${d}`)) return "cloud metadata";
  if (a >= 224) return "multicast or reserved";
  return undefined;
}

/** The eight 16-bit groups of a valid IPv6 address (an embedded dotted IPv4 tail included). */
function v6Groups(address: string): number[] {
  let text = address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const part = (s: string) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  const front = part(head);
  const back = tail === undefined ? [] : part(tail);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}

/**
 * Why a connection to `address` (an IP address, IPv6 without brackets) is refused by default, or undefined when it
 * is not: loopback, unspecified, link-local, multicast, and cloud metadata addresses, also when an IPv6 address
 * carries one of those IPv4 addresses (IPv4-mapped/-compatible, SIIT, NAT64, 6to4, Teredo). Private ranges
 * (10/8, 172.16/12, 192.168/16, fc00::/7) are not refused: in-cluster services live there.
 */
export function refusedAddressKind(address: string): string | undefined {
  const version = net.isIP(address);
  if (version === 4) {
    const [a, b, c, d] = address.split(".").map(Number) as [number, number, number, number];
    return v4Kind(a, b, c, d);
  }
  if (version !== 6) return undefined;
  const g = v6Groups(address.split("%")[0] ?? address);
  const at = (i: number) => g[i] ?? 0;
  const v4 = (hi: number, lo: number) => v4Kind(hi >> 8, hi & 0xff, lo >> 8, lo & 0xff);
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 8)) return "unspecified";
  if (zeros(0, 7) && at(7) === 1) return "loopback";
  if ((at(0) & 0xffc0) === 0xfe80) return "link-local";
  if ((at(0) & 0xff00) === 0xff00) return "multicast";
  if (g.join(":") === [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254].join(":")) return "cloud metadata";
  const embedded =
    // ::a.b.c.d (compatible), ::ffff:a.b.c.d (mapped), ::ffff:0:a.b.c.d (SIIT)
    (zeros(0, 5) && (at(5) === 0 || at(5) === 0xffff)) || (zeros(0, 4) && at(4) === 0xffff && at(5) === 0) ||
    // 64:ff9b::/96 and 64:ff9b:1::/48 (NAT64)
    (at(0) === 0x64 && at(1) === 0xff9b && (zeros(2, 6) || at(2) === 1))
      ? v4(at(6), at(7))
      : undefined;
  if (embedded) return `${embedded} (embedded IPv4)`;
  if (at(0) === 0x2002) return v4(at(1), at(2)) && `${v4(at(1), at(2))} (6to4)`;
  if (at(0) === 0x2001 && at(1) === 0) {
    const client = v4(at(6) ^ 0xffff, at(7) ^ 0xffff);
    return client && `${client} (Teredo)`;
  }
  return undefined;
}

/** Why a host name is refused before it is resolved, or undefined. */
function refusedNameKind(hostname: string): string | undefined {
  const name = hostname.toLowerCase().replace(/\.$/, "");
  if (name === "localhost" || name.endsWith(".localhost") || REFUSED_NAMES.has(name)) {
    return name.includes("localhost") || name.startsWith("ip6-") ? "loopback" : "cloud metadata";
  }
  return undefined;
}

const systemResolve: ResolveHost = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

/**
 * Which URLs a connector may call on a caller's behalf (server-side request forgery): by default any http(s)
 * origin except the connector's own host (loopback in every spelling, `localhost`), unspecified, link-local and
 * multicast addresses and cloud metadata services (169.254.0.0/16, 100.100.100.200, 168.63.129.16,
 * fd00:ec2::254, `metadata`, `metadata.google.internal`, `instance-data`, …, also inside IPv6 forms). Host
 * names are checked again at connect time against the addresses they resolve to, so a name that resolves (or
 * re-resolves: DNS rebinding) to a refused address is refused. With `allowedOrigins` only the listed origins
 * may be called, and those are trusted as listed.
 */
export class UrlPolicy {
  readonly #allowed: ReadonlySet<string> | undefined;
  readonly #guarded: Agent;

  constructor(options: UrlPolicyOptions = {}) {
    this.#allowed = options.allowedOrigins ? new Set(options.allowedOrigins.map((origin) => new URL(origin).origin)) : undefined;
    const resolve = options.resolve ?? systemResolve;
    // net.connect calls `lookup` for host names only (IP literals were checked by `check`): the addresses
    // checked are the ones connected to, so a name cannot change its answer between check and connection.
    const lookup = (hostname: string, lookupOptions: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
      resolve(hostname).then(
        (addresses) => {
          const bad = addresses.find((entry) => refusedAddressKind(entry.address));
          if (bad) {
            return callback(new UrlRefusedError(`the connector may not call ${hostname}: it resolves to ${bad.address} (${refusedAddressKind(bad.address)})`));
          }
          const usable = lookupOptions.family ? addresses.filter((entry) => entry.family === lookupOptions.family) : addresses;
          if (usable.length === 0) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND", hostname }));
          if (lookupOptions.all) return callback(null, usable);
          return callback(null, usable[0]!.address, usable[0]!.family);
        },
        (error: unknown) => callback(error),
      );
    };
    this.#guarded = new Agent({ connect: { lookup } as object });
  }

  /** Throws {@link UrlRefusedError} when `url` may not be called; `what` names it in the message (e.g. a config key). */
  check(url: string | URL, what = "the URL"): URL {
    const parsed = new URL(url);
    const refuse = (why: string) => {
      throw new UrlRefusedError(`${what}: the connector may not call ${parsed.origin} (${why}).`);
    };
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") refuse("only http:// and https:// are allowed");
    if (this.#allowed) {
      if (!this.#allowed.has(parsed.origin)) refuse("not in allowedOrigins");
      return parsed;
    }
    const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
    const kind = net.isIP(host) ? refusedAddressKind(host) : refusedNameKind(host);
    if (kind) refuse(`${kind}; an operator may list it in allowedOrigins`);
    return parsed;
  }

  /** The undici dispatcher to send a checked URL's request with: one that checks resolved addresses, unless listed. */
  dispatcherFor(url: URL): Dispatcher | undefined {
    return this.#allowed?.has(url.origin) ? undefined : this.#guarded;
  }

  /** Closes the pooled connections. */
  async close(): Promise<void> {
    await this.#guarded.close();
  }
}

/** The {@link UrlRefusedError} in an error's cause chain (fetch wraps connect failures as `TypeError: fetch failed`). */
export function urlRefusal(error: unknown): UrlRefusedError | undefined {
  for (let e: unknown = error, depth = 0; e && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof UrlRefusedError) return e;
  }
  return undefined;
}

/**
 * The origins an operator allowed a connector to call: the connector's option when given, else the comma-separated
 * environment variable `environmentVariable`, else undefined (no list: {@link UrlPolicy}'s default). Entries are
 * reduced to their origin; one that is not a URL throws an Error naming where it came from, so a connector built
 * with a typo fails at start-up rather than refusing every call.
 */
export function allowedOriginsSetting(option: readonly string[] | undefined, environmentVariable: string): string[] | undefined {
  const [entries, setting] = option ? [option, "allowedOrigins"] : [process.env[environmentVariable]?.trim() ? process.env[environmentVariable]!.split(",") : undefined, environmentVariable];
  return entries
    ?.map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      let url: URL | undefined;
      try {
        url = new URL(entry);
      } catch {
        // reported below
      }
      if (url?.protocol !== "http:" && url?.protocol !== "https:") {
        throw new Error(`${setting}: ${JSON.stringify(entry.slice(0, 100))} is not an origin such as https://jobs.example.com`);
      }
      return url.origin;
    });
}
