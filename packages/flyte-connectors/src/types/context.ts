/** Conversion options and the error context shared by the decoder and the encoder. */
import type { LiteralType } from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import { TypeConversionError } from "../errors.js";
import { describeType } from "./describe.js";
import { defaultStorage } from "../storage/object-store.js";
import type { Storage } from "../storage/types.js";
import type { LiteralStorage } from "./storage.js";

export interface ConvertOptions {
  /**
   * Reads offloaded literals, and the contents of decoded Files and Dirs when it is a full {@link Storage}.
   * Default: `defaultStorage()` (every scheme, configured from the environment; local files allowed).
   */
  storage?: LiteralStorage | Storage;
  /** Aborts reads of offloaded literals. */
  signal?: AbortSignal;
  /** Input or output name to put in error messages (decodeInputs and friends set it per variable). */
  variable?: string;
}

/** Who is converting what, for error messages and offloaded reads. */
export interface Ctx {
  op: "decode" | "encode";
  role: string;
  variable: string | undefined;
  rootType: LiteralType | undefined;
  storage: LiteralStorage | Storage;
  signal: AbortSignal | undefined;
}

/**
 * Reads through `defaultStorage()`, created on the first read: converting values that need no storage never
 * depends on the storage environment being valid. Files and Dirs decoded with it use `defaultStorage()` too.
 */
const readThroughDefault: LiteralStorage = { read: (uri, signal) => defaultStorage().read(uri, signal) };

export function makeCtx(op: Ctx["op"], role: string, type: LiteralType | undefined, opts: ConvertOptions | undefined): Ctx {
  return {
    op,
    role,
    variable: opts?.variable,
    rootType: type,
    storage: opts?.storage ?? readThroughDefault,
    signal: opts?.signal,
  };
}

/** The bare problem of each error made by `fail`, so union errors can quote their attempts. */
const problems = new WeakMap<object, { path: string; problem: string }>();

/** An error naming the variable, its declared type and where inside the value the problem is. */
export function fail(ctx: Ctx, path: string, problem: string, cause?: unknown): TypeConversionError {
  const type = ctx.rootType && ctx.rootType.type.case !== undefined ? ` of type ${describeType(ctx.rootType)}` : " (no declared type)";
  const err = new TypeConversionError(`cannot ${ctx.op} ${ctx.role}${type}${path ? ` at ${path}` : ""}: ${problem}`, {
    variable: ctx.variable,
    cause,
  });
  problems.set(err, { path, problem });
  return err;
}

/** What went wrong in `err`, relative to `path` (for "no variant accepts …" messages). */
export function problemOf(err: unknown, path: string): string {
  const p = typeof err === "object" && err !== null ? problems.get(err) : undefined;
  if (!p) return err instanceof Error ? err.message : String(err);
  return p.path !== path ? `at ${p.path}: ${p.problem}` : p.problem;
}

/** Runs a conversion, turning anything unexpected into a TypeConversionError (aborts pass through). */
export async function guarded<T>(ctx: Ctx, run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof TypeConversionError || ctx.signal?.aborted) throw err;
    throw fail(ctx, "", err instanceof Error ? err.message : String(err), err);
  }
}

export const isDeclared = (t: LiteralType | undefined): t is LiteralType => t !== undefined && t.type.case !== undefined;

export function checkEnum(value: string, values: readonly string[], ctx: Ctx, path: string): string {
  if (!values.includes(value)) {
    throw fail(ctx, path, `${JSON.stringify(value)} is not one of ${values.map((v) => JSON.stringify(v)).join(", ")}`);
  }
  return value;
}
