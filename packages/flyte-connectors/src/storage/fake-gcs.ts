/**
 * A small Google Cloud Storage server for tests. No GCS emulator installs from npm or Debian, so this follows the
 * JSON API's documented request and response shapes (cloud.google.com/storage/docs/json_api: objects get/list/
 * delete, `alt=media` downloads with Range, multipart and resumable uploads with 308 "Resume Incomplete", the
 * `{error: {code, message, errors}}` body) and the OAuth 2.0 token exchange (RFC 8693) that Application Default
 * Credentials of type `external_account` (workload identity federation) use, whose `token_url` a credentials file
 * may point here (a service account key's token endpoint is fixed in the SDK). The GCS backend is tested against
 * it through the official SDK, unchanged. Objects live in memory. Not part of the
 * public API.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

interface StoredObject {
  data: Buffer;
  contentType: string;
  generation: number;
  updated: Date;
}

export interface FakeGcsOptions {
  /** The one subject token the token exchange accepts; when set, every API request needs a token it issued. */
  subjectToken?: string;
}

export interface FakeGcs {
  /** The JSON API endpoint (`apiEndpoint`). */
  endpoint: string;
  /** The token exchange endpoint (`token_url` of an external_account credentials file). */
  tokenUri: string;
  createBucket(name: string): void;
  requests(): number;
  close(): Promise<void>;
}

