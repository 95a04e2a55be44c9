/**
 * The type DSL: `types.int`, `types.list(types.string)`, … Each spec holds exactly the LiteralType the
 * Python SDK declares for the matching Python type, plus a phantom JavaScript type for `Infer`.
 */
import { create, equals, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import { VariableMapSchema, type VariableMap } from "@flyte-connectors/flyteidl2/flyteidl2/core/interface_pb.js";
import {
  BlobType_BlobDimensionality,
  type LiteralType,
  LiteralTypeSchema,
  SimpleType,
} from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import { MSGPACK, withTransformerTag } from "./describe.js";
import type { DataFrame, Duration, FlyteDir, FlyteFile } from "./native.js";

declare const phantom: unique symbol;

/** A Flyte type with the JavaScript type `T` its values convert to and from. */
export interface TypeSpec<T> {
  readonly literalType: LiteralType;
  /** Type-level only; never set at run time. */
  readonly [phantom]?: T;
}

/** The JavaScript type of a spec's values: `Infer<typeof types.int>` is `number | bigint`. */
export type Infer<S extends TypeSpec<unknown>> = S extends TypeSpec<infer T> ? T : never;

/** The JavaScript values of a record of specs, e.g. a task's inputs. */
export type InferShape<R extends Readonly<Record<string, TypeSpec<unknown>>>> = { [K in keyof R]: Infer<R[K]> };

function spec<T>(literalType: LiteralType): TypeSpec<T> {
  return Object.freeze({ literalType });
}

const lt = (init: MessageInitShape<typeof LiteralTypeSchema>): LiteralType => create(LiteralTypeSchema, init);
const simple = (value: SimpleType) => lt({ type: { case: "simple", value } });

/** The annotation Python puts on every msgpack STRUCT so cache keys depend on the serialization format. */
const MSGPACK_ANNOTATION = { annotations: { "cache-key-metadata": { "serialization-format": MSGPACK } } };

function structType(schema?: JsonObject, tag?: string): LiteralType {
  return lt({
    type: { case: "simple", value: SimpleType.STRUCT },
    ...(schema ? { metadata: schema } : {}),
    annotation: MSGPACK_ANNOTATION,
    ...(tag ? { structure: { tag } } : {}),
  });
}

function blob(dimensionality: BlobType_BlobDimensionality, format: string): LiteralType {
  return lt({ type: { case: "blob", value: { format, dimensionality } } });
}

/** Union LiteralType: nested unions flattened and duplicates dropped, as `typing.Union` does. */
function unionType(members: readonly LiteralType[]): LiteralType {
  const variants: LiteralType[] = [];
  for (const m of members) {
    const flat = m.type.case === "unionType" ? m.type.value.variants : [m];
    for (const v of flat.map(withTransformerTag)) {
      if (!variants.some((x) => equals(LiteralTypeSchema, x, v))) variants.push(v);
    }
  }
  return lt({ type: { case: "unionType", value: { variants } } });
}

/** Python `int`; decodes to a number when |v| ≤ 2^53 - 1, else a bigint. */
const int = spec<number | bigint>(simple(SimpleType.INTEGER));
/** Python `float`. */
const float = spec<number>(simple(SimpleType.FLOAT));
/** Python `str`. */
const string = spec<string>(simple(SimpleType.STRING));
/** Python `bool`. */
const boolean = spec<boolean>(simple(SimpleType.BOOLEAN));
/**
 * Python `datetime`, exact to the nanosecond: decodes to a {@link FlyteDatetime} (a `Date` that keeps the
 * digits below the millisecond); encodes a FlyteDatetime exactly, or a plain `Date` to the millisecond.
 */
const datetime = spec<Date>(simple(SimpleType.DATETIME));
/** Python `timedelta`, exact to the nanosecond. */
const duration = spec<Duration>(simple(SimpleType.DURATION));
/** Python `None`. */
const none = spec<null>(simple(SimpleType.NONE));
/** Python untyped `dict`: a msgpack STRUCT. */
const struct = spec<Record<string, unknown>>(structType());
/** `flyte.io.File`. */
const file = spec<FlyteFile>(blob(BlobType_BlobDimensionality.SINGLE, ""));
/** `flyte.io.Dir`. */
const dir = spec<FlyteDir>(blob(BlobType_BlobDimensionality.MULTIPART, ""));

/** `flyte.io.DataFrame`, optionally with a storage format (`"parquet"`) and declared columns. */
function dataframe(format = "", columns?: Readonly<Record<string, TypeSpec<unknown>>>): TypeSpec<DataFrame> {
  const cols = Object.entries(columns ?? {}).map(([name, s]) => ({ name, literalType: s.literalType }));
  return spec(lt({ type: { case: "structuredDatasetType", value: { format, columns: cols } } }));
}

/** A Python `enum.Enum` of string values, declared by member names; values are those names. */
function enumOf<const V extends readonly [string, ...string[]]>(...values: V): TypeSpec<V[number]> {
  if (values.length === 0) throw new TypeError("types.enum needs at least one value");
  if (new Set(values).size !== values.length) throw new TypeError(`types.enum has duplicate values: ${values.join(", ")}`);
  return spec(lt({ type: { case: "enumType", value: { values: [...values] } } }));
}

/** Python `list[T]`. */
function list<T>(item: TypeSpec<T>): TypeSpec<T[]> {
  return spec(lt({ type: { case: "collectionType", value: item.literalType } }));
}

/** Python `dict[str, T]`: a Flyte map literal (an untyped dict is `types.struct`). */
function map<T>(value: TypeSpec<T>): TypeSpec<Record<string, T>> {
  return spec(lt({ type: { case: "mapValueType", value: value.literalType } }));
}

/** Python `Optional[T]`, i.e. `Union[T, None]`. */
function optional<T>(inner: TypeSpec<T>): TypeSpec<T | null> {
  return spec(unionType([inner.literalType, none.literalType]));
}

/** Python `Union[A, B, …]`; variants are tagged with their Python transformer names. */
function union<const S extends readonly [TypeSpec<unknown>, ...TypeSpec<unknown>[]]>(...members: S): TypeSpec<Infer<S[number]>> {
  if (members.length === 0) throw new TypeError("types.union needs at least one variant");
  return spec(unionType(members.map((m) => m.literalType)));
}

/**
 * A Python dataclass, described by its JSON schema (what Python puts in `LiteralType.metadata`).
 * Values are plain objects, carried as msgpack.
 */
function dataclass<T extends object = Record<string, unknown>>(schema: JsonObject): TypeSpec<T> {
  return spec(structType(schema, "Object-Dataclass-Transformer"));
}

/** A pydantic model, described by its JSON schema (`Model.model_json_schema()`). Values are plain objects. */
function pydantic<T extends object = Record<string, unknown>>(schema: JsonObject): TypeSpec<T> {
  return spec(structType(schema, "Pydantic Transformer"));
}

/** Wraps a LiteralType from elsewhere (a TaskTemplate interface); its JS type is not known statically. */
function fromLiteralType(literalType: LiteralType): TypeSpec<unknown> {
  return spec(literalType);
}

export const types = {
  int,
  float,
  string,
  boolean,
  datetime,
  duration,
  none,
  struct,
  file,
  dir,
  dataframe,
  enum: enumOf,
  list,
  map,
  optional,
  union,
  dataclass,
  pydantic,
  fromLiteralType,
} as const;

/**
 * A `core.VariableMap` for a TaskTemplate interface. Entries are sorted by name, as Python does, so
 * interfaces (and the hashes computed from them) match.
 */
export function variableMap(record: Readonly<Record<string, TypeSpec<unknown> | LiteralType>>): VariableMap {
  const names = Object.keys(record).sort();
  return create(VariableMapSchema, {
    variables: names.map((key) => ({ key, value: { type: literalTypeOf(record[key]!) } })),
  });
}

/** The LiteralType of a spec or a LiteralType. */
export function literalTypeOf(t: TypeSpec<unknown> | LiteralType): LiteralType {
  return "$typeName" in t ? t : t.literalType;
}
