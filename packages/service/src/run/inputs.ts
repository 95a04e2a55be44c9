import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import {
  checkRequiredFields,
  DataFrame,
  describeType,
  Duration,
  FlyteDatetime,
  FlyteDir,
  FlyteFile,
  SchemaMismatch,
  type TypeSpecs,
} from "flyte-connectors";
import { BlobType_BlobDimensionality, SimpleType, type LiteralType } from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";

/** A bad or missing `--<input>` value; the message lists the task's inputs. */
export class InputError extends Error {
  override readonly name = "InputError";
}

/** What a value of a type looks like on the command line, for help text. */
function example(type: LiteralType): string {
  const t = type.type;
  if (t.case === "simple") {
    switch (t.value) {
      case SimpleType.INTEGER:
        return "42";
      case SimpleType.FLOAT:
        return "0.5";
      case SimpleType.BOOLEAN:
        return "true|false";
      case SimpleType.DATETIME:
        return "2026-01-31T12:00:00Z";
      case SimpleType.DURATION:
        return "90s|1h30m|PT1H";
      case SimpleType.STRUCT:
        return "'{\"k\": 1}' or a .json file";
      default:
        return "text";
    }
  }
  if (t.case === "collectionType") return "'[...]' (JSON) or a .json file";
  if (t.case === "mapValueType") return "'{...}' (JSON) or a .json file";
  if (t.case === "blob") return "a local path or a URI";
  if (t.case === "structuredDatasetType") return "a URI";
  if (t.case === "enumType") return t.value.values.join("|");
  if (t.case === "unionType") {
    const first = t.value.variants.find((v) => !(v.type.case === "simple" && v.type.value === SimpleType.NONE));
    if (first) return example(first);
  }
  return "value";
}

function isOptional(type: LiteralType): boolean {
  return type.type.case === "unionType" && type.type.value.variants.some((v) => v.type.case === "simple" && v.type.value === SimpleType.NONE);
}

/** One line per input: `--epochs <int>  e.g. 42`. */
export function describeInputs(inputs: TypeSpecs): string {
  const names = Object.keys(inputs).sort();
  if (names.length === 0) return "  (this task has no inputs)";
  const heads = names.map((name) => {
    const type = inputs[name]!.literalType;
    return `--${name} <${describeType(type)}>${isOptional(type) ? " (optional)" : ""}`;
  });
  const width = Math.max(...heads.map((h) => h.length));
  return names.map((name, i) => `  ${heads[i]!.padEnd(width)}  e.g. ${example(inputs[name]!.literalType)}`).join("\n");
}

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
const UNIT_SECONDS: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };

/** "90" (seconds), "90s", "1h30m", "250ms", or ISO 8601 "PT1H30M5.5S". */
function parseDuration(text: string): Duration {
  const trimmed = text.trim();
  const negative = trimmed.startsWith("-");
  const body = negative ? trimmed.slice(1) : trimmed;
  let seconds: number | undefined;
  if (/^\d+(\.\d+)?$/.test(body)) seconds = Number(body);
  const iso = /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(body);
  if (seconds === undefined && iso && body.length > 1 && !/T$/i.test(body)) {
    const [d, h, m, s] = iso.slice(1).map((x) => Number(x ?? 0)) as [number, number, number, number];
    seconds = d * 86400 + h * 3600 + m * 60 + s;
  }
  if (seconds === undefined && body) {
    DURATION_PART.lastIndex = 0;
    let total = 0;
    let consumed = 0;
    let match: RegExpExecArray | null;
    while ((match = DURATION_PART.exec(body))) {
      total += Number(match[1]) * UNIT_SECONDS[match[2]!]!;
      consumed = DURATION_PART.lastIndex;
    }
    if (consumed === body.length) seconds = total;
  }
  if (seconds === undefined) throw new Error('expected a duration such as "90s", "1h30m", "250ms", "PT1H" or a number of seconds');
  return Duration.fromSeconds(negative ? -seconds : seconds);
}

/**
 * ISO 8601 only: `new Date` alone would take "5" or "March 3" as some date. Without a zone the time is UTC,
 * as flyte-sdk stores a naive datetime (JavaScript would read it as local time). Exact to the nanosecond:
 * `12:00:00.123456` reaches the task with its microseconds.
 */
function parseDateTime(text: string): FlyteDatetime {
  try {
    return FlyteDatetime.fromISOString(text);
  } catch {
    throw new Error("expected an ISO 8601 date-time such as 2026-01-31T12:00:00Z, 2026-01-31T12:00:00.123456 or 2026-01-31");
  }
}

/** A dataclass / pydantic value must have its schema's required fields, as Python's conversion demands. */
function checkStruct(value: unknown, type: LiteralType): unknown {
  try {
    checkRequiredFields(value, type.metadata);
  } catch (error) {
    if (error instanceof SchemaMismatch) throw new Error(`${error.path ? `at ${error.path}: ` : ""}${error.problem}`);
    throw error;
  }
  return value;
}

/** JSON text, or the contents of a .json file when the value names one. */
function parseJson(text: string, cwd: string): unknown {
  const file = path.resolve(cwd, text);
  const source = /\.json$/i.test(text) && existsSync(file) ? readFileSync(file, "utf8") : text;
  try {
    return JSON.parse(source);
  } catch (error) {
    throw new Error(`expected JSON (or the path of a .json file): ${(error as Error).message}`);
  }
}

