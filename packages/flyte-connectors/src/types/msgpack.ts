/**
 * MessagePack as the Python SDK writes it (`msgpack.dumps`, use_bin_type): the body of STRUCT literals
 * (untyped dicts, dataclasses, pydantic models).
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import { INT64_MIN, isPlainObject, normalizeInt } from "./values.js";

// int64/uint64 decode as bigint so values beyond 2^53 stay exact; normalizeInt turns the safe ones back into numbers.
const decoder = new Decoder({ useBigInt64: true });
const encoder = new Encoder({ useBigInt64: true, ignoreUndefined: true });

/** Decodes msgpack bytes; ints beyond ±(2^53 - 1) come back as bigint, all others as number. */
export function unpack(bytes: Uint8Array): unknown {
  return normalize(decoder.decode(bytes));
}

function normalize(value: unknown): unknown {
  if (typeof value === "bigint") return normalizeInt(value);
  if (Array.isArray(value)) return value.map(normalize);
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
  }
  return value;
}

/**
 * Encodes a JSON-like tree. Throws {@link PackError} (the caller names the variable) for values
 * Python could not read back: see {@link toPackable}.
 */
export function pack(value: unknown): Uint8Array {
  return encoder.encode(toPackable(value, ""));
}

const UINT64_MAX = 2n ** 64n - 1n;
/** In the range msgpack encodes without 64-bit forms: int32 for negatives, uint32 for the rest. */
const fitsInt32 = (v: number | bigint) => v >= -0x8000_0000 && v <= 0xffff_ffff;

/**
 * Checks and prepares a value for msgpack: Dates become ISO 8601 strings (as JSON.stringify and
 * Python's mashumaro write datetimes); integers get the smallest encoding, as Python's msgpack
 * writes them; undefined object properties are dropped. Class instances other than Date and
 * Uint8Array are rejected, because Python would only see an opaque map or extension.
 */
function toPackable(value: unknown, path: string): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      // With useBigInt64 the encoder writes integers beyond 32 bits as floats; bigints get the 64-bit forms.
      return Number.isSafeInteger(value) && !fitsInt32(value) ? BigInt(value) : value;
    case "bigint":
      if (value < INT64_MIN || value > UINT64_MAX) throw new PackError(path, `integer ${value} does not fit in 64 bits`);
      // Small bigints as numbers, so they pack as compactly as Python ints.
      return fitsInt32(value) ? Number(value) : value;
    case "undefined":
      return null;
    case "object":
      if (value === null || value instanceof Uint8Array) return value;
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw new PackError(path, "invalid Date");
        return value.toISOString();
      }
      if (Array.isArray(value)) return value.map((v, i) => toPackable(v, `${path}[${i}]`));
      if (isPlainObject(value)) {
        return Object.fromEntries(
          Object.entries(value)
            .filter(([, v]) => v !== undefined)
            .map(([k, v]) => [k, toPackable(v, `${path}.${k}`)]),
        );
      }
      throw new PackError(path, `a ${value.constructor?.name ?? "non-plain object"} cannot be stored in a struct (use plain objects, arrays, strings, numbers, booleans, null, Date or Uint8Array)`);
    default:
      throw new PackError(path, `a ${typeof value} cannot be stored in a struct`);
  }
}

/** A value that cannot be packed; `path` locates it inside the struct (`.a.b[2]`). */
export class PackError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(path ? `at ${path}: ${problem}` : problem);
  }
}
