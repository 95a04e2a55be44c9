import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { type Literal, LiteralSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/literals_pb.js";
import { BlobType_BlobDimensionality } from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import { InputsSchema, OutputsSchema } from "@flyte-connectors/flyteidl2/flyteidl2/task/common_pb.js";
import { TypeConversionError } from "../errors.js";
import {
  DataFrame,
  decodeInputs,
  decodeLiteral,
  decodeOutputs,
  Duration,
  FlyteDatetime,
  encodeInputs,
  encodeLiteral,
  encodeOutputs,
  FlyteDir,
  FlyteFile,
  type LiteralStorage,
  type TypeSpec,
  types,
  variableMap,
} from "./index.js";

const literal = (init: MessageInitShape<typeof LiteralSchema>): Literal => create(LiteralSchema, init);
const int = (v: bigint) => literal({ value: { case: "scalar", value: { value: { case: "primitive", value: { value: { case: "integer", value: v } } } } } });
const str = (v: string) => literal({ value: { case: "scalar", value: { value: { case: "primitive", value: { value: { case: "stringValue", value: v } } } } } });

async function roundTrip<T>(spec: TypeSpec<T>, value: T): Promise<unknown> {
  return decodeLiteral(await encodeLiteral(value, spec.literalType), spec.literalType);
}

/** Asserts a TypeConversionError for `variable` whose message matches every pattern. */
async function rejectsWith(promise: Promise<unknown>, variable: string | undefined, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof TypeConversionError, `expected TypeConversionError, got ${String(err)}`);
    assert.equal(err.code, "INVALID_ARGUMENT");
    assert.equal(err.variable, variable);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

describe("round trips through the declared type", () => {
  const cases: [string, TypeSpec<unknown>, unknown][] = [
    ["int", types.int, 7],
    ["negative int", types.int, -123_456],
    ["int 2^53 - 1 stays a number", types.int, Number.MAX_SAFE_INTEGER],
    ["-(2^53 - 1) stays a number", types.int, -Number.MAX_SAFE_INTEGER],
    ["int 2^53 comes back as bigint", types.int, 2n ** 53n],
    ["int64 max", types.int, 2n ** 63n - 1n],
    ["int64 min", types.int, -(2n ** 63n)],
    ["float", types.float, -0.125],
    ["float NaN", types.float, Number.NaN],
    ["string", types.string, "ünïcode ✓"],
    ["boolean", types.boolean, false],
    ["datetime", types.datetime, FlyteDatetime.fromISOString("2024-02-29T12:34:56.789123Z")],
    ["datetime before 1970", types.datetime, new FlyteDatetime(-86_401, 999_999_999)],
    ["duration", types.duration, new Duration(3_600n, 1)],
    ["negative duration", types.duration, Duration.fromMillis(-2.5)],
    ["none", types.none, null],
    ["struct", types.struct, { a: [1, { b: "c" }], big: 2n ** 62n, neg: -(2 ** 40), pos: 2 ** 40, f: 1.5, bytes: new Uint8Array([1, 2]), n: null }],
    ["enum", types.enum("A", "B"), "B"],
    ["file", types.file, new FlyteFile("s3://b/f.csv", "csv")],
    ["dir", types.dir, new FlyteDir("gs://b/d/")],
    ["dataframe", types.dataframe("parquet"), new DataFrame("s3://b/df", "parquet")],
    ["list of map of struct", types.list(types.map(types.struct)), [{ x: { a: 1 } }, {}, { y: { b: [true] } }]],
    ["optional File (set)", types.optional(types.file), new FlyteFile("/data/x")],
    ["optional File (null)", types.optional(types.file), null],
    ["union int|str (int)", types.union(types.int, types.string), -5],
    ["union int|str (str)", types.union(types.int, types.string), "5"],
    ["map of list of optional int", types.map(types.list(types.optional(types.int))), { a: [1, null, 2n ** 60n], b: [] }],
    ["list of list of datetime", types.list(types.list(types.datetime)), [[new FlyteDatetime(0)], []]],
  ];
  for (const [name, spec, value] of cases) {
    it(name, async () => assert.deepEqual(await roundTrip(spec, value), value));
  }

  it("keeps a file's hash in Literal.hash", async () => {
    const lit = await encodeLiteral(new FlyteFile("s3://b/f", "", "h1"), types.file.literalType);
    assert.equal(lit.hash, "h1");
    assert.deepEqual(await decodeLiteral(lit, types.file.literalType), new FlyteFile("s3://b/f", "", "h1"));
  });

  it("keeps sub-millisecond precision when decoding a datetime", async () => {
    const lit = literal({
      value: { case: "scalar", value: { value: { case: "primitive", value: { value: { case: "datetime", value: { seconds: 10n, nanos: 123_999_999 } } } } } },
    });
    const date = await decodeLiteral(lit, types.datetime.literalType);
    assert.deepEqual(date, new FlyteDatetime(10, 123_999_999));
    assert.equal((date as FlyteDatetime).nanos, 123_999_999);
  });

  it("encodes Dates inside a struct as ISO strings", async () => {
    assert.deepEqual(await roundTrip(types.struct, { at: new Date(0) }), { at: "1970-01-01T00:00:00.000Z" });
  });
});

describe("union variant choice when encoding", () => {
  const variantTag = (lit: Literal) => (lit.value.case === "scalar" && lit.value.value.value.case === "union" ? lit.value.value.value.value.type?.structure?.tag : undefined);

  it("prefers the variant of the value's exact kind", async () => {
    const floatOrInt = types.union(types.float, types.int).literalType;
    assert.equal(variantTag(await encodeLiteral(2, floatOrInt)), "int");
    assert.equal(variantTag(await encodeLiteral(2.5, floatOrInt)), "float");
    assert.equal(variantTag(await encodeLiteral(2n, floatOrInt)), "int");
  });

  it("falls back to the first variant that accepts the value", async () => {
    assert.equal(variantTag(await encodeLiteral(2, types.union(types.float, types.string).literalType)), "float");
    assert.equal(variantTag(await encodeLiteral("A", types.union(types.int, types.enum("A")).literalType)), "DefaultEnumTransformer");
    assert.equal(variantTag(await encodeLiteral({ a: 1 }, types.union(types.map(types.int), types.struct).literalType)), "Typed Dict");
    assert.equal(variantTag(await encodeLiteral(undefined, types.optional(types.int).literalType)), "none");
  });

  it("fails naming the union when no variant accepts the value", async () => {
    await rejectsWith(encodeLiteral(true, types.union(types.int, types.string).literalType, { variable: "x" }), "x", /union<int \| string>/, /boolean/);
  });
});

describe("union variant choice when decoding", () => {
  const union = (value: Literal, tag: string, simple: "INTEGER" | "STRING") =>
    literal({
      value: {
        case: "scalar",
        value: { value: { case: "union", value: { value, type: { type: { case: "simple", value: simple === "INTEGER" ? 1 : 3 }, structure: { tag } } } } },
      },
    });

  it("follows the tag, not the value's shape", async () => {
    const t = types.union(types.int, types.string).literalType;
    assert.equal(await decodeLiteral(union(str("5"), "str", "STRING"), t), "5");
    // Tagged "int" but holding a string: the tag wins, so this is an error rather than a silent str.
    await rejectsWith(decodeLiteral(union(str("5"), "int", "INTEGER"), t, { variable: "u" }), "u", /expected int/, /stringValue/);
  });
});

describe("more decoding shapes", () => {
  it("a union literal where a plain type is declared decodes its value", async () => {
    const u = await encodeLiteral(4, types.optional(types.int).literalType);
    assert.equal(await decodeLiteral(u, types.int.literalType), 4);
  });

  it("variants sharing a tag are told apart by their type", async () => {
    const t = types.union(types.list(types.int), types.list(types.string)).literalType;
    const lit = await encodeLiteral(["1"], t);
    assert.deepEqual(await decodeLiteral(lit, t), ["1"]);
  });

  it("DataFrame columns come from the literal, else from the declared type", async () => {
    const spec = types.dataframe("parquet", { id: types.int });
    const lit = await encodeLiteral(new DataFrame("s3://b/df"), spec.literalType);
    const df = (await decodeLiteral(lit, types.dataframe().literalType)) as DataFrame;
    assert.equal(df.format, "parquet");
    assert.deepEqual(df.columns?.map((c) => c.name), ["id"]);
    assert.deepEqual(((await decodeLiteral(lit, undefined)) as DataFrame).columns?.map((c) => c.name), ["id"]);
  });

  it("undefined properties of a map are absent, as in JSON", async () => {
    assert.deepEqual(await roundTrip(types.map(types.int), { a: 1, b: undefined as unknown as number }), { a: 1 });
  });
});

describe("inferring types from values (no declared type)", () => {
  const kind = async (v: unknown) => {
    const lit = await encodeLiteral(v, undefined);
    const s = lit.value.case === "scalar" ? lit.value.value.value : undefined;
    return s?.case === "primitive" ? s.value.value.case : s ? s.case : lit.value.case;
  };

  it("integral numbers and bigints are ints, other numbers floats", async () => {
    assert.equal(await kind(2), "integer");
    assert.equal(await kind(2.0), "integer");
    assert.equal(await kind(-3n), "integer");
    assert.equal(await kind(2.5), "floatValue");
    assert.equal(await kind("s"), "stringValue");
    assert.equal(await kind(true), "boolean");
    assert.equal(await kind(new Date()), "datetime");
    assert.equal(await kind(Duration.fromSeconds(1)), "duration");
    assert.equal(await kind(null), "noneType");
    assert.equal(await kind({ a: 1 }), "binary");
    assert.equal(await kind([1]), "collection");
    assert.equal(await kind(new FlyteFile("x")), "blob");
    assert.equal(await kind(new DataFrame("x", "csv")), "structuredDataset");
  });

  it("a declared float type sends 2.0 as a float", async () => {
    const lit = await encodeLiteral(2, types.float.literalType);
    assert.equal(lit.value.case === "scalar" && lit.value.value.value.case === "primitive" && lit.value.value.value.value.value.case, "floatValue");
  });

  it("arrays mixing ints and floats become lists of floats", async () => {
    const lit = await encodeLiteral([1, 2.5], undefined);
    assert.deepEqual(await decodeLiteral(lit, undefined), [1, 2.5]);
    assert.deepEqual(await decodeLiteral(lit, types.list(types.float).literalType), [1, 2.5]);
  });

  it("arrays mixing other kinds are an error asking for a declared type", async () => {
    await rejectsWith(encodeLiteral([1, "a"], undefined, { variable: "o0" }), "o0", /mix int \(at \[0\]\) and string \(at \[1\]\)/, /declare/);
    await rejectsWith(encodeLiteral([[1], ["a"]], undefined), undefined, /mix/);
  });

  it("plain objects are msgpack STRUCTs, like Python untyped dicts", async () => {
    assert.deepEqual(await decodeLiteral(await encodeLiteral({ k: [1, "a"] }, undefined), undefined), { k: [1, "a"] });
  });

  it("values with no Flyte type are rejected", async () => {
    await rejectsWith(encodeLiteral(new Map(), undefined, { variable: "m" }), "m", /Map/);
    await rejectsWith(encodeLiteral(() => 1, undefined), undefined, /function/);
    await rejectsWith(encodeLiteral(undefined, undefined), undefined, /no value/);
  });

  it("a Literal message passes through unchanged", async () => {
    const lit = int(5n);
    assert.equal(await encodeLiteral(lit, undefined), lit);
    assert.equal(await encodeLiteral(lit, types.string.literalType), lit);
  });
});

describe("encoding errors name the variable and its type", () => {
  it("rejects non-integers, out-of-range ints and wrong kinds", async () => {
    await rejectsWith(encodeLiteral(1.5, types.int.literalType, { variable: "n" }), "n", /of type int/, /integer/, /1\.5/);
    await rejectsWith(encodeLiteral(2n ** 63n, types.int.literalType, { variable: "n" }), "n", /64-bit/);
    await rejectsWith(encodeLiteral("1", types.int.literalType, { variable: "n" }), "n", /a string/);
    await rejectsWith(encodeLiteral(new Date(Number.NaN), types.datetime.literalType, { variable: "d" }), "d", /invalid Date/);
  });

  it("checks enum membership", async () => {
    await rejectsWith(encodeLiteral("C", types.enum("A", "B").literalType, { variable: "color" }), "color", /enum\("A", "B"\)/, /"C" is not one of "A", "B"/);
  });

  it("points into nested values", async () => {
    await rejectsWith(
      encodeLiteral({ a: [1, "x"] }, types.map(types.list(types.int)).literalType, { variable: "m" }),
      "m",
      /of type map<list<int>> at \["a"\]\[1\]/,
    );
    await rejectsWith(encodeLiteral({ a: { b: new Map() } }, types.struct.literalType, { variable: "s" }), "s", /at \.a\.b/, /Map/);
  });
});

describe("decoding errors", () => {
  it("a Python pickle names the input", async () => {
    const pickle = literal({ value: { case: "scalar", value: { value: { case: "binary", value: { value: new Uint8Array([0x80, 0x05]), tag: "" } } } } });
    await rejectsWith(decodeInputs(create(InputsSchema, { literals: [{ name: "model", value: pickle }] })), "model", /Python pickle/, /input/);
    const pickleFile = literal({
      value: { case: "scalar", value: { value: { case: "blob", value: { uri: "s3://b/p", metadata: { type: { format: "PythonPickle", dimensionality: BlobType_BlobDimensionality.SINGLE } } } } } },
    });
    await rejectsWith(decodeLiteral(pickleFile, undefined, { variable: "obj" }), "obj", /Python pickle/);
  });

  it("enum membership", async () => {
    await rejectsWith(decodeLiteral(str("PURPLE"), types.enum("RED").literalType, { variable: "c" }), "c", /"PURPLE" is not one of "RED"/);
  });

  it("malformed literals never escape as raw TypeErrors", async () => {
    const noValue = literal({ value: { case: "scalar", value: {} } });
    await rejectsWith(decodeLiteral(noValue, undefined, { variable: "a" }), "a", /scalar with no value/);
    await rejectsWith(decodeLiteral(noValue, types.int.literalType, { variable: "a" }), "a", /expected int/);
    await rejectsWith(decodeLiteral(literal({}), undefined, { variable: "a" }), "a", /empty literal/);
    const unionNoType = literal({ value: { case: "scalar", value: { value: { case: "union", value: { value: int(1n) } } } } });
    assert.equal(await decodeLiteral(unionNoType, undefined), 1);
    assert.equal(await decodeLiteral(unionNoType, types.optional(types.int).literalType), 1);
    const unionNoValue = literal({ value: { case: "scalar", value: { value: { case: "union", value: {} } } } });
    await rejectsWith(decodeLiteral(unionNoValue, types.optional(types.int).literalType, { variable: "a" }), "a", /no value/);
    const garbage = literal({ value: { case: "scalar", value: { value: { case: "binary", value: { value: new Uint8Array([0xc1]), tag: "msgpack" } } } } });
    await rejectsWith(decodeLiteral(garbage, types.struct.literalType, { variable: "g" }), "g", /invalid msgpack/);
    const schema = literal({ value: { case: "scalar", value: { value: { case: "schema", value: { uri: "s3://x" } } } } });
    await rejectsWith(decodeLiteral(schema, undefined, { variable: "s" }), "s", /scalar\.schema/);
  });

  it("kind mismatches name the expected type and the literal kind", async () => {
    await rejectsWith(decodeLiteral(str("x"), types.list(types.int).literalType, { variable: "xs" }), "xs", /expected list<int>/, /scalar\.primitive\.stringValue/);
    const dir = literal({
      value: { case: "scalar", value: { value: { case: "blob", value: { uri: "s3://d", metadata: { type: { dimensionality: BlobType_BlobDimensionality.MULTIPART } } } } } },
    });
    await rejectsWith(decodeLiteral(dir, types.file.literalType, { variable: "f" }), "f", /expected file/);
  });
});

describe("offloaded literals", () => {
  let dir: string;
  let path: string;
  const payload = create(LiteralSchema, { value: { case: "collection", value: { literals: [int(1n), int(2n ** 60n)] } } });
  const offloaded = (uri: string) =>
    literal({ value: { case: "offloadedMetadata", value: { uri, sizeBytes: 10n, inferredType: types.list(types.int).literalType } } });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flyte-types-"));
    path = join(dir, "literal.pb");
    await writeFile(path, toBinary(LiteralSchema, payload));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("reads a plain path and a file:// URI", async () => {
    assert.deepEqual(await decodeLiteral(offloaded(path), types.list(types.int).literalType), [1, 2n ** 60n]);
    assert.deepEqual(await decodeLiteral(offloaded(pathToFileURL(path).href), undefined), [1, 2n ** 60n]);
  });

  it("decodes with the declared type over the inferred one", async () => {
    assert.deepEqual(await decodeLiteral(offloaded(path), types.list(types.float).literalType), [1, 2 ** 60]);
  });

  it("rejects schemes no storage backend reads, naming the URI", async () => {
    // s3://, gs:// and abfs:// are read by the default storage (storage/*.test.ts test them against local servers).
    const inputs = create(InputsSchema, { literals: [{ name: "big", value: offloaded("ftp://host/key") }] });
    await rejectsWith(decodeInputs(inputs, variableMap({ big: types.list(types.int) })), "big", /"ftp:\/\/host\/key"/, /scheme "ftp" is not supported/);
  });

  it("uses a configured storage", async () => {
    const storage: LiteralStorage = { read: async (uri) => (uri === "s3://bucket/key" ? toBinary(LiteralSchema, payload) : new Uint8Array()) };
    assert.deepEqual(await decodeLiteral(offloaded("s3://bucket/key"), undefined, { storage }), [1, 2n ** 60n]);
  });

  it("reports missing files and corrupt contents", async () => {
    await rejectsWith(decodeLiteral(offloaded(join(dir, "nope.pb")), undefined, { variable: "x" }), "x", /offloaded literal/, /nope\.pb/);
    const corrupt = join(dir, "corrupt.pb");
    await writeFile(corrupt, new Uint8Array([0xff, 0xff, 0xff]));
    await rejectsWith(decodeLiteral(offloaded(corrupt), undefined, { variable: "x" }), "x", /not a serialized flyteidl2\.core\.Literal/);
  });

  it("passes aborts through", async () => {
    const controller = new AbortController();
    controller.abort();
    // The abort passes through as the storage's CANCELLED error naming the URI, not as a conversion error.
    await assert.rejects(decodeLiteral(offloaded(path), undefined, { signal: controller.signal }), (error: Error & { code?: string }) => {
      assert.equal(error.code, "CANCELLED");
      assert.ok(error.message.includes(path), error.message);
      return true;
    });
  });
});

describe("inputs and outputs", () => {
  const iface = { a: types.int, b: types.optional(types.string), c: types.list(types.float) };

  it("decodes inputs in any order, by declared type", async () => {
    const inputs = create(InputsSchema, {
      literals: [
        { name: "c", value: await encodeLiteral([1, 2], iface.c.literalType) },
        { name: "a", value: int(1n) },
      ],
    });
    assert.deepEqual(await decodeInputs(inputs, variableMap(iface)), { c: [1, 2], a: 1 });
    assert.deepEqual(await decodeInputs(inputs, iface), { c: [1, 2], a: 1 });
  });

  it("decodes undeclared inputs from their own shape, and empty or missing inputs to {}", async () => {
    const inputs = create(InputsSchema, { literals: [{ name: "extra", value: str("x") }] });
    assert.deepEqual(await decodeInputs(inputs, variableMap(iface)), { extra: "x" });
    assert.deepEqual(await decodeInputs(create(InputsSchema), variableMap(iface)), {});
    assert.deepEqual(await decodeInputs(undefined, undefined), {});
  });

  it("rejects duplicate names and named literals without a value", async () => {
    await rejectsWith(decodeInputs(create(InputsSchema, { literals: [{ name: "a", value: int(1n) }, { name: "a", value: int(2n) }] })), "a", /more than once/);
    await rejectsWith(decodeInputs(create(InputsSchema, { literals: [{ name: "a" }] })), "a", /no literal value/);
  });

  it("keeps a variable named __proto__ as a plain key", async () => {
    const decoded = await decodeInputs(create(InputsSchema, { literals: [{ name: "__proto__", value: int(1n) }] }));
    assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(decoded, "__proto__")?.value, 1);
  });

  it("round-trips outputs, named and ordered as declared", async () => {
    const outputs = await encodeOutputs({ c: [0.5], a: 3, b: null }, iface);
    assert.deepEqual(outputs.literals.map((l) => l.name), ["a", "b", "c"]);
    assert.deepEqual(await decodeOutputs(outputs, variableMap(iface)), { a: 3, b: null, c: [0.5] });
    const sorted = await encodeOutputs({ c: [0.5], a: 3, b: "x" }, variableMap(iface));
    assert.deepEqual(await decodeOutputs(sorted, iface), { a: 3, b: "x", c: [0.5] });
  });

  it("encodes undeclared outputs by inference, in the values' order", async () => {
    const outputs = await encodeOutputs({ o1: "x", o0: 2 });
    assert.deepEqual(outputs.literals.map((l) => l.name), ["o1", "o0"]);
    assert.deepEqual(await decodeOutputs(outputs), { o1: "x", o0: 2 });
  });

  it("rejects undeclared and missing outputs; an absent optional output is none", async () => {
    await rejectsWith(encodeOutputs({ a: 1, c: [], zzz: 1 }, iface), "zzz", /output is not declared/, /a, b, c/);
    await rejectsWith(encodeOutputs({ b: "x", c: [] }, iface), "a", /output of type int/, /no value/);
    assert.deepEqual(await decodeOutputs(await encodeOutputs({ a: 1, c: [] }, iface), iface), { a: 1, b: null, c: [] });
  });

  it("encodes inputs the same way", async () => {
    const inputs = await encodeInputs({ a: 1n, c: [2] }, iface);
    assert.equal(inputs.$typeName, InputsSchema.typeName);
    assert.deepEqual(await decodeInputs(inputs, iface), { a: 1, b: null, c: [2] });
    await rejectsWith(encodeInputs({ a: "one", c: [] }, iface), "a", /input of type int/);
  });

  it("passes Literal values through (the echo connector)", async () => {
    const lit = str("kept");
    const outputs = await encodeOutputs({ o0: lit }, { o0: types.int });
    assert.equal(outputs.literals[0]?.value, lit);
    assert.equal(outputs.$typeName, OutputsSchema.typeName);
  });
});
