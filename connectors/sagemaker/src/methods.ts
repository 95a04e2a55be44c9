// The AWS API methods the `boto` connector may call, and the conversion of a flytekit/boto3 config (PascalCase
// members, as boto3 and the AWS SDK v3 both name them after the API model) into the SDK's input, checked against
// the SDK's own schema of the operation, and of the SDK's output back into the dict boto3 returns.
import * as SageMaker from "@aws-sdk/client-sagemaker";
import * as SageMakerRuntime from "@aws-sdk/client-sagemaker-runtime";
import { ConnectorError } from "flyte-connectors";

/** The AWS services the connector talks to, by the names boto3 (and flytekit's `custom.service`) uses. */
export type AwsService = "sagemaker" | "sagemaker-runtime";

/**
 * Methods a `boto` task may call by default: the ones flytekit's SageMaker tasks and deployment workflows use
 * (create/delete of model, endpoint config and endpoint; invoking an endpoint), the matching describe/list calls,
 * and update_endpoint. Why a list at all: the connector calls AWS with the deployment's identity, which every task
 * shares; flytekit's "any method of any service" lets a task author do whatever that role may (read secrets, delete
 * buckets, mint credentials and return them as task outputs). Operators add methods with `allowedMethods`.
 */
export const DEFAULT_ALLOWED_METHODS: Readonly<Record<AwsService, readonly string[]>> = Object.freeze({
  sagemaker: Object.freeze([
    "create_model",
    "create_endpoint_config",
    "create_endpoint",
    "update_endpoint",
    "delete_model",
    "delete_endpoint_config",
    "delete_endpoint",
    "describe_model",
    "describe_endpoint_config",
    "describe_endpoint",
    "list_models",
    "list_endpoint_configs",
    "list_endpoints",
  ]),
  "sagemaker-runtime": Object.freeze(["invoke_endpoint", "invoke_endpoint_async"]),
});

type Schema = unknown;
type CommandClass = new (input: never) => unknown;

const MODULES: Readonly<Record<AwsService, Readonly<Record<string, unknown>>>> = {
  sagemaker: SageMaker as unknown as Record<string, unknown>,
  "sagemaker-runtime": SageMakerRuntime as unknown as Record<string, unknown>,
};

/** boto3's method name → the API operation: `create_endpoint_config` → `CreateEndpointConfig`. */
export function operationName(method: string): string {
  return method
    .split("_")
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("");
}

export interface ResolvedMethod {
  service: AwsService;
  method: string;
  operation: string;
  Command: CommandClass;
  inputSchema: Schema;
}

/** The SDK command and input schema of `service.method`, or undefined when the SDK has no such operation. */
export function resolveMethod(service: AwsService, method: string): ResolvedMethod | undefined {
  if (!/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/.test(method)) return undefined;
  const operation = operationName(method);
  const module = MODULES[service];
  const Command = module[`${operation}Command`];
  const operationSchema = module[`${operation}$`];
  if (typeof Command !== "function" || !Array.isArray(operationSchema) || operationSchema[0] !== 9) return undefined;
  return { service, method, operation, Command: Command as CommandClass, inputSchema: operationSchema[4] };
}

// Smithy schema codes (@smithy/core/schema sentinels) the conversion looks at.
const STRING = 0;
const NUMERIC = 1;
const BOOLEAN = 2;
const BLOB = 21;
const STREAMING_BLOB = 42;
const DOCUMENT = 15;
const LIST_MODIFIER = 64;
const MAP_MODIFIER = 128;
const isTimestamp = (code: number): boolean => code >= 4 && code <= 7;

type Shape =
  | { kind: "simple"; code: number }
  | { kind: "list"; member: Schema }
  | { kind: "map"; value: Schema }
  | { kind: "struct"; union: boolean; members: string[]; schemas: Schema[]; required: number };

/** A schema reference (a code, a lazy reference, a member tuple or a schema array) as a shape. */
function shapeOf(schema: Schema): Shape {
  let s = schema;
  for (;;) {
    if (typeof s === "function") s = (s as () => Schema)();
    else if (Array.isArray(s) && s.length === 2) s = s[0]; // member tuple: [schema, traits]
    else break;
  }
  if (typeof s === "number") {
    if (s & MAP_MODIFIER) return { kind: "map", value: s & ~MAP_MODIFIER };
    if (s & LIST_MODIFIER) return { kind: "list", member: s & ~LIST_MODIFIER };
    return { kind: "simple", code: s };
  }
  if (Array.isArray(s)) {
    switch (s[0]) {
      case 0:
        return shapeOf(s[4]);
      case 1:
        return { kind: "list", member: s[4] };
      case 2:
        return { kind: "map", value: s[5] };
      case 3:
      case 4:
        return { kind: "struct", union: s[0] === 4, members: s[4] as string[], schemas: s[5] as Schema[], required: typeof s[6] === "number" ? s[6] : 0 };
    }
  }
  return { kind: "simple", code: DOCUMENT };
}

