import { createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from "node:crypto";
import { ConnectorError } from "flyte-connectors";

/** Lifetime written into each JWT: Snowflake accepts at most one hour; a minute less leaves room for clock skew. */
const TOKEN_LIFETIME_S = 59 * 60;
/** A cached token is used for this long, then re-signed: well inside its lifetime, so no request carries a stale one. */
const TOKEN_REUSE_MS = 45 * 60 * 1000;
/** Most signed tokens kept (one per account, user and key); the oldest goes first. */
const MAX_CACHED_TOKENS = 256;

interface CachedToken {
  token: string;
  reuseUntil: number;
}

// Keyed by a SHA-256 digest of (account, user, key, passphrase): the map never holds a secret in clear.
const tokens = new Map<string, CachedToken>();

/** What a key-pair JWT is made from. `privateKey` is PEM (PKCS#8 or PKCS#1, encrypted when `passphrase` is set). */
export interface KeyPairCredentials {
  account: string;
  user: string;
  privateKey: string;
  passphrase?: string | undefined;
}

/**
 * The account part of the JWT claims, as Snowflake's own drivers compute it: upper case, and for an account
 * locator with a region (`xy12345.us-east-1`) only the locator; for `.global` accounts the part before the first `-`.
 */
export function jwtAccount(account: string): string {
  const bare = account.includes(".global") ? account.split("-")[0]! : account.split(".")[0]!;
  return bare.toUpperCase();
}

/**
 * A key-pair JWT for the SQL API (header `X-Snowflake-Authorization-Token-Type: KEYPAIR_JWT`), RS256-signed with
 * the user's private key: `iss` = `<ACCOUNT>.<USER>.SHA256:<base64 SHA-256 of the public key's DER>`,
 * `sub` = `<ACCOUNT>.<USER>`, `iat` now, `exp` 59 minutes later. Signed tokens are reused for 45 minutes.
 */
export function keyPairToken(credentials: KeyPairCredentials, now = Date.now()): string {
  const cacheKey = digest(credentials);
  const cached = tokens.get(cacheKey);
  if (cached && now < cached.reuseUntil) return cached.token;
  const key = readPrivateKey(credentials.privateKey, credentials.passphrase);
  const subject = `${jwtAccount(credentials.account)}.${credentials.user.toUpperCase()}`;
  const iat = Math.floor(now / 1000);
  const claims = { iss: `${subject}.${publicKeyFingerprint(key)}`, sub: subject, iat, exp: iat + TOKEN_LIFETIME_S };
  const signingInput = `${base64url(JSON.stringify({ alg: "RS256", typ: "JWT" }))}.${base64url(JSON.stringify(claims))}`;
  const token = `${signingInput}.${sign("sha256", Buffer.from(signingInput), key).toString("base64url")}`;
  tokens.delete(cacheKey);
  tokens.set(cacheKey, { token, reuseUntil: now + TOKEN_REUSE_MS });
  if (tokens.size > MAX_CACHED_TOKENS) tokens.delete(tokens.keys().next().value as string);
  return token;
}

/** Drops the cached token of these credentials (after Snowflake refused it), so the next call signs a new one. */
export function forgetToken(credentials: KeyPairCredentials): void {
  tokens.delete(digest(credentials));
}

/** `SHA256:<base64 of the SHA-256 of the public key in DER SubjectPublicKeyInfo form>`, as `DESC USER` shows it. */
export function publicKeyFingerprint(key: KeyObject): string {
  const der = (key.type === "public" ? key : createPublicKey(key)).export({ type: "spki", format: "der" });
  return `SHA256:${createHash("sha256").update(der).digest("base64")}`;
}

function readPrivateKey(pem: string, passphrase: string | undefined): KeyObject {
  // Some secret stores flatten line breaks to a literal "\n": PEM needs real ones.
  const text = pem.includes("\n") ? pem.trim() : pem.trim().replaceAll("\\n", "\n");
  let key: KeyObject;
  try {
    key = createPrivateKey(passphrase ? { key: text, format: "pem", passphrase } : { key: text, format: "pem" });
  } catch (cause) {
    // Node's message names the failure (bad decrypt, unsupported format), never the key material.
    throw new ConnectorError(
      "FAILED_PRECONDITION",
      `The secret snowflake_private_key is not a readable PEM private key${passphrase ? " with the given passphrase" : " (is it encrypted? then set snowflake_private_key_passphrase)"}.`,
      { cause },
    );
  }
  if (key.asymmetricKeyType !== "rsa") {
    throw new ConnectorError("FAILED_PRECONDITION", `The secret snowflake_private_key is a ${key.asymmetricKeyType ?? "non-RSA"} key; Snowflake key-pair authentication needs an RSA key.`);
  }
  return key;
}

function digest({ account, user, privateKey, passphrase }: KeyPairCredentials): string {
  return createHash("sha256").update(JSON.stringify([jwtAccount(account), user.toUpperCase(), privateKey, passphrase ?? ""])).digest("hex");
}

function base64url(text: string): string {
  return Buffer.from(text).toString("base64url");
}
