import { createHash, randomUUID } from "node:crypto";
import type { JsonObject } from "@bufbuild/protobuf";
import { TaskLog_LinkType } from "@flyte-connectors/flyteidl2/flyteidl2/core/execution_pb.js";
import {
  attemptIdentity,
  AsyncConnector,
  ConnectorError,
  connectorSecret,
  DataFrame,
  Phase,
  ResourceMeta,
  types,
  type CallContext,
  type CreateRequest,
  type Resource,
  type ResourceRequest,
  type TaskLogInit,
} from "flyte-connectors";
import { allowedOriginsSetting, describeFault, pollTolerantly, UrlPolicy, UrlRefusedError, type RetryOptions } from "flyte-connectors/http";
import type { KeyPairCredentials } from "./auth.js";
import { cancelStatement, statementStatus, submitStatement, type ApiReply, type ApiTarget, type SubmitBody } from "./sql-api.js";
import { bindStatement } from "./statement.js";

/** Task type of Snowflake tasks (flyte-sdk `plugins/snowflake`, `Snowflake._TASK_TYPE`). */
export const SNOWFLAKE_TASK_TYPE = "snowflake";
/** Environment variable listing (comma-separated) the origins the connector may call; see `allowedOrigins`. */
export const SNOWFLAKE_ALLOWED_ORIGINS_ENV = "FLYTE_SNOWFLAKE_ALLOWED_ORIGINS";
/** An account identifier (`myorg-myaccount`, `xy12345.us-east-1`): it becomes part of the host name. */
const ACCOUNT_PATTERN = /^[A-Za-z0-9._-]+$/;
/** Snowflake's own domains: the deployment's key may be used for any of their hosts (accounts, private link). */
const SNOWFLAKE_DOMAINS = [".snowflakecomputing.com", ".snowflakecomputing.cn"];

/**
 * Identity of a submitted statement: the same fields as the Python plugin's `SnowflakeJobMetadata`, so either
 * connector polls or cancels a statement the other submitted. `query_id` is the SQL API's statement handle (the
 * query id Snowsight shows). `connection_kwargs` keeps only the non-secret settings `get` and `delete` need
 * (`role`, `host`, `port`, `protocol`), never a password or token.
 */
export class SnowflakeJobMetadata extends ResourceMeta.define({
  account: "string",
  user: "string",
  database: "string",
  schema: "string",
  warehouse: "string",
  query_id: "string",
  has_output: "boolean",
  connection_kwargs: "object?",
}) {
  /**
   * The meta comes back from the caller with every get and delete: contents that could not have come from create
   * (an account that is no host name part, a malformed statement handle, an address that does not parse) are the
   * caller's INVALID_ARGUMENT, found before any request is made.
   */
  override validate(): void {
    if (!ACCOUNT_PATTERN.test(this.account)) throw new Error(`account ${JSON.stringify(this.account.slice(0, 100))} is not a Snowflake account identifier`);
    if (!this.user || /[\u0000-\u001f\u007f]/.test(this.user)) throw new Error("user is empty or holds control characters");
    if (!/^[A-Za-z0-9-]*$/.test(this.query_id)) throw new Error(`query_id ${JSON.stringify(this.query_id.slice(0, 100))} is not a statement handle`);
    baseUrlOf(this.account, (this.connection_kwargs ?? {}) as JsonObject);
  }
}

/** Options of {@link SnowflakeConnector}. */
export interface SnowflakeConnectorOptions {
  /** Deadline of each HTTP attempt to the SQL API in milliseconds. Default: 8000 (inside the backend's 10 s call deadline). */
  attemptTimeout?: number;
  /**
   * SQL API origin for statements whose task names no `connection_kwargs.host` (e.g. a private-link host, or a
   * local fake in tests); the host in a task's kwargs wins. Default: `https://<account>.snowflakecomputing.com`.
   */
  apiEndpoint?: string;
  /** Retries of transient SQL API faults within one call. Default: 2 retries, 200 ms first back-off, 1 s longest. */
  retry?: Omit<RetryOptions, "signal" | "shouldRetry">;
  /**
   * Origins (`https://myorg-acct.privatelink.snowflakecomputing.com`) the connector may call; when set, any other
   * SQL API origin a task, `apiEndpoint` or resource meta leads to is refused (INVALID_ARGUMENT). Listed origins
   * are trusted as named (a loopback fake in tests may be listed), and the deployment's key may be used for them.
   * Default: the comma-separated origins of `$FLYTE_SNOWFLAKE_ALLOWED_ORIGINS`, else any http(s) origin except the
   * connector's own host (loopback in every spelling), link-local and cloud metadata addresses, checked again
   * against the addresses a name resolves to when connecting (`UrlPolicy` of `flyte-connectors/http`, as the HTTP
   * job connector); private ranges are allowed.
   */
  allowedOrigins?: readonly string[];
}


