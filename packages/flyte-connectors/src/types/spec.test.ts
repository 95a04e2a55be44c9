import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clone, create, equals, type MessageInitShape } from "@bufbuild/protobuf";
import {
  BlobType_BlobDimensionality,
  type LiteralType,
  LiteralTypeSchema,
  SimpleType,
  TypeStructureSchema,
} from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import { type DataFrame, type Duration, type FlyteFile, type Infer, type InferShape, types, variableMap } from "./index.js";

// LiteralTypes written out the way flyte-sdk's TypeEngine.to_literal_type builds them.
const lt = (init: MessageInitShape<typeof LiteralTypeSchema>): LiteralType => create(LiteralTypeSchema, init);
const simple = (value: SimpleType, tag?: string) => lt({ type: { case: "simple", value }, ...(tag ? { structure: { tag } } : {}) });
const MSGPACK_ANNOTATION = { annotations: { "cache-key-metadata": { "serialization-format": "msgpack" } } };
const py = {
  int: simple(SimpleType.INTEGER),
  float: simple(SimpleType.FLOAT),
  str: simple(SimpleType.STRING),
  bool: simple(SimpleType.BOOLEAN),
  datetime: simple(SimpleType.DATETIME),
  timedelta: simple(SimpleType.DURATION),
  none: simple(SimpleType.NONE),
  dict: lt({ type: { case: "simple", value: SimpleType.STRUCT }, annotation: MSGPACK_ANNOTATION }),
  file: lt({ type: { case: "blob", value: { format: "", dimensionality: BlobType_BlobDimensionality.SINGLE } } }),
  dir: lt({ type: { case: "blob", value: { format: "", dimensionality: BlobType_BlobDimensionality.MULTIPART } } }),
  dataframe: lt({ type: { case: "structuredDatasetType", value: { format: "" } } }),
};

