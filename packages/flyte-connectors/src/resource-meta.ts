import { ResourceMetaDecodeError } from "./errors.js";
import { pythonJsonDumps } from "./python-json.js";

/** JSON kinds a resource meta field may hold; a trailing `?` makes the field optional (absent or null). */
type FieldKinds = {
  string: string;
  number: number;
  integer: number;
  boolean: boolean;
  object: Record<string, unknown>;
  array: unknown[];
  any: unknown;
};
export type FieldKind = keyof FieldKinds;
export type FieldSpec = FieldKind | `${FieldKind}?`;
export type FieldSpecs = Readonly<Record<string, FieldSpec>>;

type RequiredKeys<F extends FieldSpecs> = { [K in keyof F]: F[K] extends `${string}?` ? never : K }[keyof F];
type OptionalKeys<F extends FieldSpecs> = Exclude<keyof F, RequiredKeys<F>>;
type KindOf<S> = S extends `${infer B}?` ? B : S;
/** The object type a field spec describes, e.g. `{ job_id: "string" }` → `{ job_id: string }`. */
export type FieldValues<F extends FieldSpecs> = { [K in RequiredKeys<F>]: FieldKinds[KindOf<F[K]> & FieldKind] } & {
  [K in OptionalKeys<F>]?: FieldKinds[KindOf<F[K]> & FieldKind] | null;
};

/** A class whose instances are resource metas: what `AsyncConnector.metadataType` holds. */
export interface ResourceMetaType<M extends ResourceMeta = ResourceMeta> {
  readonly name: string;
  readonly fields?: FieldSpecs | undefined;
  decode(bytes: Uint8Array): M;
}

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/**
 * The identity of an external job. The backend stores `encode()`'s bytes and hands them back on every
 * get and delete, so a connector keeps no state of its own.
 *
 * The bytes are UTF-8 JSON of the fields, written exactly as Python's `json.dumps(asdict(meta))` does, so
 * a job created by a Python connector is polled by a TypeScript one and the other way round. Name the
 * fields as the Python dataclass does (usually snake_case).
 *
 * Declare a meta with {@link ResourceMeta.define}:
 * ```ts
 * class TrainJobMeta extends ResourceMeta.define({ job_id: "string", endpoint: "string" }) {}
 * const meta = new TrainJobMeta({ job_id: "42", endpoint: "https://train.example.com" });
 * TrainJobMeta.decode(meta.encode()); // → TrainJobMeta { job_id: "42", endpoint: ... }
 * ```
 */
export abstract class ResourceMeta {
  /** Field names and JSON kinds in declaration order; `decode` checks bytes against them. */
  static readonly fields?: FieldSpecs | undefined;

  /** Defines a resource meta class from its fields; extend the result to give it a name. */
  static define<const F extends FieldSpecs>(fields: F): DefinedResourceMeta<F> {
    const Defined = class extends ResourceMeta {
      static override readonly fields = Object.freeze({ ...fields });
      constructor(init: FieldValues<F>) {
        super();
        for (const key of Object.keys(fields)) {
          const value = (init as Record<string, unknown>)[key];
          if (value !== undefined) (this as Record<string, unknown>)[key] = value;
        }
      }
    };
    return Defined as unknown as DefinedResourceMeta<F>;
  }

  /** UTF-8 JSON of the fields, byte-identical to the Python SDK's encoding. */
  encode(): Uint8Array {
    const fields = (this.constructor as typeof ResourceMeta).fields;
    const record = this as unknown as Record<string, unknown>;
    const plain: Record<string, unknown> = {};
    if (fields) {
      // Python's asdict writes every field, None as null, in declaration order.
      for (const key of Object.keys(fields)) plain[key] = record[key] ?? null;
    } else {
      Object.assign(plain, record);
    }
    return encoder.encode(pythonJsonDumps(plain));
  }

