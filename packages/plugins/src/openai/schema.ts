/**
 * Flyte types ↔ JSON for tool calling: the JSON Schema of a task's inputs (what the model sees) and the
 * conversion of the model's JSON arguments into the task's input values (checked, with errors naming the
 * argument).
 */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { LiteralType } from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import { BlobType_BlobDimensionality, SimpleType } from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import { DataFrame, Duration, FlyteDatetime, FlyteDir, FlyteFile, type TypeSpecs } from "flyte-connectors";

/** A JSON Schema object. */
export type JsonSchema = { [key: string]: JsonValue };

/** Why a schema cannot be used in strict mode, or undefined when it can. */
export function strictBlocker(inputs: TypeSpecs): string | undefined {
  for (const [name, spec] of Object.entries(inputs)) {
    const why = blocker(spec.literalType);
    if (why) return `input "${name}" ${why}`;
  }
  return undefined;
}

function blocker(t: LiteralType): string | undefined {
  switch (t.type.case) {
    case "simple":
      return t.type.value === SimpleType.STRUCT ? "is a free-form object (struct/dataclass), which strict mode cannot describe" : undefined;
    case "mapValueType":
      return "is a map, which strict mode cannot describe (it needs additionalProperties: false)";
    case "collectionType":
      return blocker(t.type.value);
    case "unionType":
      for (const v of t.type.value.variants) {
        const why = blocker(v);
        if (why) return why;
      }
      return undefined;
    default:
      return undefined;
  }
}

const isNone = (t: LiteralType) => t.type.case === "simple" && t.type.value === SimpleType.NONE;

/** Whether a value may be left out: the type admits None (Python's `Optional[T]`). */
export function isOptional(t: LiteralType): boolean {
  return t.type.case === "unionType" && t.type.value.variants.some(isNone);
}

/**
 * The `parameters` schema of a task: an object with one property per input. In strict mode every property
 * is required (optional ones are nullable) and no other property is allowed, as OpenAI's strict mode
 * demands; otherwise optional inputs are simply not required.
 */
export function parametersSchema(inputs: TypeSpecs, strict: boolean, descriptions: Readonly<Record<string, string>>): JsonSchema {
  const properties: JsonObject = {};
  const required: string[] = [];
  for (const [name, spec] of Object.entries(inputs)) {
    const schema = schemaOf(spec.literalType, strict);
    const description = descriptions[name];
    properties[name] = description ? { ...schema, description } : schema;
    if (strict || !isOptional(spec.literalType)) required.push(name);
  }
  return { type: "object", properties, required, additionalProperties: false };
}

function schemaOf(t: LiteralType, strict: boolean): JsonSchema {
  switch (t.type.case) {
    case "simple":
      switch (t.type.value) {
        case SimpleType.INTEGER:
          return { type: "integer" };
        case SimpleType.FLOAT:
          return { type: "number" };
        case SimpleType.STRING:
          return { type: "string" };
        case SimpleType.BOOLEAN:
          return { type: "boolean" };
        case SimpleType.DATETIME:
          return { type: "string", format: "date-time" };
        case SimpleType.DURATION:
          return { type: "number", description: "duration in seconds" };
        case SimpleType.NONE:
          return { type: "null" };
        case SimpleType.STRUCT: {
          // A dataclass or pydantic model carries its JSON schema; an untyped dict is any object.
          const schema = t.metadata as JsonObject | undefined;
          return schema && Object.keys(schema).length ? structuredClone(schema) : { type: "object" };
        }
        default:
          throw new TypeError(`a ${SimpleType[t.type.value]} input cannot be passed by a tool call`);
      }
    case "collectionType":
      return { type: "array", items: schemaOf(t.type.value, strict) };
    case "mapValueType":
      return { type: "object", additionalProperties: schemaOf(t.type.value, strict) };
    case "enumType":
      return { type: "string", enum: [...t.type.value.values] };
    case "unionType": {
      const variants = t.type.value.variants.map((v) => schemaOf(v, strict));
      return variants.length === 1 ? variants[0]! : { anyOf: variants };
    }
    case "blob":
      return t.type.value.dimensionality === BlobType_BlobDimensionality.MULTIPART
        ? { type: "string", description: "URI of a directory" }
        : { type: "string", description: "URI of a file" };
    case "structuredDatasetType":
      return { type: "string", description: "URI of a dataset" };
    default:
      throw new TypeError(`a ${t.type.case ?? "untyped"} input cannot be passed by a tool call`);
  }
}

