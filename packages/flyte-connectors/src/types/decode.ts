/**
 * Literal → JavaScript value, reading what the Python SDK (flyte-sdk) writes. The declared LiteralType
 * guides decoding when there is one; otherwise the literal's own shape decides.
 */
import { clone, create, equals, fromBinary } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import {
  type Literal,
  type LiteralOffloadedMetadata,
  LiteralSchema,
} from "@flyte-connectors/flyteidl2/flyteidl2/core/literals_pb.js";
import {
  BlobType_BlobDimensionality,
  type LiteralType,
  LiteralTypeSchema,
  SimpleType,
  type StructuredDatasetType,
} from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import { TypeConversionError } from "../errors.js";
import { StorageError } from "../storage/types.js";
import { checkEnum, type Ctx, fail, isDeclared, problemOf } from "./context.js";
import { describeLiteral, describeType, MSGPACK, PICKLE_FORMAT, PICKLE_TAG, transformerTag } from "./describe.js";
import { checkRequired, SchemaMismatch } from "./json-schema.js";
import { unpack } from "./msgpack.js";
import { DataFrame, type DataFrameColumn, Duration, FlyteDatetime, FlyteDir, FlyteFile } from "./native.js";
import { isStorage } from "./storage.js";
import { describeValue, isPlainObject, normalizeInt } from "./values.js";

/**
 * Decodes `lit` to a JavaScript value. int64 → number when |v| ≤ 2^53 - 1, else bigint; datetime →
 * FlyteDatetime (a Date keeping its nanoseconds); duration → Duration; none → null; STRUCT → plain object.
 */
export async function decode(lit: Literal, type: LiteralType | undefined, ctx: Ctx, path: string): Promise<unknown> {
  if (lit.value.case === "offloadedMetadata") {
    const meta = lit.value.value;
    lit = await loadOffloaded(meta, ctx, path);
    type = isDeclared(type) ? type : meta.inferredType;
  }
  const pickle = pickleProblem(lit, type);
  if (pickle) throw fail(ctx, path, pickle);
  if (!isDeclared(type)) return decodeUntyped(lit, ctx, path);

  const t = type.type;
  const scalar = lit.value.case === "scalar" ? lit.value.value.value : undefined;
  // msgpack (and Struct from the UI) can stand for any type: Python reads attribute-access results
  // (`dc.a` resolved by propeller) this way, so do we.
  if (t.case !== "unionType" && (scalar?.case === "binary" || scalar?.case === "generic")) {
    return treeToNative(scalar.case === "binary" ? unpackOrFail(scalar.value.value, ctx, path) : scalar.value, type, ctx, path);
  }
  // A union value where a plain type is declared: its value is what matters.
  if (t.case !== "unionType" && scalar?.case === "union" && scalar.value.value) return decode(scalar.value.value, type, ctx, path);
  const mismatch = () => fail(ctx, path, `expected ${describeType(type)}, got ${describeLiteral(lit)}`);

  switch (t.case) {
    case "simple": {
      if (scalar?.case === "noneType" && t.value === SimpleType.NONE) return null;
      if (scalar?.case !== "primitive") throw mismatch();
      const p = scalar.value.value;
      switch (t.value) {
        case SimpleType.INTEGER:
          if (p.case === "integer") return normalizeInt(p.value);
          // The UI (JavaScript) may send whole numbers as floats; Python accepts them too.
          if (p.case === "floatValue" && Number.isInteger(p.value)) return p.value;
          break;
        case SimpleType.FLOAT:
          if (p.case === "floatValue") return p.value;
          if (p.case === "integer") return Number(p.value);
          break;
        case SimpleType.STRING:
          if (p.case === "stringValue") return p.value;
          break;
        case SimpleType.BOOLEAN:
          if (p.case === "boolean") return p.value;
          break;
        case SimpleType.DATETIME:
          if (p.case === "datetime") return toDate(p.value, ctx, path);
          break;
        case SimpleType.DURATION:
          if (p.case === "duration") return new Duration(p.value.seconds, p.value.nanos);
          break;
      }
      throw mismatch();
    }
    case "collectionType": {
      if (lit.value.case !== "collection") throw mismatch();
      return Promise.all(lit.value.value.literals.map((l, i) => decode(l, t.value, ctx, `${path}[${i}]`)));
    }
    case "mapValueType": {
      if (lit.value.case !== "map") throw mismatch();
      return decodeEntries(lit.value.value.literals, t.value, ctx, path);
    }
    case "blob": {
      if (scalar?.case !== "blob") throw mismatch();
      const declared = t.value.dimensionality;
      const actual = scalar.value.metadata?.type?.dimensionality ?? declared;
      if (actual !== declared) throw mismatch();
      return toBlob(scalar.value.uri, scalar.value.metadata?.type?.format || t.value.format, declared, lit.hash, ctx);
    }
    case "enumType": {
      if (scalar?.case !== "primitive" || scalar.value.value.case !== "stringValue") throw mismatch();
      return checkEnum(scalar.value.value.value, t.value.values, ctx, path);
    }
    case "structuredDatasetType": {
      if (scalar?.case !== "structuredDataset") throw mismatch();
      const sd = scalar.value;
      const actual = sd.metadata?.structuredDatasetType;
      const columns = actual?.columns.length ? actual.columns : t.value.columns;
      return new DataFrame(sd.uri, actual?.format || t.value.format, columns.length ? toColumns(columns) : undefined, lit.hash || undefined);
    }
    case "unionType":
      return decodeUnion(lit, t.value.variants, ctx, path);
    default:
      throw fail(ctx, path, `the ${t.case} type is not supported`);
  }
}

