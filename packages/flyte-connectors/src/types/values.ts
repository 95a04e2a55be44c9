/** Small predicates on JavaScript values shared by the converters. */

/** An object literal or `Object.create(null)`; not arrays, class instances or protobuf messages. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && !("$typeName" in value);
}

/** int64 values in JS: a number when exactly representable (|v| ≤ 2^53 - 1), otherwise a bigint. */
export function normalizeInt(value: bigint): number | bigint {
  return value >= -MAX_SAFE && value <= MAX_SAFE ? Number(value) : value;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

/** A short name for a value's kind in error messages: `string`, `Date`, `array`, `FlyteFile`, … */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number") return Number.isInteger(value) ? `the integer ${value}` : `the number ${value}`;
  if (typeof value === "object") {
    if ("$typeName" in value) return `a ${String(value.$typeName)} message`;
    return isPlainObject(value) ? "a plain object" : `a ${value.constructor?.name ?? "object"}`;
  }
  return `a ${typeof value}`;
}
