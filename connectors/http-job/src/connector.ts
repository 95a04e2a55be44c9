import {
  AsyncConnector,
  ConnectorError,
  connectorSecret,
  FlyteDir,
  FlyteFile,
  Phase,
  Redactor,
  ResourceMeta,
  SecretNotFoundError,
  type CreateRequest,
  type Resource,
  type ResourceRequest,
  attemptToken,
  encodeLiteral,
  types,
} from "flyte-connectors";
import {
  allowedOriginsSetting,
  describeFault,
  HttpError,
  isTransient,
  pollTolerantly,
  requestJson,
  statusNameForHttp,
  UrlPolicy,
  UrlRefusedError,
  type RetryOptions,
} from "flyte-connectors/http";
import { DEFAULT_PHASES, parseConfig, PHASE_NAMES, type OutputKind, type PollSpec } from "./config.js";
import { renderHeader, renderJson, renderUrl, valueAt, type TemplateScope } from "./template.js";

/** The environment variable listing allowed origins (comma-separated) when the `allowedOrigins` option is not given. */
export const HTTP_JOB_ALLOWED_ORIGINS_ENV = "FLYTE_HTTP_JOB_ALLOWED_ORIGINS";

/**
 * Identity of a job: its id and the validated status/cancel/outputs part of the task config (get and delete
 * receive only the meta, so it travels with the job). Secret values are never in it, only the secret's name.
 */
export class HttpJobMeta extends ResourceMeta.define({ job_id: "string", spec: "object" }) {
  /**
   * The spec comes back from the caller with every get and delete: it must still be a valid poll config, or the
   * call is the caller's INVALID_ARGUMENT (not a crash inside get). It is checked as a task config whose submit
   * request is a placeholder.
   */
  override validate(): void {
    parseConfig({ ...this.spec, submit: { url: "https://submit.invalid/" } });
  }
}

export const HTTP_JOB_TASK_TYPE = "http_job";

export interface HttpJobConnectorOptions {
  /**
   * Origins (`https://jobs.example.com`) the connector may call (when not given: the comma-separated environment
   * variable `FLYTE_HTTP_JOB_ALLOWED_ORIGINS`); any other URL in a task config is refused (INVALID_ARGUMENT). Listed origins are trusted as named, so a loopback sidecar may be listed. Default: any
   * http(s) origin except the connector's own host (loopback in every spelling, `localhost`), unspecified and
   * link-local addresses and cloud metadata services, checked again against the addresses a host name resolves
   * to when connecting (see `UrlPolicy` of `flyte-connectors/http`); in-cluster private ranges are allowed.
   */
  allowedOrigins?: readonly string[];
  /** Deadline of each HTTP attempt in milliseconds. Default: 30 000. */
  requestTimeout?: number;
  /** Retries of transient faults (429, 5xx, resets) within one call. Default: `requestJson`'s (3 retries, 250 ms…8 s). */
  retry?: RetryOptions;
  /**
   * Longest a status poll (`get`) waits for the job service, in milliseconds, before answering the last known
   * phase; keep it below the backend's per-call timeout (10 s by default). Default: `pollTolerantly`'s (8000).
   */
  pollBudget?: number;
  /**
   * Secrets of the connector deployment (read with `connectorSecret`: `_FSEC_<KEY>`, `<KEY>`, `/etc/secrets/<key>`)
   * that a task may name in `auth.secret` when its call carries no such secret — Flyte 1 backends send no
   * per-request secrets. Only the keys listed here: a task chooses the URL, so any deployment secret it could name
   * could be sent anywhere the URL policy allows. Default: the comma-separated keys of the environment variable
   * `FLYTE_HTTP_JOB_DEPLOYMENT_SECRETS`, else none.
   */
  deploymentSecrets?: readonly string[];
}

/** Redacts the auth secret in every form (as is, JSON-escaped, URL-encoded, base64). */
function redactor(secret: string | undefined): Redactor {
  return Redactor.for(secret ? [secret] : []);
}

/** `text` redacted, then cut to `max` characters: cut first, a secret's start could pass as unrecognised. */
function safeText(text: string, secret: string | undefined, max: number): string {
  const redacted = redactor(secret).redact(text);
  return redacted.length <= max ? redacted : `${redacted.slice(0, max)}…`;
}