function invalid(message: string): ConnectorError {
  return new ConnectorError("INVALID_ARGUMENT", message);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "a dict" : typeof value;
}

/**
 * The config as the SDK's input for the operation, checked as boto3 checks parameters: unknown and missing
 * members and wrong types are INVALID_ARGUMENT naming the member (`config.ProductionVariants[0].ModelName`).
 * Timestamps may be ISO text or epoch seconds; blobs may be text (a dict or list is sent as its JSON).
 */
export function toSdkInput(value: unknown, schema: Schema, where = "config"): unknown {
  const shape = shapeOf(schema);
  switch (shape.kind) {
    case "struct": {
      if (value === null || typeof value !== "object" || Array.isArray(value)) throw invalid(`${where} must be a dict, got ${describe(value)}.`);
      const record = value as Record<string, unknown>;
      const unknown = Object.keys(record).filter((key) => !shape.members.includes(key));
      if (unknown.length > 0) {
        throw invalid(`${where}: unknown parameter "${unknown[0]}"${unknown.length > 1 ? ` (and ${unknown.length - 1} more)` : ""}, must be one of: ${shape.members.join(", ")}.`);
      }
      const missing = shape.members.slice(0, shape.required).filter((key) => record[key] === undefined || record[key] === null);
      if (missing.length > 0) throw invalid(`${where}: missing required parameter "${missing[0]}".`);
      const present = Object.keys(record).filter((key) => record[key] !== null && record[key] !== undefined);
      if (shape.union && present.length !== 1) throw invalid(`${where} must set exactly one of: ${shape.members.join(", ")}.`);
      const out: Record<string, unknown> = {};
      for (const key of present) out[key] = toSdkInput(record[key], shape.schemas[shape.members.indexOf(key)], `${where}.${key}`);
      return out;
    }
    case "list":
      if (!Array.isArray(value)) throw invalid(`${where} must be a list, got ${describe(value)}.`);
      return value.map((item, i) => toSdkInput(item, shape.member, `${where}[${i}]`));
    case "map":
      if (value === null || typeof value !== "object" || Array.isArray(value)) throw invalid(`${where} must be a dict, got ${describe(value)}.`);
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, toSdkInput(item, shape.value, `${where}.${key}`)]));
    case "simple": {
      const { code } = shape;
      if (code === STRING) {
        if (typeof value !== "string") throw invalid(`${where} must be a string, got ${describe(value)}.`);
        return value;
      }
      if (code === NUMERIC) {
        if (typeof value !== "number" || !Number.isFinite(value)) throw invalid(`${where} must be a number, got ${describe(value)}.`);
        return value;
      }
      if (code === BOOLEAN) {
        if (typeof value !== "boolean") throw invalid(`${where} must be a boolean, got ${describe(value)}.`);
        return value;
      }
      if (isTimestamp(code)) {
        const date = typeof value === "number" ? new Date(value * 1000) : typeof value === "string" ? new Date(value) : undefined;
        if (!date || Number.isNaN(date.getTime())) throw invalid(`${where} must be a timestamp (ISO 8601 text or epoch seconds).`);
        return date;
      }
      if (code === BLOB || code === STREAMING_BLOB) {
        if (typeof value === "string") return new TextEncoder().encode(value);
        if (value !== null && typeof value === "object") return new TextEncoder().encode(JSON.stringify(value));
        throw invalid(`${where} must be text (or a dict/list, sent as JSON), got ${describe(value)}.`);
      }
      return value;
    }
  }
}

/**
 * An SDK output as the dict boto3 returns: the members as they are, `ResponseMetadata` from the SDK's `$metadata`,
 * timestamps as ISO 8601 text and blobs (an endpoint's reply `Body`) as UTF-8 text (`BodyBase64` when not UTF-8):
 * flytekit pickles boto3's datetimes and streaming bodies, which only Python can read.
 */
export function fromSdkOutput(output: unknown): Record<string, unknown> {
  const { $metadata, ...members } = (output ?? {}) as { $metadata?: { requestId?: string; httpStatusCode?: number; attempts?: number } };
  const result = plain(members) as Record<string, unknown>;
  const body = (members as { Body?: unknown }).Body;
  if (body instanceof Uint8Array) {
    try {
      result["Body"] = new TextDecoder("utf-8", { fatal: true }).decode(body);
    } catch {
      delete result["Body"];
      result["BodyBase64"] = Buffer.from(body).toString("base64");
    }
  }
  result["ResponseMetadata"] = {
    ...($metadata?.requestId ? { RequestId: $metadata.requestId } : {}),
    ...($metadata?.httpStatusCode !== undefined ? { HTTPStatusCode: $metadata.httpStatusCode } : {}),
    RetryAttempts: Math.max(0, ($metadata?.attempts ?? 1) - 1),
  };
  return result;
}

function plain(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}