/** Decodes a literal by its own shape (no declared type). */
async function decodeUntyped(lit: Literal, ctx: Ctx, path: string): Promise<unknown> {
  const v = lit.value;
  switch (v.case) {
    case "collection":
      return Promise.all(v.value.literals.map((l, i) => decode(l, undefined, ctx, `${path}[${i}]`)));
    case "map":
      return decodeEntries(v.value.literals, undefined, ctx, path);
    case "scalar":
      break;
    default:
      throw fail(ctx, path, `unsupported literal: ${describeLiteral(lit)}`);
  }
  const s = v.value.value;
  switch (s.case) {
    case "primitive": {
      const p = s.value.value;
      switch (p.case) {
        case "integer":
          return normalizeInt(p.value);
        case "floatValue":
        case "stringValue":
        case "boolean":
          return p.value;
        case "datetime":
          return toDate(p.value, ctx, path);
        case "duration":
          return new Duration(p.value.seconds, p.value.nanos);
        default:
          throw fail(ctx, path, "the primitive literal has no value");
      }
    }
    case "noneType":
      return null;
    case "binary":
      return unpackOrFail(s.value.value, ctx, path);
    case "generic":
      return s.value;
    case "blob": {
      const bt = s.value.metadata?.type;
      return toBlob(s.value.uri, bt?.format ?? "", bt?.dimensionality ?? BlobType_BlobDimensionality.SINGLE, lit.hash, ctx);
    }
    case "structuredDataset": {
      const sdt = s.value.metadata?.structuredDatasetType;
      const columns = sdt?.columns.length ? toColumns(sdt.columns) : undefined;
      return new DataFrame(s.value.uri, sdt?.format ?? "", columns, lit.hash || undefined);
    }
    case "union": {
      const u = s.value;
      if (!u.value) throw fail(ctx, path, "the union literal has no value");
      return decode(u.value, u.type, ctx, path);
    }
    default:
      throw fail(ctx, path, `unsupported literal: ${describeLiteral(lit)}`);
  }
}

async function decodeEntries(
  literals: Record<string, Literal>,
  type: LiteralType | undefined,
  ctx: Ctx,
  path: string,
): Promise<Record<string, unknown>> {
  const entries = Object.entries(literals);
  const values = await Promise.all(entries.map(([k, l]) => decode(l, type, ctx, `${path}[${JSON.stringify(k)}]`)));
  return Object.fromEntries(entries.map(([k], i) => [k, values[i]]));
}

