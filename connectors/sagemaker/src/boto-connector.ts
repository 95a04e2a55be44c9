import { ConnectorError, Phase, SyncConnector, types, type CreateRequest, type Resource } from "flyte-connectors";
import { AwsClients, awsCallError, awsErrorOf, type AwsClientOptions } from "./aws.js";
import { optionalString, templateInputs } from "./endpoint-connector.js";
import { DEFAULT_ALLOWED_METHODS, fromSdkOutput, resolveMethod, toSdkInput, type AwsService, type ResolvedMethod } from "./methods.js";
import { fromStruct, renderCall, toJsonValue, type PyValue } from "./templating.js";

/** Task type of flytekit's `BotoTask` (and the SageMaker model/endpoint-config/delete/invoke tasks built on it). */
export const BOTO_TASK_TYPE = "boto";

export interface BotoConnectorOptions extends AwsClientOptions {
  /**
   * Methods a task may call, by service, in boto3's snake_case (`{ sagemaker: ["create_training_job"] }`), added to
   * {@link DEFAULT_ALLOWED_METHODS}. Each must be an operation of that service's AWS SDK v3 client. The connector
   * calls AWS with the deployment's identity, shared by every task: list only what task authors may do with it.
   * Default: none added.
   */
  allowedMethods?: Partial<Record<AwsService, readonly string[]>>;
}

/** An ARN in SageMaker's "Cannot create already existing …" message (flytekit's pattern). */
const ARN = /arn:aws:[a-zA-Z0-9-]+:[a-zA-Z0-9-]+:\d+:[a-zA-Z0-9\-/]+/;

/**
 * Calls one allowed AWS API method (task type `boto`, as flytekit's `BotoConnector`): `custom.method` of
 * `custom.service` with `custom.config` templated from the inputs and `custom.images`, in `custom.region` (or the
 * `region` input). Outputs as flytekit's: `result` (the reply as a dict; for create_model / create_endpoint_config
 * only the ARN) and `idempotence_token`. Creating something that already exists succeeds with its ARN.
 */
export class BotoConnector extends SyncConnector {
  readonly name = "Boto Connector";
  readonly taskTypeName = BOTO_TASK_TYPE;
  override readonly outputTypes = { result: types.struct, idempotence_token: types.string };
  readonly #clients: AwsClients;
  readonly #methods: ReadonlyMap<string, ResolvedMethod>;

  constructor(options: BotoConnectorOptions = {}) {
    super();
    this.#clients = new AwsClients(options);
    const methods = new Map<string, ResolvedMethod>();
    for (const service of Object.keys(DEFAULT_ALLOWED_METHODS) as AwsService[]) {
      for (const method of [...DEFAULT_ALLOWED_METHODS[service], ...(options.allowedMethods?.[service] ?? [])]) {
        const resolved = resolveMethod(service, method);
        if (!resolved) throw new TypeError(`BotoConnector: allowedMethods.${service} names "${method}", which the ${service} AWS SDK client has no operation for.`);
        methods.set(`${service}.${method}`, resolved);
      }
    }
    for (const service of Object.keys(options.allowedMethods ?? {})) {
      if (!Object.hasOwn(DEFAULT_ALLOWED_METHODS, service)) throw new TypeError(`BotoConnector: allowedMethods names the service "${service}"; supported: ${Object.keys(DEFAULT_ALLOWED_METHODS).join(", ")}.`);
    }
    this.#methods = methods;
  }

  /** The methods tasks may call, as `service.method`. */
  get allowedMethods(): string[] {
    return [...this.#methods.keys()];
  }

  async do(request: CreateRequest): Promise<Resource> {
    const { custom, secrets, signal } = request;
    const service = optionalString(custom, "service");
    const method = optionalString(custom, "method");
    if (!service || !method) throw new ConnectorError("INVALID_ARGUMENT", "custom.service and custom.method are required (e.g. \"sagemaker\" and \"create_model\").");
    const resolved = this.#methods.get(`${service}.${method}`);
    if (!resolved) {
      throw new ConnectorError(
        "INVALID_ARGUMENT",
        `The boto connector does not call ${service}.${method}: it calls only the allowed methods ${this.allowedMethods.join(", ")}. An operator can allow more (BotoConnector allowedMethods).`,
      );
    }
    const config = custom["config"];
    if (config === null || typeof config !== "object" || Array.isArray(config)) {
      throw new ConnectorError("INVALID_ARGUMENT", `custom.config must be a dict: the arguments of ${method}.`);
    }
    const images = custom["images"];
    if (images !== undefined && images !== null && (typeof images !== "object" || Array.isArray(images))) {
      throw new ConnectorError("INVALID_ARGUMENT", "custom.images must be a dict of image names to image URIs.");
    }
    const rendered = renderCall({
      service: resolved.service,
      config: fromStruct(config, true), // flytekit's boto connector turns whole floats into ints first
      inputs: templateInputs(request),
      region: optionalString(custom, "region"),
      images: images ? (fromStruct(images, true) as Record<string, PyValue>) : undefined,
    });
    const input = toSdkInput(toJsonValue(rendered.config), resolved.inputSchema);
    return this.#clients.with(resolved.service, rendered.region, secrets, async (client, redactor) => {
      let output: unknown;
      try {
        output = await client.send(new resolved.Command(input as never), { abortSignal: signal });
      } catch (error) {
        const aws = awsErrorOf(error);
        if (aws?.code === "ValidationException" && aws.message.includes("Cannot create already existing")) {
          return { phase: Phase.SUCCEEDED, outputs: { result: alreadyExists(method, aws.message), idempotence_token: rendered.idempotenceToken } };
        }
        throw awsCallError(resolved.service, resolved.operation, error, redactor, signal);
      }
      const result = fromSdkOutput(output);
      const trimmed =
        method === "create_model" ? { ModelArn: result["ModelArn"] ?? null } : method === "create_endpoint_config" ? { EndpointConfigArn: result["EndpointConfigArn"] ?? null } : result;
      return { phase: Phase.SUCCEEDED, outputs: { result: trimmed, idempotence_token: rendered.idempotenceToken } };
    });
  }
}

/** flytekit's `result` for a create of something that exists: its ARN under the create's key. */
function alreadyExists(method: string, message: string): Record<string, unknown> {
  const arn = ARN.exec(message)?.[0];
  if (!arn) return { result: "Entity already exists." };
  if (method === "create_model") return { ModelArn: arn };
  if (method === "create_endpoint_config") return { EndpointConfigArn: arn };
  return { result: `Entity already exists ${arn}.` };
}
