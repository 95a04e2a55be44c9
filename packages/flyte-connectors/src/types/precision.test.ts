/**
 * Values survive decode → encode exactly as flyte-sdk wrote them: datetimes to the nanosecond, whole floats
 * inside structs as floats; and dataclass schemas' `required` fields are checked both ways.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, type JsonObject } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { encode as msgpackEncode } from "@msgpack/msgpack";
import { type Literal, LiteralSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/literals_pb.js";
import { TypeConversionError } from "../errors.js";
import { decodeInputs, decodeLiteral, encodeInputs, encodeLiteral, Float64, FlyteDatetime, types } from "./index.js";

/** A Python `datetime` literal as flyte-sdk writes it (Timestamp.FromDatetime: microseconds × 1000). */
const pyDatetime = (seconds: bigint, nanos: number): Literal =>
  create(LiteralSchema, {
    value: { case: "scalar", value: { value: { case: "primitive", value: { value: { case: "datetime", value: create(TimestampSchema, { seconds, nanos }) } } } } },
  });

/** A msgpack STRUCT literal written by Python's msgpack (floats as float64 0xcb, ints as ints). */
const pyMsgpack = (bytes: Uint8Array): Literal =>
  create(LiteralSchema, { value: { case: "scalar", value: { value: { case: "binary", value: { value: bytes, tag: "msgpack" } } } } });

const bytesOf = (lit: Literal): Uint8Array => {
  const s = lit.value.case === "scalar" ? lit.value.value.value : undefined;
  assert.equal(s?.case, "binary");
  return (s as { value: { value: Uint8Array } }).value.value;
};

/** Python `msgpack.packb({"ratio": 2.0, "count": 2})`, written out byte by byte. */
const PY_RATIO_COUNT = Uint8Array.from([0x82, 0xa5, ...Buffer.from("ratio"), 0xcb, 0x40, 0, 0, 0, 0, 0, 0, 0, 0xa5, ...Buffer.from("count"), 0x02]);

describe("datetimes keep their nanoseconds", () => {
  it("a datetime with microseconds decodes to a FlyteDatetime and encodes back to the same literal", async () => {
    const sent = pyDatetime(1_767_323_045n, 123_456_000); // 2026-01-02T03:04:05.123456Z
    const value = await decodeLiteral(sent, types.datetime.literalType);
    assert.ok(value instanceof FlyteDatetime);
    assert.ok(value instanceof Date, "still a Date for code that expects one");
    assert.equal(value.toISOString(), "2026-01-02T03:04:05.123456Z");
    assert.equal(value.getTime(), 1_767_323_045_123);
    const back = await encodeLiteral(value, types.datetime.literalType);
    assert.deepEqual(back, sent);
  });

  it("nanoseconds, negative epochs and plain Dates", async () => {
    const ns = await decodeLiteral(pyDatetime(0n, 1), undefined);
    assert.equal((ns as FlyteDatetime).toISOString(), "1970-01-01T00:00:00.000000001Z");
    const before = await decodeLiteral(pyDatetime(-1n, 999_999_000), types.datetime.literalType);
    assert.equal((before as Date).toISOString(), "1969-12-31T23:59:59.999999Z");
    assert.deepEqual(await encodeLiteral(before, types.datetime.literalType), pyDatetime(-1n, 999_999_000));
    // A plain Date still encodes, to the millisecond.
    assert.deepEqual(await encodeLiteral(new Date("2026-01-02T03:04:05.123Z"), types.datetime.literalType), pyDatetime(1_767_323_045n, 123_000_000));
  });

  it("FlyteDatetime reads ISO text exactly and refuses what is not a date-time", () => {
    assert.equal(FlyteDatetime.fromISOString("2026-01-02T03:04:05.123456").toISOString(), "2026-01-02T03:04:05.123456Z");
    assert.equal(FlyteDatetime.fromISOString("2026-01-02 05:04:05.1+02:00").toISOString(), "2026-01-02T03:04:05.100Z");
    assert.equal(FlyteDatetime.fromISOString("2026-01-02").toISOString(), "2026-01-02T00:00:00.000Z");
    const d = FlyteDatetime.fromISOString("2026-01-02T03:04:05.000000007Z");
    assert.equal(d.seconds, 1_767_323_045n);
    assert.equal(d.nanos, 7);
    assert.equal(JSON.stringify({ d }), '{"d":"2026-01-02T03:04:05.000000007Z"}');
    for (const bad of ["2026-02-30", "2026-01-02T24:00", "March 3", "2026-01-02T03:04:05.1234567890Z"]) {
      assert.throws(() => FlyteDatetime.fromISOString(bad), RangeError, bad);
    }
    assert.ok(FlyteDatetime.fromDate(new Date(5)).equals(new FlyteDatetime(0, 5_000_000)));
  });

  it("a datetime inside a dataclass (ISO text in msgpack, as mashumaro writes it) keeps its microseconds", async () => {
    const schema = { title: "Ev", type: "object", properties: { at: { type: "string", format: "date-time" } }, required: ["at"] };
    const type = types.list(types.datetime).literalType;
    const lit = pyMsgpack(msgpackEncode(["2026-01-02T03:04:05.123456"]));
    const [at] = (await decodeLiteral(lit, type)) as Date[];
    assert.equal(at!.toISOString(), "2026-01-02T03:04:05.123456Z");
    const struct = await encodeLiteral({ at }, types.dataclass(schema).literalType);
    assert.match(Buffer.from(bytesOf(struct)).toString("latin1"), /2026-01-02T03:04:05\.123456Z/);
  });
});