/**
 * Chooses a union variant the way Python does: by the transformer tag on the union literal's type;
 * without a (matching) tag, variants whose kind fits the value are tried first, then the others.
 * The first variant that decodes wins.
 */
async function decodeUnion(lit: Literal, variants: LiteralType[], ctx: Ctx, path: string): Promise<unknown> {
  const scalar = lit.value.case === "scalar" ? lit.value.value.value : undefined;
  let value = lit;
  let hint: LiteralType | undefined;
  if (scalar?.case === "union") {
    if (!scalar.value.value) throw fail(ctx, path, "the union literal has no value");
    value = scalar.value.value;
    hint = scalar.value.type;
  }
  const tag = hint?.structure?.tag;
  let candidates: LiteralType[] = [];
  if (tag) {
    candidates = variants.filter((v) => (v.structure?.tag || transformerTag(v)) === tag);
    // Several variants may share a tag (list<int> | list<string>): the one equal to the hint first.
    candidates.sort((a, b) => Number(sameType(b, hint!)) - Number(sameType(a, hint!)));
  }
  if (candidates.length === 0) {
    const fits = (v: LiteralType) => (hint ? sameKind(v, hint) : literalFits(value, v));
    candidates = [...variants.filter(fits), ...variants.filter((v) => !fits(v))];
  }
  let first: { variant: LiteralType; err: unknown } | undefined;
  for (const variant of candidates) {
    try {
      return await decode(value, variant, ctx, path);
    } catch (err) {
      if (ctx.signal?.aborted) throw err;
      first ??= { variant, err };
    }
  }
  if (first?.err instanceof TypeConversionError && candidates.length === 1) throw first.err;
  const what = hint ? `a union value of type ${describeType(hint)}${tag ? ` (tag "${tag}")` : ""}` : describeLiteral(value);
  const attempt = first ? ` (as ${describeType(first.variant)}: ${problemOf(first.err, path)})` : "";
  throw fail(ctx, path, `no variant accepts ${what}${attempt}`, first?.err);
}

/** Same LiteralType apart from the structure tag. */
function sameType(a: LiteralType, b: LiteralType): boolean {
  const strip = (t: LiteralType) => {
    const copy = clone(LiteralTypeSchema, t);
    copy.structure = undefined;
    return copy;
  };
  return equals(LiteralTypeSchema, strip(a), strip(b));
}

/** Same kind of type: same oneof case and, for simple types and blobs, same simple type / dimensionality. */
function sameKind(a: LiteralType, b: LiteralType): boolean {
  const x = a.type;
  const y = b.type;
  if (x.case === "simple" || y.case === "simple") return x.case === y.case && x.value === y.value;
  if (x.case === "blob" && y.case === "blob") return x.value.dimensionality === y.value.dimensionality;
  return x.case === y.case;
}

/** Whether a literal has the shape a type expects (not a full check; used to order union attempts). */
function literalFits(lit: Literal, t: LiteralType): boolean {
  const v = lit.value;
  const tc = t.type;
  if (v.case === "collection") return tc.case === "collectionType";
  if (v.case === "map") return tc.case === "mapValueType";
  if (v.case !== "scalar") return false;
  const s = v.value.value;
  switch (s.case) {
    case "noneType":
      return tc.case === "simple" && tc.value === SimpleType.NONE;
    case "binary":
    case "generic":
      return tc.case === "simple" && tc.value === SimpleType.STRUCT;
    case "blob":
      return tc.case === "blob" && tc.value.dimensionality === (s.value.metadata?.type?.dimensionality ?? tc.value.dimensionality);
    case "structuredDataset":
      return tc.case === "structuredDatasetType";
    case "primitive": {
      const kind = PRIMITIVE_KINDS[s.value.value.case ?? ""];
      if (s.value.value.case === "stringValue" && tc.case === "enumType") return true;
      return tc.case === "simple" && tc.value === kind;
    }
    default:
      return false;
  }
}

