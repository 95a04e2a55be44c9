/** Storage URIs: which backend, which bucket (container), which key. */
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The schemes with a backend. `abfss` is `abfs` over TLS (the Azure SDK always uses HTTPS endpoints). */
export type Scheme = "s3" | "gs" | "abfs" | "file";

/** Where an object lives, parsed from its URI. */
export interface Location {
  scheme: Scheme;
  /** The URI's own scheme as written (`abfss`, `s3a`, …; "" for a plain path), used to build URIs of listed objects. */
  written: string;
  /** Everything between `scheme://` and the key: `bucket`, or `container@account.dfs.core.windows.net`. */
  authority: string;
  /** Bucket (S3, GCS) or container (Azure); empty for file. */
  bucket: string;
  /** Azure storage account named in the URI's host, when there is one. */
  account?: string;
  /** Object key (no leading slash), or the absolute path for file. */
  key: string;
}

/** Thrown for a URI no backend can read; the caller turns it into a StorageError naming the URI. */
export class UnsupportedUriError extends Error {}

const SCHEMES: Record<string, Scheme> = { s3: "s3", s3a: "s3", gs: "gs", gcs: "gs", abfs: "abfs", abfss: "abfs", file: "file" };

/** Parses `s3://bucket/key`, `gs://bucket/key`, `abfs[s]://container@account.dfs.core.windows.net/key` (or `abfs://container/key`), `file:///path` and plain paths. */
export function parseUri(uri: string): Location {
  // A one-letter "scheme" is a Windows drive (C:\…), not a URI.
  const match = /^([a-zA-Z][a-zA-Z0-9+.-]+):/.exec(uri);
  if (!match) return { scheme: "file", written: "", authority: "", bucket: "", key: resolve(uri) };
  const written = match[1]!.toLowerCase();
  const scheme = SCHEMES[written];
  if (scheme === undefined) {
    throw new UnsupportedUriError(`scheme "${written}" is not supported (s3://, gs://, abfs://, abfss://, file:// and local paths are)`);
  }
  if (scheme === "file") {
    let path: string;
    try {
      path = fileURLToPath(uri);
    } catch (cause) {
      throw new UnsupportedUriError(`not a valid file:// URI (${(cause as Error).message})`);
    }
    return { scheme, written, authority: "", bucket: "", key: path };
  }
  const rest = uri.slice(match[0].length);
  if (!rest.startsWith("//")) throw new UnsupportedUriError(`expected ${written}://<bucket>/<key>`);
  const slash = rest.indexOf("/", 2);
  const authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
  const key = slash < 0 ? "" : rest.slice(slash + 1);
  if (authority === "") throw new UnsupportedUriError(`no bucket in the URI; expected ${written}://<bucket>/<key>`);
  if (/[?#]/.test(key)) throw new UnsupportedUriError("object URIs take no query or fragment");
  if (scheme === "abfs") {
    // adlfs/fsspec form: container@account.dfs.core.windows.net (or .blob.…); a bare container uses the configured account.
    const at = authority.indexOf("@");
    if (at >= 0) {
      const container = authority.slice(0, at);
      const account = authority.slice(at + 1).split(".")[0];
      if (!container || !account) throw new UnsupportedUriError(`expected ${written}://<container>@<account>.dfs.core.windows.net/<path>`);
      return { scheme, written, authority, bucket: container, account, key };
    }
  }
  return { scheme, written, authority, bucket: authority, key };
}

/** The URI of another key in the same bucket as `loc`. */
export function uriOf(loc: Location, key: string): string {
  if (loc.scheme === "file") return loc.written === "" ? key : pathToFileURL(key).href;
  return `${loc.written}://${loc.authority}/${key}`;
}

/** Whether a URI names this process's disk (a plain path or file://); malformed file:// URIs count as local. */
export function isLocalUri(uri: string): boolean {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]+):/.exec(uri)?.[1];
  return scheme === undefined || scheme.toLowerCase() === "file";
}

/** `prefix` joined with `name` by exactly one `/` (URIs and POSIX paths alike). */
export function joinUri(prefix: string, name: string): string {
  return `${prefix.replace(/\/+$/, "")}/${name.replace(/^\/+/, "")}`;
}

