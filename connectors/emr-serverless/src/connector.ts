import { randomUUID } from "node:crypto";
import {
  CancelJobRunCommand,
  EMRServerlessClient,
  GetDashboardForJobRunCommand,
  GetJobRunCommand,
  StartJobRunCommand,
  paginateListApplications,
  type EMRServerlessClientConfig,
  type StartJobRunRequest,
} from "@aws-sdk/client-emr-serverless";
import { AsyncConnector, ConnectorError, Phase, ResourceMeta, attemptToken, type CreateRequest, type Resource, type ResourceRequest, type TaskLogInit } from "flyte-connectors";
import { pollTolerantly } from "flyte-connectors/http";
import { emrCallError, isAwsError } from "./aws-errors.js";
import { isApplicationId, isRegion, isScriptMode, parseConfig, pendingJobRunRequest, startJobRunRequest } from "./config.js";
import { FINAL_STATES, jobRunPhase } from "./run-state.js";

/**
 * Identity of a job run: the fields, in the order, of the Python connector's `EMRServerlessJobMetadata`, so either
 * connector polls or cancels a run the other started. `pending_job_request` is set only by the Python connector (a
 * run it deferred until the application started); this connector submits such a run when it first polls it.
 */
export class EmrServerlessJobMetadata extends ResourceMeta.define({
  application_id: "string",
  job_run_id: "string",
  region: "string",
  created_application: "boolean?",
  is_script_mode: "boolean?",
  pending_job_request: "object?",
}) {
  /** Ids and region end up in URLs: anything but plain ids is the caller's INVALID_ARGUMENT, found before any request. */
  override validate(): void {
    if (!isApplicationId(this.application_id)) throw new Error(`application_id ${JSON.stringify(this.application_id.slice(0, 100))} is not an EMR Serverless application id`);
    if (this.job_run_id !== "" && !isApplicationId(this.job_run_id)) throw new Error(`job_run_id ${JSON.stringify(this.job_run_id.slice(0, 100))} is not an EMR Serverless job run id`);
    if (this.job_run_id === "" && !this.pending_job_request) throw new Error("job_run_id is empty and there is no pending_job_request");
    if (!isRegion(this.region)) throw new Error(`region ${JSON.stringify(this.region.slice(0, 100))} is not an AWS region`);
  }
}

/** Environment variable with the s3:// URI of the entry point that runs a Python task's code (Pythonic mode). */
export const EMR_ENTRYPOINT_ENV = "FLYTE_EMR_ENTRYPOINT_URI";

type Credentials = EMRServerlessClientConfig["credentials"];

export interface EmrServerlessConnectorOptions {
  /** Region for tasks without `custom.region`. Default: the AWS SDK's (AWS_REGION, then the shared config file). */
  region?: string;
  /** Endpoint URL of the EMR Serverless API, for VPC endpoints or a local fake. Default: AWS's regional endpoint. */
  endpoint?: string;
  /**
   * Credentials, or a provider of them. Default: the AWS SDK's default chain (environment, shared files, SSO, web
   * identity / IRSA, ECS container, EC2 instance metadata): the connector pod's own identity, as with boto3.
   */
  credentials?: Credentials;
  /** Attempts of each API call, including the first; throttling, 5xx and broken connections are retried with the SDK's back-off. Default: 3. */
  maxAttempts?: number;
  /** Deadline of one HTTP attempt in milliseconds. Default: 30 000. */
  requestTimeout?: number;
  /**
   * Longest a status poll (`get`) waits for EMR Serverless, in milliseconds, before answering the last known phase;
   * keep it below the backend's per-call timeout (10 s by default). Default: `pollTolerantly`'s (8000).
   */
  pollBudget?: number;
  /** Add a link to the run's Spark UI (GetDashboardForJobRun, one more call per poll once the run started). Default: true. */
  dashboardLink?: boolean;
  /**
   * The s3:// URI of the entry point script that runs a Python task's container args on EMR Serverless (Pythonic
   * mode: no job driver in the task). flytekit's connector uploads its own; point this at that object.
   * Default: `$FLYTE_EMR_ENTRYPOINT_URI`; without one, Pythonic tasks fail with FAILED_PRECONDITION.
   */
  pythonicEntryPoint?: string;
}

