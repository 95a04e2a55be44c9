// How flytekit's webhook connector turns an input into text: it substitutes `str(value)` of the Python value
// `literal_map_string_repr` makes of each input literal. These helpers give the same text in JavaScript, so a
// template renders to the same URL, header or body under either service.
import { Float64 } from "flyte-connectors";

/** Python `repr(float)` (also `str(float)`): shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export function pythonFloat(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  // toExponential() without digits gives the shortest digits that read back as the same double, as Python does.
  const [mantissa = "", exponentText = "0"] = value.toExponential().split("e");
  const exponent = Number(exponentText);
  const negative = mantissa.startsWith("-");
  const digits = mantissa.replace("-", "").replace(".", "");
  const sign = negative ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    const body = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${body}e${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  if (exponent < 0) return `${sign}0.${"0".repeat(-exponent - 1)}${digits}`;
  const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, "0");
  const fraction = digits.slice(exponent + 1);
  return `${sign}${whole}.${fraction || "0"}`;
}

/** Python `repr(str)`: single quotes unless the text has a single quote and no double one; escapes as Python's. */
export function pythonStringRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === quote || char === "\\") out += `\\${char}`;
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (char === "\t") out += "\\t";
    else if (code < 0x20 || (code >= 0x7f && code < 0xa0)) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += char;
  }
  return out + quote;
}

/**
 * Python `str(value)` of a rendered value (see `template.ts`: strings, numbers, bigints, {@link Float64} floats,
 * booleans, null, arrays and plain objects): `True`, `None`, `1.0`, `['a', 1]`, `{'k': 'v'}`.
 */
export function pythonStr(value: unknown): string {
  return typeof value === "string" ? value : pythonRepr(value);
}

/** Python `repr(value)` of a rendered value. */
export function pythonRepr(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (value instanceof Float64) return pythonFloat(value.value);
  switch (typeof value) {
    case "string":
      return pythonStringRepr(value);
    case "boolean":
      return value ? "True" : "False";
    case "bigint":
      return value.toString();
    case "number":
      return Number.isInteger(value) ? String(value) : pythonFloat(value);
    default:
      break;
  }
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(", ")}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${pythonStringRepr(k)}: ${pythonRepr(v)}`)
    .join(", ")}}`;
}

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
    return pythonFloat(value.value);
  }
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "bigint":
      return value.toString();
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`${value} has no JSON form`);
      return Number.isInteger(value) ? String(value) : pythonFloat(value);
    default:
      break;
  }
  if (Array.isArray(value)) return `[${value.map(jsonBody).join(",")}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${JSON.stringify(k)}:${jsonBody(v)}`)
    .join(",")}}`;
}
