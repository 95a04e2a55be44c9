// How flytekit's webhook connector turns an input into text: it substitutes `str(value)` of the Python value
// `literal_map_string_repr` makes of each input literal. These helpers give the same text in JavaScript, so a
// template renders to the same URL, header or body under either service.
import { Float64, pythonFloatRepr } from "flyte-connectors";

/**
 * Python `datetime.isoformat()` of an aware UTC datetime as flytekit reads a Flyte datetime literal: microseconds
 * (truncated, only when non-zero) and `+00:00`, e.g. `2026-01-02T03:04:05.123456+00:00`.
 */
export function pythonIsoformat(date: Date, nanos: number): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  const micros = Math.floor(nanos / 1000);
  const time = `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}${micros ? `.${pad(micros, 6)}` : ""}`;
  return `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}T${time}+00:00`;
}

/**
 * JSON of a rendered value as the request body: compact (as httpx ≥ 0.28 writes `json=`), floats as Python writes
 * them (`1.0`, `1e-05`), integers beyond 2^53 exact. Non-finite floats have no JSON form: a TypeError.
 */
export function jsonBody(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (value instanceof Float64) {
    if (!Number.isFinite(value.value)) throw new TypeError(`${value.value} has no JSON form`);
    return pythonFloatRepr(value.value);
  }
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "bigint":
      return value.toString();
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`${value} has no JSON form`);
      return Number.isInteger(value) ? String(value) : pythonFloatRepr(value);
    default:
      break;
  }
  if (Array.isArray(value)) return `[${value.map(jsonBody).join(",")}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${JSON.stringify(k)}:${jsonBody(v)}`)
    .join(",")}}`;
}
