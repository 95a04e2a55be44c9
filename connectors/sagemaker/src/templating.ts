// How flytekit's SageMaker plugin turns a task's `config` into the arguments of an AWS call (flytekitplugins
// awssagemaker_inference boto3_mixin.py with flytekit/utils/dict_formatter.py and
// flytekit/interaction/string_literals.py), reproduced so the same task templates give the same API calls and the
// same idempotence tokens (hence the same resource names) under either connector:
// - inputs become their "string repr" (files → URI, untyped dicts → JSON text, datetimes → ISO text, …);
// - `{inputs.<name>}` / `{images.<name>}` placeholders (a dot in the name) are replaced: a string that is exactly one
//   placeholder becomes the value itself, otherwise the value's Python `str()` is spliced in; other `{…}` stay as is;
// - `{idempotence_token}` is replaced, after the first pass, by xxh64 of the config's sorted Python text, cut so a
//   SageMaker name stays within 63 characters;
// - the region is the `region` input, else `custom.region`.
import { ConnectorError, DataFrame, Duration, Float64, FlyteDir, FlyteFile, pythonJsonDumps, pythonStr } from "flyte-connectors";
import type { LiteralType } from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import { SimpleType } from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import { xxh64Hex } from "./xxh64.js";

/** A value as flytekit's connector holds it: JSON-like, with floats marked as {@link Float64}. */
export type PyValue = null | boolean | number | bigint | string | Float64 | PyValue[] | { [key: string]: PyValue };

