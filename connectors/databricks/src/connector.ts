import {
  AsyncConnector,
  ConnectorError,
  Phase,
  ResourceMeta,
  SecretNotFoundError,
  type CreateRequest,
  type Resource,
  type ResourceRequest,
  attemptToken,
  connectorSecret,
  connectorSecretPath,
} from "flyte-connectors";
import {
  describeFault,
  HttpError,
  isTransient,
  pollTolerantly,
  requestJson,
  statusNameForHttp,
  allowedOriginsSetting,
  UrlPolicy,
  UrlRefusedError,
  type RetryOptions,
} from "flyte-connectors/http";
import { buildRunSubmitBody } from "./job-spec.js";
import { runPhase, type RunState } from "./run-state.js";

/**
 * Identity of a Databricks run: the same fields, in the same order, as the Python connector's
 * `DatabricksJobMetadata`, so either connector can poll or cancel a run the other started.
 */
export class DatabricksJobMetadata extends ResourceMeta.define({ databricks_instance: "string", run_id: "string" }) {
  /** A run id is a number (runs/submit's `run_id`); anything else is the caller's INVALID_ARGUMENT, found before any request. */
  override validate(): void {
    if (!/^\d{1,20}$/.test(this.run_id)) throw new Error(`run_id ${JSON.stringify(this.run_id.slice(0, 100))} is not a Databricks run id`);
    if (!this.databricks_instance.trim() || /[\s\u0000-\u001f]/.test(this.databricks_instance.trim())) {
      throw new Error(`databricks_instance ${JSON.stringify(this.databricks_instance.slice(0, 100))} is not a host name`);
    }
  }
}

/** The secret (a name in `custom.secrets`, resolved by the backend into `connection.secrets`) holding the API token. */
export const DATABRICKS_TOKEN_SECRET = "databricks_token";
/** The connector deployment's secret used when a task passes no token (flytekit's connector reads this one). */
export const DATABRICKS_CONNECTOR_SECRET = "FLYTE_DATABRICKS_ACCESS_TOKEN";
/** Environment variable naming the workspace when a task sets no `databricksInstance` (as in Python). */
export const DATABRICKS_INSTANCE_ENV = "FLYTE_DATABRICKS_INSTANCE";
/** Environment variable listing (comma-separated) the origins the connector may call; see `allowedOrigins`. */
export const DATABRICKS_ALLOWED_ORIGINS_ENV = "FLYTE_DATABRICKS_ALLOWED_ORIGINS";

const API = "/api/2.1/jobs";
/** How errors about a workspace named by a resource meta (get, delete) name it. */
const META_SETTING = "the resource meta's databricks_instance";

export interface DatabricksConnectorOptions {
  /**
   * Task type served. Default: `"databricks"`, the type flyte-sdk's Databricks tasks have. `"spark"` is the type
   * flytekit 1.x's legacy Databricks agent served; host it only where no Spark-on-Kubernetes plugin owns that type.
   */
  taskTypeName?: "databricks" | "spark";
  /**
   * Workspace (`<name>.cloud.databricks.com`) for tasks without `databricksInstance`; the deployment's token
   * (`FLYTE_DATABRICKS_ACCESS_TOKEN`) is sent to it. Default: `$FLYTE_DATABRICKS_INSTANCE`.
   */
  defaultInstance?: string;
  /**
   * Origins (`https://myorg.cloud.databricks.com`) the connector may call; when set, any other workspace a task or
   * resource meta names is refused (INVALID_ARGUMENT). Listed origins are trusted as named (a loopback fake in
   * tests may be listed), and the deployment's token may be sent to them. Default: the comma-separated origins of
   * `$FLYTE_DATABRICKS_ALLOWED_ORIGINS`, else any https workspace except the connector's own host (loopback in
   * every spelling), link-local and cloud metadata addresses, checked again against the addresses a name resolves
   * to when connecting (`UrlPolicy` of `flyte-connectors/http`, as the HTTP job connector); private ranges are allowed.
   */
  allowedOrigins?: readonly string[];
  /**
   * Talk plain HTTP to the workspace (and accept `http://` instances). Only for tests against a local fake: the
   * token would travel in clear text. Default: false (always HTTPS, as Python).
   */
  insecureHttp?: boolean;
  /** Deadline of each HTTP attempt in milliseconds. Default: 30 000. */
  requestTimeout?: number;
  /** Retries of transient faults (429, 5xx, resets) within one call. Default: `requestJson`'s (3 retries, 250 ms…8 s). */
  retry?: RetryOptions;
  /**
   * Longest a status poll (`get`) waits for Databricks, in milliseconds, before answering the last known phase;
   * keep it below the backend's per-call timeout (10 s by default). Default: `pollTolerantly`'s (8000).
   */
  pollBudget?: number;
}

