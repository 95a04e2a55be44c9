// The methods the conformance suite serves (not the connector service): raw bytes in and out (decode/encode are
// the identity), steered by request metadata so every client can ask for any behaviour without generated code.
// What each handler saw (its signal's abort reason, how far a stream got) is recorded by `x-call-id` for the test.
import type { MethodDefinition, OutgoingMetadata, ServerCall } from "../types.js";
import { payload } from "./harness.js";

export const SERVICE = "/conformance.Test";
/** Unary. Answers the request bytes, or `x-response-size` bytes; see {@link echo} for the other controls. */
export const ECHO = `${SERVICE}/Echo`;
/** Unary, the same handler as Echo (clients reach it with their client-streaming API to control the half-close). */
export const ECHO_UPLOAD = `${SERVICE}/EchoUpload`;
/** Server streaming: `x-count` messages of `x-message-size` bytes, waiting for the client as flow control says. */
export const STREAM = `${SERVICE}/Stream`;
/** Unary that never answers: waits for its signal and records why it aborted. */
export const SLOW = `${SERVICE}/Slow`;
/** Not served. */
export const MISSING = `${SERVICE}/Missing`;
export const HEALTH_CHECK = "/grpc.health.v1.Health/Check";
/** grpc.health.v1.HealthCheckResponse{status: SERVING}. */
export const SERVING = Uint8Array.of(0x08, 0x01);

/** What a handler saw, by `x-call-id`. */
export interface Observation {
  startedAt: number;
  /** Name of the signal's abort reason ("TimeoutError", "AbortError") once it aborted. */
  abortReason?: string;
  abortedAt?: number;
  /** When `whenDone` ran. */
  doneAt?: number;
  /** Streaming: messages handed to write(). */
  sent: number;
  /** Streaming: times write() asked to wait for drained(). */
  blocked: number;
  /** The handler returned. */
  finished: boolean;
  /** The handler threw (e.g. the transport lacks a call API). */
  error?: string;
}

export class Observations {
  readonly #byId = new Map<string, Observation>();
  /** Calls that reached a handler, with or without an id. */
  handled = 0;

  get(id: string): Observation | undefined {
    return this.#byId.get(id);
  }

  /** Waits until `predicate` holds for the call `id` (or `timeoutMs` passes); returns the observation. */
  async waitFor(id: string, predicate: (o: Observation) => boolean, timeoutMs = 5000): Promise<Observation | undefined> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const o = this.#byId.get(id);
      if ((o && predicate(o)) || Date.now() > end) return o;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  start(call: ServerCall): Observation {
    this.handled++;
    const o: Observation = { startedAt: Date.now(), sent: 0, blocked: 0, finished: false };
    const id = call.header("x-call-id");
    if (id !== undefined) this.#byId.set(id, o);
    call.signal.addEventListener("abort", () => {
      o.abortReason = (call.signal.reason as { name?: string } | undefined)?.name ?? String(call.signal.reason);
      o.abortedAt = Date.now();
    });
    call.whenDone(() => (o.doneAt = Date.now()));
    return o;
  }
}

function numberHeader(call: ServerCall, name: string): number | undefined {
  const value = call.header(name);
  return value === undefined ? undefined : Number(value);
}

/** Resolves after `ms`, or at once when the call's signal aborts. */
function wait(call: ServerCall, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (call.signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      call.signal.removeEventListener("abort", done);
      resolve();
    }
    call.signal.addEventListener("abort", done);
  });
}

/** The request metadata named by `x-echo` (comma separated), to send back. */
function echoed(call: ServerCall): OutgoingMetadata | undefined {
  const keys = call.header("x-echo");
  if (!keys) return undefined;
  const out: Record<string, readonly (string | Buffer)[]> = {};
  for (const key of keys.split(",").map((k) => k.trim())) out[key] = call.metadata(key);
  return out;
}

/**
 * Echo controls (request metadata):
 * - `x-response-size`: answer that many bytes (a BytesValue-shaped {@link payload}) instead of the request.
 * - `x-delay-ms`: answer after this long (or when the signal aborts: then nothing).
 * - `x-echo`: request metadata keys sent back as response headers and in the trailers.
 * - `x-fail-code`: fail with this status; message from `x-fail-message-bin` (UTF-8), details from
 *   `x-fail-details-bin`; `x-echo` keys then go in the (trailers-only) error's trailers.
 */
async function echo(call: ServerCall, observations: Observations): Promise<void> {
  const o = observations.start(call);
  try {
    const delay = numberHeader(call, "x-delay-ms");
    if (delay) await wait(call, delay);
    if (call.done || call.signal.aborted) return;
    const metadata = echoed(call);
    const failCode = numberHeader(call, "x-fail-code");
    if (failCode !== undefined) {
      const message = call.metadata("x-fail-message-bin")[0];
      const details = call.metadata("x-fail-details-bin")[0];
      call.fail(failCode, message === undefined ? "failed as asked" : Buffer.from(message).toString("utf8"), {
        ...(details !== undefined ? { details: Buffer.from(details) } : {}),
        ...(metadata ? { trailers: metadata } : {}),
      });
      return;
    }
    if (metadata) call.sendHeaders(metadata);
    const size = numberHeader(call, "x-response-size");
    call.respond(size === undefined ? call.request : payload(size), metadata);
  } finally {
    o.finished = true;
  }
}

async function stream(call: ServerCall, observations: Observations): Promise<void> {
  const o = observations.start(call);
  try {
    const count = numberHeader(call, "x-count") ?? 3;
    const message = payload(numberHeader(call, "x-message-size") ?? 16);
    for (let i = 0; i < count && !call.done; i++) {
      const more = call.write(message);
      o.sent++;
      if (!more) {
        o.blocked++;
        await call.drained();
      }
    }
    call.end();
  } finally {
    o.finished = true;
  }
}

async function slow(call: ServerCall, observations: Observations): Promise<void> {
  const o = observations.start(call);
  await wait(call, 2 ** 31 - 1);
  o.finished = true;
}

function identity(bytes: Uint8Array): unknown {
  return bytes;
}

/** Runs an async handler; a throw (a transport without part of the call API) fails the call INTERNAL and is recorded. */
function run(observations: Observations, body: (call: ServerCall, observations: Observations) => Promise<void>) {
  return (call: ServerCall) => {
    body(call, observations).catch((error: unknown) => {
      const id = call.header("x-call-id");
      const o = id === undefined ? undefined : observations.get(id);
      if (o) o.error = String(error);
      try {
        call.fail(13, `conformance handler failed: ${String(error)}`);
      } catch {
        // the call is gone
      }
    });
  };
}

/** The suite's methods, recording into `observations`. */
export function conformanceMethods(observations: Observations): MethodDefinition[] {
  const method = (path: string, kind: MethodDefinition["kind"], handler: MethodDefinition["handler"]): MethodDefinition => ({
    path,
    kind,
    decode: identity,
    encode: (message) => message as Uint8Array,
    handler,
  });
  return [
    method(ECHO, "unary", run(observations, echo)),
    method(ECHO_UPLOAD, "unary", run(observations, echo)),
    method(STREAM, "server_streaming", run(observations, stream)),
    method(SLOW, "unary", run(observations, slow)),
    method(HEALTH_CHECK, "unary", (call) => call.respond(SERVING)),
  ];
}
