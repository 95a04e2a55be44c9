/**
 * JavaScript values for Flyte literals that have no JSON equivalent. Everything else maps to plain
 * JS values: int ↔ number | bigint, float ↔ number, str ↔ string, bool ↔ boolean,
 * datetime ↔ Date, none ↔ null, STRUCT ↔ plain object, enum ↔ string, list ↔ array, map ↔ object.
 */
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readdir } from "node:fs/promises";
import { basename, dirname, join, relative as relativePath, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { LiteralType } from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import { defaultStorage } from "../storage/object-store.js";
import type { GetOptions, PutBody, Storage } from "../storage/types.js";
import { joinUri } from "../storage/uri.js";

/** Where a File's or Dir's contents are read from and written to. */
export interface BlobStorageOptions {
  /**
   * The store. Default: the one the value was decoded with (the dispatcher's: in `serve`, local paths are refused
   * unless --allow-local-files), else {@link defaultStorage} (configured from flyte-sdk's environment variables).
   */
  storage?: Storage;
}

/** Options of {@link FlyteFile.fromLocal} and {@link FlyteDir.fromLocal}. */
export interface UploadOptions extends BlobStorageOptions {
  /**
   * Prefix to upload under (the task's output prefix, `request.outputPrefix`): the object goes to
   * `<prefix>/<random>/<name>`, so two uploads never collide. Ignored when `uri` is set.
   */
  prefix?: string;
  /** The exact destination URI. One of `prefix` or `uri` is required. */
  uri?: string;
  /** Name of the object under `prefix`. Default: the local file's (or directory's) base name; `data` for bytes. */
  name?: string;
  /** Format label of the new value. Default: "". */
  format?: string;
  signal?: AbortSignal;
}

function destination(options: UploadOptions, fallbackName: string): string {
  if (options.uri) return options.uri;
  if (!options.prefix) throw new TypeError("fromLocal/fromBytes needs options.prefix (e.g. the request's outputPrefix) or options.uri");
  return joinUri(options.prefix, `${randomBytes(8).toString("hex")}/${options.name ?? fallbackName}`);
}

const callOptions = (options: { signal?: AbortSignal } | undefined) => (options?.signal ? { signal: options.signal } : {});

/** A single file (`flyte.io.File`): a blob literal with SINGLE dimensionality. */
export class FlyteFile {
  readonly #storage: Storage | undefined;

  /**
   * @param uri where the file lives (`s3://…`, `gs://…`, `abfs://…`, a local path).
   * @param format free-form format label (`""` when unknown, as Python's default).
   * @param hash content hash carried in `Literal.hash`, when the producer set one.
   */
  constructor(
    readonly uri: string,
    readonly format: string = "",
    readonly hash?: string,
    options?: BlobStorageOptions,
  ) {
    this.#storage = options?.storage;
  }

  /** The store this file's contents are read through. */
  get storage(): Storage {
    return this.#storage ?? defaultStorage();
  }

  /** The contents (or a byte range of them) as a stream; memory stays flat whatever the size. */
  open(options?: GetOptions): Promise<Readable> {
    return this.storage.getStream(this.uri, options);
  }

  /** The whole contents (or a byte range) in memory. */
  read(options?: GetOptions): Promise<Uint8Array> {
    return this.storage.get(this.uri, options);
  }

  /** The contents decoded as UTF-8. */
  async text(options?: GetOptions): Promise<string> {
    return new TextDecoder().decode(await this.read(options));
  }

  /** Streams the contents to `localPath` (its directory is created); returns `localPath`. */
  async download(localPath: string, options?: { signal?: AbortSignal }): Promise<string> {
    await mkdir(dirname(localPath), { recursive: true });
    await pipeline(await this.open(callOptions(options)), createWriteStream(localPath), callOptions(options));
    return localPath;
  }

  /** Uploads a local file (streamed) and returns it as a File at its new URI. */
  static async fromLocal(localPath: string, options: UploadOptions): Promise<FlyteFile> {
    const uri = destination(options, basename(localPath));
    const storage = options.storage ?? defaultStorage();
    await storage.putStream(uri, createReadStream(localPath), callOptions(options));
    return new FlyteFile(uri, options.format ?? "", undefined, { storage });
  }

  /** Writes `data` (bytes, or text as UTF-8) and returns it as a File at its new URI. */
  static async fromBytes(data: PutBody, options: UploadOptions): Promise<FlyteFile> {
    const uri = destination(options, "data");
    const storage = options.storage ?? defaultStorage();
    await storage.put(uri, data, callOptions(options));
    return new FlyteFile(uri, options.format ?? "", undefined, { storage });
  }
}

/** A directory (`flyte.io.Dir`): a blob literal with MULTIPART dimensionality, every object under `uri/`. */
export class FlyteDir {
  readonly #storage: Storage | undefined;

  constructor(
    readonly uri: string,
    readonly format: string = "",
    readonly hash?: string,
    options?: BlobStorageOptions,
  ) {
    this.#storage = options?.storage;
  }

  /** The store this directory's contents are read through. */
  get storage(): Storage {
    return this.#storage ?? defaultStorage();
  }

  /** Every file in the directory, recursively, as Files. */
  async *files(options?: { signal?: AbortSignal }): AsyncIterable<FlyteFile> {
    for await (const object of this.storage.list(joinUri(this.uri, ""), callOptions(options))) {
      yield new FlyteFile(object.uri, "", undefined, { storage: this.storage });
    }
  }

  /** Downloads every file into `localDir`, keeping the paths below the directory; returns `localDir`. */
  async download(localDir: string, options?: { signal?: AbortSignal }): Promise<string> {
    const prefix = joinUri(this.uri, "");
    for await (const object of this.storage.list(prefix, callOptions(options))) {
      const relative = object.uri.slice(object.uri.indexOf(prefix) + prefix.length);
      const target = resolve(localDir, relative);
      if (!target.startsWith(resolve(localDir) + sep)) throw new TypeError(`refusing to write "${relative}" outside ${localDir}`);
      await new FlyteFile(object.uri, "", undefined, { storage: this.storage }).download(target, options);
    }
    return localDir;
  }

  /** Uploads a local directory (each file streamed) and returns it as a Dir at its new URI. */
  static async fromLocal(localDir: string, options: UploadOptions): Promise<FlyteDir> {
    const uri = destination(options, basename(localDir));
    const storage = options.storage ?? defaultStorage();
    for (const entry of await readdir(localDir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const path = join(entry.parentPath ?? entry.path, entry.name);
      await storage.putStream(joinUri(uri, relativePath(localDir, path).split(sep).join("/")), createReadStream(path), callOptions(options));
    }
    return new FlyteDir(uri, options.format ?? "", undefined, { storage });
  }
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

const NANOS_PER_MILLI = 1_000_000;
/** `YYYY-MM-DD`, optionally `[T ]HH:MM[:SS[.fraction]]` and a zone `Z` / `±HH[:]MM`. */
const ISO_DATETIME = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/;

/**
 * An exact point in time (Python `datetime`, protobuf Timestamp): a `Date` that also holds the
 * nanoseconds below the millisecond, so a value keeps its microseconds (or nanoseconds) from decoding
 * to encoding. The type engine decodes every datetime to one; anything that takes a `Date` takes it.
 *
 * `getTime()`, comparisons and the other `Date` methods see milliseconds; `seconds` / `nanos` and
 * `toISOString()` (and so `JSON.stringify`) are exact. Changing the value with a `Date` setter drops the
 * sub-millisecond part.
 */
export class FlyteDatetime extends Date {
  /** Nanoseconds past the millisecond `#millis`, 0 ≤ n < 1e6. */
  readonly #subMillis: number;
  readonly #millis: number;

  /**
   * @param seconds seconds since the Unix epoch (UTC), as protobuf Timestamp.seconds.
   * @param nanos nanoseconds added to `seconds`; any integer (carried into the seconds).
   * @throws RangeError outside the range of a JavaScript Date or for non-integers.
   */
  constructor(seconds: bigint | number, nanos = 0) {
    if (typeof seconds === "number" && !Number.isInteger(seconds)) throw new RangeError(`FlyteDatetime seconds must be an integer, got ${seconds}`);
    if (!Number.isInteger(nanos)) throw new RangeError(`FlyteDatetime nanos must be an integer, got ${nanos}`);
    const carry = Math.floor(nanos / NANOS_PER_SECOND);
    const n = nanos - carry * NANOS_PER_SECOND;
    const millis = (Number(seconds) + carry) * 1000 + Math.floor(n / NANOS_PER_MILLI);
    super(millis);
    if (Number.isNaN(this.getTime())) throw new RangeError(`timestamp ${seconds}s is outside the range of a JavaScript Date`);
    this.#millis = millis;
    this.#subMillis = n % NANOS_PER_MILLI;
  }

  /** The same instant; a FlyteDatetime is returned as it is (keeping its nanoseconds). */
  static fromDate(date: Date): FlyteDatetime {
    if (date instanceof FlyteDatetime) return date;
    const ms = date.getTime();
    if (Number.isNaN(ms)) throw new RangeError("invalid Date");
    const seconds = Math.floor(ms / 1000);
    return new FlyteDatetime(seconds, (ms - seconds * 1000) * NANOS_PER_MILLI);
  }

  /**
   * Reads ISO 8601 / RFC 3339 text, keeping up to 9 fractional digits: `2026-01-02T03:04:05.123456Z`,
   * `2026-01-02 03:04:05.123456+02:00`, `2026-01-02`. Without a zone the time is UTC, as Flyte stores a
   * naive Python datetime.
   * @throws RangeError for any other text or an impossible date.
   */
  static fromISOString(text: string): FlyteDatetime {
    const m = ISO_DATETIME.exec(text.trim());
    const bad = () => new RangeError(`not an ISO 8601 date-time: ${JSON.stringify(text)}`);
    if (!m) throw bad();
    const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((x) => (x === undefined ? undefined : Number(x))) as number[];
    const local = Date.UTC(year!, month! - 1, day!, hour, minute, second);
    const check = new Date(local);
    // Date.UTC rolls over (Feb 30 → Mar 2, 25:00 → next day): refuse what does not read back the same.
    if (
      Number.isNaN(local) ||
      check.getUTCFullYear() !== year ||
      check.getUTCMonth() !== month! - 1 ||
      check.getUTCDate() !== day ||
      check.getUTCHours() !== hour ||
      check.getUTCMinutes() !== minute ||
      check.getUTCSeconds() !== second
    ) {
      throw bad();
    }
    const zone = m[8];
    let offsetMinutes = 0;
    if (zone && zone.toUpperCase() !== "Z") {
      const digits = zone.replace(":", "");
      const sign = digits.startsWith("-") ? -1 : 1;
      const hh = Number(digits.slice(1, 3));
      const mm = Number(digits.slice(3, 5));
      if (hh > 23 || mm > 59) throw bad();
      offsetMinutes = sign * (hh * 60 + mm);
    }
    const nanos = Number((m[7] ?? "").padEnd(9, "0"));
    const seconds = (local - offsetMinutes * 60_000) / 1000;
    return new FlyteDatetime(seconds, nanos);
  }

  /** Seconds since the epoch, as protobuf Timestamp.seconds (rounded down). */
  get seconds(): bigint {
    return BigInt(Math.floor(this.getTime() / 1000));
  }

  /** Nanoseconds past `seconds`, 0 ≤ nanos < 1e9, as protobuf Timestamp.nanos. */
  get nanos(): number {
    const ms = this.getTime();
    const subMillis = ms === this.#millis ? this.#subMillis : 0;
    return (ms - Math.floor(ms / 1000) * 1000) * NANOS_PER_MILLI + subMillis;
  }

  /** A plain Date of the same millisecond (the sub-millisecond part is dropped). */
  toDate(): Date {
    return new Date(this.getTime());
  }

  /** UTC ISO 8601 with as many fractional digits as the value needs (3, 6 or 9): `2026-01-02T03:04:05.123456Z`. */
  override toISOString(): string {
    const text = super.toISOString();
    const sub = this.nanos % NANOS_PER_MILLI;
    if (sub === 0) return text;
    const digits = String(sub).padStart(6, "0");
    return `${text.slice(0, -1)}${digits.endsWith("000") ? digits.slice(0, 3) : digits}Z`;
  }

  /** Same instant to the nanosecond (a plain Date counts as having no sub-millisecond part). */
  equals(other: Date): boolean {
    const o = FlyteDatetime.fromDate(other);
    return this.seconds === o.seconds && this.nanos === o.nanos;
  }
}

/**
 * A number that is stored as a float even when it is whole (`2.0`), for values inside untyped dicts
 * (`types.struct`), where nothing declares the type: `{ ratio: new Float64(2) }` reaches Python as
 * `2.0`, not `2`. Whole floats a struct was decoded with stay floats when the same object is encoded
 * again, without this wrapper; fields a dataclass or pydantic schema declares as `number` always do.
 */
export class Float64 {
  constructor(readonly value: number) {
    if (typeof value !== "number") throw new TypeError(`Float64 needs a number, got ${typeof value}`);
  }

  valueOf(): number {
    return this.value;
  }

  toJSON(): number {
    return this.value;
  }
}
