import {
  ConnectorError,
  connectorSecret,
  Float64,
  Phase,
  pythonStr,
  Redactor,
  SecretNotFoundError,
  SyncConnector,
  types,
  type CreateRequest,
  type Resource,
  type TypeSpec,
} from "flyte-connectors";
import { allowedOriginsSetting, describeFault, sendRequest, UrlPolicy, UrlRefusedError, type HttpReply } from "flyte-connectors/http";
import type { LiteralType } from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import { parseConfig, type ValidConfig } from "./config.js";
import { jsonBody } from "./python-text.js";
import { renderData, renderHeader, renderUrl, type TemplateScope } from "./template.js";

/** The environment variable listing allowed origins (comma-separated) when the `allowedOrigins` option is not given. */
export const WEBHOOK_ALLOWED_ORIGINS_ENV = "FLYTE_WEBHOOK_ALLOWED_ORIGINS";

/** Task type of flytekit's WebhookTask (`flytekit.extras.webhook`). */
export const WEBHOOK_TASK_TYPE = "webhook";

/** The task's one output, `info`, as flytekit's WebhookConnector builds it. */
export interface WebhookInfo {
  /** The response's HTTP status (a 2xx: other statuses fail the task). */
  status_code: number;
  /** The response body as text. */
  response_data: string;
  /** The rendered `data`, with `show_data`. */
  input_data?: unknown;
  /** The rendered `url`, with `show_url`. */
  url?: string;
}

/** flytekit's output: `outputs={"info": dict}` (an untyped dict: a msgpack STRUCT). */
export const WEBHOOK_OUTPUTS = { info: types.struct as unknown as TypeSpec<WebhookInfo> };

export interface WebhookConnectorOptions {
  /**
   * Origins (`https://hooks.example.com`) the connector may call (when not given: the comma-separated environment
   * variable `FLYTE_WEBHOOK_ALLOWED_ORIGINS`); any other URL is refused (INVALID_ARGUMENT).
   * Listed origins are trusted as named, so a loopback sidecar may be listed. Default: any http(s) origin except
   * the connector's own host (loopback in every spelling, `localhost`), unspecified and link-local addresses and
   * cloud metadata services, checked again against the addresses a host name resolves to when connecting (the
   * `UrlPolicy` of `flyte-connectors/http`, as the HTTP job connector); in-cluster private ranges are allowed.
   */
  allowedOrigins?: readonly string[];
  /**
   * Largest response body read, in bytes; a larger one fails the task (its body is not read further). The body
   * becomes the task's output, which the backend stores with the task. Default: 262 144 (256 KiB).
   */
  maxResponseBytes?: number;
  /**
   * Longest `custom.timeout_sec` honoured, in seconds; a longer one is cut to it. Default: 600. (The caller's
   * deadline ends the request too: Flyte 2 runs a sync task inside CreateTask, 10 s by default.)
   */
  maxTimeoutSeconds?: number;
  /**
   * Secrets of the connector deployment (read with `connectorSecret`: `_FSEC_<KEY>`, `<KEY>`, `/etc/secrets/<key>`)
   * a task may reference as `{secrets.<key>}` when its call carries no such secret — Flyte 1 backends send no
   * per-request secrets. Only the keys listed here: a task chooses the URL, so any deployment secret it could
   * name could be sent anywhere the URL policy allows. Default: the comma-separated keys of the environment
   * variable `FLYTE_WEBHOOK_DEPLOYMENT_SECRETS`, else none.
   */
  deploymentSecrets?: readonly string[];
}

const DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024;
const DEFAULT_MAX_TIMEOUT_SECONDS = 600;
/** Longest part of a response body quoted in a failure message. */
const MAX_QUOTED_RESPONSE = 2000;
/** Statuses that say the request was not processed and may be sent again later: a retryable failure. */
const RETRY_LATER = new Set([429, 503]);
/** Faults before anything reached the server: a retryable failure too. */
const NOT_CONNECTED = new Set(["ECONNREFUSED", "EAI_AGAIN", "ENETUNREACH", "EHOSTUNREACH", "UND_ERR_CONNECT_TIMEOUT"]);

function faultCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && typeof e === "object" && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

/** Text cut to `max` characters, after redaction (cut first, a secret's start could pass unrecognised). */
function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/** Every string in a rendered value, redacted (the echoed `data` may hold a substituted secret). */
function redactDeep(value: unknown, redactor: Redactor): unknown {
  if (typeof value === "string") return redactor.redact(value);
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, redactor));
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, redactor)]));
  }
  return value;
}

