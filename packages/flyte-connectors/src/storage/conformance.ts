/**
 * The cases every storage backend passes, run by each backend's test against a real local server: round trip,
 * multipart upload, ranged reads, missing keys, wrong credentials, a slow server against a deadline, retries.
 * Not part of the public API.
 */
import assert from "node:assert/strict";
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { StorageError, type Storage } from "./types.js";
import { joinUri } from "./uri.js";

export interface ConformanceSetup {
  /** A store reaching the server with good credentials. */
  store: Storage;
  /** A URI prefix (bucket/container and a folder) the store may write under. */
  base: string;
  /** A store reaching the same server with a wrong secret (undefined: the scheme has no credentials). */
  wrongCredentials?: Storage;
  /** A store whose server accepts requests and never answers, and the URI prefix to use with it. */
  silent?: { store: Storage; base: string; requests: () => number };
  /**
   * Stores whose server answers 503 to everything: `store` configured with `retries` retries and a short
   * back-off, `patient` with retries enough to outlast any deadline.
   */
  failing?: { store: Storage; patient: Storage; base: string; requests: () => number; retries: number };
  /** The secret that must never appear in an error message. */
  secret?: string;
  close(): Promise<void>;
}

/** A deterministic pseudo-random byte stream (AES-CTR of zeros) in 1 MiB chunks: fast, and no two parts alike. */
export async function* pseudoRandom(total: number, seed = 1): AsyncGenerator<Buffer> {
  const cipher = createCipheriv("aes-128-ctr", createHash("md5").update(String(seed)).digest(), Buffer.alloc(16));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let sent = 0; sent < total; ) {
    const size = Math.min(zeros.length, total - sent);
    sent += size;
    yield cipher.update(zeros.subarray(0, size));
  }
}

