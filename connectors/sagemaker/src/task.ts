import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { ConnectorTask, types, type ConnectorTaskOptions, type TypeSpecs } from "flyte-connectors";
import { BOTO_TASK_TYPE } from "./boto-connector.js";
import { SAGEMAKER_ENDPOINT_TASK_TYPE } from "./endpoint-connector.js";
import type { AwsService } from "./methods.js";

const endpointOutputs = { result: types.struct };
const botoOutputs = { result: types.struct, idempotence_token: types.string };

type Common<I extends TypeSpecs, O extends TypeSpecs> = Pick<ConnectorTaskOptions<I, O>, "secrets" | "project" | "domain" | "version">;

/** A config: the API call's arguments with `{inputs.<name>}`, `{images.<name>}` and `{idempotence_token}` placeholders. */
export type AwsConfig = { [key: string]: JsonValue };

export interface SageMakerEndpointTaskOptions<I extends TypeSpecs> extends Common<I, typeof endpointOutputs> {
  name: string;
  /** CreateEndpoint arguments, e.g. `{ EndpointName: "{inputs.endpoint_name}", EndpointConfigName: "my-config" }`. */
  config: AwsConfig;
  /** AWS region. Default: none; then the task needs a `region` input. */
  region?: string;
  /** Inputs the config refers to (`{inputs.<name>}`); a `region` input overrides `region`. Default: none. */
  inputs?: I;
}

/**
 * Creates a SageMaker endpoint and waits until it is InService (task type `sagemaker-endpoint`; output `result` =
 * `{ EndpointArn }`). Writes the `custom` of flytekit's `SageMakerEndpointTask`: `{ config, region }`.
 *
 * ```ts
 * const endpoint = new SageMakerEndpointTask({
 *   name: "deploy",
 *   config: { EndpointName: "{inputs.endpoint_name}", EndpointConfigName: "xgboost-config" },
 *   region: "us-east-2",
 *   inputs: { endpoint_name: types.string },
 * });
 * ```
 */
export class SageMakerEndpointTask<I extends TypeSpecs = Record<never, never>> extends ConnectorTask<I, typeof endpointOutputs> {
  static readonly TASK_TYPE = SAGEMAKER_ENDPOINT_TASK_TYPE;
  readonly config: AwsConfig;
  readonly region: string | undefined;

  constructor({ config, region, inputs, ...options }: SageMakerEndpointTaskOptions<I>) {
    if (config === null || typeof config !== "object" || Array.isArray(config)) throw new TypeError(`SageMakerEndpointTask "${options.name}": config must be an object (the CreateEndpoint arguments).`);
    super({ ...options, taskType: SAGEMAKER_ENDPOINT_TASK_TYPE, ...(inputs ? { inputs } : {}), outputs: endpointOutputs });
    this.config = structuredClone(config);
    this.region = region;
  }

  protected override customConfig(): JsonObject {
    return { config: structuredClone(this.config), region: this.region ?? null };
  }
}

export interface BotoTaskOptions<I extends TypeSpecs> extends Common<I, typeof botoOutputs> {
  name: string;
  /** AWS service, as boto3 names it: `"sagemaker"` or `"sagemaker-runtime"`. */
  service: AwsService;
  /** The method, as boto3 names it: `"create_model"`, `"invoke_endpoint"`, … (the connector allows a fixed list). */
  method: string;
  /** The method's arguments (PascalCase, as in boto3 and the AWS API), with placeholders. */
  config: AwsConfig;
  /** AWS region. Default: none; then the task needs a `region` input. */
  region?: string;
  /**
   * Images the config refers to as `{images.<name>}`; a URI containing `sagemaker-tritonserver` may use
   * `{account_id}`, `{region}` and `{base}`, filled in for the task's region. Default: none.
   */
  images?: Readonly<Record<string, string>>;
  /** Inputs the config refers to (`{inputs.<name>}`); a `region` input overrides `region`. Default: none. */
  inputs?: I;
}

