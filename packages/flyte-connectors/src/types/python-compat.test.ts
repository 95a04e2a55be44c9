/**
 * Literals built exactly as flyte-sdk (Python) builds them, decoded to JS values; and JS-encoded
 * literals compared with them field by field.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clone, create, equals, type MessageInitShape } from "@bufbuild/protobuf";
import { DurationSchema, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { encode as msgpack } from "@msgpack/msgpack";
import { type Literal, LiteralSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/literals_pb.js";
import {
  BlobType_BlobDimensionality,
  type LiteralType,
  LiteralTypeSchema,
  SimpleType,
  TypeStructureSchema,
} from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import { TypeConversionError } from "../errors.js";
import { DataFrame, decodeLiteral, Duration, encodeLiteral, FlyteDatetime, FlyteDir, FlyteFile, types } from "./index.js";

// ---- Python-shaped builders (flyte-sdk: Literal(scalar=Scalar(...)), LiteralType(...)) ----
type ScalarInit = NonNullable<MessageInitShape<typeof LiteralSchema>["value"]> & { case: "scalar" };
const literal = (init: MessageInitShape<typeof LiteralSchema>): Literal => create(LiteralSchema, init);
const scalar = (value: ScalarInit["value"]["value"], hash = "") => literal({ value: { case: "scalar", value: { value } }, hash });
const prim = (value: { case: "integer"; value: bigint } | { case: "floatValue"; value: number } | { case: "stringValue"; value: string } | { case: "boolean"; value: boolean }) =>
  scalar({ case: "primitive", value: { value } });
const pyInt = (v: bigint) => prim({ case: "integer", value: v });
const pyStr = (v: string) => prim({ case: "stringValue", value: v });
const pyNone = () => scalar({ case: "noneType", value: {} });
const pyMsgpack = (obj: unknown) => scalar({ case: "binary", value: { value: msgpack(obj, { useBigInt64: true }), tag: "msgpack" } });
const lt = (init: MessageInitShape<typeof LiteralTypeSchema>): LiteralType => create(LiteralTypeSchema, init);
const tagged = (t: LiteralType, tag: string) => {
  const copy = clone(LiteralTypeSchema, t);
  copy.structure = create(TypeStructureSchema, { tag });
  return copy;
};
const pyUnion = (value: Literal, type: LiteralType) => scalar({ case: "union", value: { value, type } });
const INT = lt({ type: { case: "simple", value: SimpleType.INTEGER } });
const STR = lt({ type: { case: "simple", value: SimpleType.STRING } });
const NONE = lt({ type: { case: "simple", value: SimpleType.NONE } });

function assertLiteral(actual: Literal, expected: Literal): void {
  assert.ok(equals(LiteralSchema, actual, expected), `literals differ:\n${JSON.stringify(actual, jsonBig)}\n${JSON.stringify(expected, jsonBig)}`);
}
const jsonBig = (_: string, v: unknown) => (typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v);

// ---- Each case: a DSL type, the literal Python writes for a value, and that value in JS. ----
const schema = { title: "Point", type: "object", properties: { x: { type: "integer" }, y: { type: "number" } }, required: ["x", "y"] };
const cases: { name: string; spec: { literalType: LiteralType }; python: Literal; js: unknown }[] = [
  { name: "int", spec: types.int, python: pyInt(42n), js: 42 },
  { name: "negative int", spec: types.int, python: pyInt(-7n), js: -7 },
  { name: "int 2^53-1", spec: types.int, python: pyInt(2n ** 53n - 1n), js: Number.MAX_SAFE_INTEGER },
  { name: "int 2^60", spec: types.int, python: pyInt(2n ** 60n), js: 2n ** 60n },
  { name: "int -2^63", spec: types.int, python: pyInt(-(2n ** 63n)), js: -(2n ** 63n) },
  { name: "float", spec: types.float, python: prim({ case: "floatValue", value: -2.5 }), js: -2.5 },
  { name: "str", spec: types.string, python: pyStr("héllo"), js: "héllo" },
  { name: "bool", spec: types.boolean, python: prim({ case: "boolean", value: true }), js: true },
  {
    name: "datetime",
    spec: types.datetime,
    python: scalar({ case: "primitive", value: { value: { case: "datetime", value: create(TimestampSchema, { seconds: 1_700_000_000n, nanos: 123_000_000 }) } } }),
    js: new FlyteDatetime(1_700_000_000, 123_000_000),
  },
  {
    name: "datetime before 1970",
    spec: types.datetime,
    python: scalar({ case: "primitive", value: { value: { case: "datetime", value: create(TimestampSchema, { seconds: -1n, nanos: 500_000_000 }) } } }),
    js: new FlyteDatetime(-1, 500_000_000),
  },
  {
    name: "timedelta(days=1, microseconds=5)",
    spec: types.duration,
    python: scalar({ case: "primitive", value: { value: { case: "duration", value: create(DurationSchema, { seconds: 86_400n, nanos: 5_000 }) } } }),
    js: new Duration(86_400n, 5_000),
  },
  { name: "None", spec: types.none, python: pyNone(), js: null },
  { name: "list[int]", spec: types.list(types.int), python: literal({ value: { case: "collection", value: { literals: [pyInt(1n), pyInt(-2n)] } } }), js: [1, -2] },
  { name: "dict[str, str]", spec: types.map(types.string), python: literal({ value: { case: "map", value: { literals: { a: pyStr("x"), b: pyStr("y") } } } }), js: { a: "x", b: "y" } },
  {
    name: "untyped dict",
    spec: types.struct,
    python: pyMsgpack({ a: 1, b: [1, 2.5], c: { d: null }, big: 2n ** 60n, neg: -(2n ** 40n), s: "x" }),
    js: { a: 1, b: [1, 2.5], c: { d: null }, big: 2n ** 60n, neg: -1_099_511_627_776, s: "x" },
  },
  { name: "dataclass", spec: types.dataclass(schema), python: pyMsgpack({ x: 1, y: 2.5 }), js: { x: 1, y: 2.5 } },
  { name: "pydantic model", spec: types.pydantic(schema), python: pyMsgpack({ x: -3, y: 0.5 }), js: { x: -3, y: 0.5 } },
  { name: "Enum", spec: types.enum("RED", "GREEN"), python: pyStr("GREEN"), js: "GREEN" },
  { name: "Optional[int] = 5", spec: types.optional(types.int), python: pyUnion(pyInt(5n), tagged(INT, "int")), js: 5 },
  { name: "Optional[int] = None", spec: types.optional(types.int), python: pyUnion(pyNone(), tagged(NONE, "none")), js: null },
  { name: "Union[int, str] = 'a'", spec: types.union(types.int, types.string), python: pyUnion(pyStr("a"), tagged(STR, "str")), js: "a" },
  {
    name: "File",
    spec: types.file,
    python: scalar(
      { case: "blob", value: { uri: "s3://bucket/a.csv", metadata: { type: { format: "csv", dimensionality: BlobType_BlobDimensionality.SINGLE } } } },
      "abc123",
    ),
    js: new FlyteFile("s3://bucket/a.csv", "csv", "abc123"),
  },
  {
    name: "Dir",
    spec: types.dir,
    python: scalar({ case: "blob", value: { uri: "s3://bucket/d/", metadata: { type: { format: "", dimensionality: BlobType_BlobDimensionality.MULTIPART } } } }),
    js: new FlyteDir("s3://bucket/d/"),
  },
  {
    name: "Optional[File]",
    spec: types.optional(types.file),
    python: pyUnion(
      scalar({ case: "blob", value: { uri: "/tmp/x", metadata: { type: { format: "", dimensionality: BlobType_BlobDimensionality.SINGLE } } } }),
      tagged(lt({ type: { case: "blob", value: { format: "", dimensionality: BlobType_BlobDimensionality.SINGLE } } }), "File"),
    ),
    js: new FlyteFile("/tmp/x"),
  },
  {
    name: "DataFrame (parquet)",
    spec: types.dataframe("parquet"),
    python: scalar({ case: "structuredDataset", value: { uri: "s3://bucket/df", metadata: { structuredDatasetType: { format: "parquet" } } } }),
    js: new DataFrame("s3://bucket/df", "parquet"),
  },
];

describe("Python-built literals decode to JS values", () => {
  for (const c of cases) {
    it(c.name, async () => {
      assert.deepEqual(await decodeLiteral(c.python, c.spec.literalType), c.js);
    });
  }

  it("without a declared type too (decoded from the literal's shape)", async () => {
    for (const c of cases) assert.deepEqual(await decodeLiteral(c.python, undefined), c.js, c.name);
  });
});

describe("JS values encode to exactly the literals Python builds", () => {
  for (const c of cases) {
    it(c.name, async () => {
      assertLiteral(await encodeLiteral(c.js, c.spec.literalType), c.python);
    });
  }

  it("msgpack bytes are byte-for-byte what Python's msgpack.dumps writes", async () => {
    const lit = await encodeLiteral({ a: 1, b: [1, 2.5], c: "x", big: 2n ** 60n }, types.struct.literalType);
    const s = lit.value.case === "scalar" ? lit.value.value.value : undefined;
    assert.equal(s?.case, "binary");
    assert.equal(s.value.tag, "msgpack");
    // msgpack.dumps({"a": 1, "b": [1, 2.5], "c": "x", "big": 2**60}) in Python
    assert.equal(Buffer.from(s.value.value).toString("hex"), "84a16101a1629201cb4004000000000000a163a178a3626967cf1000000000000000");
  });
});

describe("other shapes Python readers accept", () => {
  it("a STRUCT sent by the UI as google.protobuf.Struct (scalar.generic)", async () => {
    const python = scalar({ case: "generic", value: { a: 1, b: ["x"] } });
    assert.deepEqual(await decodeLiteral(python, types.struct.literalType), { a: 1, b: ["x"] });
  });

  it("msgpack values standing for other types (attribute access on a dataclass)", async () => {
    assert.equal(await decodeLiteral(pyMsgpack(42), types.int.literalType), 42);
    assert.deepEqual(await decodeLiteral(pyMsgpack("2024-01-02T03:04:05.123456"), types.datetime.literalType), FlyteDatetime.fromISOString("2024-01-02T03:04:05.123456Z"));
    assert.deepEqual(await decodeLiteral(pyMsgpack(1.5), types.duration.literalType), new Duration(1n, 500_000_000));
    assert.deepEqual(await decodeLiteral(pyMsgpack([1, 2]), types.list(types.int).literalType), [1, 2]);
    assert.deepEqual(
      await decodeLiteral(pyMsgpack({ path: "s3://b/f", name: "f", format: "csv" }), types.file.literalType),
      new FlyteFile("s3://b/f", "csv"),
    );
  });

  it("a float literal for an int (the UI sends JSON numbers)", async () => {
    assert.equal(await decodeLiteral(prim({ case: "floatValue", value: 3 }), types.int.literalType), 3);
    await assert.rejects(decodeLiteral(prim({ case: "floatValue", value: 3.5 }), types.int.literalType), TypeConversionError);
  });

  it("an integer literal for a float", async () => {
    assert.equal(await decodeLiteral(pyInt(3n), types.float.literalType), 3);
  });

  it("a union literal without tags (chosen by the variant type's shape)", async () => {
    const python = pyUnion(pyStr("a"), STR);
    assert.equal(await decodeLiteral(python, types.union(types.int, types.string).literalType), "a");
  });

  it("a plain literal where a union is declared", async () => {
    assert.equal(await decodeLiteral(pyInt(5n), types.optional(types.int).literalType), 5);
    assert.equal(await decodeLiteral(pyNone(), types.optional(types.int).literalType), null);
  });

  it("a union literal of a dataclass variant", async () => {
    const dc = types.dataclass(schema);
    const python = pyUnion(pyMsgpack({ x: 1, y: 2 }), dc.literalType);
    assert.deepEqual(await decodeLiteral(python, types.optional(dc).literalType), { x: 1, y: 2 });
  });
});
