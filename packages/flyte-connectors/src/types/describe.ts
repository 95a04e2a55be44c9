/** Names for LiteralTypes and Literals: in error messages, and the Python transformer tags on union variants. */
import { clone, create } from "@bufbuild/protobuf";
import type { Literal } from "@flyte-connectors/flyteidl2/flyteidl2/core/literals_pb.js";
import {
  BlobType_BlobDimensionality,
  type LiteralType,
  LiteralTypeSchema,
  SimpleType,
  TypeStructureSchema,
} from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";

/** Blob format the Python SDK gives cloudpickle files. */
export const PICKLE_FORMAT = "PythonPickle";
/** Name of Python's pickle transformer (tags the variants of its union type). */
export const PICKLE_TAG = "FlytePickle";
export const MSGPACK = "msgpack";

const SIMPLE_NAMES: Record<SimpleType, string> = {
  [SimpleType.NONE]: "none",
  [SimpleType.INTEGER]: "int",
  [SimpleType.FLOAT]: "float",
  [SimpleType.STRING]: "string",
  [SimpleType.BOOLEAN]: "boolean",
  [SimpleType.DATETIME]: "datetime",
  [SimpleType.DURATION]: "duration",
  [SimpleType.BINARY]: "binary",
  [SimpleType.ERROR]: "error",
  [SimpleType.STRUCT]: "struct",
};

/** A LiteralType in the notation of the `types` DSL, e.g. `list<optional<int>>`. */
export function describeType(t: LiteralType | undefined): string {
  if (t === undefined) return "(undeclared type)";
  const v = t.type;
  switch (v.case) {
    case "simple": {
      const name = SIMPLE_NAMES[v.value] ?? `simple(${v.value})`;
      const title = t.metadata?.["title"];
      return v.value === SimpleType.STRUCT && typeof title === "string" ? `struct(${title})` : name;
    }
    case "collectionType":
      return `list<${describeType(v.value)}>`;
    case "mapValueType":
      return `map<${describeType(v.value)}>`;
    case "blob":
      if (v.value.format === PICKLE_FORMAT) return "Python pickle";
      return `${v.value.dimensionality === BlobType_BlobDimensionality.MULTIPART ? "dir" : "file"}${v.value.format ? `("${v.value.format}")` : ""}`;
    case "enumType":
      return `enum(${v.value.values.map((s) => JSON.stringify(s)).join(", ")})`;
    case "structuredDatasetType":
      return `dataframe(${v.value.format ? JSON.stringify(v.value.format) : ""})`;
    case "unionType": {
      const variants = v.value.variants;
      if (variants.length > 0 && variants.every((x) => x.structure?.tag === PICKLE_TAG)) return "Python pickle";
      const isNone = (x: LiteralType) => x.type.case === "simple" && x.type.value === SimpleType.NONE;
      const some = variants.filter((x) => !isNone(x));
      if (variants.length === 2 && some.length === 1) return `optional<${describeType(some[0])}>`;
      return `union<${variants.map(describeType).join(" | ")}>`;
    }
    case "schema":
      return "schema";
    case undefined:
      return "(empty LiteralType)";
  }
}

/** Which kind of literal this is, e.g. `scalar.primitive.integer`, `collection`. */
export function describeLiteral(lit: Literal): string {
  const v = lit.value;
  if (v.case === undefined) return "an empty literal";
  if (v.case !== "scalar") return v.case;
  const s = v.value.value;
  switch (s.case) {
    case undefined:
      return "a scalar with no value";
    case "primitive":
      return s.value.value.case === undefined ? "a primitive with no value" : `scalar.primitive.${s.value.value.case}`;
    case "binary":
      return `scalar.binary (tag "${s.value.tag}")`;
    case "blob":
      return `scalar.blob (format "${s.value.metadata?.type?.format ?? ""}")`;
    default:
      return `scalar.${s.case}`;
  }
}

/**
 * The Python transformer name for a type, which Python writes as `structure.tag` on each union variant
 * and reads back to choose the variant.
 */
export function transformerTag(t: LiteralType): string {
  const v = t.type;
  switch (v.case) {
    case "simple":
      switch (v.value) {
        case SimpleType.INTEGER:
          return "int";
        case SimpleType.FLOAT:
          return "float";
        case SimpleType.STRING:
          return "str";
        case SimpleType.BOOLEAN:
          return "bool";
        case SimpleType.DATETIME:
          return "datetime";
        case SimpleType.DURATION:
          return "timedelta";
        case SimpleType.NONE:
          return "none";
        case SimpleType.STRUCT:
          // Dataclass and pydantic types already carry their transformer tag; untyped dicts do not.
          return t.structure?.tag || "Typed Dict";
        case SimpleType.BINARY:
          return PICKLE_TAG;
        default:
          return t.structure?.tag ?? "";
      }
    case "collectionType":
      return "Typed List";
    case "mapValueType":
      return "Typed Dict";
    case "blob":
      if (v.value.format === PICKLE_FORMAT) return PICKLE_TAG;
      return v.value.dimensionality === BlobType_BlobDimensionality.MULTIPART ? "Dir" : "File";
    case "enumType":
      return "DefaultEnumTransformer";
    case "structuredDatasetType":
      return "DataFrame Transformer";
    case "unionType":
      return "Typed Union";
    default:
      return t.structure?.tag ?? "";
  }
}

/** A copy of `t` with `structure.tag` set to its Python transformer name, as Python tags union variants. */
export function withTransformerTag(t: LiteralType): LiteralType {
  const copy = clone(LiteralTypeSchema, t);
  copy.structure = create(TypeStructureSchema, { tag: transformerTag(t) });
  return copy;
}
