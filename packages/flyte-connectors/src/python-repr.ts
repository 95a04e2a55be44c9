// Python's `repr()` / `str()` text of JSON-like values. Connectors that must produce the same text as a Python
// connector (a templated URL, an sbatch environment variable, an idempotency token hashed from a config) need
// Python's spelling of floats, strings, None and booleans, which JavaScript's String() does not give.
import { Float64 } from "./types/native.js";

/** Python `repr(float)` (also `str(float)`): shortest round-trip digits, `.0` on whole numbers, exponent form below 1e-4 and from 1e16. */
export function pythonFloatRepr(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  // toExponential() without a digit count gives the shortest digits that read back as the same double, as Python does.
  const [mantissa = "", exponentText = "0"] = value.toExponential().split("e");
  const exponent = Number(exponentText);
  const sign = mantissa.startsWith("-") ? "-" : "";
  const digits = mantissa.replace("-", "").replace(".", "");
  if (exponent < -4 || exponent >= 16) {
    const body = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${body}e${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  if (exponent < 0) return `${sign}0.${"0".repeat(-exponent - 1)}${digits}`;
  const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, "0");
  return `${sign}${whole}.${digits.slice(exponent + 1) || "0"}`;
}

// Python's str.isprintable() is false for these categories (other than the space itself), and repr() escapes them.
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Python `repr(str)`: single quotes unless the text has a single quote and no double one; escapes as Python 3's. */
export function pythonStrRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === quote || char === "\\") out += `\\${char}`;
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (char === "\t") out += "\\t";
    else if (char === " " || !NOT_PRINTABLE.test(char)) out += char;
    else if (code < 0x100) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else if (code < 0x10000) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += `\\U${code.toString(16).padStart(8, "0")}`;
  }
  return out + quote;
}

/**
 * Python `repr(value)` of a JSON-like value: `None`, `True`, `1.0` ({@link Float64}, or a number that is not whole),
 * `'text'`, `[1, 'a']`, `{'k': 'v'}` (insertion order). A whole JavaScript number is an int, as Python reads JSON.
 */
export function pythonRepr(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (value instanceof Float64) return pythonFloatRepr(value.value);
  switch (typeof value) {
    case "string":
      return pythonStrRepr(value);
    case "boolean":
      return value ? "True" : "False";
    case "bigint":
      return value.toString();
    case "number":
      return Number.isInteger(value) ? String(value) : pythonFloatRepr(value);
    case "object":
      if (Array.isArray(value)) return `[${value.map(pythonRepr).join(", ")}]`;
      return `{${Object.entries(value as Record<string, unknown>)
        .map(([key, item]) => `${pythonStrRepr(key)}: ${pythonRepr(item)}`)
        .join(", ")}}`;
    default:
      throw new TypeError(`no Python repr for a ${typeof value}`);
  }
}

/** Python `str(value)`: a string as it is, anything else as {@link pythonRepr}. */
export function pythonStr(value: unknown): string {
  return typeof value === "string" ? value : pythonRepr(value);
}