/** A short, caller-safe text of an error reply: its message field when JSON, else its start. */
function replyText(error: HttpError, messagePath: string, secret: string | undefined): string {
  try {
    const body: unknown = JSON.parse(error.body);
    for (const path of [messagePath, "/error/message", "/error", "/message", "/detail"]) {
      const value = valueAt(body, path);
      if (typeof value === "string" && value) return safeText(value, secret, 500);
    }
  } catch {
    // not JSON: fall through
  }
  return safeText(error.body.trim(), secret, 300);
}

function convertOutput(value: unknown, kind: OutputKind): unknown | Promise<unknown> {
  switch (kind) {
    case "string":
      return typeof value === "string" ? value : typeof value === "number" || typeof value === "boolean" ? String(value) : undefined;
    case "int":
      if (typeof value === "number" && Number.isInteger(value)) return value;
      if (typeof value === "string" && /^-?\d+$/.test(value)) return Number.isSafeInteger(Number(value)) ? Number(value) : BigInt(value);
      return undefined;
    case "float": {
      const number = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
      // Encoded as float here: left to inference, an integral value (JSON `1.0` parses as 1) would become an
      // integer literal for an output the interface declares float.
      return Number.isFinite(number) ? encodeLiteral(number, types.float.literalType) : undefined;
    }
    case "bool":
      if (typeof value === "boolean") return value;
      return value === "true" ? true : value === "false" ? false : undefined;
    case "file":
      return typeof value === "string" && value ? new FlyteFile(value) : undefined;
    case "dir":
      return typeof value === "string" && value ? new FlyteDir(value) : undefined;
    case "json":
      return value === null ? undefined : value;
  }
}

/**
 * A generic connector for a team's own REST job service, configured entirely by the task (`custom`, see
 * {@link HttpJobConfig}): submit a job, poll its status, read outputs from the final status, cancel it.
 */
export class HttpJobConnector extends AsyncConnector<HttpJobMeta> {
  readonly name = "HTTP Job Connector";
  readonly taskTypeName = HTTP_JOB_TASK_TYPE;
  readonly metadataType = HttpJobMeta;
  readonly #options: HttpJobConnectorOptions;
  readonly #urlPolicy: UrlPolicy;
  readonly #deploymentSecrets: ReadonlySet<string>;

  constructor(options: HttpJobConnectorOptions = {}) {
    super();
    this.#options = { ...options };
    const listed = options.deploymentSecrets ?? (process.env["FLYTE_HTTP_JOB_DEPLOYMENT_SECRETS"] ?? "").split(",");
    this.#deploymentSecrets = new Set(listed.map((key) => key.trim()).filter(Boolean));
    const allowedOrigins = allowedOriginsSetting(options.allowedOrigins, HTTP_JOB_ALLOWED_ORIGINS_ENV);
    this.#urlPolicy = new UrlPolicy(allowedOrigins ? { allowedOrigins } : {});
  }