/** Most cached clients (one per region); the least recently used is dropped first. */
const MAX_CLIENTS = 32;
// States in which a run has (or had) a Spark driver, so a dashboard exists.
const DASHBOARD_STATES = new Set(["RUNNING", "CANCELLING", "SUCCESS", "FAILED", "CANCELLED"]);

/**
 * Runs job runs on Amazon EMR Serverless applications: `create` calls StartJobRun (its client token derived from the
 * task attempt, so a retried create finds the first run), `get` polls GetJobRun, `delete` calls CancelJobRun.
 * Task type `emr_serverless`, config as flytekit's `EMRServerless` task config writes it.
 */
export class EmrServerlessConnector extends AsyncConnector<EmrServerlessJobMetadata> {
  readonly name = "EMR Serverless Connector";
  readonly taskTypeName = "emr_serverless";
  readonly metadataType = EmrServerlessJobMetadata;
  readonly #options: EmrServerlessConnectorOptions;
  readonly #clients = new Map<string, EMRServerlessClient>();

  constructor(options: EmrServerlessConnectorOptions = {}) {
    super();
    if (options.region !== undefined && !isRegion(options.region)) throw new TypeError(`EmrServerlessConnector: region ${JSON.stringify(options.region)} is not an AWS region.`);
    this.#options = { ...options };
  }

  async create(request: CreateRequest): Promise<EmrServerlessJobMetadata> {
    const { custom, taskTemplate, signal } = request;
    const parsed = parseConfig(custom);
    const client = this.#client(parsed.region);
    const region = await this.#region(client, parsed.region, signal);
    const applicationId = isApplicationId(parsed.applicationId) ? parsed.applicationId : await this.#applicationNamed(client, parsed.applicationId, region, signal);
    const config = { ...parsed, applicationId };
    const container = taskTemplate.target.case === "container" ? taskTemplate.target.value : undefined;
    const input = startJobRunRequest(config, {
      containerArgs: container?.args ?? [],
      pythonicEntryPoint: this.#options.pythonicEntryPoint ?? (process.env[EMR_ENTRYPOINT_ENV] || undefined),
      name: taskTemplate.id?.name || undefined,
      // Only a local run without any execution identity gets a random token (nothing can repeat its create).
      clientToken: attemptToken(request) ?? `flyte-${randomUUID()}`,
      taskExecutionMetadata: request.taskExecutionMetadata,
    });
    const jobRunId = await this.#startJobRun(client, input, signal);
    return new EmrServerlessJobMetadata({
      application_id: applicationId,
      job_run_id: jobRunId,
      region,
      created_application: false,
      is_script_mode: isScriptMode(config),
      pending_job_request: null,
    });
  }