/** A Databricks error reply: `{"error_code": "INVALID_PARAMETER_VALUE", "message": "…"}`. */
function vendorError(error: HttpError): { code: string | undefined; message: string | undefined } {
  try {
    const body = JSON.parse(error.body) as { error_code?: unknown; message?: unknown };
    return {
      code: typeof body.error_code === "string" ? body.error_code : undefined,
      message: typeof body.message === "string" ? body.message : undefined,
    };
  } catch {
    return { code: undefined, message: error.body.trim().slice(0, 500) || undefined };
  }
}

/** The run no longer exists (or never did) in this workspace. */
function isMissingRun(error: unknown): boolean {
  if (!(error instanceof HttpError)) return false;
  if (error.status === 404) return true;
  const { code, message } = vendorError(error);
  return error.status === 400 && (code === "RESOURCE_DOES_NOT_EXIST" || /does not exist/i.test(message ?? ""));
}


function redact(text: string, token: string): string {
  return token.length >= 4 ? text.split(token).join("***") : text;
}

/**
 * Runs Databricks jobs through the Jobs API 2.1: `create` submits a one-time run (`runs/submit`, with an
 * idempotency token per task attempt), `get` polls `runs/get`, `delete` calls `runs/cancel`.
 * The workspace comes from `custom.databricksInstance`, the token from the secret `databricks_token`.
 */
export class DatabricksConnector extends AsyncConnector<DatabricksJobMetadata> {
  readonly name = "Databricks Connector";
  readonly taskTypeName: string;
  readonly metadataType = DatabricksJobMetadata;
  readonly #options: DatabricksConnectorOptions;
  /** The operator's `allowedOrigins`, undefined when none were set. */
  readonly #allowedOrigins: ReadonlySet<string> | undefined;
  readonly #urlPolicy: UrlPolicy;

  constructor(options: DatabricksConnectorOptions = {}) {
    super();
    this.taskTypeName = options.taskTypeName ?? "databricks";
    this.#options = { ...options };
    const listed = allowedOriginsSetting(options.allowedOrigins, DATABRICKS_ALLOWED_ORIGINS_ENV);
    this.#allowedOrigins = listed && new Set(listed);
    this.#urlPolicy = new UrlPolicy(listed ? { allowedOrigins: listed } : {});
  }

  async create(request: CreateRequest): Promise<DatabricksJobMetadata> {
    const { custom, taskTemplate, secrets, signal } = request;
    const rawInstance = custom["databricksInstance"] ?? this.#options.defaultInstance ?? process.env[DATABRICKS_INSTANCE_ENV];
    if (typeof rawInstance !== "string" || rawInstance.trim() === "") {
      throw new ConnectorError(
        "INVALID_ARGUMENT",
        `custom.databricksInstance is missing: set it on the task (e.g. "myorg.cloud.databricks.com") or set ${DATABRICKS_INSTANCE_ENV} for the connector.`,
      );
    }
    const setting = custom["databricksInstance"] === undefined ? "the connector's default instance" : "custom.databricksInstance";
    const instance = this.#host(rawInstance, setting);
    const base = this.#checkedBase(instance, setting);
    const body = buildRunSubmitBody(taskTemplate, custom);
    const token = await this.#token(secrets, base, setting);
    body["idempotency_token"] ??= attemptToken(request);
    if (typeof body["idempotency_token"] === "string" && body["idempotency_token"].length > 64) {
      throw new ConnectorError("INVALID_ARGUMENT", "custom.databricksConf.idempotency_token is longer than 64 characters.");
    }
    let reply: { run_id?: unknown };
    try {
      reply = await requestJson<{ run_id?: unknown }>({
        method: "POST",
        url: `${base}${API}/runs/submit`,
        headers: { authorization: `Bearer ${token}` },
        body,
        signal,
        ...this.#httpOptions(),
        // Without a token a retried submit could start a second run, so only then is it tried once.
        ...(body["idempotency_token"] === undefined ? { retry: false } : {}),
      });
    } catch (error) {
      throw this.#callError("runs/submit", error, token, signal, setting);
    }
    const runId = reply?.run_id;
    if ((typeof runId !== "number" && typeof runId !== "string") || runId === "") {
      throw new ConnectorError("INTERNAL", "Databricks runs/submit answered without a run_id.");
    }
    return new DatabricksJobMetadata({ databricks_instance: instance, run_id: String(runId) });
  }