/** Connection settings of the Python plugin's `connection_kwargs` that the SQL API has a use for. */
const KEPT_KWARGS = ["role", "host", "port", "protocol"] as const;
/** Settings that would need another authentication than key-pair, which the SQL API does not offer. */
const AUTH_KWARGS = ["password", "passcode", "token", "authenticator", "private_key", "private_key_file", "private_key_file_pwd", "oauth_client_secret"];

/**
 * Runs Snowflake SQL statements through the Snowflake SQL API v2 (`POST /api/v2/statements?async=true`, polled by
 * `GET /api/v2/statements/{handle}`, cancelled by `POST …/cancel`), authenticated per request by a key-pair JWT.
 *
 * Secrets (from the task's `custom.secrets`, as the Python plugin names them): `snowflake_private_key` (PEM),
 * optional `snowflake_private_key_passphrase`. A call without them (Flyte 1 sends no per-request secrets) uses the
 * deployment's, found as flytekit's connector finds its key: `connectorSecret("snowflake_private_key")`, but only
 * for an SQL API origin the deployment chose: Snowflake's own https hosts, `apiEndpoint`, `allowedOrigins`.
 *
 * Settings come from `custom` (flyte-sdk) or `TaskTemplate.config` (flytekit's `SnowflakeTask` writes `user`,
 * `account`, `database`, `schema`, `warehouse` there); `custom` wins.
 */
export class SnowflakeConnector extends AsyncConnector<SnowflakeJobMetadata> {
  readonly name = "Snowflake Connector";
  readonly taskTypeName = SNOWFLAKE_TASK_TYPE;
  readonly metadataType = SnowflakeJobMetadata;
  override readonly outputTypes = { results: types.dataframe() };
  readonly #attemptTimeout: number;
  readonly #retry: RetryOptions;
  readonly #apiEndpoint: string | undefined;
  /** The operator's `allowedOrigins`, undefined when none were set. */
  readonly #allowedOrigins: ReadonlySet<string> | undefined;
  readonly #urlPolicy: UrlPolicy;

  constructor(options: SnowflakeConnectorOptions = {}) {
    super();
    this.#attemptTimeout = options.attemptTimeout ?? 8000;
    this.#apiEndpoint = options.apiEndpoint;
    const listed = allowedOriginsSetting(options.allowedOrigins, SNOWFLAKE_ALLOWED_ORIGINS_ENV);
    this.#allowedOrigins = listed && new Set(listed);
    this.#urlPolicy = new UrlPolicy(listed ? { allowedOrigins: listed } : {});
    this.#retry = { retries: 2, minDelay: 200, maxDelay: 1000, ...options.retry };
  }

  async create(request: CreateRequest): Promise<SnowflakeJobMetadata> {
    const { taskTemplate, custom, inputs, signal } = request;
    const secrets = await withDeploymentKey(request.secrets);
    const config = readConfig({ ...templateConfig(taskTemplate.config), ...custom });
    const statement = taskTemplate.target.case === "sql" ? taskTemplate.target.value.statement : "";
    if (!statement.trim()) throw new ConnectorError("INVALID_ARGUMENT", "The Snowflake task has no SQL statement (TaskTemplate.sql.statement).");
    const bound = bindStatement(statement, inputs, custom["batch"] === true);
    const kwargs = config.connectionKwargs;
    const body: SubmitBody = {
      statement: bound.statement,
      database: sqlApiName(config.database),
      schema: sqlApiName(config.schema),
      warehouse: sqlApiName(config.warehouse),
      ...(typeof kwargs["role"] === "string" && kwargs["role"] ? { role: sqlApiName(kwargs["role"]) } : {}),
      ...(Object.keys(bound.bindings).length > 0 ? { bindings: bound.bindings } : {}),
      ...sessionParameters(kwargs),
    };
    const meta = new SnowflakeJobMetadata({
      account: config.account,
      user: config.user,
      database: config.database,
      schema: config.schema,
      warehouse: config.warehouse,
      query_id: "",
      has_output: (taskTemplate.interface?.outputs?.variables.length ?? 0) > 0,
      connection_kwargs: keptKwargs(kwargs),
    });
    const target = this.#target(meta, secrets, signal, "");
    let reply: ApiReply;
    try {
      reply = await submitStatement(target, requestIdOf(attemptIdentity(request)), body);
    } catch (error) {
      throw transportError(error, signal, "submitting the statement", target.setting);
    }
    const handle = reply.body.statementHandle;
    // 422 with a handle (e.g. a compilation error): the statement exists and failed; get reports it as FAILED,
    // with its Snowsight link, instead of a create error that would burn a retry on a query that cannot succeed.
    if ((reply.status === 200 || reply.status === 202 || reply.status === 422 || reply.status === 408) && handle) {
      return new SnowflakeJobMetadata({ ...meta, query_id: handle });
    }
    throw submitError(reply);
  }

