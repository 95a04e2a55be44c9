/** Replacement of a secret value in caller-visible text. */
export const REDACTED = "*****";

/** Distinct secret sets whose Redactor is kept for reuse. */
const MAX_CACHED_REDACTORS = 256;

/** Shortest encoded fragment matched inside longer base64 text: shorter ones would hit ordinary words. */
const MIN_BASE64_FRAGMENT = 8;

/**
 * The base64 (and base64url) texts that contain `secret`'s bytes at any of the three byte alignments, cut to
 * the characters that depend on the secret alone: so the secret is found inside a longer encoded value too
 * (`Basic base64(user:secret)`, a token inside an encoded JSON document).
 */
function base64Forms(secret: string): string[] {
  const bytes = Buffer.from(secret, "utf8");
  const forms: string[] = [];
  for (let pad = 0; pad < 3; pad++) {
    const text = Buffer.concat([Buffer.alloc(pad), bytes]).toString("base64").replace(/=+$/, "");
    // Characters of a group that mixes padding or later bytes depend on them: drop those groups.
    const start = pad === 0 ? 0 : 4;
    const total = pad + bytes.length;
    const end = total % 3 === 0 ? text.length : Math.floor(total / 3) * 4;
    const core = text.slice(start, end);
    if (core.length >= MIN_BASE64_FRAGMENT) forms.push(core, core.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  // The whole value, padded as encoded on its own.
  forms.push(bytes.toString("base64"), bytes.toString("base64url"));
  return forms;
}

/**
 * The texts a secret value may appear as in a vendor's reply or a URL: as is, JSON-escaped, URL-encoded (also
 * form-encoded), and base64/base64url (standalone or inside longer encoded text).
 */
export function secretForms(secret: string): string[] {
  if (!secret) return [];
  const json = (text: string) => JSON.stringify(text).slice(1, -1);
  const forms = new Set<string>([
    secret,
    json(secret),
    // Escaped twice: a JSON document quoted inside another (an error object rendered as a message string).
    json(json(secret)),
    // JSON with every non-ASCII character escaped (Python's json.dumps default).
    JSON.stringify(secret)
      .slice(1, -1)
      .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`),
    encodeURIComponent(secret),
    encodeURIComponent(secret).replace(/%20/g, "+"),
    encodeURI(secret),
    ...(secret.length >= 4 ? base64Forms(secret) : []),
  ]);
  return [...forms].filter((form) => form.length > 0);
}

/**
 * Replaces secret values, in every form of {@link secretForms}, with `*****`. Longest forms first, so a secret
 * that contains another is replaced whole; percent-encoding is matched case-insensitively.
 */
export class Redactor {
  readonly #pattern: RegExp | undefined;
  static readonly #cache = new Map<string, Redactor>();

  /**
   * The Redactor of `secrets`, reused across calls with the same secrets (building one costs tens of µs: the
   * forms and the pattern; the polls of one job repeat the same connection secrets).
   */
  static for(secrets: readonly string[]): Redactor {
    const key = [...new Set(secrets)].sort().join("\u0000");
    let redactor = Redactor.#cache.get(key);
    if (redactor) {
      Redactor.#cache.delete(key); // most recently used last
    } else {
      redactor = new Redactor(secrets);
      if (Redactor.#cache.size >= MAX_CACHED_REDACTORS) Redactor.#cache.delete(Redactor.#cache.keys().next().value!);
    }
    Redactor.#cache.set(key, redactor);
    return redactor;
  }

  constructor(secrets: Iterable<string>) {
    const forms = [...new Set([...secrets].flatMap(secretForms))].sort((a, b) => b.length - a.length);
    this.#pattern = forms.length
      ? new RegExp(forms.map((form) => form.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/%[0-9A-F]{2}/g, (hex) => `%[${hex[1]}${hex[1]!.toLowerCase()}][${hex[2]}${hex[2]!.toLowerCase()}]`)).join("|"), "g")
      : undefined;
  }

  /** True when there is nothing to redact. */
  get empty(): boolean {
    return this.#pattern === undefined;
  }

  redact(text: string): string {
    return this.#pattern ? text.replace(this.#pattern, REDACTED) : text;
  }
}
