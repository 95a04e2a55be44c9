import { ConnectorError } from "flyte-connectors";
import { referencesIn, referencesInJson, type Reference } from "./template.js";

/** Methods the connector sends. flytekit's WebhookTask allows GET and POST; PUT, PATCH and DELETE are extra here. */
export const WEBHOOK_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;
export type WebhookMethod = (typeof WEBHOOK_METHODS)[number];

/**
 * The task's `custom` config, exactly as flytekit's WebhookTask writes it (`flytekit/extras/webhook/constants.py`).
 * Strings in `url`, `headers` values and `data` may hold `{inputs.<name>}` and `{secrets.<name>}` references.
 */
export interface WebhookConfig {
  /** `http(s)://…`. Required. */
  url: string;
  /** Default: `POST` (flytekit's default; case-insensitive). */
  method?: string;
  /** Request headers. Default: none. */
  headers?: Record<string, string>;
  /** JSON body (POST, PUT, PATCH) or query parameters (GET, DELETE). Default: none. */
  data?: Record<string, unknown>;
  /** Put the rendered `data` in the output as `input_data`. Default: false. */
  show_data?: boolean;
  /** Put the rendered `url` in the output as `url`. Default: false. */
  show_url?: boolean;
  /** Deadline of the request in seconds (connecting, sending and reading the response). Default: 10. */
  timeout_sec?: number;
}

/** The config, validated, with defaults. */
export interface ValidConfig {
  url: string;
  method: WebhookMethod;
  headers: Record<string, string>;
  data: unknown;
  showData: boolean;
  showUrl: boolean;
  timeoutSeconds: number;
  /** Names of the secrets the config references (`{secrets.<name>}`). */
  secretNames: string[];
}

/** flytekit's default request timeout (`final_dict.get(TIMEOUT_SEC, 10)`). */
export const DEFAULT_TIMEOUT_SECONDS = 10;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/; // RFC 9110 token: header names

function fail(key: string, problem: string): never {
  throw new ConnectorError("INVALID_ARGUMENT", `custom.${key} ${problem}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function flag(value: unknown, key: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") fail(key, `must be true or false, got ${JSON.stringify(value)}.`);
  return value;
}

/**
 * Validates a task's `custom` config before anything is sent. Errors are INVALID_ARGUMENT naming the key. With
 * `inputNames` (the interface's inputs) a reference to an input the task does not declare is refused; with
 * `secretNames` (the task's `secrets` keys, when known) so is a reference to a secret it does not name.
 */
export function parseConfig(custom: Record<string, unknown>, inputNames?: ReadonlySet<string>, secretNames?: ReadonlySet<string>): ValidConfig {
  const references: Array<{ reference: Reference; where: string }> = [];

  const url = custom["url"];
  if (url === undefined || url === null || url === "") fail("url", "is missing.");
  if (typeof url !== "string") fail("url", "must be a string.");
  // A URL that starts with a reference takes its scheme and host from it: checked once rendered.
  if (!url.startsWith("{") && !/^https?:\/\/[^/?#\s]/i.test(url)) fail("url", `must be an http:// or https:// URL, got ${JSON.stringify(url.slice(0, 100))}.`);
  references.push(...referencesIn(url, "custom.url").map((reference) => ({ reference, where: "custom.url" })));

  const rawMethod = custom["method"];
  if (rawMethod !== undefined && rawMethod !== null && typeof rawMethod !== "string") fail("method", "must be a string.");
  const method = (rawMethod || "POST").toUpperCase();
  if (!(WEBHOOK_METHODS as readonly string[]).includes(method)) fail("method", `must be one of ${WEBHOOK_METHODS.join(", ")}, got ${JSON.stringify(rawMethod)}.`);

  const headers: Record<string, string> = {};
  const rawHeaders = custom["headers"];
  if (rawHeaders !== undefined && rawHeaders !== null) {
    if (!isObject(rawHeaders)) fail("headers", "must map header names to strings.");
    for (const [name, value] of Object.entries(rawHeaders)) {
      if (!TOKEN.test(name)) fail("headers", `has an invalid header name ${JSON.stringify(name)}.`);
      if (typeof value !== "string") fail(`headers.${name}`, "must be a string.");
      if (/[\r\n\0]/.test(value)) fail(`headers.${name}`, "must be one line.");
      references.push(...referencesIn(value, `custom.headers.${name}`).map((reference) => ({ reference, where: `custom.headers.${name}` })));
      headers[name] = value;
    }
  }

  const data = custom["data"] ?? undefined;
  if (data !== undefined) {
    if (method === "GET" || method === "DELETE") {
      // Sent as query parameters (httpx `params=`): one level of names to values or lists of values.
      if (!isObject(data)) fail("data", `must be an object of query parameters for ${method}.`);
    }
    references.push(...referencesInJson(data, "custom.data"));
  }

  const timeout = custom["timeout_sec"];
  let timeoutSeconds = DEFAULT_TIMEOUT_SECONDS;
  if (timeout !== undefined && timeout !== null) {
    if (typeof timeout !== "number" || !Number.isFinite(timeout) || timeout <= 0) fail("timeout_sec", `must be a positive number of seconds, got ${JSON.stringify(timeout)}.`);
    timeoutSeconds = timeout;
  }

  const secretSet = new Set<string>();
  for (const { reference, where } of references) {
    if (reference.kind === "inputs") {
      if (inputNames && !inputNames.has(reference.name)) {
        throw new ConnectorError("INVALID_ARGUMENT", `${where} references {inputs.${reference.name}}, but the task has no input "${reference.name}".`);
      }
    } else {
      if (secretNames && !secretNames.has(reference.name)) {
        throw new ConnectorError("INVALID_ARGUMENT", `${where} references {secrets.${reference.name}}, but the task names no secret "${reference.name}" (custom.secrets).`);
      }
      secretSet.add(reference.name);
    }
  }

  return {
    url,
    method: method as WebhookMethod,
    headers,
    data,
    showData: flag(custom["show_data"], "show_data"),
    showUrl: flag(custom["show_url"], "show_url"),
    timeoutSeconds,
    secretNames: [...secretSet],
  };
}