  async get({ resourceMeta, signal, ...request }: ResourceRequest<SnowflakeJobMetadata>): Promise<Resource> {
    const secrets = await withDeploymentKey(request.secrets);
    const logLinks = [queryLink(resourceMeta.account, resourceMeta.query_id)];
    // Checked before the poll: a refused origin is the caller's error, not a status to tolerate.
    const target = this.#target(resourceMeta, secrets, signal, META);
    const resource = await pollTolerantly(`snowflake:${resourceMeta.account}:${resourceMeta.query_id}`, async (pollSignal) => {
      let reply: ApiReply;
      try {
        reply = await statementStatus({ ...target, signal: pollSignal }, resourceMeta.query_id);
      } catch (error) {
        // Any network failure (even one not known as transient, e.g. a DNS lookup) is not the statement's verdict.
        throw transportError(error, pollSignal, "checking the statement", target.setting);
      }
      return resourceOf(reply, resourceMeta);
    }, { signal });
    return { ...resource, logLinks };
  }

  async delete({ resourceMeta, signal, ...request }: ResourceRequest<SnowflakeJobMetadata>): Promise<void> {
    if (!resourceMeta.query_id) return;
    const secrets = await withDeploymentKey(request.secrets);
    const target = this.#target(resourceMeta, secrets, signal, META);
    let reply: ApiReply;
    try {
      reply = await cancelStatement(target, resourceMeta.query_id);
    } catch (error) {
      throw transportError(error, signal, "cancelling the statement", target.setting);
    }
    // 200 cancelled; 422 cannot be cancelled (already finished or cancelled); 404/400 no such statement. All done.
    if (reply.status < 300 || reply.status === 422 || reply.status === 404 || reply.status === 400) return;
    if (reply.status === 401 || reply.status === 403) {
      throw new ConnectorError("FAILED_PRECONDITION", `Snowflake refused to cancel statement ${resourceMeta.query_id}: ${vendorText(reply)}`);
    }
    throw new ConnectorError("UNAVAILABLE", `Snowflake answered HTTP ${reply.status} to cancelling statement ${resourceMeta.query_id}: ${vendorText(reply)}`);
  }

  /**
   * Where and how to call the SQL API for `meta`: the origin, refused when the URL policy forbids it
   * (INVALID_ARGUMENT naming the setting that led there, `prefix` telling a resource meta's from a task's), and
   * the credentials, the deployment's key only for an origin the deployment chose.
   */
  #target(meta: SnowflakeJobMetadata, { secrets, deploymentKey }: CallSecrets, signal: AbortSignal, prefix: string): ApiTarget & { setting: string } {
    const kwargs = (meta.connection_kwargs ?? {}) as JsonObject;
    const baseUrl = baseUrlOf(meta.account, kwargs, this.#apiEndpoint);
    const setting = `${prefix}${typeof kwargs["host"] === "string" && kwargs["host"] ? "connection_kwargs.host" : this.#apiEndpoint ? "the connector's apiEndpoint" : "account"}`;
    this.#urlPolicy.check(baseUrl, setting);
    if (deploymentKey && !this.#deploymentChose(baseUrl)) {
      throw new ConnectorError(
        "FAILED_PRECONDITION",
        `${setting} leads to ${baseUrl}, an SQL API origin the connector deployment did not choose: its snowflake_private_key is only used for ` +
          `https://*${SNOWFLAKE_DOMAINS.join(", https://*")}, the connector's apiEndpoint and the origins in ${SNOWFLAKE_ALLOWED_ORIGINS_ENV} (allowedOrigins). ` +
          "Declare the task's own secret snowflake_private_key, or have the operator list the origin.",
      );
    }
    return {
      baseUrl,
      credentials: credentialsOf(meta.account, meta.user, secrets),
      attemptTimeout: this.#attemptTimeout,
      retry: this.#retry,
      urlPolicy: this.#urlPolicy,
      signal,
      setting,
    };
  }

