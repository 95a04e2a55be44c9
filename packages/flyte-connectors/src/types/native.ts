/**
 * JavaScript values for Flyte literals that have no JSON equivalent. Everything else maps to plain
 * JS values: int ↔ number | bigint, float ↔ number, str ↔ string, bool ↔ boolean,
 * datetime ↔ Date, none ↔ null, STRUCT ↔ plain object, enum ↔ string, list ↔ array, map ↔ object.
 */
import type { LiteralType } from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";

/** A single file (`flyte.io.File`): a blob literal with SINGLE dimensionality. */
export class FlyteFile {
  /**
   * @param uri where the file lives (`s3://…`, `gs://…`, a local path).
   * @param format free-form format label (`""` when unknown, as Python's default).
   * @param hash content hash carried in `Literal.hash`, when the producer set one.
   */
  constructor(
    readonly uri: string,
    readonly format: string = "",
    readonly hash?: string,
  ) {}
}

/** A directory (`flyte.io.Dir`): a blob literal with MULTIPART dimensionality. */
export class FlyteDir {
  constructor(
    readonly uri: string,
    readonly format: string = "",
    readonly hash?: string,
  ) {}
}

/** One column of a DataFrame's declared schema. */
export interface DataFrameColumn {
  readonly name: string;
  readonly literalType: LiteralType;
}

/** A structured dataset (`flyte.io.DataFrame`): a reference to data at `uri` (never the rows). */
export class DataFrame {
  constructor(
    readonly uri: string,
    readonly format: string = "",
    readonly columns?: readonly DataFrameColumn[],
    readonly hash?: string,
  ) {}
}

const NANOS_PER_SECOND = 1_000_000_000;

/**
 * An exact protobuf Duration (Python `timedelta`). `seconds` and `nanos` always share a sign and
 * `|nanos| < 1e9`, as protobuf requires.
 */
export class Duration {
  readonly seconds: bigint;
  readonly nanos: number;

  constructor(seconds: bigint | number, nanos = 0) {
    if (typeof seconds === "number" && !Number.isInteger(seconds)) {
      throw new RangeError(`Duration seconds must be an integer, got ${seconds}`);
    }
    if (!Number.isInteger(nanos)) throw new RangeError(`Duration nanos must be an integer, got ${nanos}`);
    let s = BigInt(seconds) + BigInt(Math.trunc(nanos / NANOS_PER_SECOND));
    let n = nanos % NANOS_PER_SECOND;
    if (s > 0n && n < 0) {
      s -= 1n;
      n += NANOS_PER_SECOND;
    } else if (s < 0n && n > 0) {
      s += 1n;
      n -= NANOS_PER_SECOND;
    }
    this.seconds = s;
    this.nanos = n + 0; // no -0
  }

  /** From milliseconds; fractional milliseconds are kept to the nanosecond. */
  static fromMillis(ms: number): Duration {
    return Duration.fromSeconds(checkFinite(ms) / 1000);
  }

  /** From seconds (a bigint is exact; a number keeps its fraction to the nanosecond). */
  static fromSeconds(s: number | bigint): Duration {
    if (typeof s === "bigint") return new Duration(s);
    const whole = Math.trunc(checkFinite(s));
    return new Duration(whole, Math.round((s - whole) * NANOS_PER_SECOND));
  }

  /** Milliseconds as a number (may lose precision beyond 2^53 ms or below 1 µs). */
  toMillis(): number {
    return Number(this.seconds) * 1000 + this.nanos / 1_000_000;
  }

  /** ISO 8601 style, seconds only: `PT90.5S`, `-PT0.000001S`. */
  toString(): string {
    const negative = this.seconds < 0n || this.nanos < 0;
    const s = negative ? -this.seconds : this.seconds;
    const n = Math.abs(this.nanos);
    const fraction = n === 0 ? "" : `.${String(n).padStart(9, "0").replace(/0+$/, "")}`;
    return `${negative ? "-" : ""}PT${s}${fraction}S`;
  }

  equals(other: Duration): boolean {
    return this.seconds === other.seconds && this.nanos === other.nanos;
  }
}

function checkFinite(x: number): number {
  if (!Number.isFinite(x)) throw new RangeError(`Duration must be finite, got ${x}`);
  return x;
}
