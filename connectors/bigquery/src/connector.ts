import type { BigQuery, JobMetadata } from "@google-cloud/bigquery";
import type { JsonObject } from "@bufbuild/protobuf";
import {
  AsyncConnector,
  ConnectorError,
  DataFrame,
  Phase,
  ResourceMeta,
  types,
  type CreateRequest,
  type Resource,
  type ResourceRequest,
  type TaskLogInit,
} from "flyte-connectors";
import { pollTolerantly, type RetryOptions } from "flyte-connectors/http";
import { TaskLog_LinkType } from "@flyte-connectors/flyteidl2/flyteidl2/core/execution_pb.js";
import { callBigQuery, httpStatus, type CallOptions } from "./api-errors.js";
import { clientFor, secretTexts } from "./clients.js";
import { jobIdFor } from "./job-id.js";
import { queryParameters } from "./query-parameters.js";

/**
 * Identity of a BigQuery job, field for field the Python connector's `BigQueryMetadata`, so a job started by either
 * connector is polled and cancelled by the other. `location` may be null in metas written by Python (no Location).
 */
export class BigQueryMetadata extends ResourceMeta.define({
  job_id: "string",
  project: "string",
  location: "string?",
  // Optional: flytekit's BigQuery connector (Flyte 1) writes metas without it.
  user_agent: "string?",
}) {
  /**
   * The meta comes back from the caller with every get and delete: values BigQuery could not have given create (a
   * job id outside its alphabet, a project or location that would change the request's path, a user agent that is
   * no header value) are the caller's INVALID_ARGUMENT, found before any request is made.
   */
  override validate(): void {
    if (!/^[A-Za-z0-9_-]{1,1024}$/.test(this.job_id)) throw new Error(`job_id ${JSON.stringify(this.job_id.slice(0, 100))} is not a BigQuery job id`);
    // Project ids, also domain-scoped ones (`example.com:my-project`).
    if (!/^[A-Za-z0-9.:_-]{1,128}$/.test(this.project)) throw new Error(`project ${JSON.stringify(this.project.slice(0, 100))} is not a Google Cloud project id`);
    if (this.location != null && !/^[A-Za-z0-9-]{0,64}$/.test(this.location)) throw new Error(`location ${JSON.stringify(this.location.slice(0, 100))} is not a BigQuery location`);
    if (/[^\u0020-\u007e]/.test(this.user_agent ?? "")) throw new Error("user_agent is not a printable ASCII header value");
  }
}

/** Options of {@link BigQueryConnector}. */
export interface BigQueryConnectorOptions {
  /**
   * Root URL of the BigQuery API, e.g. `http://127.0.0.1:9050` for an emulator or a test fake (`/bigquery/v2` is
   * appended). Set by the operator, never by a task: a task-chosen endpoint would receive the connector's own
   * credentials. The `BIGQUERY_EMULATOR_HOST` environment variable, when set, wins over this option (the client
   * library's rule; it is used as the full base URL, nothing appended). Default: `https://bigquery.googleapis.com`.
   */
  apiEndpoint?: string;
  /**
   * Retries of transient faults (408/429/5xx, rate-limit and backend-error reasons, broken connections) within one
   * call. Default: the core's defaults (3 retries, first back-off up to 250 ms, doubling, capped at 8 s).
   */
  retry?: Omit<RetryOptions, "signal" | "shouldRetry">;
  /** Deadline of one HTTP attempt in milliseconds (the call's own deadline usually ends it first). Default: 30 000. */
  requestTimeout?: number;
}

/** Job error reasons BigQuery says to retry the whole job for: reported as RETRYABLE_FAILED, so Flyte retries. */
const RETRYABLE_JOB_REASONS = new Set(["backendError", "internalError", "jobBackendError", "jobInternalError", "rateLimitExceeded"]);

/** The user agent of calls for a job whose meta names none (a meta written by flytekit's connector). */
const DEFAULT_USER_AGENT = "Flyte";

/** Keys of `custom` that configure the connector; every other key is a `JobConfigurationQuery` field. */
const CONNECTOR_KEYS = new Set(["ProjectID", "Location", "Domain", "secrets", "configs"]);