  /**
   * Whether the deployment's key may be used (a JWT signed with it is a bearer credential for an hour) for `baseUrl`:
   * an https host of Snowflake's own domains, the operator's `apiEndpoint`, or an origin in `allowedOrigins`. A
   * task pointing `connection_kwargs.host` elsewhere must bring its own key.
   */
  #deploymentChose(baseUrl: string): boolean {
    const url = new URL(baseUrl);
    if (this.#allowedOrigins?.has(url.origin)) return true;
    if (this.#apiEndpoint && new URL(this.#apiEndpoint).origin === url.origin) return true;
    return url.protocol === "https:" && SNOWFLAKE_DOMAINS.some((domain) => url.hostname.toLowerCase().endsWith(domain));
  }
}

/** A call's secrets, and whether its key is the deployment's (the call carried none). */
interface CallSecrets {
  secrets: CallContext["secrets"];
  deploymentKey: boolean;
}

/** How errors about a SQL API origin from a resource meta (get, delete) name the setting. */
const META = "the resource meta's ";

interface SnowflakeSettings {
  account: string;
  user: string;
  database: string;
  schema: string;
  warehouse: string;
  connectionKwargs: JsonObject;
}

/** `TaskTemplate.config` entries with a value (flytekit writes its SnowflakeConfig there, unset fields empty). */
function templateConfig(config: Readonly<Record<string, string>>): JsonObject {
  return Object.fromEntries(Object.entries(config).filter(([, value]) => value !== ""));
}

/** The deployment's key (and passphrase) where the call carries none: Flyte 1 sends no per-request secrets. */
async function withDeploymentKey(secrets: CallContext["secrets"]): Promise<CallSecrets> {
  if (secrets["snowflake_private_key"]) return { secrets, deploymentKey: false };
  const [privateKey, passphrase] = await Promise.all([connectorSecret("snowflake_private_key"), connectorSecret("snowflake_private_key_passphrase")]);
  if (!privateKey) return { secrets, deploymentKey: false };
  return {
    secrets: { ...secrets, snowflake_private_key: privateKey, ...(passphrase ? { snowflake_private_key_passphrase: passphrase } : {}) },
    deploymentKey: true,
  };
}

/** The task's custom config, checked as the Python connector checks it (schema defaults to PUBLIC). */
function readConfig(custom: JsonObject): SnowflakeSettings {
  const text = (key: string) => (typeof custom[key] === "string" ? (custom[key] as string).trim() : "");
  const account = text("account");
  if (!account) throw new ConnectorError("INVALID_ARGUMENT", "Missing Snowflake account: set `account` in the task configuration.");
  // It becomes part of the host name: `evil.example/#` would otherwise make the URL's host evil.example.
  if (!ACCOUNT_PATTERN.test(account)) {
    throw new ConnectorError("INVALID_ARGUMENT", `Snowflake task configuration: account ${JSON.stringify(account.slice(0, 100))} is not an account identifier (letters, digits, ".", "_", "-").`);
  }
  const [user, database, warehouse] = [text("user"), text("database"), text("warehouse")];
  const missing = Object.entries({ user, database, warehouse }).filter(([, v]) => !v).map(([k]) => k);
  if (missing.length > 0) throw new ConnectorError("INVALID_ARGUMENT", `Snowflake task configuration lacks ${missing.join(", ")} (user, database and warehouse are required).`);
  const raw = custom["connection_kwargs"] ?? {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ConnectorError("INVALID_ARGUMENT", "Snowflake task configuration: connection_kwargs must be an object.");
  }
  const connectionKwargs = raw as JsonObject;
  const auth = AUTH_KWARGS.filter((key) => key in connectionKwargs && !(key === "authenticator" && /^snowflake_jwt$/i.test(String(connectionKwargs[key]))));
  if (auth.length > 0) {
    // Named, never echoed: these hold credentials.
    throw new ConnectorError(
      "INVALID_ARGUMENT",
      `Snowflake task configuration: connection_kwargs ${auth.join(", ")} cannot be used; this connector calls the Snowflake SQL API, which takes key-pair authentication (secret snowflake_private_key). Credentials do not belong in task configuration.`,
    );
  }
  return { account, user, database, warehouse, schema: text("schema") || "PUBLIC", connectionKwargs };
}

/**
 * A database, schema, warehouse or role name as the SQL API takes it. Its body fields are case-sensitive (the
 * resolved name), while the Python connector's login resolves them as SQL does: an unquoted identifier is upper-cased,
 * a double-quoted one is taken literally. So `compute_wh` becomes `COMPUTE_WH`, `"My WH"` becomes `My WH`, and
 * anything else (already not a plain identifier) is sent unchanged.
 */
function sqlApiName(name: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_$]*$/.test(name)) return name.toUpperCase();
  const quoted = /^"((?:[^"]|"")+)"$/.exec(name);
  return quoted ? quoted[1]!.replaceAll('""', '"') : name;
}

