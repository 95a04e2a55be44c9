/**
 * MessagePack as the Python SDK writes it (`msgpack.dumps`, use_bin_type): the body of STRUCT literals
 * (untyped dicts, dataclasses, pydantic models).
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import { Float64 } from "./native.js";
import { INT64_MIN, isPlainObject, normalizeInt } from "./values.js";

/*
 * JavaScript has one number type, so a msgpack float64 `2.0` and an int `2` both decode to 2. Python keeps
 * them apart, so the float-ness is kept: the decoder reads every float as a Float64 box (through its
 * readF32/readF64 methods), `normalize` unboxes it and remembers which object keys / array indexes held
 * whole floats, and the encoder writes a Float64 (or a remembered whole float) as float64 again. The two
 * methods patched here are internal to @msgpack/msgpack 3.x: checked at load, and by the round-trip tests.
 */
interface DecoderInternals {
  readF32(): unknown;
  readF64(): unknown;
}
interface EncoderInternals {
  encodeObject(object: unknown, depth: number): void;
  encodeNumberAsFloat(value: number): void;
}

// int64/uint64 decode as bigint so values beyond 2^53 stay exact; normalizeInt turns the safe ones back into numbers.
// A float map key (Python allows them) is read as its number, as before.
const decoder = new Decoder({ useBigInt64: true, mapKeyConverter: (key) => mapKey(key) });
const encoder = new Encoder({ useBigInt64: true, ignoreUndefined: true });
{
  const d = decoder as unknown as DecoderInternals;
  const e = encoder as unknown as EncoderInternals;
  if (typeof d.readF32 !== "function" || typeof d.readF64 !== "function" || typeof e.encodeObject !== "function" || typeof e.encodeNumberAsFloat !== "function") {
    throw new Error("@msgpack/msgpack changed its internals: flyte-connectors cannot keep whole floats as floats");
  }
  const readF32 = d.readF32;
  const readF64 = d.readF64;
  d.readF32 = function (this: DecoderInternals) {
    return new Float64(readF32.call(this) as number);
  };
  d.readF64 = function (this: DecoderInternals) {
    return new Float64(readF64.call(this) as number);
  };
  const encodeObject = e.encodeObject;
  e.encodeObject = function (this: EncoderInternals, object: unknown, depth: number) {
    if (object instanceof Float64) this.encodeNumberAsFloat(object.value);
    else encodeObject.call(this, object, depth);
  };
}

function mapKey(key: unknown): string | number {
  if (key instanceof Float64) return key.value;
  if (typeof key === "string" || typeof key === "number") return key;
  throw new Error(`a msgpack map key must be a string or a number, got ${typeof key}`);
}

/** Keys (object) or indexes (array) of containers made by `unpack` that held whole floats, with those values. */
const wholeFloats = new WeakMap<object, Map<string | number, number>>();

/**
 * Whether `container[key]` was decoded from a msgpack float although its value is whole, e.g. `2.0`.
 * True only for the objects and arrays `unpack` returned, while they keep that value.
 */
export function isWholeFloat(container: object, key: string | number): boolean {
  const keys = wholeFloats.get(container);
  return keys !== undefined && keys.get(key) === (container as Record<string | number, unknown>)[key];
}

/** Decodes msgpack bytes; ints beyond ±(2^53 - 1) come back as bigint, all others (and floats) as number. */
export function unpack(bytes: Uint8Array): unknown {
  return normalize(decoder.decode(bytes));
}

function normalize(value: unknown): unknown {
  if (typeof value === "bigint") return normalizeInt(value);
  if (value instanceof Float64) return value.value;
  if (Array.isArray(value)) {
    const out = value.map(normalize);
    value.forEach((v, i) => markWholeFloat(out, i, v));
    return out;
  }
  if (isPlainObject(value)) {
    const entries = Object.entries(value);
    const out = Object.fromEntries(entries.map(([k, v]) => [k, normalize(v)]));
    for (const [k, v] of entries) markWholeFloat(out, k, v);
    return out;
  }
  return value;
}

function markWholeFloat(container: object, key: string | number, raw: unknown): void {
  if (!(raw instanceof Float64) || !Number.isInteger(raw.value)) return;
  let keys = wholeFloats.get(container);
  if (!keys) wholeFloats.set(container, (keys = new Map()));
  keys.set(key, raw.value);
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
 * Python's mashumaro write datetimes; a FlyteDatetime with all its digits); integers get the smallest
 * encoding, as Python's msgpack writes them, except whole floats `unpack` read (see {@link isWholeFloat})
 * and {@link Float64} boxes, which stay float64; undefined object properties are dropped. Class instances
 * other than Date, Float64 and Uint8Array are rejected, because Python would only see an opaque map or extension.
 */
function toPackable(value: unknown, path: string): unknown {
  if (value instanceof Float64) return value;
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
      if (Array.isArray(value)) return value.map((v, i) => toPackable(keepFloat(value, i, v), `${path}[${i}]`));
      if (isPlainObject(value)) {
        return Object.fromEntries(
          Object.entries(value)
            .filter(([, v]) => v !== undefined)
            .map(([k, v]) => [k, toPackable(keepFloat(value, k, v), `${path}.${k}`)]),
        );
      }
      throw new PackError(path, `a ${value.constructor?.name ?? "non-plain object"} cannot be stored in a struct (use plain objects, arrays, strings, numbers, booleans, null, Date or Uint8Array)`);
    default:
      throw new PackError(path, `a ${typeof value} cannot be stored in a struct`);
  }
}

/** `container[key]`'s value `v`, boxed as a Float64 when it is a whole number `unpack` read as a float. */
export function keepFloat(container: object, key: string | number, v: unknown): unknown {
  return typeof v === "number" && Number.isInteger(v) && isWholeFloat(container, key) ? new Float64(v) : v;
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