const PRIMITIVE_KINDS: Record<string, SimpleType> = {
  integer: SimpleType.INTEGER,
  floatValue: SimpleType.FLOAT,
  stringValue: SimpleType.STRING,
  boolean: SimpleType.BOOLEAN,
  datetime: SimpleType.DATETIME,
  duration: SimpleType.DURATION,
};

/** Why a literal (or declared type) is a Python pickle, which JavaScript cannot read; undefined if it is not. */
function pickleProblem(lit: Literal, type: LiteralType | undefined): string | undefined {
  const advice = "only Python can read it; give the value a Flyte type (int, str, dict, a dataclass, File, …) in the Python task";
  const s = lit.value.case === "scalar" ? lit.value.value.value : undefined;
  if (s?.case === "binary" && s.value.tag !== MSGPACK) {
    return `the value is a Python pickle (binary literal with tag "${s.value.tag}", not "msgpack"); ${advice}`;
  }
  if (s?.case === "blob" && s.value.metadata?.type?.format === PICKLE_FORMAT) {
    return `the value is a Python pickle file (${s.value.uri}); ${advice}`;
  }
  if (s?.case === "generic" && lit.metadata["format"] === "pickle") {
    return `the value is a Python pickle file (struct with format "pickle"); ${advice}`;
  }
  const t = type?.type;
  const pickleType =
    (t?.case === "blob" && t.value.format === PICKLE_FORMAT) ||
    (t?.case === "unionType" && t.value.variants.length > 0 && t.value.variants.every((v) => v.structure?.tag === PICKLE_TAG));
  return pickleType ? `the type is a Python pickle; ${advice}` : undefined;
}

async function loadOffloaded(meta: LiteralOffloadedMetadata, ctx: Ctx, path: string): Promise<Literal> {
  let bytes: Uint8Array;
  try {
    bytes = await ctx.storage.read(meta.uri, ctx.signal);
  } catch (err) {
    if (ctx.signal?.aborted) throw err;
    const detail = err instanceof TypeConversionError || err instanceof StorageError ? err.message : `cannot read "${meta.uri}": ${err instanceof Error ? err.message : String(err)}`;
    throw fail(ctx, path, `offloaded literal: ${detail}`, err);
  }
  let lit: Literal;
  try {
    lit = fromBinary(LiteralSchema, bytes);
  } catch (err) {
    throw fail(ctx, path, `offloaded literal at "${meta.uri}" is not a serialized flyteidl2.core.Literal`, err);
  }
  if (lit.value.case === "offloadedMetadata") {
    throw fail(ctx, path, `offloaded literal at "${meta.uri}" points to another offloaded literal`);
  }
  return lit;
}