function keptKwargs(kwargs: JsonObject): JsonObject {
  const kept: JsonObject = {};
  for (const key of KEPT_KWARGS) if (kwargs[key] !== undefined && kwargs[key] !== null) kept[key] = kwargs[key];
  return kept;
}

/** `session_parameters` (and `timezone`) of the connection kwargs, as the SQL API's `parameters`. */
function sessionParameters(kwargs: JsonObject): Pick<SubmitBody, "parameters"> {
  const parameters: Record<string, unknown> = {};
  const session = kwargs["session_parameters"];
  if (session && typeof session === "object" && !Array.isArray(session)) Object.assign(parameters, session);
  if (typeof kwargs["timezone"] === "string") parameters["timezone"] = kwargs["timezone"];
  return Object.keys(parameters).length > 0 ? { parameters } : {};
}

/**
 * `https://<account>.snowflakecomputing.com`, or what the Python connector's `host`/`port`/`protocol` kwargs say
 * (the way to reach a private-link host or a local fake).
 */
function baseUrlOf(account: string, kwargs: JsonObject, apiEndpoint?: string): string {
  const named = typeof kwargs["host"] === "string" && kwargs["host"];
  if (!named && apiEndpoint) return new URL(apiEndpoint).origin;
  const host = named || `${account.replace(/\.snowflakecomputing\.com$/i, "")}.snowflakecomputing.com`;
  const protocol = kwargs["protocol"] === "http" ? "http" : "https";
  const port = kwargs["port"] === undefined || kwargs["port"] === null ? "" : `:${String(kwargs["port"])}`;
  let url: URL;
  try {
    url = new URL(`${protocol}://${host}${port}`);
  } catch (cause) {
    throw new ConnectorError("INVALID_ARGUMENT", `Snowflake task configuration: "${protocol}://${host}${port}" is not a valid address (account, host, port).`, { cause });
  }
  return url.origin;
}

function credentialsOf(account: string, user: string, secrets: CallContext["secrets"]): KeyPairCredentials {
  const privateKey = secrets["snowflake_private_key"];
  if (!privateKey) {
    throw new ConnectorError(
      "FAILED_PRECONDITION",
      "The Snowflake task has no secret snowflake_private_key: the SQL API needs key-pair authentication (declare the secret on the task, or give the connector service snowflake_private_key as a deployment secret).",
    );
  }
  return { account, user, privateKey, passphrase: secrets["snowflake_private_key_passphrase"] || undefined };
}

// A fixed namespace for this connector's request ids (RFC 4122 name-based, SHA-1).
const REQUEST_ID_NAMESPACE = Buffer.from("5b3c2f0e8d6a4e1b9f7a2c4d6e8f0a1b", "hex");

/**
 * The SQL API `requestId` of one task attempt: a UUID v5 of its `attemptIdentity`. A CreateTask repeated for the same attempt resubmits the same request id, and Snowflake does not run
 * the statement again; a new attempt gets a new id. Without any identity (never from the backend): a random UUID.
 */
