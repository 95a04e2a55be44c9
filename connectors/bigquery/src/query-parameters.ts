// Task inputs → BigQuery named query parameters (REST `QueryParameter`), typed by the task interface's LiteralTypes.
import { ConnectorError, FlyteDatetime } from "flyte-connectors";
import { SimpleType, type LiteralType } from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import type { TaskTemplate } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";

/** REST `QueryParameter` (BigQuery API v2). Values are strings, as the API documents. */
export interface QueryParameter {
  name?: string;
  parameterType: { type: string; arrayType?: { type: string } };
  parameterValue: { value?: string; arrayValues?: Array<{ value?: string }> };
}

/** Scalar Flyte types with a BigQuery parameter type. `datetime` → DATETIME (UTC wall time), as the Python connector. */
const SCALAR_TYPES = new Map<SimpleType, string>([
  [SimpleType.INTEGER, "INT64"],
  [SimpleType.FLOAT, "FLOAT64"],
  [SimpleType.STRING, "STRING"],
  [SimpleType.BOOLEAN, "BOOL"],
  [SimpleType.DATETIME, "DATETIME"],
]);

export const SUPPORTED_INPUTS = "int, float, str, bool, datetime, a string enum, a list of those, or an Optional of those";

interface ParameterShape {
  /** BigQuery scalar type of the value (or of the array's items). */
  type: string;
  array: boolean;
}

/** The BigQuery parameter shape of a Flyte type, or undefined when it has none. */
export function parameterShape(literalType: LiteralType | undefined): ParameterShape | undefined {
  const t = literalType?.type;
  switch (t?.case) {
    case "simple": {
      const type = SCALAR_TYPES.get(t.value);
      return type ? { type, array: false } : undefined;
    }
    case "enumType":
      return { type: "STRING", array: false };
    case "collectionType": {
      const item = parameterShape(t.value);
      return item && !item.array ? { type: item.type, array: true } : undefined;
    }
    case "unionType": {
      // Optional[T]: T plus NoneType; a null value becomes a NULL parameter.
      const others = t.value.variants.filter((v) => !(v.type.case === "simple" && v.type.value === SimpleType.NONE));
      return others.length === 1 && others.length < t.value.variants.length ? parameterShape(others[0]) : undefined;
    }
    default:
      return undefined;
  }
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** A scalar value as the string BigQuery's REST API takes; undefined for null (a NULL parameter). */
function scalarValue(name: string, type: string, value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  const bad = () => new ConnectorError("INVALID_ARGUMENT", `Input "${name}": cannot pass ${typeof value} as a BigQuery ${type} parameter.`);
  switch (type) {
    case "INT64":
      if (typeof value === "bigint" || (typeof value === "number" && Number.isInteger(value))) return String(value);
      throw bad();
    case "FLOAT64":
      if (typeof value !== "number") throw bad();
      if (Number.isNaN(value)) return "NaN";
      if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
      return String(value);
    case "BOOL":
      if (typeof value !== "boolean") throw bad();
      return String(value);
    case "DATETIME": {
      if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw bad();
      // Canonical DATETIME text of the instant's UTC wall time: YYYY-MM-DD HH:MM:SS.ffffff.
      const d = value;
      // Decoded datetimes are FlyteDatetimes: their microseconds go along (BigQuery keeps 6 digits).
      const micros = Math.floor(FlyteDatetime.fromDate(d).nanos / 1000) % 1_000_000;
      return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(micros, 6)}`;
    }
    default:
      if (typeof value !== "string") throw bad();
      return value;
  }
}

/**
 * Named query parameters for the task's inputs (`@name` in the query), in the interface's order. Each type comes
 * from the input's declared type (not the value), so a NULL Optional still has a type.
 * @throws ConnectorError INVALID_ARGUMENT for an input type BigQuery parameters cannot carry.
 */
export function queryParameters(template: TaskTemplate, inputs: Record<string, unknown>): QueryParameter[] {
  const declared = new Map((template.interface?.inputs?.variables ?? []).map((v) => [v.key, v.value?.type] as const));
  const parameters: QueryParameter[] = [];
  for (const [name, value] of Object.entries(inputs)) {
    const shape = parameterShape(declared.get(name));
    if (!shape) {
      throw new ConnectorError("INVALID_ARGUMENT", `Input "${name}" has a type BigQuery query parameters cannot carry; use ${SUPPORTED_INPUTS}.`);
    }
    if (!shape.array) {
      const scalar = scalarValue(name, shape.type, value);
      parameters.push({ name, parameterType: { type: shape.type }, parameterValue: scalar === undefined ? {} : { value: scalar } });
      continue;
    }
    if (value !== null && !Array.isArray(value)) throw new ConnectorError("INVALID_ARGUMENT", `Input "${name}" should be a list.`);
    parameters.push({
      name,
      parameterType: { type: "ARRAY", arrayType: { type: shape.type } },
      parameterValue: value === null ? {} : { arrayValues: value.map((item) => ({ value: scalarValue(name, shape.type, item) })) },
    });
  }
  return parameters;
}