async function sha256(stream: AsyncIterable<Uint8Array>): Promise<{ hash: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    size += chunk.byteLength;
  }
  return { hash: hash.digest("hex"), size };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function rejectsWith(promise: Promise<unknown>, code: string, check?: (e: StorageError) => void): Promise<StorageError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof StorageError, `expected a StorageError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    check?.(error);
    return error;
  }
  assert.fail(`expected a ${code} StorageError`);
}

/** Registers the conformance cases for one backend; `setup` starts its server. */
export function storageConformance(name: string, setup: () => Promise<ConformanceSetup>, options: { multipartBytes?: number } = {}): void {
  describe(`${name} storage`, () => {
    let s: ConformanceSetup;
    before(async () => {
      s = await setup();
    });
    after(async () => {
      await s?.close();
    });

    it("puts, gets, heads, lists and deletes objects", async () => {
      const base = joinUri(s.base, `rt-${randomBytes(4).toString("hex")}`);
      await s.store.put(joinUri(base, "a.txt"), "hello");
      await s.store.put(joinUri(base, "sub/b.bin"), new Uint8Array([0, 1, 2, 255]), { contentType: "application/octet-stream" });
      assert.equal(new TextDecoder().decode(await s.store.get(joinUri(base, "a.txt"))), "hello");
      assert.deepEqual([...(await s.store.read(joinUri(base, "sub/b.bin")))], [0, 1, 2, 255]);
      const info = await s.store.head(joinUri(base, "sub/b.bin"));
      assert.equal(info.size, 4);
      assert.equal(info.uri, joinUri(base, "sub/b.bin"));
      assert.equal(await s.store.exists(joinUri(base, "a.txt")), true);
      const listed = (await collect(s.store.list(`${base}/`))).map((o) => [o.uri, o.size]).sort();
      assert.deepEqual(listed, [
        [joinUri(base, "a.txt"), 5],
        [joinUri(base, "sub/b.bin"), 4],
      ]);
      // Replacing an object replaces its bytes.
      await s.store.put(joinUri(base, "a.txt"), "bye");
      assert.equal(new TextDecoder().decode(await s.store.get(joinUri(base, "a.txt"))), "bye");
      await s.store.delete(joinUri(base, "a.txt"));
      assert.equal(await s.store.exists(joinUri(base, "a.txt")), false);
      assert.deepEqual((await collect(s.store.list(`${base}/`))).map((o) => o.uri), [joinUri(base, "sub/b.bin")]);
    });

    it("streams a multipart upload and reads it back intact", async () => {
      const total = options.multipartBytes ?? 12 * 1024 * 1024 + 12345;
      const uri = joinUri(s.base, `mp-${randomBytes(4).toString("hex")}/big.bin`);
      const expected = await sha256(pseudoRandom(total, 7));
      await s.store.putStream(uri, Readable.from(pseudoRandom(total, 7)));
      assert.equal((await s.store.head(uri)).size, total);
      assert.deepEqual(await sha256(await s.store.getStream(uri)), expected);
      await s.store.delete(uri);
    });

    it("reads byte ranges", async () => {
      const uri = joinUri(s.base, `range-${randomBytes(4).toString("hex")}.txt`);
      await s.store.put(uri, "0123456789");
      const text = async (range: { offset: number; length?: number }) => new TextDecoder().decode(await s.store.get(uri, { range }));
      assert.equal(await text({ offset: 2, length: 3 }), "234");
      assert.equal(await text({ offset: 7 }), "789");
      assert.equal(await text({ offset: 0, length: 10 }), "0123456789");
      assert.equal(await text({ offset: 4, length: 0 }), "");
      await rejectsWith(s.store.get(uri, { range: { offset: -1 } }), "INVALID_ARGUMENT");
      await s.store.delete(uri);
    });

    it("reports a missing object as NOT_FOUND naming its URI", async () => {
      const uri = joinUri(s.base, `missing-${randomBytes(4).toString("hex")}/nothing.pb`);
      await rejectsWith(s.store.get(uri), "NOT_FOUND", (e) => assert.match(e.message, new RegExp(`"${uri.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"`)));
      await rejectsWith(s.store.getStream(uri), "NOT_FOUND");
      await rejectsWith(s.store.head(uri), "NOT_FOUND");
      assert.equal(await s.store.exists(uri), false);
      await s.store.delete(uri); // deleting nothing is fine
      assert.deepEqual(await collect(s.store.list(`${uri}/`)), []);
    });

    it("refuses wrong credentials without naming them", { skip: false }, async (t) => {
      if (!s.wrongCredentials) return t.skip("this scheme has no credentials");
      const uri = joinUri(s.base, "creds.txt");
      await s.store.put(uri, "x");
      const error = await rejectsWith(s.wrongCredentials.get(uri), "FAILED_PRECONDITION", (e) => assert.equal(e.problem, "denied"));
      assert.ok(error.message.includes(uri), error.message);
      if (s.secret) assert.ok(!error.message.includes(s.secret), "the message names the secret");
      await rejectsWith(s.wrongCredentials.put(uri, "y"), "FAILED_PRECONDITION");
    });

    it("ends a call to a server that never answers at the call's deadline", async (t) => {
      if (!s.silent) return t.skip("no network server");
      const started = Date.now();
      await rejectsWith(s.silent.store.get(joinUri(s.silent.base, "slow.pb"), { signal: AbortSignal.timeout(300) }), "DEADLINE_EXCEEDED", (e) =>
        assert.match(e.message, /slow\.pb.*deadline/),
      );
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 10_000, `took ${elapsed} ms for a 300 ms deadline`);
      assert.ok(s.silent.requests() >= 1, "the server saw no request");
    });

    it("retries a server answering 503, then reports UNAVAILABLE", async (t) => {
      if (!s.failing) return t.skip("no network server");
      const before = s.failing.requests();
      await rejectsWith(s.failing.store.get(joinUri(s.failing.base, "busy.pb")), "UNAVAILABLE", (e) => assert.match(e.message, /busy\.pb/));
      assert.equal(s.failing.requests() - before, s.failing.retries + 1);
      // Within a deadline shorter than the back-off, the retries stop at the deadline.
      const started = Date.now();
      await rejectsWith(s.failing.patient.get(joinUri(s.failing.base, "busy.pb"), { signal: AbortSignal.timeout(300) }), "DEADLINE_EXCEEDED");
      assert.ok(Date.now() - started < 10_000);
    });
  });
}