/** `data` as query parameters, as httpx writes `params=`: lists repeat the name, true/false/None → "true"/"false"/"". */
function queryValues(value: unknown): string[] {
  const one = (v: unknown) => (v === true ? "true" : v === false ? "false" : v === null || v === undefined ? "" : pythonStr(v));
  return Array.isArray(value) ? value.map(one) : [one(value)];
}

/**
 * flytekit's built-in webhook connector (task type `webhook`, sync): one HTTP request built from the task's
 * config and inputs, answering `info = {status_code, response_data[, input_data][, url]}`. Python-serialized
 * `WebhookTask`s run unchanged; see the package README for where this one deliberately differs.
 */
export class WebhookConnector extends SyncConnector {
  readonly name = "Webhook Connector";
  readonly taskTypeName = WEBHOOK_TASK_TYPE;
  override readonly outputTypes = WEBHOOK_OUTPUTS;
  readonly #urlPolicy: UrlPolicy;
  readonly #maxResponseBytes: number;
  readonly #maxTimeoutSeconds: number;
  readonly #deploymentSecrets: ReadonlySet<string>;

  constructor(options: WebhookConnectorOptions = {}) {
    super();
    const allowedOrigins = allowedOriginsSetting(options.allowedOrigins, WEBHOOK_ALLOWED_ORIGINS_ENV);
    this.#urlPolicy = new UrlPolicy(allowedOrigins ? { allowedOrigins } : {});
    this.#maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.#maxTimeoutSeconds = options.maxTimeoutSeconds ?? DEFAULT_MAX_TIMEOUT_SECONDS;
    const listed = options.deploymentSecrets ?? (process.env["FLYTE_WEBHOOK_DEPLOYMENT_SECRETS"] ?? "").split(",");
    this.#deploymentSecrets = new Set(listed.map((key) => key.trim()).filter(Boolean));
  }

  async do(request: CreateRequest): Promise<Resource> {
    const { custom, inputs, secrets, signal, taskTemplate } = request;
    const variables = taskTemplate.interface?.inputs?.variables;
    const config = parseConfig(custom, variables ? new Set(variables.map((v) => v.key)) : undefined);
    const secretValues = await this.#secrets(config.secretNames, secrets);
    // Redacts the call's secrets and the deployment secrets used, in every form, in whatever the task shows.
    const redactor = Redactor.for([...Object.values(secrets), ...secretValues.values()].filter(Boolean));
    const inputTypes = new Map<string, LiteralType>();
    for (const variable of variables ?? []) if (variable.value?.type) inputTypes.set(variable.key, variable.value.type);
    const scope: TemplateScope = { inputs, inputTypes, secrets: secretValues };

    try {
      const url = renderUrl(config.url, scope, "custom.url");
      const headers = Object.fromEntries(Object.entries(config.headers).map(([name, value]) => [name, renderHeader(value, scope, `custom.headers.${name}`)]));
      const data = config.data === undefined ? undefined : renderData(config.data, scope, "custom.data");
      const target = this.#target(url, config, data);
      const body = this.#body(config, data, headers);
      const reply = await this.#send(config, target, headers, body, signal);
      if (reply.text === undefined) {
        return {
          phase: Phase.FAILED,
          message: `The webhook answered HTTP ${reply.status} with a response larger than ${this.#maxResponseBytes} bytes (the connector's maxResponseBytes); it was not read further.`,
        };
      }
      const text = redactor.redact(reply.text);
      if (reply.status < 200 || reply.status > 299) {
        const redirect = reply.status >= 300 && reply.status < 400 ? " (redirects are not followed: call the final URL)" : "";
        return {
          phase: RETRY_LATER.has(reply.status) ? Phase.RETRYABLE_FAILED : Phase.FAILED,
          // flytekit's message, with the response redacted and cut.
          message: `Webhook failed with status code ${reply.status}, response: ${cut(text, MAX_QUOTED_RESPONSE)}${redirect}`,
        };
      }
      const info: Record<string, unknown> = { status_code: reply.status, response_data: text };
      if (config.showData) info["input_data"] = redactDeep(data ?? null, redactor);
      if (config.showUrl) info["url"] = redactor.redact(url);
      return { phase: Phase.SUCCEEDED, outputs: { info }, message: "Webhook was successfully invoked!" };
    } catch (error) {
      // A request that got no response is the task's outcome (a failed task with a message), not a call error.
      if (error instanceof WebhookFault) return { phase: error.phase, message: redactor.redact(error.message) };
      throw this.#safe(error, redactor);
    }
  }

