// Shared vocabulary of the transport conformance suite: the call specs every client runs, the results every client
// reports (the same JSON shape from grpc-js, Connect, grpc-go and Python grpcio), payload helpers and the matrix.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** One call a client makes. Binary values (request, `-bin` metadata) are base64 on the wire to the Go/Python clients. */
export interface CallSpec {
  /** `/<package.Service>/<Method>` */
  method: string;
  /**
   * - `unary` (default)
   * - `server_streaming`
   * - `upload_cancel`: a client-streaming call on a unary method: the request is sent but the client never
   *   half-closes and cancels after `cancelAfterMs` (a reset while the server is still receiving).
   */
  kind?: "unary" | "server_streaming" | "upload_cancel";
  request?: Uint8Array;
  /** Request metadata; keys ending in `-bin` take bytes. */
  metadata?: Record<string, string | Uint8Array>;
  /** Deadline. Default: none. */
  timeoutMs?: number;
  /** Request message compression. Default: none. */
  compression?: "gzip" | "deflate";
  /** Cancel the call this many ms after it started. */
  cancelAfterMs?: number;
  /** Streaming: stop reading for this long after the first message. */
  pauseAfterFirstMs?: number;
  /** Make this many copies of the call at once. Default 1. */
  parallel?: number;
  /** Start the call this long after the batch started (calls in a batch run at once). */
  startAfterMs?: number;
  /** Report only response sizes (large answers). */
  discardBodies?: boolean;
}

/** What a client saw of one call. */
export interface CallResult {
  code: number;
  message: string;
  sizes: number[];
  /** base64 response messages (empty with discardBodies). */
  responses: string[];
  /** Response headers with keys starting `x-` (`-bin` values base64). */
  headers: Record<string, string[]>;
  /** Trailers (for a trailers-only answer: its headers) with keys starting `x-` (`-bin` values base64). */
  trailers: Record<string, string[]>;
  /** base64 `google.rpc.Status` from `grpc-status-details-bin`, when the answer carried one. */
  details?: string;
  ms: number;
  /** parallel > 1: every copy. */
  all?: CallResult[];
}

export interface Batch {
  port: number;
  /** Client keepalive ping interval. Default: the client's (off). */
  keepaliveMs?: number;
  /** Largest response message the client accepts. Default: the client's (4 MiB). */
  maxReceiveBytes?: number;
  calls: CallSpec[];
}

export interface BatchResult {
  results: CallResult[];
  /** The client's own log lines, where it has any (grpc-go). */
  logs?: string[];
}

export type ClientName = "grpc-js" | "connect" | "grpc-go" | "grpcio" | "raw-http2";

/** A client stack: run a batch of calls on one connection. */
export interface Client {
  readonly name: ClientName;
  /** Whether it can run here; a reason when it cannot. */
  available(): { ok: true } | { ok: false; reason: string };
  run(batch: Batch): Promise<BatchResult>;
}

/** The JSON a Go/Python client reads. */
export function batchJson(batch: Batch): string {
  return JSON.stringify({
    target: `127.0.0.1:${batch.port}`,
    keepaliveMs: batch.keepaliveMs ?? 0,
    maxReceiveBytes: batch.maxReceiveBytes ?? 0,
    calls: batch.calls.map((c) => ({
      ...c,
      request: Buffer.from(c.request ?? new Uint8Array()).toString("base64"),
      metadata: Object.fromEntries(Object.entries(c.metadata ?? {}).map(([k, v]) => [k, typeof v === "string" ? v : Buffer.from(v).toString("base64")])),
    })),
  });
}

/** gRPC status codes by name (the tests read better with names). */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

const CODE_NAMES = new Map(Object.entries(Code).map(([k, v]) => [v as number, k]));
export function codeName(code: number): string {
  return CODE_NAMES.get(code) ?? String(code);
}

function varintLength(n: number): number {
  let length = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    length++;
  }
  return length;
}