  /**
   * Reads bytes written by `encode` (or by the Python SDK) into an instance of this class.
   * @throws ResourceMetaDecodeError when the bytes are not UTF-8 JSON of an object with the declared fields.
   */
  static decode<M extends ResourceMeta>(this: abstract new (...args: never[]) => M, bytes: Uint8Array): M {
    const cls = this as unknown as typeof ResourceMeta;
    const record = parseObject(cls.name, bytes);
    const fields = cls.fields;
    if (fields) checkFields(cls.name, fields, record);
    const meta = Object.create(cls.prototype) as Record<string, unknown>;
    if (fields) {
      for (const key of Object.keys(fields)) if (record[key] !== undefined) meta[key] = record[key];
    } else {
      // Keys from the bytes: define them, so a "__proto__" key is a field like any other, not a prototype.
      for (const [key, value] of Object.entries(record)) Object.defineProperty(meta, key, { value, enumerable: true, writable: true, configurable: true });
    }
    try {
      (meta as unknown as ResourceMeta).validate();
    } catch (cause) {
      if (cause instanceof ResourceMetaDecodeError) throw cause;
      throw new ResourceMetaDecodeError(cls.name, cause instanceof Error ? cause.message : String(cause), { cause });
    }
    return meta as M;
  }

  /**
   * Checks field contents beyond their JSON kinds (an enum value, a base64 payload, a URL), called by
   * `decode`. The bytes come from the caller, so a meta that parses as JSON but holds invalid contents is the
   * caller's error: throw an Error saying what is wrong and `decode` reports it as INVALID_ARGUMENT (never as a
   * connector bug, INTERNAL). Default: nothing more to check.
   */
  validate(): void {}
}

/** The class `ResourceMeta.define(fields)` returns. */
export interface DefinedResourceMeta<F extends FieldSpecs> {
  new (init: FieldValues<F>): ResourceMeta & Readonly<FieldValues<F>>;
  readonly fields: F;
  decode<M extends ResourceMeta>(this: abstract new (...args: never[]) => M, bytes: Uint8Array): M;
}

function parseObject(typeName: string, bytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch (cause) {
    throw new ResourceMetaDecodeError(typeName, "the bytes are not valid UTF-8", { cause });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    // Python's json.dumps writes NaN and ±Infinity, which JSON.parse refuses: read them as null (rare path),
    // leaving string contents alone.
    try {
      parsed = JSON.parse(text.replace(/("(?:[^"\\]|\\.)*")|-?\b(?:NaN|Infinity)\b/g, (_match, string?: string) => string ?? "null"));
    } catch {
      throw new ResourceMetaDecodeError(typeName, `not valid JSON (${(cause as Error).message})`, { cause });
    }
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ResourceMetaDecodeError(typeName, `expected a JSON object, got ${describe(parsed)}`);
  }
  return parsed as Record<string, unknown>;
}

function checkFields(typeName: string, fields: FieldSpecs, record: Record<string, unknown>): void {
  const unknown = Object.keys(record).filter((key) => !Object.hasOwn(fields, key));
  if (unknown.length > 0) {
    throw new ResourceMetaDecodeError(typeName, `unexpected field(s) ${unknown.map((k) => `"${k}"`).join(", ")}`);
  }
  for (const [key, spec] of Object.entries(fields)) {
    const optional = spec.endsWith("?");
    const kind = (optional ? spec.slice(0, -1) : spec) as FieldKind;
    const value = record[key];
    if (value === undefined || value === null) {
      if (optional || kind === "any") continue;
      throw new ResourceMetaDecodeError(typeName, `missing required field "${key}" (${kind})`);
    }
    if (!hasKind(value, kind)) {
      throw new ResourceMetaDecodeError(typeName, `field "${key}" should be ${kind}, got ${describe(value)}`);
    }
  }
}

function hasKind(value: unknown, kind: FieldKind): boolean {
  switch (kind) {
    case "any":
      return true;
    case "integer":
      return Number.isInteger(value);
    case "array":
      return Array.isArray(value);
    case "object":
      return typeof value === "object" && !Array.isArray(value);
    default:
      return typeof value === kind;
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)}`.slice(0, 80);
}