function assertType(actual: LiteralType, expected: LiteralType): void {
  assert.ok(equals(LiteralTypeSchema, actual, expected), `expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

describe("types DSL declares the LiteralTypes Python declares", () => {
  it("simple types", () => {
    assertType(types.int.literalType, py.int);
    assertType(types.float.literalType, py.float);
    assertType(types.string.literalType, py.str);
    assertType(types.boolean.literalType, py.bool);
    assertType(types.datetime.literalType, py.datetime);
    assertType(types.duration.literalType, py.timedelta);
    assertType(types.none.literalType, py.none);
  });

  it("untyped dict is a STRUCT with the msgpack cache-key annotation", () => {
    assertType(types.struct.literalType, py.dict);
  });

  it("File, Dir and DataFrame", () => {
    assertType(types.file.literalType, py.file);
    assertType(types.dir.literalType, py.dir);
    assertType(types.dataframe().literalType, py.dataframe);
    assertType(
      types.dataframe("parquet", { id: types.int }).literalType,
      lt({ type: { case: "structuredDatasetType", value: { format: "parquet", columns: [{ name: "id", literalType: py.int }] } } }),
    );
  });

  it("list[T], dict[str, T] and Enum", () => {
    assertType(types.list(types.int).literalType, lt({ type: { case: "collectionType", value: py.int } }));
    assertType(types.map(types.list(types.string)).literalType, lt({ type: { case: "mapValueType", value: lt({ type: { case: "collectionType", value: py.str } }) } }));
    assertType(types.enum("RED", "GREEN").literalType, lt({ type: { case: "enumType", value: { values: ["RED", "GREEN"] } } }));
  });

  it("Optional and Union variants carry the Python transformer tags", () => {
    const optionalInt = lt({ type: { case: "unionType", value: { variants: [simple(SimpleType.INTEGER, "int"), simple(SimpleType.NONE, "none")] } } });
    assertType(types.optional(types.int).literalType, optionalInt);

    const tagged = (t: LiteralType, tag: string) => {
      const copy = clone(LiteralTypeSchema, t);
      copy.structure = create(TypeStructureSchema, { tag });
      return copy;
    };
    const everything = types.union(
      types.float,
      types.string,
      types.boolean,
      types.datetime,
      types.duration,
      types.list(types.int),
      types.map(types.int),
      types.struct,
      types.file,
      types.dir,
      types.dataframe(),
      types.enum("A"),
    );
    const expected = lt({
      type: {
        case: "unionType",
        value: {
          variants: [
            tagged(py.float, "float"),
            tagged(py.str, "str"),
            tagged(py.bool, "bool"),
            tagged(py.datetime, "datetime"),
            tagged(py.timedelta, "timedelta"),
            tagged(lt({ type: { case: "collectionType", value: py.int } }), "Typed List"),
            tagged(lt({ type: { case: "mapValueType", value: py.int } }), "Typed Dict"),
            tagged(py.dict, "Typed Dict"),
            tagged(py.file, "File"),
            tagged(py.dir, "Dir"),
            tagged(py.dataframe, "DataFrame Transformer"),
            tagged(lt({ type: { case: "enumType", value: { values: ["A"] } } }), "DefaultEnumTransformer"),
          ],
        },
      },
    });
    assertType(everything.literalType, expected);
  });

  it("flattens nested unions and drops duplicates, like typing.Union", () => {
    assertType(
      types.optional(types.union(types.int, types.string, types.int)).literalType,
      types.union(types.int, types.string, types.none).literalType,
    );
    assertType(types.optional(types.optional(types.int)).literalType, types.optional(types.int).literalType);
  });

  it("dataclass and pydantic types carry their JSON schema and transformer tag", () => {
    const schema = { title: "Point", type: "object", properties: { x: { type: "integer" } }, required: ["x"] };
    assertType(
      types.dataclass(schema).literalType,
      lt({ type: { case: "simple", value: SimpleType.STRUCT }, metadata: schema, annotation: MSGPACK_ANNOTATION, structure: { tag: "Object-Dataclass-Transformer" } }),
    );
    assertType(
      types.pydantic(schema).literalType,
      lt({ type: { case: "simple", value: SimpleType.STRUCT }, metadata: schema, annotation: MSGPACK_ANNOTATION, structure: { tag: "Pydantic Transformer" } }),
    );
    // In a union the variant keeps its own transformer tag.
    const variant = types.optional(types.dataclass(schema)).literalType.type;
    assert.equal(variant.case === "unionType" && variant.value.variants[0]?.structure?.tag, "Object-Dataclass-Transformer");
  });

  it("fromLiteralType wraps a LiteralType as is", () => {
    assert.equal(types.fromLiteralType(py.int).literalType, py.int);
  });

  it("rejects empty or duplicate enums", () => {
    assert.throws(() => (types.enum as (...v: string[]) => unknown)(), /at least one/);
    assert.throws(() => types.enum("A", "A"), /duplicate/);
  });
});

describe("variableMap", () => {
  it("sorts variables by name, as Python does", () => {
    const vm = variableMap({ o1: types.string, o0: types.int, a: py.float });
    assert.deepEqual(vm.variables.map((v) => v.key), ["a", "o0", "o1"]);
    assertType(vm.variables[1]!.value!.type!, py.int);
    assertType(vm.variables[0]!.value!.type!, py.float);
  });
});

// Static types: these lines fail to compile if Infer is wrong.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const shape = { n: types.int, f: types.optional(types.file), e: types.enum("a", "b"), l: types.list(types.map(types.duration)) };
const staticChecks: [
  Equal<Infer<typeof types.int>, number | bigint>,
  Equal<Infer<typeof types.datetime>, Date>,
  Equal<Infer<ReturnType<typeof types.dataframe>>, DataFrame>,
  Equal<InferShape<typeof shape>, { n: number | bigint; f: FlyteFile | null; e: "a" | "b"; l: Record<string, Duration>[] }>,
  Equal<Infer<ReturnType<typeof types.union<[typeof types.int, typeof types.string]>>>, number | bigint | string>,
] = [true, true, true, true, true];
void staticChecks;