  /** The values of the secrets the config references: from the call, else from the deployment when listed. */
  async #secrets(names: readonly string[], secrets: Readonly<Record<string, string>>): Promise<Map<string, string>> {
    const values = new Map<string, string>();
    for (const name of names) {
      const value = secrets[name] || (this.#deploymentSecrets.has(name) ? await connectorSecret(name) : undefined);
      if (!value) {
        const deployment = this.#deploymentSecrets.has(name) ? ` or set it in the connector deployment (connectorSecret "${name}")` : "";
        throw new SecretNotFoundError(`Secret "${name}" ({secrets.${name}}) is missing: reference it in custom.secrets.${name}${deployment}.`);
      }
      values.set(name, value);
    }
    return values;
  }

  /** The URL to call: the rendered URL, checked by the URL policy, with `data` as query parameters for GET/DELETE. */
  #target(url: string, config: ValidConfig, data: unknown): URL {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConnectorError("INVALID_ARGUMENT", "custom.url is not a valid URL after rendering.");
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new ConnectorError("INVALID_ARGUMENT", "custom.url must be http:// or https:// after rendering.");
    const checked = this.#urlPolicy.check(parsed, "custom.url");
    if ((config.method === "GET" || config.method === "DELETE") && data !== null && typeof data === "object") {
      // httpx merges `params=` into the URL's query: a name in data replaces that name's values in the URL.
      for (const [name, value] of Object.entries(data)) {
        if (value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Float64)) {
          throw new ConnectorError("INVALID_ARGUMENT", `custom.data.${name} is an object, which a query parameter cannot hold.`);
        }
        checked.searchParams.delete(name);
        for (const text of queryValues(value)) checked.searchParams.append(name, text);
      }
    }
    return checked;
  }

  /** The JSON body of POST, PUT and PATCH (httpx `json=`), with a JSON content type unless a header sets one. */
  #body(config: ValidConfig, data: unknown, headers: Record<string, string>): string | undefined {
    if (config.method === "GET" || config.method === "DELETE" || data === undefined) return undefined;
    if (!Object.keys(headers).some((name) => name.toLowerCase() === "content-type")) headers["content-type"] = "application/json";
    try {
      return jsonBody(data);
    } catch (error) {
      throw new ConnectorError("INVALID_ARGUMENT", `custom.data cannot be sent as JSON: ${(error as Error).message}.`);
    }
  }

  async #send(config: ValidConfig, target: URL, headers: Record<string, string>, body: string | undefined, signal: AbortSignal): Promise<HttpReply> {
    const seconds = Math.min(config.timeoutSeconds, this.#maxTimeoutSeconds);
    return sendRequest({
      method: config.method,
      url: target,
      headers: { accept: "*/*", ...headers },
      ...(body === undefined ? {} : { body }),
      timeout: Math.ceil(seconds * 1000),
      signal,
      // Host names are checked again against the addresses they resolve to (DNS rebinding); no redirects.
      urlPolicy: this.#urlPolicy,
      maxResponseBytes: this.#maxResponseBytes,
    }).catch((error: unknown) => {
      if (signal.aborted || error instanceof ConnectorError) throw error;
      if ((error as { name?: unknown } | null)?.name === "TimeoutError") {
        throw new WebhookFault(Phase.FAILED, `Webhook request to ${target.origin} timed out after ${seconds} s (custom.timeout_sec).`, error);
      }
      const code = faultCode(error);
      const phase = code && NOT_CONNECTED.has(code) ? Phase.RETRYABLE_FAILED : Phase.FAILED;
      throw new WebhookFault(phase, `Webhook request to ${target.origin} failed: ${describeFault(error)}.`, error);
    });
  }

  /** An error for the caller, redacted: a refused URL names the key. */
  #safe(error: unknown, redactor: Redactor): unknown {
    if (error instanceof UrlRefusedError) {
      const message = error.message.startsWith("custom.") ? error.message : `custom.url: ${error.message}`;
      return new ConnectorError("INVALID_ARGUMENT", redactor.redact(message));
    }
    if (error instanceof ConnectorError) return new ConnectorError(error.code, redactor.redact(error.message));
    return error;
  }
}

/** A request that failed without a response (timeout, connection), carried to `do`'s answer. */
class WebhookFault extends Error {
  constructor(
    readonly phase: Phase,
    message: string,
    cause: unknown,
  ) {
    super(message, { cause });
  }
}
