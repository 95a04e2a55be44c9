import { CreateEndpointCommand, CreateEndpointInput$, DeleteEndpointCommand, DescribeEndpointCommand, type DescribeEndpointCommandOutput } from "@aws-sdk/client-sagemaker";
import { AsyncConnector, ConnectorError, Phase, ResourceMeta, types, type CreateRequest, type Resource, type ResourceRequest } from "flyte-connectors";
import { pollTolerantly } from "flyte-connectors/http";
import { AwsClients, awsCallError, awsErrorOf, type AwsClientOptions } from "./aws.js";
import { toSdkInput } from "./methods.js";
import { fromStruct, inputRepr, renderCall, toJsonValue, type PyValue } from "./templating.js";

/** Task type of flytekit's `SageMakerEndpointTask`. */
export const SAGEMAKER_ENDPOINT_TASK_TYPE = "sagemaker-endpoint";

const ENDPOINT_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/**
 * The endpoint a task created: flytekit's `SageMakerEndpointMetadata` fields (`config`, `region`, `inputs`), as JSON.
 * `config` is the rendered CreateEndpoint config (so `EndpointName` is the final name), `region` the region the
 * endpoint is in (already resolved from a `region` input), `inputs` always null: nothing else needs them, and
 * input values do not belong in the stored meta. flytekit pickles its meta (cloudpickle), which no other language
 * can read: a meta written by flytekit's connector is not decodable here, nor ours there.
 */
export class SageMakerEndpointMetadata extends ResourceMeta.define({ config: "object", region: "string?", inputs: "object?" }) {
  override validate(): void {
    const name = this.config["EndpointName"];
    if (typeof name !== "string" || !ENDPOINT_NAME.test(name)) {
      throw new Error(`config.EndpointName ${JSON.stringify(name)?.slice(0, 80) ?? "(missing)"} is not a SageMaker endpoint name`);
    }
    if (typeof this.region !== "string" || !REGION.test(this.region)) throw new Error(`region ${JSON.stringify(this.region)?.slice(0, 40)} is not an AWS region name`);
  }

  get endpointName(): string {
    return this.config["EndpointName"] as string;
  }
}

export interface SageMakerEndpointConnectorOptions extends AwsClientOptions {
  /**
   * Whether `delete` also deletes an endpoint that is serving (InService, Updating, …). A Flyte 2 backend calls
   * DeleteTask when it garbage-collects finished tasks, not only on abort, so by default only an endpoint still
   * being created (or failed, or out of service) is deleted: the endpoint a task successfully deployed stays up.
   * flytekit's connector always deletes. Default: false.
   */
  deleteServingEndpoints?: boolean;
  /**
   * Longest a status poll (`get`) waits for SageMaker, in milliseconds, before answering the last known phase;
   * keep it below the backend's per-call timeout (10 s by default). Default: `pollTolerantly`'s (8000).
   */
  pollBudget?: number;
}

