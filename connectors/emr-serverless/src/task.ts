import { ConnectorTask, type ConnectorTaskOptions } from "flyte-connectors";
import { parseConfig, type HiveJobDriver, type SparkJobDriver } from "./config.js";

type NoTypes = Record<never, never>;
type JsonObject = NonNullable<ConnectorTaskOptions<NoTypes, NoTypes>["custom"]>;

export interface EmrServerlessTaskOptions extends Pick<ConnectorTaskOptions<NoTypes, NoTypes>, "configs" | "project" | "domain" | "version"> {
  name: string;
  /** Id of an existing EMR Serverless application, e.g. `"00fm0lpr3kbcq60p"`. */
  applicationId: string;
  /** ARN of the IAM role the job runs as. */
  executionRoleArn: string;
  /** A Spark job: the script or JAR to run. Give this or `hiveJobDriver`. */
  sparkJobDriver?: SparkJobDriver;
  /** A Hive query (the application must be a Hive application). Give this or `sparkJobDriver`. */
  hiveJobDriver?: HiveJobDriver;
  /** More spark-submit options, appended to `sparkJobDriver.sparkSubmitParameters`. Default: none. */
  sparkSubmitParameters?: string;
  /** StartJobRun `configurationOverrides` (`applicationConfiguration`, `monitoringConfiguration`). Default: none. */
  configurationOverrides?: JsonObject;
  /** Configurations appended to `configurationOverrides.applicationConfiguration`. Default: none. */
  applicationConfiguration?: JsonObject[];
  /** Tags of the job run, over `Application: flyte` and `ManagedBy: flyte-connector`. Default: none. */
  tags?: Readonly<Record<string, string>>;
  /** Longest the job may run, in minutes. Default: 60 (as flytekit). */
  executionTimeoutMinutes?: number;
  /** StartJobRun `retryPolicy` (EMR 7.1+), e.g. `{ maxAttempts: 2 }`. Default: none. */
  retryPolicy?: JsonObject;
  /** AWS region of the application. Default: the connector's region. */
  region?: string;
  /** Pass the Flyte execution context to the Spark driver and executors as `FLYTE_INTERNAL_*` variables. Default: true. */
  injectFlyteEnv?: boolean;
}

/**
 * A job run on an EMR Serverless application, started by {@link EmrServerlessConnector}. Its `custom` has the keys
 * flytekit's `EMRServerless` task config writes (`application_id`, `execution_role_arn`, `spark_job_driver`, …), so
 * the same connector runs tasks from either SDK.
 *
 * ```ts
 * const nightly = new EmrServerlessTask({
 *   name: "nightly_etl",
 *   applicationId: "00fm0lpr3kbcq60p",
 *   executionRoleArn: "arn:aws:iam::123456789012:role/EMRServerlessJobRole",
 *   sparkJobDriver: { entryPoint: "s3://my-bucket/jobs/etl.py", entryPointArguments: ["--day", "2026-12-01"] },
 *   region: "us-east-1",
 * });
 * ```
 */
export class EmrServerlessTask extends ConnectorTask<NoTypes, NoTypes> {
  static readonly TASK_TYPE = "emr_serverless";
  readonly #custom: JsonObject;

  constructor({
    applicationId,
    executionRoleArn,
    sparkJobDriver,
    hiveJobDriver,
    sparkSubmitParameters,
    configurationOverrides,
    applicationConfiguration,
    tags,
    executionTimeoutMinutes = 60,
    retryPolicy,
    region,
    injectFlyteEnv = true,
    ...options
  }: EmrServerlessTaskOptions) {
    super({ ...options, taskType: EmrServerlessTask.TASK_TYPE });
    if (!sparkJobDriver && !hiveJobDriver) throw new TypeError(`EmrServerlessTask "${options.name}" needs sparkJobDriver or hiveJobDriver.`);
    // Key names, order and omission of unset values as flytekit's EMRServerless.to_dict writes them.
    const custom: JsonObject = {
      execution_role_arn: executionRoleArn,
      release_label: "emr-7.0.0",
      application_type: hiveJobDriver ? "HIVE" : "SPARK",
      execution_timeout_minutes: executionTimeoutMinutes,
      sync_image: true,
      inject_flyte_env: injectFlyteEnv,
      application_id: applicationId,
      ...(sparkJobDriver ? { spark_job_driver: structuredClone(sparkJobDriver) as unknown as JsonObject } : {}),
      ...(hiveJobDriver ? { hive_job_driver: structuredClone(hiveJobDriver) as unknown as JsonObject } : {}),
      ...(sparkSubmitParameters ? { spark_submit_parameters: sparkSubmitParameters } : {}),
      ...(applicationConfiguration?.length ? { application_configuration: structuredClone(applicationConfiguration) } : {}),
      ...(retryPolicy ? { retry_policy: structuredClone(retryPolicy) } : {}),
      ...(configurationOverrides ? { configuration_overrides: structuredClone(configurationOverrides) } : {}),
      ...(tags && Object.keys(tags).length > 0 ? { tags: { ...tags } } : {}),
      ...(region ? { region } : {}),
    };
    try {
      parseConfig(custom); // the connector's own checks, now rather than at the first run
    } catch (error) {
      throw new TypeError(`EmrServerlessTask "${options.name}": ${error instanceof Error ? error.message : String(error)}`);
    }
    this.#custom = custom;
  }

  protected override customConfig(): JsonObject {
    return structuredClone(this.#custom);
  }
}