/**
 * One AWS API call (task type `boto`; outputs `result`, the reply as a dict, and `idempotence_token`). Writes the
 * `custom` of flytekit's `BotoTask`: `{ service, config, region, method, images }`.
 *
 * ```ts
 * const invoke = new BotoTask({
 *   name: "predict",
 *   service: "sagemaker-runtime",
 *   method: "invoke_endpoint",
 *   config: { EndpointName: "my-endpoint", ContentType: "application/json", Body: "{inputs.payload}" },
 *   region: "us-east-2",
 *   inputs: { payload: types.string },
 * });
 * ```
 */
export class BotoTask<I extends TypeSpecs = Record<never, never>> extends ConnectorTask<I, typeof botoOutputs> {
  static readonly TASK_TYPE = BOTO_TASK_TYPE;
  readonly service: AwsService;
  readonly method: string;
  readonly config: AwsConfig;
  readonly region: string | undefined;
  readonly images: Readonly<Record<string, string>> | undefined;

  constructor({ service, method, config, region, images, inputs, ...options }: BotoTaskOptions<I>) {
    if (!service || !method) throw new TypeError(`BotoTask "${options.name}" needs a service and a method.`);
    if (config === null || typeof config !== "object" || Array.isArray(config)) throw new TypeError(`BotoTask "${options.name}": config must be an object (the ${method} arguments).`);
    super({ ...options, taskType: BOTO_TASK_TYPE, ...(inputs ? { inputs } : {}), outputs: botoOutputs });
    this.service = service;
    this.method = method;
    this.config = structuredClone(config);
    this.region = region;
    this.images = images ? { ...images } : undefined;
  }

  protected override customConfig(): JsonObject {
    return { service: this.service, config: structuredClone(this.config), region: this.region ?? null, method: this.method, images: this.images ? { ...this.images } : null };
  }
}

type SageMakerCallOptions<I extends TypeSpecs> = Omit<BotoTaskOptions<I>, "service" | "method">;

/** flytekit's `SageMakerModelTask`: `create_model` (with `images`). */
export class SageMakerModelTask<I extends TypeSpecs = Record<never, never>> extends BotoTask<I> {
  constructor(options: SageMakerCallOptions<I>) {
    super({ ...options, service: "sagemaker", method: "create_model" });
  }
}

/** flytekit's `SageMakerEndpointConfigTask`: `create_endpoint_config`. */
export class SageMakerEndpointConfigTask<I extends TypeSpecs = Record<never, never>> extends BotoTask<I> {
  constructor(options: Omit<SageMakerCallOptions<I>, "images">) {
    super({ ...options, service: "sagemaker", method: "create_endpoint_config" });
  }
}

/** flytekit's `SageMakerDeleteEndpointTask`: `delete_endpoint`. */
export class SageMakerDeleteEndpointTask<I extends TypeSpecs = Record<never, never>> extends BotoTask<I> {
  constructor(options: Omit<SageMakerCallOptions<I>, "images">) {
    super({ ...options, service: "sagemaker", method: "delete_endpoint" });
  }
}

/** flytekit's `SageMakerDeleteEndpointConfigTask`: `delete_endpoint_config`. */
export class SageMakerDeleteEndpointConfigTask<I extends TypeSpecs = Record<never, never>> extends BotoTask<I> {
  constructor(options: Omit<SageMakerCallOptions<I>, "images">) {
    super({ ...options, service: "sagemaker", method: "delete_endpoint_config" });
  }
}

/** flytekit's `SageMakerDeleteModelTask`: `delete_model`. */
export class SageMakerDeleteModelTask<I extends TypeSpecs = Record<never, never>> extends BotoTask<I> {
  constructor(options: Omit<SageMakerCallOptions<I>, "images">) {
    super({ ...options, service: "sagemaker", method: "delete_model" });
  }
}

/**
 * flytekit's `SageMakerInvokeEndpointTask`: `invoke_endpoint_async` of `sagemaker-runtime` (input from S3,
 * `InputLocation`; the reply names the `OutputLocation`). Use a {@link BotoTask} with `invoke_endpoint` for a
 * real-time call whose reply body is the output.
 */
export class SageMakerInvokeEndpointTask<I extends TypeSpecs = Record<never, never>> extends BotoTask<I> {
  constructor(options: Omit<SageMakerCallOptions<I>, "images">) {
    super({ ...options, service: "sagemaker-runtime", method: "invoke_endpoint_async" });
  }
}