function writeVarint(out: Buffer, offset: number, n: number): number {
  while (n >= 0x80) {
    out[offset++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[offset++] = n;
  return offset;
}

/**
 * A message of exactly `size` bytes that is also a valid `google.protobuf.BytesValue` (field 1, length-delimited):
 * the Connect client needs a schema, the other clients send the same bytes raw. `fill` is repeated as the value.
 * Sizes 1 and 2 cannot be made; 0 is the empty message.
 */
export function payload(size: number, fill = "conformance "): Buffer {
  if (size === 0) return Buffer.alloc(0);
  let valueLength = size - 2;
  while (valueLength > 0 && 1 + varintLength(valueLength) + valueLength > size) valueLength--;
  if (valueLength < 0 || 1 + varintLength(valueLength) + valueLength !== size) throw new RangeError(`no BytesValue of exactly ${size} bytes`);
  const out = Buffer.alloc(size);
  out[0] = 0x0a;
  const start = writeVarint(out, 1, valueLength);
  out.fill(fill, start);
  return out;
}

/** The value of a BytesValue-shaped payload (what {@link payload} wrapped). */
export function payloadValue(message: Uint8Array): Buffer {
  const buffer = Buffer.from(message);
  if (buffer.length === 0) return buffer;
  let offset = 1;
  let length = 0;
  let shift = 1;
  for (;;) {
    const byte = buffer[offset++]!;
    length += (byte & 0x7f) * shift;
    shift *= 128;
    if (byte < 0x80) break;
  }
  return buffer.subarray(offset, offset + length);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** CI=true: a client stack that cannot run is a failure, not a skip. */
export const IN_CI = process.env["CI"] === "true";

/** One row of the matrix: case × client × transport. */
export interface MatrixRow {
  case: string;
  client: string;
  transport: string;
  outcome: "pass" | "FAIL" | "skip";
  error?: string;
  /** Numbers the case measured (probe latency, memory), for the closing note. */
  notes?: string[];
  /** When it ran (ISO time). */
  at?: string;
}

/** Collects the matrix and writes it (markdown + JSON) under node_modules/.cache/flyte-conformance. */
export class Matrix {
  readonly rows: MatrixRow[] = [];

  record(row: MatrixRow): void {
    this.rows.push({ ...row, at: new Date().toISOString() });
  }

  table(): string {
    const transports = [...new Set(this.rows.map((r) => r.transport))];
    const keys = [...new Set(this.rows.map((r) => `${r.case}\u0000${r.client}`))];
    const cell = (c: string, client: string, transport: string) => this.rows.find((r) => r.case === c && r.client === client && r.transport === transport)?.outcome ?? "–";
    const lines = [`| case | client | ${transports.join(" | ")} |`, `|---|---|${transports.map(() => "---").join("|")}|`];
    for (const key of keys) {
      const [c, client] = key.split("\u0000") as [string, string];
      lines.push(`| ${c} | ${client} | ${transports.map((t) => cell(c, client, t)).join(" | ")} |`);
    }
    const failures = this.rows.filter((r) => r.outcome === "FAIL");
    if (failures.length) {
      lines.push("", "Failures:");
      for (const f of failures) lines.push(`- ${f.transport} × ${f.client} × ${f.case}: ${(f.error ?? "").split("\n").slice(0, 6).join(" ⏎ ")}`);
    }
    const measured = this.rows.filter((r) => r.notes?.length);
    if (measured.length) {
      lines.push("", "Measured:");
      for (const r of measured) lines.push(`- ${r.transport} × ${r.client} × ${r.case}: ${r.notes!.join("; ")}`);
    }
    return lines.join("\n");
  }

  /**
   * Writes matrix.md and matrix.json. A partial run (--test-name-pattern) updates its rows of the previous matrix
   * and keeps the others (each row says when it ran).
   */
  write(root: string): string {
    const dir = join(root, "node_modules", ".cache", "flyte-conformance");
    mkdirSync(dir, { recursive: true });
    const jsonFile = join(dir, "matrix.json");
    const key = (r: MatrixRow) => `${r.case}\u0000${r.client}\u0000${r.transport}`;
    const ran = new Set(this.rows.map(key));
    let previous: MatrixRow[] = [];
    try {
      if (existsSync(jsonFile)) previous = (JSON.parse(readFileSync(jsonFile, "utf8")) as MatrixRow[]).filter((r) => !ran.has(key(r)));
    } catch {
      previous = [];
    }
    const merged = new Matrix();
    merged.rows.push(...previous, ...this.rows);
    const file = join(dir, "matrix.md");
    writeFileSync(file, merged.table() + "\n");
    writeFileSync(jsonFile, JSON.stringify(merged.rows, null, 2));
    return file;
  }
}