  async get({ resourceMeta, signal }: ResourceRequest<EmrServerlessJobMetadata>): Promise<Resource> {
    const { application_id: applicationId, region } = resourceMeta;
    const client = this.#client(region);
    const key = `emr-serverless:${region}:${applicationId}:${resourceMeta.job_run_id || JSON.stringify(resourceMeta.pending_job_request)}`;
    const budget = this.#options.pollBudget;
    return pollTolerantly(
      key,
      async (pollSignal) => {
        const jobRunId = resourceMeta.job_run_id || (await this.#submitPending(client, resourceMeta, pollSignal));
        let jobRun;
        try {
          ({ jobRun } = await client.send(new GetJobRunCommand({ applicationId, jobRunId }), { abortSignal: pollSignal }));
        } catch (error) {
          if (isAwsError(error, "ResourceNotFoundException") && !pollSignal.aborted) {
            return { phase: Phase.FAILED, message: `EMR Serverless job run ${jobRunId} of application ${applicationId} in ${region} does not exist.` };
          }
          throw await this.#error("GetJobRun", `job run ${jobRunId} of application ${applicationId}`, error, client, pollSignal);
        }
        const state = jobRun?.state;
        const { phase, message } = jobRunPhase(jobRunId, state, jobRun?.stateDetails);
        const logLinks: TaskLogInit[] = [{ name: "EMR Serverless Console", uri: consoleUrl(region, applicationId, jobRunId) }];
        const dashboard = state && DASHBOARD_STATES.has(state) ? await this.#dashboardUrl(client, applicationId, jobRunId, pollSignal) : undefined;
        // The application UI of the run's engine: Spark's web UI or history server, or Hive's Tez UI.
        if (dashboard) logLinks.push({ name: jobRun?.jobDriver?.hive ? "Tez UI" : "Spark UI", uri: dashboard });
        return {
          phase,
          message,
          logLinks,
          // Script and Hive jobs write no outputs.pb (only the Pythonic entry point does): an empty output map lets the
          // backend write it. Pythonic tasks leave it to the task's own code.
          ...(phase === Phase.SUCCEEDED && resourceMeta.is_script_mode ? { outputs: {} } : {}),
        };
      },
      { signal, ...(budget !== undefined ? { budget } : {}) },
    );
  }

  async delete({ resourceMeta, signal }: ResourceRequest<EmrServerlessJobMetadata>): Promise<void> {
    const { application_id: applicationId, region } = resourceMeta;
    const client = this.#client(region);
    // A run the Python connector deferred may have been submitted by a poll since: its client token finds it (or starts
    // it, as the Python connector does, so that it can be cancelled rather than left to start later).
    const jobRunId = resourceMeta.job_run_id || (await this.#submitPending(client, resourceMeta, signal));
    const target = `job run ${jobRunId} of application ${applicationId}`;
    try {
      await client.send(new CancelJobRunCommand({ applicationId, jobRunId }), { abortSignal: signal });
    } catch (error) {
      if (signal.aborted) throw await this.#error("CancelJobRun", target, error, client, signal);
      if (isAwsError(error, "ResourceNotFoundException")) return; // deleted, or never there: nothing to cancel
      if (isAwsError(error, "ValidationException", "ConflictException")) {
        // EMR refuses to cancel a run that has already ended; that is the outcome delete wants.
        const state = await this.#stateOf(client, applicationId, jobRunId, signal);
        if (state === undefined || FINAL_STATES.has(state) || state === "CANCELLING") return;
      }
      throw await this.#error("CancelJobRun", target, error, client, signal);
    }
  }

  /** The run's state, or undefined when it no longer exists. */
  async #stateOf(client: EMRServerlessClient, applicationId: string, jobRunId: string, signal: AbortSignal): Promise<string | undefined> {
    try {
      return (await client.send(new GetJobRunCommand({ applicationId, jobRunId }), { abortSignal: signal })).jobRun?.state;
    } catch (error) {
      if (isAwsError(error, "ResourceNotFoundException") && !signal.aborted) return undefined;
      throw await this.#error("GetJobRun", `job run ${jobRunId} of application ${applicationId}`, error, client, signal);
    }
  }

  async #startJobRun(client: EMRServerlessClient, input: StartJobRunRequest, signal: AbortSignal): Promise<string> {
    const target = `application ${input.applicationId}`;
    let jobRunId: string | undefined;
    try {
      ({ jobRunId } = await client.send(new StartJobRunCommand(input), { abortSignal: signal }));
    } catch (error) {
      if (isAwsError(error, "ConflictException") && !signal.aborted) {
        throw new ConnectorError(
          "ALREADY_EXISTS",
          `EMR Serverless StartJobRun for ${target} failed: a job run was already started for this task attempt (client token) with a different request.`,
          { cause: error },
        );
      }
      throw await this.#error("StartJobRun", target, error, client, signal);
    }
    if (!jobRunId || !isApplicationId(jobRunId)) throw new ConnectorError("INTERNAL", `EMR Serverless StartJobRun for ${target} answered without a valid jobRunId.`);
    return jobRunId;
  }

