import assert from "node:assert/strict";
import { test } from "node:test";
import { ResourceMetaDecodeError } from "./errors.js";
import { ResourceMeta } from "./resource-meta.js";

class BigQueryMetadata extends ResourceMeta.define({
  job_id: "string",
  project: "string",
  location: "string",
  user_agent: "string",
}) {}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (s: string) => new TextEncoder().encode(s);

test("encode writes the bytes Python's json.dumps(asdict(meta)) writes", () => {
  const meta = new BigQueryMetadata({ job_id: "j1", project: "p", location: "US", user_agent: "flyte/2" });
  // Literal copied from python3 -c 'import json; print(json.dumps({"job_id": "j1", "project": "p", "location": "US", "user_agent": "flyte/2"}))'
  assert.equal(text(meta.encode()), '{"job_id": "j1", "project": "p", "location": "US", "user_agent": "flyte/2"}');
});

test("encode escapes non-ASCII and control characters as Python does (ensure_ascii)", () => {
  class Meta extends ResourceMeta.define({ name: "string", n: "integer", tags: "array", extra: "object?" }) {}
  const meta = new Meta({ name: 'caf\u00e9 "\u{1F600}"\n\u007f', n: 3, tags: ["a", 1, true, null] });
  // python3: json.dumps({"name": 'café "😀"\n\x7f', "n": 3, "tags": ["a", 1, True, None], "extra": None})
  assert.equal(
    text(meta.encode()),
    '{"name": "caf\\u00e9 \\"\\ud83d\\ude00\\"\\n\\u007f", "n": 3, "tags": ["a", 1, true, null], "extra": null}',
  );
});

test("decode reads Python-written bytes into an instance of the subclass", () => {
  const meta = BigQueryMetadata.decode(bytes('{"job_id": "j1", "project": "p", "location": "EU", "user_agent": "x"}'));
  assert.ok(meta instanceof BigQueryMetadata);
  assert.equal(meta.job_id, "j1");
  assert.equal(meta.location, "EU");
  assert.deepEqual(BigQueryMetadata.decode(meta.encode()), meta);
});

test("decode names the problem in malformed or wrong-shaped bytes", () => {
  const cases: Array<[Uint8Array, RegExp]> = [
    [new Uint8Array([0xff, 0xfe]), /not valid UTF-8/],
    [bytes("{not json"), /not valid JSON/],
    [bytes("[1, 2]"), /expected a JSON object, got an array/],
    [bytes('{"job_id": "j", "project": "p", "location": "l"}'), /missing required field "user_agent"/],
    [bytes('{"job_id": 7, "project": "p", "location": "l", "user_agent": "u"}'), /field "job_id" should be string, got number 7/],
    [bytes('{"job_id": "j", "project": "p", "location": "l", "user_agent": "u", "x": 1}'), /unexpected field\(s\) "x"/],
  ];
  for (const [input, message] of cases) {
    assert.throws(
      () => BigQueryMetadata.decode(input),
      (error: unknown) => error instanceof ResourceMetaDecodeError && error.code === "INVALID_ARGUMENT" && message.test(error.message) && /BigQueryMetadata/.test(error.message),
    );
  }
});

test("optional fields may be absent or null", () => {
  class Meta extends ResourceMeta.define({ id: "string", region: "string?" }) {}
  assert.equal(Meta.decode(bytes('{"id": "a"}')).region, undefined);
  assert.equal(Meta.decode(bytes('{"id": "a", "region": null}')).region, null);
  assert.equal(text(new Meta({ id: "a" }).encode()), '{"id": "a", "region": null}');
});

test("NaN and Infinity, which Python's json.dumps writes, decode as null", () => {
  class Meta extends ResourceMeta.define({ id: "string", score: "number?" }) {}
  assert.equal(Meta.decode(bytes('{"id": "a", "score": NaN}')).score, null);
  assert.equal(Meta.decode(bytes('{"id": "a", "score": -Infinity}')).score, null);
});

test("the NaN fallback leaves string contents alone", () => {
  class Meta extends ResourceMeta.define({ status: "string", loss: "number?" }) {}
  const meta = Meta.decode(bytes('{"status": "NaN or -Infinity", "loss": NaN}'));
  assert.equal(meta.status, "NaN or -Infinity");
  assert.equal(meta.loss, null);
});

test("keys inherited from Object.prototype are unexpected fields, and __proto__ never replaces the prototype", () => {
  class Meta extends ResourceMeta.define({ status: "string" }) {}
  assert.throws(() => Meta.decode(bytes('{"status": "x", "constructor": 1, "toString": 2}')), /unexpected field\(s\) "constructor", "toString"/);
  class Loose extends ResourceMeta {}
  const loose = Loose.decode(bytes('{"__proto__": {"polluted": true}, "id": "a"}'));
  assert.ok(loose instanceof Loose);
  assert.equal((loose as unknown as { polluted?: boolean }).polluted, undefined);
  assert.deepEqual(Object.keys(loose), ["__proto__", "id"]);
});