function unpackOrFail(bytes: Uint8Array, ctx: Ctx, path: string): unknown {
  try {
    return unpack(bytes);
  } catch (err) {
    throw fail(ctx, path, `invalid msgpack data: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

/** Exact: a FlyteDatetime keeps the nanoseconds a plain Date would drop. */
function toDate(ts: Timestamp, ctx: Ctx, path: string): FlyteDatetime {
  if (ts.nanos < 0 || ts.nanos > 999_999_999) throw fail(ctx, path, `timestamp nanos ${ts.nanos} is outside 0…999999999`);
  try {
    return new FlyteDatetime(ts.seconds, ts.nanos);
  } catch (err) {
    throw fail(ctx, path, err instanceof Error ? err.message : String(err), err);
  }
}

/** A File or Dir whose contents are read through the decoder's storage (so the service's local-file rule holds). */
function toBlob(uri: string, format: string, dim: BlobType_BlobDimensionality, hash: string, ctx: Ctx): FlyteFile | FlyteDir {
  const options = isStorage(ctx.storage) ? { storage: ctx.storage } : undefined;
  return dim === BlobType_BlobDimensionality.MULTIPART ? new FlyteDir(uri, format, hash || undefined, options) : new FlyteFile(uri, format, hash || undefined, options);
}

function toColumns(columns: StructuredDatasetType["columns"]): DataFrameColumn[] {
  return columns.map((c) => ({ name: c.name, literalType: c.literalType ?? create(LiteralTypeSchema) }));
}


/**
 * Reads a msgpack / JSON tree (a STRUCT body, or a msgpack value standing for another type) as the
 * declared type, the way Python's mashumaro decoders do: datetimes are ISO strings, timedeltas are
 * seconds, Files and Dirs are objects with a `path`, DataFrames objects with a `uri`.
 */
function treeToNative(value: unknown, type: LiteralType | undefined, ctx: Ctx, path: string): unknown {
  if (!isDeclared(type)) return value;
  const t = type.type;
  const mismatch = () => fail(ctx, path, `expected ${describeType(type)}, got ${describeValue(value)} in msgpack/struct data`);
  switch (t.case) {
    case "simple":
      switch (t.value) {
        case SimpleType.NONE:
          if (value === null) return null;
          break;
        case SimpleType.INTEGER:
          if (typeof value === "bigint" || (typeof value === "number" && Number.isInteger(value))) return value;
          break;
        case SimpleType.FLOAT:
          if (typeof value === "number") return value;
          if (typeof value === "bigint") return Number(value);
          break;
        case SimpleType.STRING:
          if (typeof value === "string") return value;
          break;
        case SimpleType.BOOLEAN:
          if (typeof value === "boolean") return value;
          break;
        case SimpleType.DATETIME:
          if (value instanceof Date && !Number.isNaN(value.getTime())) return FlyteDatetime.fromDate(value);
          if (typeof value === "string") {
            // mashumaro writes `datetime.isoformat()`, microseconds included; a naive one (no offset) is UTC.
            try {
              return FlyteDatetime.fromISOString(value);
            } catch {
              // not ISO 8601: a mismatch below
            }
          }
          break;
        case SimpleType.DURATION:
          if (typeof value === "number" && Number.isFinite(value)) return Duration.fromSeconds(value);
          break;
        case SimpleType.STRUCT:
          if (isPlainObject(value)) {
            try {
              checkRequired(value, type.metadata);
            } catch (err) {
              if (err instanceof SchemaMismatch) throw fail(ctx, `${path}${err.path}`, err.problem, err);
              throw err;
            }
            return value;
          }
          break;
        case SimpleType.BINARY:
          if (value instanceof Uint8Array) return value;
          break;
      }
      throw mismatch();
    case "collectionType":
      if (!Array.isArray(value)) throw mismatch();
      return value.map((v, i) => treeToNative(v, t.value, ctx, `${path}[${i}]`));
    case "mapValueType":
      if (!isPlainObject(value)) throw mismatch();
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, treeToNative(v, t.value, ctx, `${path}[${JSON.stringify(k)}]`)]));
    case "enumType":
      if (typeof value !== "string") throw mismatch();
      return checkEnum(value, t.value.values, ctx, path);
    case "blob":
      if (!isPlainObject(value) || typeof value["path"] !== "string") throw mismatch();
      return toBlob(value["path"], typeof value["format"] === "string" && value["format"] ? value["format"] : t.value.format, t.value.dimensionality, typeof value["hash"] === "string" ? value["hash"] : "", ctx);
    case "structuredDatasetType":
      if (!isPlainObject(value) || typeof value["uri"] !== "string") throw mismatch();
      return new DataFrame(value["uri"], typeof value["format"] === "string" && value["format"] ? value["format"] : t.value.format);
    case "unionType": {
      for (const variant of t.value.variants) {
        try {
          return treeToNative(value, variant, ctx, path);
        } catch {
          // try the next variant
        }
      }
      throw mismatch();
    }
    default:
      throw fail(ctx, path, `the ${t.case} type is not supported`);
  }
}