  async #submitPending(client: EMRServerlessClient, meta: EmrServerlessJobMetadata, signal: AbortSignal): Promise<string> {
    return this.#startJobRun(client, pendingJobRunRequest(meta.application_id, meta.pending_job_request!), signal);
  }

  /** The id of the usable (created, started or stopped) application named `name`, as flytekit's connector finds it. */
  async #applicationNamed(client: EMRServerlessClient, name: string, region: string, signal: AbortSignal): Promise<string> {
    try {
      for await (const page of paginateListApplications({ client, pageSize: 50 }, { states: ["CREATED", "STARTED", "STOPPED"] }, { abortSignal: signal })) {
        const match = page.applications?.find((application) => application.name === name && application.id && isApplicationId(application.id));
        if (match) return match.id!;
      }
    } catch (error) {
      throw await this.#error("ListApplications", `application name ${JSON.stringify(name)}`, error, client, signal);
    }
    throw new ConnectorError("NOT_FOUND", `custom.application_id ${JSON.stringify(name)} is neither an application id nor the name of a created, started or stopped EMR Serverless application in ${region}.`);
  }

  /** A pre-signed Spark UI URL, or undefined when EMR gives none (no permission, not available yet): a link is optional. */
  async #dashboardUrl(client: EMRServerlessClient, applicationId: string, jobRunId: string, signal: AbortSignal): Promise<string | undefined> {
    if (this.#options.dashboardLink === false) return undefined;
    try {
      const { url } = await client.send(new GetDashboardForJobRunCommand({ applicationId, jobRunId }), { abortSignal: signal });
      return url && /^https?:\/\//.test(url) ? url : undefined;
    } catch (error) {
      if (signal.aborted) throw error;
      return undefined;
    }
  }

  /** The region a client sends to: the task's, else the SDK's default; FAILED_PRECONDITION when there is none. */
  async #region(client: EMRServerlessClient, taskRegion: string | undefined, signal: AbortSignal): Promise<string> {
    if (taskRegion) return taskRegion;
    let region: string | undefined;
    try {
      region = await client.config.region();
    } catch (error) {
      throw emrCallError("StartJobRun", "the task", error, signal, []);
    }
    if (!region || !isRegion(region)) {
      throw new ConnectorError("FAILED_PRECONDITION", `EMR Serverless needs an AWS region: set custom.region on the task, or AWS_REGION for the connector${region ? ` (${JSON.stringify(region)} is not one)` : ""}.`);
    }
    return region;
  }

  /** The caller-safe error, with the credentials in use kept out of its message. */
  async #error(operation: string, target: string, error: unknown, client: EMRServerlessClient, signal: AbortSignal): Promise<ConnectorError> {
    return emrCallError(operation, target, error, signal, await credentialTexts(client));
  }

  /** One client per region, created on first use: each keeps its credentials cache and connection pool. */
  #client(region: string | undefined): EMRServerlessClient {
    const effective = region ?? this.#options.region;
    const key = effective ?? "";
    let client = this.#clients.get(key);
    if (client) {
      this.#clients.delete(key);
    } else {
      const { endpoint, credentials, maxAttempts = 3, requestTimeout = 30_000 } = this.#options;
      client = new EMRServerlessClient({
        ...(effective ? { region: effective } : {}),
        ...(endpoint ? { endpoint } : {}),
        ...(credentials ? { credentials } : {}),
        maxAttempts,
        requestHandler: { requestTimeout, connectionTimeout: Math.min(requestTimeout, 10_000) },
      });
      if (this.#clients.size >= MAX_CLIENTS) this.#clients.delete(this.#clients.keys().next().value as string);
    }
    this.#clients.set(key, client);
    return client;
  }
}

/** The EMR console page of a job run, as flytekit's connector links it. */
export function consoleUrl(region: string, applicationId: string, jobRunId: string): string {
  return `https://${region}.console.aws.amazon.com/emr/home?region=${region}#/serverless/${applicationId}/jobs/${jobRunId}`;
}

/** The parts of the client's credentials that must never appear in a message (when they can be had without a new lookup). */
async function credentialTexts(client: EMRServerlessClient): Promise<string[]> {
  try {
    const provider = client.config.credentials as (() => Promise<{ accessKeyId?: string; secretAccessKey?: string; sessionToken?: string }>) | undefined;
    // Bounded: after a failed lookup the default chain may look again (instance metadata); an error must not wait on it.
    const identity = provider ? await Promise.race([provider(), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1000).unref())]) : undefined;
    return [identity?.accessKeyId, identity?.secretAccessKey, identity?.sessionToken].filter((text): text is string => typeof text === "string" && text.length > 0);
  } catch {
    return [];
  }
}