function requestIdOf(identity: string | undefined): string {
  if (identity === undefined) return randomUUID();
  const hash = createHash("sha1").update(REQUEST_ID_NAMESPACE).update(identity).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The statement's state from a GET reply. The SQL API's answer is its HTTP status: 200 done, 202 still in progress
 * (code 333334, whatever the execution status: queued, resuming warehouse, blocked, running…), 408 timed out and
 * cancelled by Snowflake, 422 failed (code, SQL state, message; SQL state class XX, an internal error such as
 * FAILED_WITH_INCIDENT, is retryable). 400/401/403/404 mean this statement cannot be polled: failed. Anything
 * else is not understood and keeps the task running with a message rather than failing it.
 */
function resourceOf(reply: ApiReply, meta: SnowflakeJobMetadata): Resource {
  const { status, body } = reply;
  switch (status) {
    case 200: {
      const outputs = meta.has_output
        ? {
            // The Python plugin's URI: its DataFrame decoder reads the result back by query id.
            results: new DataFrame(`snowflake://${meta.user}/${meta.account}/${meta.warehouse}/${meta.database}/${meta.schema}/${meta.query_id}`),
          }
        : undefined;
      return { phase: Phase.SUCCEEDED, message: successMessage(body), ...(outputs ? { outputs } : {}) };
    }
    case 202:
      return { phase: Phase.RUNNING, message: body.message ?? "Statement execution in progress." };
    case 408:
      return { phase: Phase.FAILED, message: `Statement timed out and was cancelled by Snowflake: ${vendorText(reply)}` };
    case 422:
      return { phase: body.sqlState?.startsWith("XX") ? Phase.RETRYABLE_FAILED : Phase.FAILED, message: vendorText(reply) };
    case 400:
    case 401:
    case 403:
    case 404:
      return { phase: Phase.FAILED, message: `Snowflake cannot report statement ${meta.query_id} (HTTP ${status}): ${vendorText(reply)}` };
    default:
      return { phase: Phase.RUNNING, message: `Snowflake answered HTTP ${status} (not understood); will check again. ${vendorText(reply)}`.trim() };
  }
}

function successMessage(body: ApiReply["body"]): string {
  const rows = body.resultSetMetaData?.numRows;
  const stats = body.stats;
  const changed = stats ? (stats.numRowsInserted ?? 0) + (stats.numRowsUpdated ?? 0) + (stats.numRowsDeleted ?? 0) : undefined;
  const detail = changed !== undefined && changed > 0 ? `${changed} row(s) changed` : rows !== undefined ? `${rows} row(s)` : "";
  return [body.message ?? "Statement executed successfully.", detail].filter(Boolean).join(" ");
}

/** Snowflake's error text: message, code and SQL state (never request data). */
function vendorText({ body }: ApiReply): string {
  const tags = [body.code ? `code ${body.code}` : "", body.sqlState ? `SQL state ${body.sqlState}` : ""].filter(Boolean).join(", ");
  return `${body.message ?? "(no message)"}${tags ? ` (${tags})` : ""}`;
}

function submitError(reply: ApiReply): ConnectorError {
  const text = `Snowflake refused the statement (HTTP ${reply.status}): ${vendorText(reply)}`;
  switch (reply.status) {
    case 400:
    case 415:
    case 422:
      return new ConnectorError("INVALID_ARGUMENT", text);
    case 401:
    case 403:
    case 404:
      // Key not registered for the user, SQL API not allowed, wrong account: fix the setup, not the request.
      return new ConnectorError("FAILED_PRECONDITION", text);
    default:
      return new ConnectorError("UNAVAILABLE", text);
  }
}

/** A transport failure (after retries) as a caller-safe UNAVAILABLE ConnectorError; a cancelled call stays a cancellation. */
function transportError(error: unknown, signal: AbortSignal, during: string, setting: string): ConnectorError {
  if (signal.aborted) return ConnectorError.fromAbort(signal, during);
  // Refused at connect time: the host name resolved to an address the URL policy forbids.
  if (error instanceof UrlRefusedError) return new ConnectorError("INVALID_ARGUMENT", `${setting}: ${error.message}`, { cause: error });
  if (error instanceof ConnectorError) return error;
  return new ConnectorError("UNAVAILABLE", `Snowflake is unavailable ${during}: ${describeFault(error)}.`, { cause: error });
}

/**
 * The query's page in Snowsight, as the Python plugin builds it (`<org>-<account>` → `app.snowflake.com/<org>/<account>`),
 * and for an account locator with a region (`xy12345.us-east-1`) `app.snowflake.com/<region>/<locator>`.
 */
function queryLink(account: string, queryId: string): TaskLogInit {
  const dot = account.indexOf(".");
  const dash = account.indexOf("-");
  const base = dot > 0 ? `${account.slice(dot + 1)}/${account.slice(0, dot)}` : dash > 0 ? `${account.slice(0, dash)}/${account.slice(dash + 1)}` : account;
  return {
    name: "Snowflake Dashboard",
    uri: `https://app.snowflake.com/${base}/#/compute/history/queries/${queryId}/detail`,
    ready: true,
    linkType: TaskLog_LinkType.DASHBOARD,
  };
}