export async function startFakeGcs(options: FakeGcsOptions = {}): Promise<FakeGcs> {
  const buckets = new Map<string, Map<string, StoredObject>>();
  const sessions = new Map<string, { bucket: string; name: string; contentType: string; chunks: Buffer[]; received: number }>();
  const tokens = new Set<string>();
  let generation = 1;
  let requests = 0;
  let endpoint = "";

  const resource = (bucket: string, name: string, o: StoredObject) => ({
    kind: "storage#object",
    id: `${bucket}/${name}/${o.generation}`,
    selfLink: `${endpoint}/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}`,
    name,
    bucket,
    generation: String(o.generation),
    metageneration: "1",
    contentType: o.contentType,
    size: String(o.data.length),
    md5Hash: createHash("md5").update(o.data).digest("base64"),
    crc32c: crc32cBase64(o.data),
    etag: createHash("md5").update(`${o.generation}`).digest("base64"),
    timeCreated: o.updated.toISOString(),
    updated: o.updated.toISOString(),
  });

  const fail = (res: ServerResponse, code: number, message: string, reason: string) => {
    res.writeHead(code, { "content-type": "application/json; charset=UTF-8" });
    res.end(JSON.stringify({ error: { code, message, errors: [{ message, domain: "global", reason }] } }));
  };
  const json = (res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(code, { "content-type": "application/json; charset=UTF-8", ...headers });
    res.end(JSON.stringify(body));
  };
  const store = (bucket: string, name: string, data: Buffer, contentType: string) => {
    const o = { data, contentType, generation: generation++, updated: new Date() };
    buckets.get(bucket)!.set(name, o);
    return resource(bucket, name, o);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    requests++;
    const url = new URL(req.url ?? "/", endpoint);
    const body = await readBody(req);
    if (url.pathname === "/token" && req.method === "POST") return token(body, res);
    // A resumable session's URI is its own authorization (as GCS documents): chunks need no token.
    const sessionChunk = req.method === "PUT" && url.searchParams.get("uploadType") === "resumable" && url.searchParams.has("upload_id");
    if (options.subjectToken !== undefined && !sessionChunk) {
      const auth = req.headers.authorization ?? "";
      if (!auth.startsWith("Bearer ") || !tokens.has(auth.slice(7))) return fail(res, 401, "Invalid Credentials", "authError");
    }
    let m = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    if (m) {
      const bucket = decodeURIComponent(m[1]!);
      if (!buckets.has(bucket)) return fail(res, 404, "The specified bucket does not exist.", "notFound");
      return upload(bucket, url, req, body, res);
    }
    m = /^\/storage\/v1\/b\/([^/]+)\/o(?:\/(.+))?$/.exec(url.pathname);
    if (!m) return fail(res, 404, `Not Found: ${url.pathname}`, "notFound");
    const bucket = decodeURIComponent(m[1]!);
    const objects = buckets.get(bucket);
    if (!objects) return fail(res, 404, "The specified bucket does not exist.", "notFound");
    if (m[2] === undefined) {
      if (req.method !== "GET") return fail(res, 405, "Method not allowed", "methodNotAllowed");
      const prefix = url.searchParams.get("prefix") ?? "";
      const max = Number(url.searchParams.get("maxResults") ?? 1000);
      const names = [...objects.keys()].filter((n) => n.startsWith(prefix)).sort();
      const start = url.searchParams.get("pageToken") ? names.indexOf(Buffer.from(url.searchParams.get("pageToken")!, "base64url").toString()) : 0;
      const page = names.slice(Math.max(start, 0), Math.max(start, 0) + max);
      const next = names[Math.max(start, 0) + max];
      return json(res, 200, {
        kind: "storage#objects",
        ...(page.length ? { items: page.map((n) => resource(bucket, n, objects.get(n)!)) } : {}),
        ...(next !== undefined ? { nextPageToken: Buffer.from(next).toString("base64url") } : {}),
      });
    }
    const name = decodeURIComponent(m[2]);
    const object = objects.get(name);
    if (req.method === "DELETE") {
      if (!object) return fail(res, 404, `No such object: ${bucket}/${name}`, "notFound");
      objects.delete(name);
      res.writeHead(204).end();
      return;
    }
    if (req.method !== "GET") return fail(res, 405, "Method not allowed", "methodNotAllowed");
    if (!object) return fail(res, 404, `No such object: ${bucket}/${name}`, "notFound");
    if (url.searchParams.get("alt") !== "media") return json(res, 200, resource(bucket, name, object));
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? "");
    const meta = resource(bucket, name, object);
    const headers = { "content-type": object.contentType, "x-goog-generation": meta.generation, "x-goog-stored-content-length": meta.size };
    if (range) {
      const size = object.data.length;
      const start = range[1] ? Number(range[1]) : Math.max(0, size - Number(range[2]));
      const end = range[1] && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size && size > 0) return fail(res, 416, "The requested range cannot be satisfied.", "requestedRangeNotSatisfiable");
      res.writeHead(206, { ...headers, "content-range": `bytes ${start}-${end}/${size}`, "content-length": String(end - start + 1) });
      res.end(object.data.subarray(start, end + 1));
      return;
    }
    res.writeHead(200, { ...headers, "x-goog-hash": `crc32c=${meta.crc32c},md5=${meta.md5Hash}`, "content-length": String(object.data.length) });
    res.end(object.data);
  }

  function upload(bucket: string, url: URL, req: IncomingMessage, body: Buffer, res: ServerResponse): void {
    const type = url.searchParams.get("uploadType");
    if (type === "media") {
      const name = url.searchParams.get("name");
      if (!name) return fail(res, 400, "Required parameter: name", "required");
      return json(res, 200, store(bucket, name, body, req.headers["content-type"] ?? "application/octet-stream"));
    }
    if (type === "multipart") {
      const boundary = /boundary="?([^";]+)"?/.exec(req.headers["content-type"] ?? "")?.[1];
      if (!boundary) return fail(res, 400, "multipart upload without a boundary", "invalid");
      const parts = splitMultipart(body, boundary);
      if (parts.length !== 2) return fail(res, 400, `multipart upload with ${parts.length} parts, expected metadata and media`, "invalid");
      const metadata = JSON.parse(parts[0]!.body.toString("utf8")) as { name?: string; contentType?: string };
      const name = metadata.name ?? url.searchParams.get("name");
      if (!name) return fail(res, 400, "Required parameter: name", "required");
      return json(res, 200, store(bucket, name, parts[1]!.body, metadata.contentType ?? parts[1]!.headers["content-type"] ?? "application/octet-stream"));
    }
    if (type === "resumable") {
      const id = url.searchParams.get("upload_id");
      if (req.method === "POST" && !id) {
        const metadata = body.length ? (JSON.parse(body.toString("utf8")) as { name?: string; contentType?: string }) : {};
        const name = url.searchParams.get("name") ?? metadata.name;
        if (!name) return fail(res, 400, "Required parameter: name", "required");
        const uploadId = randomBytes(12).toString("hex");
        sessions.set(uploadId, { bucket, name, contentType: String(req.headers["x-upload-content-type"] ?? metadata.contentType ?? "application/octet-stream"), chunks: [], received: 0 });
        res.writeHead(200, { location: `${endpoint}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&upload_id=${uploadId}` }).end();
        return;
      }
      const session = id ? sessions.get(id) : undefined;
      if (!session || req.method !== "PUT") return fail(res, 404, "No such upload session", "notFound");
      // Content-Range: bytes <first>-<last>/<total or *>, or bytes */<total or *> (a status query).
      const range = /^bytes (?:(\d+)-(\d+)|\*)\/(\d+|\*)$/.exec(String(req.headers["content-range"] ?? ""));
      if (!range) return fail(res, 400, "Invalid Content-Range", "invalid");
      if (range[1] !== undefined) {
        if (Number(range[1]) !== session.received) return fail(res, 400, `chunk starts at ${range[1]}, expected ${session.received}`, "invalid");
        session.chunks.push(body);
        session.received += body.length;
      }
      const total = range[3] === "*" ? undefined : Number(range[3]);
      if (total !== undefined && session.received >= total) {
        sessions.delete(id!);
        return json(res, 200, store(session.bucket, session.name, Buffer.concat(session.chunks), session.contentType));
      }
      // 308 "Resume Incomplete" with the bytes persisted so far.
      res.writeHead(308, session.received > 0 ? { range: `bytes=0-${session.received - 1}` } : {}).end();
      return;
    }
    fail(res, 400, `unsupported uploadType ${type}`, "invalid");
  }

  /** RFC 8693 token exchange, as Google's STS answers it. */
  function token(body: Buffer, res: ServerResponse): void {
    const form = new URLSearchParams(body.toString("utf8"));
    const ok =
      options.subjectToken !== undefined &&
      form.get("grant_type") === "urn:ietf:params:oauth:grant-type:token-exchange" &&
      form.get("subject_token") === options.subjectToken;
    if (!ok) return json(res, 400, { error: "invalid_grant", error_description: "The subject token is invalid." });
    const accessToken = randomBytes(16).toString("hex");
    tokens.add(accessToken);
    json(res, 200, { access_token: accessToken, issued_token_type: "urn:ietf:params:oauth:token-type:access_token", token_type: "Bearer", expires_in: 3600 });
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) fail(res, 500, String(error), "backendError");
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    tokenUri: `${endpoint}/token`,
    createBucket: (name) => void buckets.set(name, new Map()),
    requests: () => requests,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function splitMultipart(body: Buffer, boundary: string): { headers: Record<string, string>; body: Buffer }[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: { headers: Record<string, string>; body: Buffer }[] = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === "--") break;
    const next = body.indexOf(delimiter, start);
    if (next < 0) break;
    const part = body.subarray(start + 2, next - 2); // drop the CRLF after the delimiter and before the next
    const split = part.indexOf("\r\n\r\n");
    const headers: Record<string, string> = {};
    for (const line of part.subarray(0, split).toString("utf8").split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    parts.push({ headers, body: part.subarray(split + 4) });
    at = next;
  }
  return parts;
}

/** CRC32C (Castagnoli), as GCS reports it: big-endian, base64. */
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32cBase64(data: Buffer): string {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC32C_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
  return out.toString("base64");
}