/** flytekit's `sorted_dict_str`: the text hashed into the idempotence token. */
export function sortedDictStr(value: PyValue): string {
  if (Array.isArray(value)) {
    const sorted = value.map((item) => ({ item, key: pythonStr(item) })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return `[${sorted.map(({ item }) => sortedDictStr(item)).join(", ")}]`;
  }
  if (value !== null && typeof value === "object" && !(value instanceof Float64)) {
    const keys = Object.keys(value).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${keys.map((key) => `${key}: ${sortedDictStr(value[key]!)}`).join(", ")}}`;
  }
  return pythonStr(value);
}

/**
 * The task's `custom` JSON as flytekit's connector sees it: protobuf Struct numbers are Python floats. The boto
 * connector first turns whole floats into ints (flytekit's `convert_floats_with_no_fraction_to_ints`).
 */
export function fromStruct(value: unknown, wholeFloatsAsInts: boolean): PyValue {
  if (typeof value === "number") return wholeFloatsAsInts && Number.isInteger(value) ? value : new Float64(value);
  if (Array.isArray(value)) return value.map((item) => fromStruct(item, wholeFloatsAsInts));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, fromStruct(item, wholeFloatsAsInts)]));
  }
  return (value ?? null) as PyValue;
}

/** A Python value as the JSON the AWS SDK sends (floats unmarked). */
export function toJsonValue(value: PyValue): unknown {
  if (value instanceof Float64) return value.value;
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonValue(v)]));
  return value;
}

/** Python's `datetime.isoformat()` of a UTC datetime, as flytekit reads a Timestamp literal. */
function isoformat(date: Date): string {
  const micros = ((date.getTime() % 1000) + 1000) % 1000 * 1000; // a JavaScript Date holds milliseconds
  return `${date.toISOString().slice(0, 19)}${micros ? `.${String(micros).padStart(6, "0")}` : ""}+00:00`;
}

function simpleTypeOf(type: LiteralType | undefined): SimpleType | undefined {
  return type?.type.case === "simple" ? type.type.value : undefined;
}

/**
 * One decoded input as flytekit's `literal_string_repr` gives it. The declared type tells floats from ints and
 * untyped dicts (written as JSON text, as flytekit does) from `dict[str, T]` maps (kept as dicts).
 */
export function inputRepr(value: unknown, type: LiteralType | undefined): PyValue {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return simpleTypeOf(type) === SimpleType.FLOAT || !Number.isInteger(value) ? new Float64(value) : value;
  if (typeof value === "bigint" || typeof value === "string" || typeof value === "boolean") return value;
  if (value instanceof FlyteFile || value instanceof FlyteDir || value instanceof DataFrame) return value.uri;
  if (value instanceof Date) return isoformat(value);
  if (value instanceof Duration) return new Float64(Number(value.seconds) + value.nanos / 1e9);
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (type?.type.case === "unionType") {
    // The chosen variant is not known from the value alone; its repr does not depend on the type but for floats.
    return inputRepr(value, undefined);
  }
  if (Array.isArray(value)) {
    const itemType = type?.type.case === "collectionType" ? type.type.value : undefined;
    return value.map((item) => inputRepr(item, itemType));
  }
  if (typeof value === "object") {
    if (type?.type.case === "mapValueType" || value instanceof Map) {
      const entries = value instanceof Map ? [...value].map(([k, v]) => [String(k), v] as const) : Object.entries(value);
      const itemType = type?.type.case === "mapValueType" ? type.type.value : undefined;
      return Object.fromEntries(entries.map(([k, v]) => [k, inputRepr(v, itemType)]));
    }
    // An untyped dict, dataclass or pydantic model: flytekit writes `json.dumps(msgpack.unpackb(...))`.
    return pythonJsonDumps(value);
  }
  return String(value);
}

/** Where a value sits in the config, for messages: `config.ProductionVariants[0].ModelName`. */
function at(path: string, key: string | number): string {
  return typeof key === "number" ? `${path}[${key}]` : `${path}.${key}`;
}

function isDict(value: PyValue): value is { [key: string]: PyValue } {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Float64);
}

/** flytekit's `get_nested_value`: `inputs.endpoint_name` in `{inputs: {...}, images: {...}}`. */
function nestedValue(args: Readonly<Record<string, PyValue>>, reference: string, where: string): PyValue {
  const keys = reference.split(".");
  let value: PyValue = args as { [key: string]: PyValue };
  let walked = "";
  for (const key of keys) {
    if (!isDict(value) || !Object.hasOwn(value, key)) {
      const known = isDict(value) ? Object.keys(value) : [];
      const what = walked === "" ? `"${key}"` : `"${key}" in ${walked}`;
      throw new ConnectorError(
        "INVALID_ARGUMENT",
        `${where}: {${reference}} has no value: there is no ${what}` +
          (walked === "" ? ` (the task has ${known.length ? known.map((k) => `"${k}"`).join(", ") : "no inputs or images"})` : known.length ? ` (it has ${known.map((k) => `"${k}"`).join(", ")})` : ""),
      );
    }
    value = value[key]!;
    walked = walked ? `${walked}.${key}` : key;
  }
  return value;
}

const TOKEN_PLACEHOLDERS = new Set(["inputs.idempotence_token", "idempotence_token"]);
/** Longest SageMaker resource name (EndpointName, ModelName, EndpointConfigName). */
const MAX_SAGEMAKER_NAME = 63;

/** flytekit's `replace_placeholder`: for SageMaker, a token is cut so the name stays within 63 characters. */
function replacePlaceholder(service: string, text: string, placeholder: string, replacement: string): string {
  const marker = `{${placeholder}}`;
  const replaced = text.split(marker).join(replacement);
  if (service !== "sagemaker" || !TOKEN_PLACEHOLDERS.has(placeholder) || replaced.length <= MAX_SAGEMAKER_NAME) return replaced;
  const room = MAX_SAGEMAKER_NAME - text.split(marker).join("").length;
  // Python's replacement[:room]: a negative room counts from the end.
  const token = room >= 0 ? replacement.slice(0, room) : replacement.slice(0, Math.max(0, replacement.length + room));
  return text.split(marker).join(token);
}

// flytekit matches `\{([^}]+)\}` and fails on any match with a dot that is not a reference, so a JSON text such as
// `{"x": {inputs.x}}` cannot be templated there. Matching only references finds the same placeholders wherever
// flytekit succeeds, and lets JSON texts hold placeholders.
const PLACEHOLDER = /\{([A-Za-z_][\w-]*(?:\.[\w-]+)+|idempotence_token)\}/g;

/** flytekit's `format_dict`, without changing its argument. */
export function formatConfig(service: string, value: PyValue, args: Readonly<Record<string, PyValue>>, token: string | undefined, where = "config"): PyValue {
  if (typeof value === "string") {
    if (!value.includes("{") || !value.includes("}")) return value;
    let text = value;
    for (const match of [...value.matchAll(PLACEHOLDER)].map((m) => m[1]!)) {
      if (match.includes(".")) {
        const replacement = nestedValue(args, match, where);
        if (`{${match}}` === text) return replacement;
        text = replacePlaceholder(service, text, match, pythonStr(replacement));
      } else if (match === "idempotence_token" && token) {
        text = replacePlaceholder(service, text, match, token);
      }
    }
    return text;
  }
  if (Array.isArray(value)) return value.map((item, i) => formatConfig(service, item, args, token, at(where, i)));
  if (isDict(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, formatConfig(service, item, args, token, at(where, key))]));
  }
  return value;
}

/** True when "idempotence_token" appears in the config's text (flytekit checks `str(config)`). */
function mentionsToken(value: PyValue): boolean {
  if (typeof value === "string") return value.includes("idempotence_token");
  if (Array.isArray(value)) return value.some(mentionsToken);
  if (isDict(value)) return Object.entries(value).some(([key, item]) => key.includes("idempotence_token") || mentionsToken(item));
  return false;
}

/** AWS accounts of SageMaker's Triton images by region (flytekit's `account_id_map`). */
export const TRITON_IMAGE_ACCOUNTS: Readonly<Record<string, string>> = {
  "us-east-1": "785573368785",
  "us-east-2": "007439368137",
  "us-west-1": "710691900526",
  "us-west-2": "301217895009",
  "eu-west-1": "802834080501",
  "eu-west-2": "205493899709",
  "eu-west-3": "254080097072",
  "eu-north-1": "601324751636",
  "eu-south-1": "966458181534",
  "eu-central-1": "746233611703",
  "ap-east-1": "110948597952",
  "ap-south-1": "763008648453",
  "ap-northeast-1": "941853720454",
  "ap-northeast-2": "151534178276",
  "ap-southeast-1": "324986816169",
  "ap-southeast-2": "355873309152",
  "cn-northwest-1": "474822919863",
  "cn-north-1": "472730292857",
  "sa-east-1": "756306329178",
  "ca-central-1": "464438896020",
  "me-south-1": "836785723513",
  "af-south-1": "774647643957",
};

/** A Triton image URI for the region: `{account_id}.dkr.ecr.{region}.{base}/sagemaker-tritonserver:…` filled in. */
function regionalImage(name: string, image: string, region: string): string {
  const account = TRITON_IMAGE_ACCOUNTS[region];
  if (!account) {
    throw new ConnectorError("INVALID_ARGUMENT", `images.${name}: no SageMaker Triton image account is known for region "${region}" (known: ${Object.keys(TRITON_IMAGE_ACCOUNTS).join(", ")}).`);
  }
  const fields: Record<string, string> = { account_id: account, region, base: region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com" };
  // Python's str.format: `{{`/`}}` are literal braces, any other field is an error.
  return image.replace(/\{\{|\}\}|\{([^{}]*)\}/g, (whole, field?: string) => {
    if (whole === "{{") return "{";
    if (whole === "}}") return "}";
    const value = fields[field ?? ""];
    if (value === undefined) throw new ConnectorError("INVALID_ARGUMENT", `images.${name}: unknown field {${field}} (use {account_id}, {region} and {base}).`);
    return value;
  });
}

export interface RenderRequest {
  /** AWS service of the call: "sagemaker" cuts idempotence tokens to SageMaker's 63-character names. */
  service: string;
  /** The task's `config`, from `custom.config`. */
  config: PyValue;
  /** Input values as flytekit's string repr (see {@link inputRepr}); undefined when the task has no inputs. */
  inputs: Readonly<Record<string, PyValue>> | undefined;
  /** `custom.region`. */
  region: string | undefined;
  /** `custom.images`. */
  images?: Readonly<Record<string, PyValue>> | undefined;
}

export interface RenderedCall {
  /** The API call's arguments. */
  config: PyValue;
  /** The region the call goes to. */
  region: string;
  /** The idempotence token put into the config ("" when the config asks for none). */
  idempotenceToken: string;
}

/** The arguments and region of one call, as flytekit's `Boto3ConnectorMixin._call` computes them. */
export function renderCall({ service, config, inputs, region, images }: RenderRequest): RenderedCall {
  const args: Record<string, PyValue> = {};
  let inputRegion: PyValue = null;
  if (inputs !== undefined) {
    args["inputs"] = { ...inputs };
    inputRegion = inputs["region"] ?? null;
  }
  // Python's `input_region or region`: an empty or false input falls through.
  const finalRegion = inputRegion || region;
  if (!finalRegion) throw new ConnectorError("INVALID_ARGUMENT", "Region parameter is required: set custom.region or give the task a `region` input.");
  if (typeof finalRegion !== "string" || !/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(finalRegion)) {
    throw new ConnectorError("INVALID_ARGUMENT", `region ${JSON.stringify(pythonStr(finalRegion)).slice(0, 80)} is not an AWS region name such as "us-east-1".`);
  }
  if (images && Object.keys(images).length > 0) {
    args["images"] = Object.fromEntries(
      Object.entries(images).map(([name, image]) => [name, typeof image === "string" && image.includes("sagemaker-tritonserver") ? regionalImage(name, image, finalRegion) : image]),
    );
  }
  let rendered = formatConfig(service, config, args, undefined);
  let idempotenceToken = "";
  if (mentionsToken(rendered)) {
    idempotenceToken = xxh64Hex(sortedDictStr(rendered));
    rendered = formatConfig(service, rendered, args, idempotenceToken);
  }
  return { config: rendered, region: finalRegion, idempotenceToken };
}
