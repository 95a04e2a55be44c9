/**
 * The JSON schema Python puts in a dataclass / pydantic STRUCT's `LiteralType.metadata` (mashumaro's or
 * pydantic's `model_json_schema()`), used for what msgpack alone cannot say: which fields are required and
 * which numbers are floats. Only those two things are checked; the rest of the schema is not validated.
 */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { keepFloat } from "./msgpack.js";
import { Float64 } from "./native.js";
import { isPlainObject } from "./values.js";

/** A value that does not fit its schema; `path` locates it (`.inner.name`, `.items[2]`). */
export class SchemaMismatch extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(path ? `at ${path}: ${problem}` : problem);
  }
}

/**
 * Checks that every `required` field is present, at every depth the schema describes.
 * @throws SchemaMismatch naming the first missing field.
 */
export function checkRequired(value: unknown, schema: JsonObject | undefined): void {
  if (schema) walk(value, schema, schema, "", false, 0);
}

/**
 * The value to pack for `schema`: required fields checked (as {@link checkRequired}), and whole numbers
 * where the schema says `number` (Python `float`) boxed as {@link Float64} so they are written as floats.
 * The value itself is not changed.
 */
export function prepareForSchema(value: unknown, schema: JsonObject | undefined): unknown {
  return schema ? walk(value, schema, schema, "", true, 0) : value;
}

/** Deeper than any real schema; stops a `$ref` cycle (a recursive model) on a cyclic value. */
const MAX_DEPTH = 64;

function walk(value: unknown, node: JsonValue | undefined, root: JsonObject, path: string, encode: boolean, depth: number): unknown {
  if (depth > MAX_DEPTH) return value;
  const schema = resolve(node, root);
  if (!schema) return value;
  let out = value;
  for (const part of array(schema["allOf"])) out = walk(out, part, root, path, encode, depth + 1);
  const variants = [...array(schema["anyOf"]), ...array(schema["oneOf"])];
  if (variants.length > 0) {
    const variant = variants.find((v) => fits(out, resolve(v, root), root));
    if (variant !== undefined) out = walk(out, variant, root, path, encode, depth + 1);
  }
  const kinds = typesOf(schema);
  if (encode && typeof out === "number" && Number.isInteger(out) && kinds.includes("number") && !kinds.includes("integer")) {
    return new Float64(out);
  }
  if (Array.isArray(out)) {
    const items = schema["items"];
    const prefix = array(schema["prefixItems"]);
    if (items === undefined && prefix.length === 0) return out;
    const list = out;
    const mapped = list.map((v, i) => walk(v, prefix[i] ?? (isObject(items) ? items : undefined), root, `${path}[${i}]`, encode, depth + 1));
    return encode ? mapped.map((v, i) => keepFloat(list, i, v)) : out;
  }
  if (isPlainObject(out)) {
    const object = out;
    for (const name of array(schema["required"])) {
      if (typeof name === "string" && object[name] === undefined) {
        throw new SchemaMismatch(path, `missing required field "${name}"${schema["title"] ? ` of ${String(schema["title"])}` : ""}`);
      }
    }
    const properties = isObject(schema["properties"]) ? schema["properties"] : {};
    const additional = schema["additionalProperties"];
    const entries = Object.entries(object).map(([k, v]): [string, unknown] => {
      const child = Object.hasOwn(properties, k) ? properties[k] : isObject(additional) ? additional : undefined;
      const next = child === undefined ? v : walk(v, child, root, `${path}.${k}`, encode, depth + 1);
      return [k, encode ? keepFloat(object, k, next) : next];
    });
    return encode ? Object.fromEntries(entries) : out;
  }
  return out;
}

/** Follows `$ref` pointers into the root schema (`#/$defs/Inner`, `#/definitions/Inner`). */
function resolve(node: JsonValue | undefined, root: JsonObject): JsonObject | undefined {
  let current = node;
  for (let hops = 0; hops < MAX_DEPTH && isObject(current); hops++) {
    const ref = current["$ref"];
    if (typeof ref !== "string") return current;
    if (!ref.startsWith("#")) return undefined; // an external reference: nothing to check against
    current = ref
      .slice(1)
      .split("/")
      .filter((part) => part !== "")
      .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"))
      .reduce<JsonValue | undefined>((at, part) => (isObject(at) ? at[part] : Array.isArray(at) ? at[Number(part)] : undefined), root);
  }
  return undefined;
}

/** Whether a value has the kind an `anyOf` variant describes (to pick the variant of an Optional or a Union). */
function fits(value: unknown, schema: JsonObject | undefined, root: JsonObject): boolean {
  if (!schema) return false;
  const kinds = typesOf(schema);
  if (kinds.length === 0) {
    const nested = [...array(schema["anyOf"]), ...array(schema["oneOf"]), ...array(schema["allOf"])];
    if (nested.length > 0) return nested.some((v) => fits(value, resolve(v, root), root));
    return isPlainObject(value) && (isObject(schema["properties"]) || "required" in schema);
  }
  if (value === null) return kinds.includes("null");
  if (Array.isArray(value)) return kinds.includes("array");
  if (typeof value === "number" || typeof value === "bigint" || value instanceof Float64) {
    return kinds.includes("number") || (kinds.includes("integer") && Number.isInteger(Number(value)));
  }
  if (typeof value === "string") return kinds.includes("string");
  if (typeof value === "boolean") return kinds.includes("boolean");
  return isPlainObject(value) && kinds.includes("object");
}

function typesOf(schema: JsonObject): string[] {
  const t = schema["type"];
  if (typeof t === "string") return [t];
  return Array.isArray(t) ? t.filter((x): x is string => typeof x === "string") : [];
}

function array(value: JsonValue | undefined): JsonValue[] {
  return Array.isArray(value) ? value : [];
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