/** The "BigQuery Console" link of a job, in the Python connector's URL format. */
export function consoleLink(meta: { project: string; location?: string | null; job_id: string }): TaskLogInit {
  const location = meta.location ?? "";
  const uri = `https://console.cloud.google.com/bigquery?project=${encodeURIComponent(meta.project)}&j=bq:${encodeURIComponent(location)}:${encodeURIComponent(meta.job_id)}&page=queryresults`;
  return { name: "BigQuery Console", uri, ready: true, linkType: TaskLog_LinkType.DASHBOARD };
}

function optionalString(custom: JsonObject, key: string): string | undefined {
  const value = custom[key];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new ConnectorError("INVALID_ARGUMENT", `custom.${key} must be a string.`);
  return value;
}

/**
 * Runs BigQuery query jobs (task type `bigquery_query_job_task`, as flyte-sdk's `flyteplugins.bigquery`): create
 * inserts a job whose id derives from the task attempt, get maps the job's state to a phase and returns the
 * destination table as the `results` DataFrame, delete cancels the job.
 */
export class BigQueryConnector extends AsyncConnector<BigQueryMetadata> {
  readonly name = "Bigquery Connector";
  readonly taskTypeName = "bigquery_query_job_task";
  readonly metadataType = BigQueryMetadata;
  override readonly outputTypes = { results: types.dataframe() };
  readonly #options: BigQueryConnectorOptions;

  constructor(options: BigQueryConnectorOptions = {}) {
    super();
    this.#options = { ...options };
  }