  async get({ resourceMeta, secrets, signal }: ResourceRequest<DatabricksJobMetadata>): Promise<Resource> {
    const instance = this.#host(resourceMeta.databricks_instance, META_SETTING);
    const base = this.#checkedBase(instance, META_SETTING);
    const token = await this.#token(secrets, base, META_SETTING);
    const key = `databricks:${instance}:${resourceMeta.run_id}`;
    return pollTolerantly(key, async (pollSignal) => {
      let reply: { job_id?: unknown; run_page_url?: unknown; state?: RunState };
      try {
        reply = await requestJson({
          url: `${base}${API}/runs/get?run_id=${encodeURIComponent(resourceMeta.run_id)}`,
          headers: { authorization: `Bearer ${token}` },
          signal: pollSignal,
          ...this.#httpOptions(),
        });
      } catch (error) {
        if (isMissingRun(error)) {
          return { phase: Phase.FAILED, message: `Databricks run ${resourceMeta.run_id} does not exist in ${instance}.` };
        }
        if (isTransient(error) || pollSignal.aborted) throw error; // pollTolerantly reports it as the last known phase
        throw this.#callError("runs/get", error, token, pollSignal, META_SETTING);
      }
      const { phase, message } = runPhase(reply?.state);
      const consoleUrl =
        typeof reply?.run_page_url === "string" && /^https?:\/\//.test(reply.run_page_url)
          ? reply.run_page_url
          : reply?.job_id !== undefined && reply?.job_id !== null
            ? `${base}/#job/${String(reply.job_id)}/run/${resourceMeta.run_id}`
            : undefined;
      return {
        phase,
        message: redact(message, token),
        ...(consoleUrl ? { logLinks: [{ name: "Databricks Console", uri: consoleUrl }] } : {}),
      };
    }, { signal, ...(this.#options.pollBudget !== undefined ? { budget: this.#options.pollBudget } : {}) });
  }

  async delete({ resourceMeta, secrets, signal }: ResourceRequest<DatabricksJobMetadata>): Promise<void> {
    const instance = this.#host(resourceMeta.databricks_instance, META_SETTING);
    const base = this.#checkedBase(instance, META_SETTING);
    const token = await this.#token(secrets, base, META_SETTING);
    const runId = /^\d+$/.test(resourceMeta.run_id) && Number.isSafeInteger(Number(resourceMeta.run_id)) ? Number(resourceMeta.run_id) : resourceMeta.run_id;
    try {
      // Cancelling a finished run is a no-op for Databricks; a run that no longer exists needs nothing either.
      await requestJson({
        method: "POST",
        url: `${base}${API}/runs/cancel`,
        headers: { authorization: `Bearer ${token}` },
        body: { run_id: runId },
        signal,
        ...this.#httpOptions(),
      });
    } catch (error) {
      if (isMissingRun(error)) return;
      throw this.#callError("runs/cancel", error, token, signal, META_SETTING);
    }
  }

  #httpOptions() {
    return {
      // Host names are checked again against the addresses they resolve to when connecting (DNS rebinding), and
      // redirects are not followed (they would leave the checked workspace).
      urlPolicy: this.#urlPolicy,
      ...(this.#options.requestTimeout !== undefined ? { timeout: this.#options.requestTimeout } : {}),
      ...(this.#options.retry ? { retry: this.#options.retry } : {}),
    };
  }

  /**
   * The task's `databricks_token`, which may go to any workspace the URL policy allows; else the deployment's
   * `FLYTE_DATABRICKS_ACCESS_TOKEN` (what Python connectors read), but only to a workspace the deployment chose:
   * its default instance or an origin it lists in `allowedOrigins`. A task (or a crafted meta) naming another
   * host must bring its own token, so the deployment's cannot be sent to a host of the task's choosing.
   */
  async #token(secrets: Readonly<Record<string, string>>, base: string, setting: string): Promise<string> {
    const own = secrets[DATABRICKS_TOKEN_SECRET];
    if (own) return own;
    const token = await connectorSecret(DATABRICKS_CONNECTOR_SECRET);
    if (!token) {
      throw new SecretNotFoundError(
        `No Databricks token: reference one as the task secret custom.secrets.${DATABRICKS_TOKEN_SECRET}, or give the connector service ` +
          `${DATABRICKS_CONNECTOR_SECRET} (environment variable or ${connectorSecretPath(DATABRICKS_CONNECTOR_SECRET)}).`,
      );
    }
    if (!this.#deploymentChose(base)) {
      throw new ConnectorError(
        "FAILED_PRECONDITION",
        `${setting} names ${base}, a workspace the connector deployment did not choose: its ${DATABRICKS_CONNECTOR_SECRET} is only sent to ` +
          `${DATABRICKS_INSTANCE_ENV} (the connector's default instance) and the origins in ${DATABRICKS_ALLOWED_ORIGINS_ENV} (allowedOrigins). ` +
          `Reference the workspace's own token as the task secret custom.secrets.${DATABRICKS_TOKEN_SECRET}, or have the operator list ${base}.`,
      );
    }
    return token;
  }

  /** Whether `base` is the deployment's default instance or one of its allowed origins. */
  #deploymentChose(base: string): boolean {
    if (this.#allowedOrigins?.has(base)) return true;
    const configured = this.#options.defaultInstance ?? process.env[DATABRICKS_INSTANCE_ENV];
    if (!configured?.trim()) return false;
    try {
      return new URL(this.#base(this.#host(configured, DATABRICKS_INSTANCE_ENV))).origin === base;
    } catch {
      return false; // a malformed default instance chooses nothing
    }
  }

  /** The workspace's origin, refused (INVALID_ARGUMENT naming `setting` and the origin) when the URL policy forbids it. */
  #checkedBase(host: string, setting: string): string {
    return this.#urlPolicy.check(this.#base(host), setting).origin;
  }

  /** `host[:port]` of a workspace, from `myorg.cloud.databricks.com` or `https://myorg.cloud.databricks.com/`. */
  #host(raw: string, setting: string): string {
    let text = raw.trim().replace(/\/+$/, "");
    if (/^https:\/\//i.test(text)) text = text.slice("https://".length);
    else if (/^http:\/\//i.test(text)) {
      if (!this.#options.insecureHttp) {
        throw new ConnectorError("INVALID_ARGUMENT", `${setting} must not use http://: the token would travel in clear text.`);
      }
      text = text.slice("http://".length);
    }
    let url: URL | undefined;
    try {
      url = new URL(`https://${text}`);
    } catch {
      url = undefined;
    }
    if (!url || text === "" || /[/?#@\\\s]/.test(text)) {
      throw new ConnectorError("INVALID_ARGUMENT", `${setting} must be a host name such as "myorg.cloud.databricks.com", got ${JSON.stringify(raw.slice(0, 100))}.`);
    }
    return url.host;
  }

  #base(host: string): string {
    return `${this.#options.insecureHttp ? "http" : "https"}://${host}`;
  }

  /** A caller-safe error for a failed API call: the vendor's error code and message, never the token. */
  #callError(call: string, error: unknown, token: string, signal: AbortSignal, setting: string): unknown {
    // Refused at connect time: the workspace's name resolved to an address the URL policy forbids.
    if (error instanceof UrlRefusedError) return new ConnectorError("INVALID_ARGUMENT", `${setting}: ${error.message}`, { cause: error });
    if (signal.aborted || error instanceof ConnectorError) return error;
    if (error instanceof HttpError) {
      const vendor = vendorError(error);
      const detail = [vendor.code, vendor.message].filter(Boolean).join(": ");
      const code = statusNameForHttp(error.status);
      const text = `Databricks ${call} failed: HTTP ${error.status}${detail ? ` ${detail}` : ""}`;
      return new ConnectorError(code, redact(text, token), { cause: error });
    }
    if (error instanceof SyntaxError) {
      return new ConnectorError("UNAVAILABLE", `Databricks ${call} answered with invalid JSON.`, { cause: error });
    }
    return new ConnectorError(isTransient(error) ? "UNAVAILABLE" : "INTERNAL", `Databricks ${call} failed: ${describeFault(error)}`, { cause: error });
  }
}