const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** The JavaScript value of one command-line value, by the input's declared type (the encoder checks it further). */
export function parseValue(text: string, type: LiteralType, cwd: string): unknown {
  const t = type.type;
  switch (t.case) {
    case "simple":
      switch (t.value) {
        case SimpleType.INTEGER: {
          if (!/^[+-]?\d+$/.test(text.trim())) throw new Error("expected an integer");
          const big = BigInt(text.trim());
          return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
        }
        case SimpleType.FLOAT: {
          const n = Number(text);
          if (text.trim() === "" || Number.isNaN(n)) throw new Error("expected a number");
          return n;
        }
        case SimpleType.BOOLEAN: {
          const lower = text.trim().toLowerCase();
          if (["true", "1", "yes", "y"].includes(lower)) return true;
          if (["false", "0", "no", "n"].includes(lower)) return false;
          throw new Error("expected true or false");
        }
        case SimpleType.DATETIME:
          return parseDateTime(text);
        case SimpleType.DURATION:
          return parseDuration(text);
        case SimpleType.NONE:
          if (!["null", "none", ""].includes(text.trim().toLowerCase())) throw new Error("expected null");
          return null;
        case SimpleType.STRUCT:
          return checkStruct(parseJson(text, cwd), type);
        default:
          return text;
      }
    case "collectionType":
    case "mapValueType":
      return parseJson(text, cwd);
    case "blob": {
      // A local path is made absolute so the run does not depend on where the task later resolves it, and
      // checked now: a typo should fail here, naming the input, not somewhere inside the task.
      const uri = HAS_SCHEME.test(text) ? text : path.resolve(cwd, text);
      if (!HAS_SCHEME.test(text) && !existsSync(uri)) throw new Error(`no such local ${type.type.case === "blob" && type.type.value.dimensionality === BlobType_BlobDimensionality.MULTIPART ? "directory" : "file"}: ${uri}`);
      return t.value.dimensionality === BlobType_BlobDimensionality.MULTIPART ? new FlyteDir(uri) : new FlyteFile(uri);
    }
    case "structuredDatasetType":
      return new DataFrame(text, t.value.format);
    case "unionType": {
      // The first variant the text parses as; None only for an explicit null/none.
      const problems: string[] = [];
      for (const variant of t.value.variants) {
        try {
          return parseValue(text, variant, cwd);
        } catch (error) {
          problems.push(`${describeType(variant)}: ${(error as Error).message}`);
        }
      }
      throw new Error(`no variant accepts it (${problems.join("; ")})`);
    }
    default:
      return text;
  }
}

/**
 * Task inputs from `--name value`, `--name=value`, `--flag`/`--no-flag` (booleans) and `--` (ignored).
 * `--dataset-uri` also matches an input named `dataset_uri`. Optional inputs not given are null.
 */
export function parseInputs(args: readonly string[], inputs: TypeSpecs, taskName: string, cwd: string): Record<string, unknown> {
  const declared = new Map(Object.entries(inputs).map(([name, spec]) => [name, spec.literalType]));
  const fail = (problem: string) => new InputError(`${problem}\nInputs of ${taskName}:\n${describeInputs(inputs)}`);
  const resolveName = (flag: string): string | undefined => {
    if (declared.has(flag)) return flag;
    const underscored = flag.replaceAll("-", "_");
    return declared.has(underscored) ? underscored : undefined;
  };
  const isBoolean = (type: LiteralType) => type.type.case === "simple" && type.type.value === SimpleType.BOOLEAN;
  const values: Record<string, unknown> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") continue;
    if (!arg.startsWith("--")) throw fail(`unexpected argument "${arg}": give inputs as --<name> <value>.`);
    const eq = arg.indexOf("=");
    const flag = arg.slice(2, eq < 0 ? undefined : eq);
    let name = resolveName(flag);
    let text: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1);
    if (name === undefined && flag.startsWith("no-") && text === undefined) {
      const negated = resolveName(flag.slice(3));
      if (negated !== undefined && isBoolean(declared.get(negated)!)) {
        name = negated;
        text = "false";
      }
    }
    if (name === undefined) throw fail(`unknown input --${flag}.`);
    const type = declared.get(name)!;
    if (text === undefined) {
      const next = args[i + 1];
      if (isBoolean(type) && (next === undefined || next.startsWith("--"))) {
        text = "true";
      } else {
        if (next === undefined) throw fail(`--${name} needs a value (${describeType(type)}).`);
        text = next;
        i++;
      }
    }
    if (name in values) throw fail(`--${name} is given twice.`);
    try {
      values[name] = parseValue(text, type, cwd);
    } catch (error) {
      throw fail(`bad value for --${name} (${describeType(type)}): ${JSON.stringify(text)}: ${(error as Error).message}.`);
    }
  }
  const missing: string[] = [];
  for (const [name, type] of declared) {
    if (name in values) continue;
    if (isOptional(type)) values[name] = null;
    else missing.push(`--${name}`);
  }
  if (missing.length > 0) throw fail(`missing input${missing.length > 1 ? "s" : ""} ${missing.join(", ")}.`);
  return values;
}

/** Outputs as JSON: files, directories and data frames as their URI, bigints as numbers, durations as ISO 8601. */
export function outputsToJson(outputs: Record<string, unknown>): string {
  const big: string[] = [];
  // A per-call nonce, so no string output can look like a placeholder.
  const nonce = randomBytes(8).toString("hex");
  const text = JSON.stringify(
    outputs,
    function (this: unknown, _key, value: unknown) {
      if (typeof value === "bigint") {
        big.push(value.toString());
        return `${nonce}:${big.length - 1}`;
      }
      if (value instanceof FlyteFile || value instanceof FlyteDir || value instanceof DataFrame) return value.uri;
      if (value instanceof Duration) return value.toString();
      return value;
    },
    2,
  );
  // JSON.stringify cannot write a bigint: put the exact digits back as a bare number.
  return text.replace(new RegExp(`"${nonce}:(\\d+)"`, "g"), (_m, i: string) => big[Number(i)]!);
}