  #client(project: string, userAgent: string, secrets: Readonly<Record<string, string>>): BigQuery {
    return clientFor({ project, userAgent, secrets, apiEndpoint: this.#options.apiEndpoint, timeout: this.#options.requestTimeout ?? 30_000 });
  }

  #callOptions(signal: AbortSignal, secrets: Readonly<Record<string, string>>): CallOptions {
    return { signal, attemptTimeout: this.#options.requestTimeout ?? 30_000, retry: { ...this.#options.retry }, secrets: secretTexts(secrets) };
  }

  async create({ taskTemplate, custom, inputs, secrets, signal, taskExecutionMetadata }: CreateRequest): Promise<BigQueryMetadata> {
    const project = optionalString(custom, "ProjectID");
    if (!project) throw new ConnectorError("INVALID_ARGUMENT", "The task's custom config has no ProjectID.");
    const location = optionalString(custom, "Location");
    const statement = taskTemplate.target.case === "sql" ? taskTemplate.target.value.statement : "";
    if (!statement.trim()) throw new ConnectorError("INVALID_ARGUMENT", "The task template has no SQL statement (template.sql.statement).");
    const domain = custom["Domain"];
    const userAgent = `Flyte/${taskTemplate.metadata?.runtime?.version ?? ""} (GPN:Union;${typeof domain === "string" ? domain : ""})`;

    const query: Record<string, unknown> = { useLegacySql: false };
    for (const [key, value] of Object.entries(custom)) if (!CONNECTOR_KEYS.has(key)) query[key] = value;
    query["query"] = statement;
    const parameters = queryParameters(taskTemplate, inputs);
    const fromConfig = Array.isArray(query["queryParameters"]) ? (query["queryParameters"] as Array<{ name?: unknown }>) : [];
    if (parameters.length > 0) {
      const byName = new Map<unknown, unknown>();
      for (const p of [...fromConfig, ...parameters]) byName.set(p.name, p); // inputs win over the config's parameters
      query["queryParameters"] = [...byName.values()];
      query["parameterMode"] = "NAMED";
    } else if (fromConfig.length > 0 && query["parameterMode"] === undefined) {
      // Parameters from the config alone: BigQuery needs the mode, which Python's to_api_repr may leave out.
      query["parameterMode"] = fromConfig.every((p) => typeof p.name === "string" && p.name) ? "NAMED" : "POSITIONAL";
    }

    const jobId = jobIdFor(taskExecutionMetadata);
    const client = this.#client(project, userAgent, secrets);
    const options = this.#callOptions(signal, secrets);
    const jobOptions = location ? { location } : {};
    let job: JobMetadata;
    try {
      job = await callBigQuery("jobs.insert", options, () => insertJob(client, { jobId, ...jobOptions, configuration: { query } }), (e) => httpStatus(e) === 409);
    } catch (error) {
      if (httpStatus(error) !== 409) throw error;
      // The job exists: this attempt created it before (a retried insert, or a repeated CreateTask). Adopt it, unless
      // it runs another query (an id reused by a different task: never report someone else's results).
      job = await callBigQuery("jobs.get", options, async () => (await client.job(jobId, jobOptions).getMetadata())[0] as JobMetadata);
      if (job.configuration?.query?.query !== statement) {
        throw new ConnectorError("ALREADY_EXISTS", `BigQuery job ${jobId} already exists in project ${project} with a different query.`);
      }
    }
    return new BigQueryMetadata({ job_id: jobId, project, location: job.jobReference?.location ?? location ?? null, user_agent: userAgent });
  }

  async get({ resourceMeta: meta, secrets, signal }: ResourceRequest<BigQueryMetadata>): Promise<Resource> {
    const logLinks = [consoleLink(meta)];
    const resource = await pollTolerantly(`bigquery:${meta.project}:${meta.job_id}`, async (pollSignal) => {
      const client = this.#client(meta.project, meta.user_agent ?? DEFAULT_USER_AGENT, secrets);
      let job: JobMetadata;
      try {
        job = await callBigQuery("jobs.get", this.#callOptions(pollSignal, secrets), async () => (await client.job(meta.job_id, meta.location ? { location: meta.location } : {}).getMetadata())[0] as JobMetadata, (e) => httpStatus(e) === 404);
      } catch (error) {
        if (httpStatus(error) !== 404) throw error;
        return { phase: Phase.FAILED, message: `BigQuery job ${meta.job_id} was not found in project ${meta.project}${meta.location ? ` (location ${meta.location})` : ""}.`, logLinks };
      }
      return { ...resourceOf(job), logLinks };
    }, { signal });
    // The console link stays shown while the status is unavailable.
    return { ...resource, logLinks: resource.logLinks ?? logLinks };
  }

  async delete({ resourceMeta: meta, secrets, signal }: ResourceRequest<BigQueryMetadata>): Promise<void> {
    const client = this.#client(meta.project, meta.user_agent ?? DEFAULT_USER_AGENT, secrets);
    try {
      // jobs.cancel answers 200 for a job that is already done; 404 means there is nothing to cancel.
      await callBigQuery("jobs.cancel", this.#callOptions(signal, secrets), () => client.job(meta.job_id, meta.location ? { location: meta.location } : {}).cancel(), (e) => httpStatus(e) === 404);
    } catch (error) {
      if (httpStatus(error) !== 404) throw error;
    }
  }
}

/**
 * jobs.insert through the client library. Its promise form drops the job when the reply carries `status.errors` (a
 * job that failed at once); the callback form hands over both, and such a job is returned so get reports it FAILED.
 */
function insertJob(client: BigQuery, options: { jobId: string; location?: string; configuration: JsonObject | Record<string, unknown> }): Promise<JobMetadata> {
  return new Promise((resolve, reject) => {
    client.createJob(options as never, (error, job, response) => {
      const metadata = (response ?? job?.metadata) as JobMetadata | undefined;
      if (metadata?.jobReference?.jobId) resolve(metadata);
      else reject(error ?? new Error("jobs.insert answered without a job"));
    });
  });
}

/** Phase, message and outputs of a job resource. */
export function resourceOf(job: JobMetadata): Resource {
  const status = job.status ?? {};
  const state = status.state ?? "";
  if (status.errorResult) {
    const { reason, message } = status.errorResult;
    const retryable = RETRYABLE_JOB_REASONS.has(reason ?? "");
    return { phase: retryable ? Phase.RETRYABLE_FAILED : Phase.FAILED, message: `${reason ? `${reason}: ` : ""}${message ?? "the BigQuery job failed"}` };
  }
  switch (state) {
    case "PENDING":
      return { phase: Phase.QUEUED, message: state };
    case "RUNNING":
      return { phase: Phase.RUNNING, message: state };
    case "DONE": {
      const table = job.configuration?.query?.destinationTable;
      if (table?.projectId && table.datasetId && table.tableId) {
        return { phase: Phase.SUCCEEDED, message: state, outputs: { results: new DataFrame(`bq://${table.projectId}:${table.datasetId}.${table.tableId}`) } };
      }
      return { phase: Phase.SUCCEEDED, message: state };
    }
    default:
      // A state this connector does not know (BigQuery documents PENDING, RUNNING, DONE): not terminal, keep polling.
      return { phase: Phase.RUNNING, message: `BigQuery job state ${JSON.stringify(state)} is not recognized; still polling.` };
  }
}