describe("whole floats stay floats", () => {
  it("an untyped dict decoded with 2.0 packs 2.0 back as float64, byte for byte", async () => {
    const value = (await decodeLiteral(pyMsgpack(PY_RATIO_COUNT), types.struct.literalType)) as Record<string, unknown>;
    assert.deepEqual(value, { ratio: 2, count: 2 }, "plain numbers for the connector");
    const back = await encodeLiteral(value, types.struct.literalType);
    assert.deepEqual(Buffer.from(bytesOf(back)).toString("hex"), Buffer.from(PY_RATIO_COUNT).toString("hex"));
  });

  it("nested dicts and lists keep their floats; a changed value is packed as what it now is", async () => {
    const py = msgpackEncode({ a: { b: [1.5, 3] } }); // @msgpack/msgpack writes 3 as an int
    const bytes = Uint8Array.from(py);
    // Make the list's second item a float64 3.0 as Python would write it: rebuild with an explicit float.
    const withFloat = Buffer.concat([Buffer.from(bytes.subarray(0, bytes.length - 1)), Buffer.from([0xcb, 0x40, 0x08, 0, 0, 0, 0, 0, 0])]);
    const value = (await decodeLiteral(pyMsgpack(withFloat), undefined)) as { a: { b: number[] } };
    assert.deepEqual(value, { a: { b: [1.5, 3] } });
    assert.equal(Buffer.from(bytesOf(await encodeLiteral(value, types.struct.literalType))).toString("hex"), withFloat.toString("hex"));
    value.a.b[1] = 4; // a new whole value is an int again: only the value decoded as a float stays one
    const changed = (await decodeLiteral(await encodeLiteral(value, types.struct.literalType), undefined)) as typeof value;
    assert.deepEqual(changed.a.b, [1.5, 4]);
    assert.equal(Buffer.from(bytesOf(await encodeLiteral(value, types.struct.literalType))).at(-1), 0x04, "packed as a fixint");
  });

  it("Float64 is a float wherever a value's type is inferred", async () => {
    const lit = await encodeLiteral(new Float64(2), undefined);
    assert.equal(lit.value.case === "scalar" && lit.value.value.value.case === "primitive" ? lit.value.value.value.value.value.case : undefined, "floatValue");
    assert.equal(await decodeLiteral(await encodeLiteral(new Float64(2), types.float.literalType), types.float.literalType), 2);
    const union = await encodeLiteral(new Float64(2), types.union(types.int, types.float).literalType);
    assert.equal(await decodeLiteral(union, types.union(types.int, types.float).literalType), 2);
    assert.equal(union.value.case === "scalar" && union.value.value.value.case === "union" ? union.value.value.value.value.type?.structure?.tag : undefined, "float");
  });

  it("Float64 forces a float in a struct built from scratch", async () => {
    const lit = await encodeLiteral({ ratio: new Float64(2), count: 2 }, types.struct.literalType);
    assert.equal(Buffer.from(bytesOf(lit)).toString("hex"), Buffer.from(PY_RATIO_COUNT).toString("hex"));
  });

  it("dataclass / pydantic fields whose schema says number are packed as floats", async () => {
    const inner = { title: "Inner", type: "object", properties: { w: { type: "number" } }, required: ["w"] };
    const schema: JsonObject = {
      title: "Cfg",
      type: "object",
      properties: {
        ratio: { type: "number" },
        count: { type: "integer" },
        maybe: { anyOf: [{ type: "number" }, { type: "null" }] },
        weights: { type: "object", additionalProperties: { type: "number" } },
        inner: { $ref: "#/$defs/Inner" },
        list: { type: "array", items: { type: "number" } },
      },
      required: ["ratio", "count"],
      $defs: { Inner: inner },
    };
    const lit = await encodeLiteral(
      { ratio: 2, count: 2, maybe: 1, weights: { a: 3 }, inner: { w: 4 }, list: [5] },
      types.pydantic(schema).literalType,
    );
    const expected = new Uint8Array(
      (await import("@msgpack/msgpack")).encode(
        { ratio: 2, count: 2, maybe: 1, weights: { a: 3 }, inner: { w: 4 }, list: [5] },
        { forceIntegerToFloat: true },
      ),
    );
    // Every number is a float except `count`: compare with an all-float packing with count patched to int 2.
    const hex = Buffer.from(bytesOf(lit)).toString("hex");
    const countFloat = Buffer.concat([Buffer.from([0xa5]), Buffer.from("count"), Buffer.from([0xcb, 0x40, 0, 0, 0, 0, 0, 0, 0])]).toString("hex");
    const countInt = Buffer.concat([Buffer.from([0xa5]), Buffer.from("count"), Buffer.from([0x02])]).toString("hex");
    assert.equal(hex, Buffer.from(expected).toString("hex").replace(countFloat, countInt));
  });
});

