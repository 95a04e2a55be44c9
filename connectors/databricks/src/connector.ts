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
import { describeFault, HttpError, isTransient, pollTolerantly, requestJson, statusNameForHttp, type RetryOptions } from "flyte-connectors/http";
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

const API = "/api/2.1/jobs";

export interface DatabricksConnectorOptions {
  /**
   * Task type served. Default: `"databricks"`, the type flyte-sdk's Databricks tasks have. `"spark"` is the type
   * flytekit 1.x's legacy Databricks agent served; host it only where no Spark-on-Kubernetes plugin owns that type.
   */
  taskTypeName?: "databricks" | "spark";
  /** Workspace (`<name>.cloud.databricks.com`) for tasks without `databricksInstance`. Default: `$FLYTE_DATABRICKS_INSTANCE`. */
  defaultInstance?: string;
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

  constructor(options: DatabricksConnectorOptions = {}) {
    super();
    this.taskTypeName = options.taskTypeName ?? "databricks";
    this.#options = { ...options };
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
    const instance = this.#host(rawInstance);
    const body = buildRunSubmitBody(taskTemplate, custom);
    const token = await this.#token(secrets);
    body["idempotency_token"] ??= attemptToken(request);
    if (typeof body["idempotency_token"] === "string" && body["idempotency_token"].length > 64) {
      throw new ConnectorError("INVALID_ARGUMENT", "custom.databricksConf.idempotency_token is longer than 64 characters.");
    }
    let reply: { run_id?: unknown };
    try {
      reply = await requestJson<{ run_id?: unknown }>({
        method: "POST",
        url: `${this.#base(instance)}${API}/runs/submit`,
        headers: { authorization: `Bearer ${token}` },
        body,
        signal,
        ...this.#httpOptions(),
        // Without a token a retried submit could start a second run, so only then is it tried once.
        ...(body["idempotency_token"] === undefined ? { retry: false } : {}),
      });
    } catch (error) {
      throw this.#callError("runs/submit", error, token, signal);
    }
    const runId = reply?.run_id;
    if ((typeof runId !== "number" && typeof runId !== "string") || runId === "") {
      throw new ConnectorError("INTERNAL", "Databricks runs/submit answered without a run_id.");
    }
    return new DatabricksJobMetadata({ databricks_instance: instance, run_id: String(runId) });
  }

  async get({ resourceMeta, secrets, signal }: ResourceRequest<DatabricksJobMetadata>): Promise<Resource> {
    const instance = this.#host(resourceMeta.databricks_instance);
    const base = this.#base(instance);
    const token = await this.#token(secrets);
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
        throw this.#callError("runs/get", error, token, pollSignal);
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
    const instance = this.#host(resourceMeta.databricks_instance);
    const token = await this.#token(secrets);
    const runId = /^\d+$/.test(resourceMeta.run_id) && Number.isSafeInteger(Number(resourceMeta.run_id)) ? Number(resourceMeta.run_id) : resourceMeta.run_id;
    try {
      // Cancelling a finished run is a no-op for Databricks; a run that no longer exists needs nothing either.
      await requestJson({
        method: "POST",
        url: `${this.#base(instance)}${API}/runs/cancel`,
        headers: { authorization: `Bearer ${token}` },
        body: { run_id: runId },
        signal,
        ...this.#httpOptions(),
      });
    } catch (error) {
      if (isMissingRun(error)) return;
      throw this.#callError("runs/cancel", error, token, signal);
    }
  }

  #httpOptions() {
    return {
      ...(this.#options.requestTimeout !== undefined ? { timeout: this.#options.requestTimeout } : {}),
      ...(this.#options.retry ? { retry: this.#options.retry } : {}),
    };
  }

  /** The task's `databricks_token`, else the deployment's `FLYTE_DATABRICKS_ACCESS_TOKEN` (what Python connectors read). */
  async #token(secrets: Readonly<Record<string, string>>): Promise<string> {
    const token = secrets[DATABRICKS_TOKEN_SECRET] || (await connectorSecret(DATABRICKS_CONNECTOR_SECRET));
    if (!token) {
      throw new SecretNotFoundError(
        `No Databricks token: reference one as the task secret custom.secrets.${DATABRICKS_TOKEN_SECRET}, or give the connector service ` +
          `${DATABRICKS_CONNECTOR_SECRET} (environment variable or ${connectorSecretPath(DATABRICKS_CONNECTOR_SECRET)}).`,
      );
    }
    return token;
  }

  /** `host[:port]` of a workspace, from `myorg.cloud.databricks.com` or `https://myorg.cloud.databricks.com/`. */
  #host(raw: string): string {
    let text = raw.trim().replace(/\/+$/, "");
    if (/^https:\/\//i.test(text)) text = text.slice("https://".length);
    else if (/^http:\/\//i.test(text)) {
      if (!this.#options.insecureHttp) {
        throw new ConnectorError("INVALID_ARGUMENT", "custom.databricksInstance must not use http://: the token would travel in clear text.");
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
      throw new ConnectorError("INVALID_ARGUMENT", `custom.databricksInstance must be a host name such as "myorg.cloud.databricks.com", got ${JSON.stringify(raw.slice(0, 100))}.`);
    }
    return url.host;
  }

  #base(host: string): string {
    return `${this.#options.insecureHttp ? "http" : "https"}://${host}`;
  }

  /** A caller-safe error for a failed API call: the vendor's error code and message, never the token. */
  #callError(call: string, error: unknown, token: string, signal: AbortSignal): unknown {
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