  async create(request: CreateRequest): Promise<HttpJobMeta> {
    const { custom, inputs, secrets, signal, taskTemplate } = request;
    const inputNames = new Set((taskTemplate.interface?.inputs?.variables ?? []).map((v) => v.key));
    const config = parseConfig(custom, inputNames);
    const secret = await this.#secret(config.auth, secrets);
    // Refuse a status or cancel URL the connector may not call before a job exists that could not be polled.
    const probe: TemplateScope = { jobId: "job" };
    this.#checkUrl(renderUrl(config.status.url, probe, "custom.status.url"), "status.url");
    if (config.cancel) this.#checkUrl(renderUrl(config.cancel.url, probe, "custom.cancel.url"), "cancel.url");
    const key = attemptToken(request);
    const scope: TemplateScope = { inputs, ...(key ? { idempotencyKey: key } : {}) };
    const submit = config.submit;
    const url = this.#checkUrl(renderUrl(submit.url, scope, "custom.submit.url"), "submit.url");
    const headers = this.#headers(submit.headers, scope, "custom.submit.headers", config.auth, secret);
    if (config.idempotencyHeader && key) headers[config.idempotencyHeader] = key;
    const body = submit.body === undefined ? undefined : renderJson(submit.body, scope, "custom.submit.body");
    let reply: unknown;
    try {
      reply = await requestJson({
        method: submit.method,
        url,
        headers,
        ...(body === undefined ? {} : { body }),
        signal,
        ...this.#httpOptions(),
        // Without an idempotency key a retried submit could start a second job: then only 429 (not processed) is retried.
        ...(config.idempotencyHeader && key ? {} : { retry: { ...this.#options.retry, shouldRetry: (e: unknown) => e instanceof HttpError && e.status === 429 } }),
      });
    } catch (error) {
      throw this.#callError("submit", error, config.status.messagePath, secret, signal);
    }
    const jobId = valueAt(reply, config.jobIdPath);
    if ((typeof jobId !== "string" && typeof jobId !== "number") || jobId === "") {
      throw new ConnectorError("FAILED_PRECONDITION", `The submit response has no job id at custom.jobIdPath ${JSON.stringify(config.jobIdPath)}.`);
    }
    const spec: PollSpec = { status: config.status, outputs: config.outputs, cancel: config.cancel, auth: config.auth, logLinks: config.logLinks };
    return new HttpJobMeta({ job_id: String(jobId), spec: spec as unknown as Record<string, unknown> });
  }

  async get({ resourceMeta, secrets, signal }: ResourceRequest<HttpJobMeta>): Promise<Resource> {
    const spec = resourceMeta.spec as unknown as PollSpec;
    const secret = await this.#secret(spec.auth, secrets);
    const scope: TemplateScope = { jobId: resourceMeta.job_id };
    const status = spec.status;
    const url = this.#checkUrl(renderUrl(status.url, scope, "custom.status.url"), "status.url");
    const logLinks = spec.logLinks.map((link, i) => ({ name: link.name, uri: renderUrl(link.url, scope, `custom.logLinks[${i}].url`) }));
    const withLinks = (resource: Resource): Resource => (logLinks.length > 0 ? { ...resource, logLinks } : resource);
    const budget = this.#options.pollBudget !== undefined ? { budget: this.#options.pollBudget } : {};
    return pollTolerantly(`http_job:${url}`, async (pollSignal) => {
      let reply: unknown;
      try {
        reply = await requestJson({
          method: status.method,
          url,
          headers: this.#headers(status.headers, scope, "custom.status.headers", spec.auth, secret),
          ...(status.body === undefined ? {} : { body: renderJson(status.body, scope, "custom.status.body") }),
          signal: pollSignal,
          ...this.#httpOptions(),
        });
      } catch (error) {
        if (error instanceof HttpError && (error.status === 404 || error.status === 410)) {
          return withLinks({ phase: Phase.FAILED, message: `Job ${resourceMeta.job_id} is not known to the job service (HTTP ${error.status}).` });
        }
        if (isTransient(error) || pollSignal.aborted) throw error; // pollTolerantly: last known phase with a message
        throw this.#callError("status", error, status.messagePath, secret, pollSignal);
      }
      return withLinks(await this.#resource(reply, spec, resourceMeta.job_id, secret));
    }, { signal, ...budget });
  }

  async delete({ resourceMeta, secrets, signal }: ResourceRequest<HttpJobMeta>): Promise<void> {
    const spec = resourceMeta.spec as unknown as PollSpec;
    const cancel = spec.cancel;
    if (!cancel) return;
    const secret = await this.#secret(spec.auth, secrets);
    const scope: TemplateScope = { jobId: resourceMeta.job_id };
    try {
      await requestJson({
        method: cancel.method,
        url: this.#checkUrl(renderUrl(cancel.url, scope, "custom.cancel.url"), "cancel.url"),
        headers: this.#headers(cancel.headers, scope, "custom.cancel.headers", spec.auth, secret),
        ...(cancel.body === undefined ? {} : { body: renderJson(cancel.body, scope, "custom.cancel.body") }),
        signal,
        ...this.#httpOptions(),
      });
    } catch (error) {
      // Gone (404/410) or no longer cancellable because it finished (409): nothing left to cancel.
      if (error instanceof HttpError && [404, 409, 410].includes(error.status)) return;
      throw this.#callError("cancel", error, spec.status.messagePath, secret, signal);
    }
  }

  /** The phase, message and (on success) outputs in a status response. */
  async #resource(reply: unknown, spec: PollSpec, jobId: string, secret: string | undefined): Promise<Resource> {
    const state = valueAt(reply, spec.status.statePath);
    if (state === undefined || state === null || typeof state === "object") {
      return { phase: Phase.RUNNING, message: `The status response has no status at ${spec.status.statePath}; checking again.` };
    }
    const word = String(state).trim().toLowerCase();
    const phaseName = spec.status.phases[word] ?? DEFAULT_PHASES[word];
    if (!phaseName) return { phase: Phase.RUNNING, message: `Unknown job status "${safeText(String(state), secret, 100)}"; checking again.` };
    const phase = PHASE_NAMES[phaseName];
    if (phase === Phase.FAILED || phase === Phase.RETRYABLE_FAILED || phase === Phase.ABORTED) {
      const detail = valueAt(reply, spec.status.messagePath);
      const text = detail === undefined || detail === null ? "" : typeof detail === "string" ? detail : JSON.stringify(detail);
      return { phase, message: `Job ${jobId} ${safeText(String(state), secret, 100)}${text ? `: ${safeText(text, secret, 2000)}` : ""}` };
    }
    if (phase !== Phase.SUCCEEDED) return { phase, message: String(state) };
    const outputs: Record<string, unknown> = {};
    for (const [name, { path, type }] of Object.entries(spec.outputs)) {
      const value = await convertOutput(valueAt(reply, path), type);
      if (value === undefined) {
        return { phase: Phase.FAILED, message: `Job ${jobId} succeeded, but its status response has no ${type} value at ${path} for output "${name}".` };
      }
      outputs[name] = value;
    }
    return { phase, message: String(state), outputs };
  }

  /** The call's secret, else a deployment secret the operator allowed (Flyte 1 sends no per-request secrets). */
  async #secret(auth: PollSpec["auth"], secrets: Readonly<Record<string, string>>): Promise<string | undefined> {
    if (!auth) return undefined;
    const value = secrets[auth.secret] || (this.#deploymentSecrets.has(auth.secret) ? await connectorSecret(auth.secret) : undefined);
    if (!value) {
      const deployment = this.#deploymentSecrets.has(auth.secret)
        ? ` or set it in the connector deployment (connectorSecret "${auth.secret}")`
        : "";
      throw new SecretNotFoundError(`Secret "${auth.secret}" (custom.auth.secret) is missing: reference it in custom.secrets.${auth.secret}${deployment}.`);
    }
    return value;
  }

  #headers(templates: Record<string, string>, scope: TemplateScope, where: string, auth: PollSpec["auth"], secret: string | undefined): Record<string, string> {
    const headers = Object.fromEntries(Object.entries(templates).map(([name, value]) => [name, renderHeader(value, scope, `${where}.${name}`)]));
    if (auth && secret) {
      if (/[\r\n]/.test(secret)) throw new ConnectorError("INVALID_ARGUMENT", `Secret "${auth.secret}" contains a line break and cannot be sent as a header.`);
      headers[auth.header] = auth.scheme ? `${auth.scheme} ${secret}` : secret;
    }
    return headers;
  }

  #checkUrl(url: string, key: string): string {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConnectorError("INVALID_ARGUMENT", `custom.${key} is not a valid URL after rendering.`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new ConnectorError("INVALID_ARGUMENT", `custom.${key} must be http:// or https://.`);
    return this.#urlPolicy.check(parsed, `custom.${key}`).href;
  }

  #httpOptions() {
    return {
      // A redirect would leave the origins checked above, taking the auth header along when it is not
      // `authorization` (fetch keeps other headers across origins): it is an error naming the 3xx instead.
      redirect: "manual" as const,
      // Host names are checked again against the addresses they resolve to when connecting (DNS rebinding).
      urlPolicy: this.#urlPolicy,
      ...(this.#options.requestTimeout !== undefined ? { timeout: this.#options.requestTimeout } : {}),
      ...(this.#options.retry ? { retry: this.#options.retry } : {}),
    };
  }

  /** A caller-safe error for a failed call: status and the service's message, never the secret or URL query. */
  #callError(call: string, error: unknown, messagePath: string, secret: string | undefined, signal: AbortSignal): unknown {
    if (error instanceof UrlRefusedError && !error.message.startsWith("custom.")) {
      const key = call === "submit" ? "submit.url" : call === "status" ? "status.url" : "cancel.url";
      return new ConnectorError("INVALID_ARGUMENT", `custom.${key}: ${error.message}`, { cause: error });
    }
    if (signal.aborted || error instanceof ConnectorError) return error;
    if (error instanceof HttpError) {
      const code = statusNameForHttp(error.status);
      const text = replyText(error, messagePath, secret);
      return new ConnectorError(code, `Job service ${call} request failed: HTTP ${error.status}${text ? `: ${text}` : ""}`, { cause: error });
    }
    if (error instanceof SyntaxError) return new ConnectorError("FAILED_PRECONDITION", `Job service ${call} response is not JSON.`, { cause: error });
    return new ConnectorError(isTransient(error) ? "UNAVAILABLE" : "INTERNAL", `Job service ${call} request failed: ${describeFault(error)}`, { cause: error });
  }
}