/** Endpoint statuses that mean "still on its way" (the task keeps polling). */
const IN_PROGRESS = new Set(["Creating", "Updating", "SystemUpdating", "RollingBack"]);
/** Statuses of an endpoint that serves requests: not deleted by default (see `deleteServingEndpoints`). */
const SERVING = new Set(["InService", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed"]);

/** SageMaker's answer for an endpoint that does not exist: ValidationException "Could not find endpoint …". */
function isMissingEndpoint(error: unknown): boolean {
  const aws = awsErrorOf(error);
  return !!aws && (aws.code === "ResourceNotFound" || (aws.code === "ValidationException" && /Could not find endpoint/i.test(aws.message)));
}

function consoleHost(region: string): string {
  return region.startsWith("cn-") ? "console.amazonaws.cn" : `${region}.console.aws.amazon.com`;
}

/** The SageMaker console page of an endpoint. */
export function endpointConsoleUrl(region: string, name: string): string {
  return `https://${consoleHost(region)}/sagemaker/home?region=${region}#/endpoints/${encodeURIComponent(name)}`;
}

/**
 * The CloudWatch Logs page of an endpoint's log group (`/aws/sagemaker/Endpoints/<name>`), where a container that
 * fails its health check says why. The console encodes the group name's `/` as `$252F`.
 */
export function endpointLogsUrl(region: string, name: string): string {
  const group = `/aws/sagemaker/Endpoints/${name}`.replace(/\//g, "$252F");
  return `https://${consoleHost(region)}/cloudwatch/home?region=${region}#logsV2:log-groups/log-group/${group}`;
}

/** Inputs of a task as flytekit's connector templates them (its `literal_map_string_repr`). */
export function templateInputs(request: Pick<CreateRequest, "inputs" | "taskTemplate">): Record<string, PyValue> {
  const declared = new Map((request.taskTemplate.interface?.inputs?.variables ?? []).map((v) => [v.key, v.value?.type]));
  return Object.fromEntries(Object.entries(request.inputs).map(([name, value]) => [name, inputRepr(value, declared.get(name))]));
}

/** `custom.<key>` as a string or nothing, else INVALID_ARGUMENT. */
export function optionalString(custom: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const value = custom[key];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new ConnectorError("INVALID_ARGUMENT", `custom.${key} must be a string.`);
  return value;
}

/**
 * Creates a SageMaker endpoint (task type `sagemaker-endpoint`, as flytekit's `SageMakerEndpointConnector`):
 * `create` calls CreateEndpoint with `custom.config` templated from the inputs (an endpoint that already exists,
 * e.g. from a retried create, is taken as created), `get` polls DescribeEndpoint until InService (output
 * `result = {"EndpointArn": …}`) or Failed (with SageMaker's FailureReason), `delete` calls DeleteEndpoint.
 */
export class SageMakerEndpointConnector extends AsyncConnector<SageMakerEndpointMetadata> {
  readonly name = "SageMaker Endpoint Connector";
  readonly taskTypeName = SAGEMAKER_ENDPOINT_TASK_TYPE;
  readonly metadataType = SageMakerEndpointMetadata;
  override readonly outputTypes = { result: types.struct };
  readonly #clients: AwsClients;
  readonly #options: SageMakerEndpointConnectorOptions;

  constructor(options: SageMakerEndpointConnectorOptions = {}) {
    super();
    this.#options = { ...options };
    this.#clients = new AwsClients(options);
  }

  async create(request: CreateRequest): Promise<SageMakerEndpointMetadata> {
    const { custom, secrets, signal } = request;
    const config = custom["config"];
    if (config === null || typeof config !== "object" || Array.isArray(config)) {
      throw new ConnectorError("INVALID_ARGUMENT", "custom.config must be a dict: the CreateEndpoint arguments (EndpointName, EndpointConfigName, …).");
    }
    // Struct numbers are Python floats in flytekit's endpoint connector (it does not turn them into ints).
    const rendered = renderCall({ service: "sagemaker", config: fromStruct(config, false), inputs: templateInputs(request), region: optionalString(custom, "region") });
    const input = toSdkInput(toJsonValue(rendered.config), CreateEndpointInput$) as { EndpointName: string };
    if (!ENDPOINT_NAME.test(input.EndpointName)) {
      throw new ConnectorError("INVALID_ARGUMENT", `config.EndpointName ${JSON.stringify(input.EndpointName.slice(0, 80))} is not a SageMaker endpoint name (letters, digits and hyphens, at most 63).`);
    }
    const meta = new SageMakerEndpointMetadata({ config: toJsonValue(rendered.config) as Record<string, unknown>, region: rendered.region, inputs: null });
    await this.#clients.with("sagemaker", rendered.region, secrets, async (client, redactor) => {
      try {
        await client.send(new CreateEndpointCommand(input as never), { abortSignal: signal });
      } catch (error) {
        const aws = awsErrorOf(error);
        // A second create of the same endpoint (a retried CreateTask): the endpoint is there, poll it (as flytekit).
        if (aws?.code === "ValidationException" && aws.message.includes("Cannot create already existing")) return;
        // flytekit takes a quota error as created too and then fails at the first poll; here the quota error is
        // the answer, unless the endpoint exists (an earlier attempt made it and now counts against the quota).
        if (aws?.code === "ResourceLimitExceeded" && (await this.#exists(client, input.EndpointName, signal))) return;
        throw awsCallError("sagemaker", "CreateEndpoint", error, redactor, signal);
      }
    });
    return meta;
  }

  async #exists(client: { send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown> }, name: string, signal: AbortSignal): Promise<boolean> {
    try {
      await client.send(new DescribeEndpointCommand({ EndpointName: name }), { abortSignal: signal });
      return true;
    } catch {
      return false;
    }
  }

  async get({ resourceMeta, secrets, signal }: ResourceRequest<SageMakerEndpointMetadata>): Promise<Resource> {
    const region = resourceMeta.region!;
    const name = resourceMeta.endpointName;
    const logLinks = [
      { name: "SageMaker Endpoint", uri: endpointConsoleUrl(region, name) },
      { name: "SageMaker Endpoint Logs", uri: endpointLogsUrl(region, name) },
    ];
    return pollTolerantly(
      `sagemaker-endpoint:${region}:${name}`,
      (pollSignal) =>
        this.#clients.with("sagemaker", region, secrets, async (client, redactor) => {
          let endpoint: DescribeEndpointCommandOutput;
          try {
            endpoint = (await client.send(new DescribeEndpointCommand({ EndpointName: name }), { abortSignal: pollSignal })) as DescribeEndpointCommandOutput;
          } catch (error) {
            if (isMissingEndpoint(error)) {
              return {
                phase: Phase.FAILED,
                message: `SageMaker endpoint ${name} does not exist in ${region}: it was deleted, or its creation did not start (for example over an account quota).`,
              };
            }
            throw awsCallError("sagemaker", "DescribeEndpoint", error, redactor, pollSignal);
          }
          return { ...endpointPhase(name, endpoint), logLinks };
        }),
      { signal, ...(this.#options.pollBudget !== undefined ? { budget: this.#options.pollBudget } : {}) },
    );
  }

  async delete({ resourceMeta, secrets, signal }: ResourceRequest<SageMakerEndpointMetadata>): Promise<void> {
    const region = resourceMeta.region!;
    const name = resourceMeta.endpointName;
    await this.#clients.with("sagemaker", region, secrets, async (client, redactor) => {
      try {
        if (!this.#options.deleteServingEndpoints) {
          const endpoint = (await client.send(new DescribeEndpointCommand({ EndpointName: name }), { abortSignal: signal })) as DescribeEndpointCommandOutput;
          if (SERVING.has(endpoint.EndpointStatus ?? "") || endpoint.EndpointStatus === "Deleting") return;
        }
        await client.send(new DeleteEndpointCommand({ EndpointName: name }), { abortSignal: signal });
      } catch (error) {
        if (isMissingEndpoint(error)) return; // already deleted, or never created: nothing to do
        throw awsCallError("sagemaker", "DeleteEndpoint", error, redactor, signal);
      }
    });
  }
}

/** flytekit's status → phase mapping (Creating → RUNNING, InService → SUCCEEDED, Failed → FAILED), completed. */
export function endpointPhase(name: string, endpoint: Pick<DescribeEndpointCommandOutput, "EndpointStatus" | "EndpointArn" | "FailureReason">): Resource {
  const status = endpoint.EndpointStatus ?? "";
  if (status === "InService") return { phase: Phase.SUCCEEDED, outputs: { result: { EndpointArn: endpoint.EndpointArn ?? null } } };
  if (IN_PROGRESS.has(status)) return { phase: Phase.RUNNING, message: `Endpoint ${name} is ${status}.` };
  if (status === "Failed" || status === "UpdateRollbackFailed") {
    return { phase: Phase.FAILED, message: endpoint.FailureReason || `SageMaker endpoint ${name} is ${status}.` };
  }
  if (status === "OutOfService" || status === "Deleting") {
    return { phase: Phase.FAILED, message: `SageMaker endpoint ${name} is ${status}${endpoint.FailureReason ? `: ${endpoint.FailureReason}` : ""}.` };
  }
  // A status newer than this code: keep polling, and say so.
  return { phase: Phase.RUNNING, message: `SageMaker endpoint ${name} has status ${JSON.stringify(status)}.` };
}