/** A tool argument did not match the task's input type. */
export class ArgumentError extends TypeError {
  override readonly name = "ArgumentError";
}

/** The task input value of a JSON argument at `path` (e.g. `cities[2]`). @throws ArgumentError naming the path. */
export function fromJsonArgument(t: LiteralType, value: unknown, path: string): unknown {
  const fail = (expected: string): never => {
    throw new ArgumentError(`argument "${path}": expected ${expected}, got ${describe(value)}`);
  };
  switch (t.type.case) {
    case "simple":
      switch (t.type.value) {
        case SimpleType.INTEGER:
          return typeof value === "number" && Number.isInteger(value) ? value : fail("an integer");
        case SimpleType.FLOAT:
          return typeof value === "number" ? value : fail("a number");
        case SimpleType.STRING:
          return typeof value === "string" ? value : fail("a string");
        case SimpleType.BOOLEAN:
          return typeof value === "boolean" ? value : fail("true or false");
        case SimpleType.DATETIME: {
          // RFC 3339 date-time, as JSON Schema's "date-time" format: a date, a time and an offset.
          const ok = typeof value === "string" && /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(value);
          // Exact: fractional digits beyond the millisecond reach the task.
          let date: FlyteDatetime | undefined;
          try {
            date = ok ? FlyteDatetime.fromISOString(value as string) : undefined;
          } catch {
            date = undefined;
          }
          return date ?? fail('a date-time such as "2026-01-31T12:00:00Z"');
        }
        case SimpleType.DURATION:
          return typeof value === "number" && Number.isFinite(value) ? Duration.fromSeconds(value) : fail("a number of seconds");
        case SimpleType.NONE:
          return value === null ? null : fail("null");
        case SimpleType.STRUCT:
          return isPlainObject(value) ? value : fail("an object");
        default:
          return fail(`a ${SimpleType[t.type.value]}`);
      }
    case "collectionType": {
      if (!Array.isArray(value)) return fail("an array");
      const item = t.type.value;
      return value.map((v, i) => fromJsonArgument(item, v, `${path}[${i}]`));
    }
    case "mapValueType": {
      if (!isPlainObject(value)) return fail("an object");
      const item = t.type.value;
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromJsonArgument(item, v, `${path}.${k}`)]));
    }
    case "enumType": {
      const values = t.type.value.values;
      return typeof value === "string" && values.includes(value) ? value : fail(`one of ${values.map((v) => JSON.stringify(v)).join(", ")}`);
    }
    case "unionType": {
      const errors: string[] = [];
      for (const variant of t.type.value.variants) {
        try {
          return fromJsonArgument(variant, value, path);
        } catch (error) {
          if (!(error instanceof ArgumentError)) throw error;
          errors.push(error.message.replace(/^argument "[^"]*": /, ""));
        }
      }
      throw new ArgumentError(`argument "${path}": matches none of its types (${errors.join("; ")})`);
    }
    case "blob": {
      if (typeof value !== "string" || value === "") return fail("a URI");
      const { format, dimensionality } = t.type.value;
      return dimensionality === BlobType_BlobDimensionality.MULTIPART ? new FlyteDir(value, format) : new FlyteFile(value, format);
    }
    case "structuredDatasetType":
      return typeof value === "string" && value !== "" ? new DataFrame(value, t.type.value.format) : fail("a URI");
    default:
      return fail("a value of a type tool calls support");
  }
}

/** JSON for a tool result: dates as ISO text, durations as seconds, files and datasets as their URIs. */
export function toJsonResult(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Duration) return Number(value.seconds) + value.nanos / 1e9;
  if (value instanceof FlyteFile || value instanceof FlyteDir || value instanceof DataFrame) return value.uri;
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
