/**
 * JavaScript value → Literal, shaped exactly as the Python SDK (flyte-sdk) writes it for the declared
 * LiteralType; without one, the type is inferred from the value.
 */
import { create, equals, isMessage, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import { DurationSchema, timestampFromDate, TimestampSchema } from "@bufbuild/protobuf/wkt";
import {
  BinarySchema,
  type Literal,
  LiteralSchema,
  type Scalar,
  ScalarSchema,
  VoidSchema,
} from "@flyte-connectors/flyteidl2/flyteidl2/core/literals_pb.js";
import {
  BlobType_BlobDimensionality,
  type LiteralType,
  LiteralTypeSchema,
  SimpleType,
} from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import type { TypeConversionError } from "../errors.js";
import { checkEnum, type Ctx, fail, isDeclared, problemOf } from "./context.js";
import { describeType, MSGPACK, PICKLE_FORMAT, withTransformerTag } from "./describe.js";
import { prepareForSchema, SchemaMismatch } from "./json-schema.js";
import { pack, PackError } from "./msgpack.js";
import { DataFrame, Duration, Float64, FlyteDatetime, FlyteDir, FlyteFile } from "./native.js";
import { types } from "./spec.js";
import { describeValue, INT64_MAX, INT64_MIN, isPlainObject } from "./values.js";

/**
 * Encodes a JavaScript value as the literal Python expects for `type`. Without a type, one is inferred
 * from the value (see {@link inferType}). A value that already is a `flyteidl2.core.Literal` passes through.
 */
export function encode(value: unknown, type: LiteralType | undefined, ctx: Ctx, path: string): Literal {
  if (isMessage(value, LiteralSchema)) return value;
  if (value === undefined && acceptsNone(type)) value = null;
  if (value === undefined) throw fail(ctx, path, "no value given (undefined)");
  if (!isDeclared(type)) type = inferType(value, ctx, path);

  const t = type.type;
  const expected = (what: string) => fail(ctx, path, `expected ${what}, got ${describeValue(value)}`);
  switch (t.case) {
    case "simple":
      return encodeSimple(value, t.value, ctx, path, expected, type.metadata);
    case "collectionType":
      if (!Array.isArray(value)) throw expected("an array");
      return create(LiteralSchema, {
        value: { case: "collection", value: { literals: value.map((v, i) => encode(v, t.value, ctx, `${path}[${i}]`)) } },
      });
    case "mapValueType": {
      if (!isPlainObject(value)) throw expected("a plain object");
      // Undefined properties are absent, as in JSON.
      const entries = Object.entries(value).filter(([, v]) => v !== undefined);
      const literals = Object.fromEntries(entries.map(([k, v]) => [k, encode(v, t.value, ctx, `${path}[${JSON.stringify(k)}]`)]));
      return create(LiteralSchema, { value: { case: "map", value: { literals } } });
    }
    case "blob": {
      if (t.value.format === PICKLE_FORMAT) throw fail(ctx, path, "Python pickles cannot be written from JavaScript");
      const multipart = t.value.dimensionality === BlobType_BlobDimensionality.MULTIPART;
      if (multipart ? !(value instanceof FlyteDir) : !(value instanceof FlyteFile)) throw expected(multipart ? "a FlyteDir" : "a FlyteFile");
      const blob = value as FlyteFile | FlyteDir;
      const lit = scalarLiteral({
        case: "blob",
        value: { uri: blob.uri, metadata: { type: { format: blob.format || t.value.format, dimensionality: t.value.dimensionality } } },
      });
      if (blob.hash) lit.hash = blob.hash;
      return lit;
    }
    case "enumType":
      if (typeof value !== "string") throw expected("a string");
      return primitive("stringValue", checkEnum(value, t.value.values, ctx, path));
    case "structuredDatasetType": {
      if (!(value instanceof DataFrame)) throw expected("a DataFrame");
      // As Python: the declared dataset type wins; a declared "" format takes the value's format.
      const declared = t.value;
      const columns = declared.columns.length ? declared.columns : (value.columns ?? []).map((c) => ({ name: c.name, literalType: c.literalType }));
      const lit = scalarLiteral({
        case: "structuredDataset",
        value: {
          uri: value.uri,
          metadata: {
            structuredDatasetType: {
              columns,
              format: declared.format || value.format,
              externalSchemaType: declared.externalSchemaType,
              externalSchemaBytes: declared.externalSchemaBytes,
            },
          },
        },
      });
      if (value.hash) lit.hash = value.hash;
      return lit;
    }
    case "unionType":
      return encodeUnion(value, type, t.value.variants, ctx, path);
    default:
      throw fail(ctx, path, `the ${t.case} type is not supported`);
  }
}

function encodeSimple(
  value: unknown,
  simple: SimpleType,
  ctx: Ctx,
  path: string,
  expected: (what: string) => TypeConversionError,
  schema: JsonObject | undefined,
): Literal {
  switch (simple) {
    case SimpleType.NONE:
      if (value !== null) throw expected("null");
      return scalarLiteral({ case: "noneType", value: create(VoidSchema) });
    case SimpleType.INTEGER: {
      const int = typeof value === "bigint" ? value : typeof value === "number" && Number.isInteger(value) ? BigInt(value) : undefined;
      if (int === undefined) throw expected("an integer (an integral number or a bigint)");
      if (int < INT64_MIN || int > INT64_MAX) throw fail(ctx, path, `${int} does not fit in a 64-bit integer`);
      return primitive("integer", int);
    }
    case SimpleType.FLOAT:
      // Python's float accepts ints too.
      if (typeof value === "number") return primitive("floatValue", value);
      if (value instanceof Float64) return primitive("floatValue", value.value);
      if (typeof value === "bigint") return primitive("floatValue", Number(value));
      throw expected("a number");
    case SimpleType.STRING:
      if (typeof value !== "string") throw expected("a string");
      return primitive("stringValue", value);
    case SimpleType.BOOLEAN:
      if (typeof value !== "boolean") throw expected("a boolean");
      return primitive("boolean", value);
    case SimpleType.DATETIME:
      if (!(value instanceof Date)) throw expected("a Date or a FlyteDatetime");
      if (Number.isNaN(value.getTime())) throw fail(ctx, path, "invalid Date");
      // A FlyteDatetime keeps its nanoseconds; a plain Date has milliseconds.
      if (value instanceof FlyteDatetime) return primitive("datetime", create(TimestampSchema, { seconds: value.seconds, nanos: value.nanos }));
      return primitive("datetime", timestampFromDate(value));
    case SimpleType.DURATION:
      if (!(value instanceof Duration)) throw expected("a Duration");
      return primitive("duration", create(DurationSchema, { seconds: value.seconds, nanos: value.nanos }));
    case SimpleType.STRUCT: {
      if (!isPlainObject(value)) throw expected("a plain object");
      let bytes: Uint8Array;
      try {
        // A dataclass / pydantic schema says which fields are required and which numbers are floats.
        bytes = pack(prepareForSchema(value, schema) as Record<string, unknown>);
      } catch (err) {
        if (err instanceof SchemaMismatch) throw fail(ctx, `${path}${err.path}`, err.problem, err);
        const where = err instanceof PackError ? `${path}${err.path}` : path;
        const problem = err instanceof PackError ? err.message.replace(/^at \S+: /, "") : `cannot encode as msgpack: ${err instanceof Error ? err.message : String(err)}`;
        throw fail(ctx, where, problem, err);
      }
      return scalarLiteral({ case: "binary", value: create(BinarySchema, { value: bytes, tag: MSGPACK }) });
    }
    case SimpleType.BINARY:
      throw fail(ctx, path, "BINARY literals are Python pickles, which JavaScript cannot write");
    default:
      throw fail(ctx, path, `the ${describeType(create(LiteralTypeSchema, { type: { case: "simple", value: simple } }))} type is not supported`);
  }
}

/**
 * Union rule: the variants whose kind matches the value exactly are tried first, in declaration order
 * (an integral number → int, a non-integral number → float, string → str, null → none, Date → datetime,
 * plain object → map or struct, array → list, FlyteFile → file, …); then all other variants in order
 * (an integral number → float, a string → enum, …). The first variant that accepts the value wins.
 */
function encodeUnion(value: unknown, type: LiteralType, variants: LiteralType[], ctx: Ctx, path: string): Literal {
  const exact = variants.filter((v) => isExactKind(value, v));
  const ordered = [...exact, ...variants.filter((v) => !exact.includes(v))];
  let first: { variant: LiteralType; err: unknown } | undefined;
  for (const variant of ordered) {
    let lit: Literal;
    try {
      lit = encode(value, variant, ctx, path);
    } catch (err) {
      first ??= { variant, err };
      continue;
    }
    // Python tags the variant type with its transformer name so readers can pick the variant back.
    const variantType = variant.structure?.tag ? variant : withTransformerTag(variant);
    return scalarLiteral({ case: "union", value: { value: lit, type: variantType } });
  }
  throw fail(
    ctx,
    path,
    `no variant of ${describeType(type)} accepts ${describeValue(value)}${first ? ` (as ${describeType(first.variant)}: ${problemOf(first.err, path)})` : ""}`,
    first?.err,
  );
}

function isExactKind(value: unknown, t: LiteralType): boolean {
  const c = t.type;
  switch (c.case) {
    case "simple":
      switch (c.value) {
        case SimpleType.NONE:
          return value === null;
        case SimpleType.INTEGER:
          return typeof value === "bigint" || (typeof value === "number" && Number.isInteger(value));
        case SimpleType.FLOAT:
          return (typeof value === "number" && !Number.isInteger(value)) || value instanceof Float64;
        case SimpleType.STRING:
          return typeof value === "string";
        case SimpleType.BOOLEAN:
          return typeof value === "boolean";
        case SimpleType.DATETIME:
          return value instanceof Date;
        case SimpleType.DURATION:
          return value instanceof Duration;
        case SimpleType.STRUCT:
          return isPlainObject(value);
        default:
          return false;
      }
    case "collectionType":
      return Array.isArray(value);
    case "mapValueType":
      return isPlainObject(value);
    case "blob":
      return c.value.dimensionality === BlobType_BlobDimensionality.MULTIPART ? value instanceof FlyteDir : value instanceof FlyteFile;
    case "structuredDatasetType":
      return value instanceof DataFrame;
    default:
      return false;
  }
}

/** Whether `undefined` may stand for none: the type is NONE or a union with a NONE variant. */
export function acceptsNone(type: LiteralType | undefined): boolean {
  const t = type?.type;
  if (t?.case === "simple") return t.value === SimpleType.NONE;
  return t?.case === "unionType" && t.value.variants.some(acceptsNone);
}

const ANY = create(LiteralTypeSchema);
const simpleType = (value: SimpleType) => create(LiteralTypeSchema, { type: { case: "simple", value } });

/**
 * The type of an undeclared value: integral number or bigint → int (declare `types.float` to send 2.0
 * as a float), other numbers → float, string, boolean, Date → datetime, Duration, null → none, plain
 * object → STRUCT (msgpack, like a Python untyped dict), FlyteFile/FlyteDir → blob, DataFrame →
 * structured dataset, array → list of its elements' common type (int and float mix to float;
 * any other mix is an error: declare the type).
 */
export function inferType(value: unknown, ctx: Ctx, path: string): LiteralType {
  switch (typeof value) {
    case "number":
      return simpleType(Number.isInteger(value) ? SimpleType.INTEGER : SimpleType.FLOAT);
    case "bigint":
      return simpleType(SimpleType.INTEGER);
    case "string":
      return simpleType(SimpleType.STRING);
    case "boolean":
      return simpleType(SimpleType.BOOLEAN);
  }
  if (value === null) return simpleType(SimpleType.NONE);
  if (value instanceof Date) return simpleType(SimpleType.DATETIME);
  if (value instanceof Duration) return simpleType(SimpleType.DURATION);
  if (value instanceof Float64) return simpleType(SimpleType.FLOAT);
  // Blob and dataset formats come from the value when encoding, so the inferred type leaves them "".
  if (value instanceof FlyteFile) return types.file.literalType;
  if (value instanceof FlyteDir) return types.dir.literalType;
  if (value instanceof DataFrame) return types.dataframe().literalType;
  if (isPlainObject(value)) return types.struct.literalType;
  if (Array.isArray(value)) {
    let item = ANY;
    let itemAt = 0;
    value.forEach((v, i) => {
      if (isMessage(v, LiteralSchema)) return;
      const next = unify(item, inferType(v, ctx, `${path}[${i}]`));
      if (!next) {
        throw fail(
          ctx,
          path,
          `array elements mix ${describeType(item)} (at [${itemAt}]) and ${describeType(inferType(v, ctx, ""))} (at [${i}]); declare the type, e.g. types.list(types.union(…))`,
        );
      }
      if (next !== item) itemAt = i;
      item = next;
    });
    return create(LiteralTypeSchema, { type: { case: "collectionType", value: item } });
  }
  throw fail(ctx, path, `cannot infer a Flyte type for ${describeValue(value)}; declare the type`);
}

/** The common type of two inferred types, or undefined when they do not mix. */
function unify(a: LiteralType, b: LiteralType): LiteralType | undefined {
  if (!isDeclared(a)) return b;
  if (!isDeclared(b) || equals(LiteralTypeSchema, a, b)) return a;
  const num = (t: LiteralType) => t.type.case === "simple" && (t.type.value === SimpleType.INTEGER || t.type.value === SimpleType.FLOAT);
  if (num(a) && num(b)) return simpleType(SimpleType.FLOAT);
  if (a.type.case === "collectionType" && b.type.case === "collectionType") {
    const inner = unify(a.type.value, b.type.value);
    return inner && create(LiteralTypeSchema, { type: { case: "collectionType", value: inner } });
  }
  return undefined;
}

type ScalarValue = Exclude<Scalar["value"], { case: undefined }>;
type ScalarInit = { case: ScalarValue["case"]; value: unknown };

function scalarLiteral(value: ScalarInit): Literal {
  // create() accepts nested init objects for the oneof's message value.
  const scalar = create(ScalarSchema, { value } as MessageInitShape<typeof ScalarSchema>);
  return create(LiteralSchema, { value: { case: "scalar", value: scalar } });
}

type PrimitiveCase = "integer" | "floatValue" | "stringValue" | "boolean" | "datetime" | "duration";
function primitive(kind: PrimitiveCase, value: unknown): Literal {
  return scalarLiteral({ case: "primitive", value: { value: { case: kind, value } } });
}