describe("dataclass required fields", () => {
  const schema = {
    title: "Job",
    type: "object",
    properties: { name: { type: "string" }, inner: { $ref: "#/$defs/Inner" } },
    required: ["name", "inner"],
    $defs: { Inner: { title: "Inner", type: "object", properties: { n: { type: "integer" } }, required: ["n"] } },
  };
  const job = types.dataclass(schema);

  it("decoding a dataclass without a required field is an INVALID_ARGUMENT naming input and field", async () => {
    const inputs = await encodeInputs({ job: { name: "x", inner: { n: 1 } } }, { job: types.struct });
    // What a Python caller with an older dataclass (no `n`) sends:
    inputs.literals[0]!.value = pyMsgpack(msgpackEncode({ name: "x", inner: {} }));
    await assert.rejects(decodeInputs(inputs, { job }), (err: unknown) => {
      assert.ok(err instanceof TypeConversionError);
      assert.equal(err.code, "INVALID_ARGUMENT");
      assert.equal(err.variable, "job");
      assert.match(err.message, /^job: .*at \.inner: missing required field "n" of Inner/);
      return true;
    });
  });

  it("encoding one is refused the same way", async () => {
    await assert.rejects(encodeInputs({ job: { inner: { n: 1 } } }, { job }), /job: .*missing required field "name" of Job/);
    const ok = await encodeInputs({ job: { name: "x", inner: { n: 1 } } }, { job });
    assert.deepEqual(await decodeInputs(ok, { job }), { job: { name: "x", inner: { n: 1 } } });
  });
});
