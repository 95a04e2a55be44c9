// The task config (`TaskTemplate.custom`) of an `emr_serverless` task, as flytekit's plugin
// (flytekitplugins-awsemrserverless, `EMRServerless.to_dict`) writes it, and the StartJobRun request built from it.
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { StartJobRunRequest } from "@aws-sdk/client-emr-serverless";
import { ConnectorError, type CreateRequest } from "flyte-connectors";

/** `sparkSubmit` of the StartJobRun job driver, keys as the API names them (flytekit stores it so). */
export interface SparkJobDriver {
  /** The application to run: `s3://…/main.py` or a JAR. */
  entryPoint: string;
  entryPointArguments?: string[];
  /** spark-submit options, e.g. `--conf spark.executor.memory=4g`. */
  sparkSubmitParameters?: string;
}

/** `hive` of the StartJobRun job driver. */
export interface HiveJobDriver {
  /** The query, or an `s3://` path of a query file. */
  query: string;
  initQueryFile?: string;
  parameters?: string;
}

/** A parsed and checked task config. */
export interface EmrServerlessConfig {
  executionRoleArn: string;
  /** An application id, or the name of an application (see {@link isApplicationId}). */
  applicationId: string;
  region: string | undefined;
  applicationType: "SPARK" | "HIVE";
  sparkJobDriver: SparkJobDriver | undefined;
  hiveJobDriver: HiveJobDriver | undefined;
  sparkSubmitParameters: string | undefined;
  applicationConfiguration: JsonObject[] | undefined;
  configurationOverrides: JsonObject | undefined;
  tags: Record<string, string>;
  executionTimeoutMinutes: number;
  retryPolicy: JsonObject | undefined;
  injectFlyteEnv: boolean;
}

/** Tags flytekit's connector puts on every job run (a task's own tags win). */
export const FLYTE_TAGS: Readonly<Record<string, string>> = { Application: "flyte", ManagedBy: "flyte-connector" };

/** Spark settings flytekit's connector adds in Pythonic mode so driver and executors use the image's Python. */
const PYTHONIC_SPARK_DEFAULTS = [
  "spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON=/usr/bin/python3",
  "spark.emr-serverless.driverEnv.PYSPARK_PYTHON=/usr/bin/python3",
  "spark.executorEnv.PYSPARK_PYTHON=/usr/bin/python3",
];

// EMR Serverless application ids are lower-case letters and digits (e.g. "00fm0lpr3kbcq60p").
const APPLICATION_ID = /^[0-9a-z]{1,64}$/;
// Application names as EMR Serverless allows them (CreateApplication `name`).
const APPLICATION_NAME = /^[A-Za-z0-9._/#-]{1,64}$/;
// A region becomes part of a host name (the endpoint, the console link): only a plain region name may.
const REGION = /^[a-z]{2}(-[a-z0-9]+){1,4}$/;

export function isApplicationId(value: string): boolean {
  return APPLICATION_ID.test(value);
}

export function isRegion(value: string): boolean {
  return REGION.test(value) && value.length <= 32;
}

function invalid(key: string, problem: string): ConnectorError {
  return new ConnectorError("INVALID_ARGUMENT", `custom.${key} ${problem}`);
}

const show = (value: unknown) => JSON.stringify(value)?.slice(0, 100) ?? String(value);

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalString(custom: JsonObject, key: string, path = key): string | undefined {
  const value = custom[key];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw invalid(path, `must be a string, got ${show(value)}.`);
  return value;
}

function optionalObject(custom: JsonObject, key: string): JsonObject | undefined {
  const value = custom[key];
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw invalid(key, `must be an object, got ${show(value)}.`);
  return value;
}

function stringList(value: JsonValue | undefined, path: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) throw invalid(path, `must be a list of strings, got ${show(value)}.`);
  return value as string[];
}

function sparkDriver(value: JsonValue | undefined): SparkJobDriver | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw invalid("spark_job_driver", `must be an object ({entryPoint, entryPointArguments, sparkSubmitParameters}), got ${show(value)}.`);
  const entryPoint = optionalString(value, "entryPoint", "spark_job_driver.entryPoint");
  if (!entryPoint) throw invalid("spark_job_driver.entryPoint", "is required (the s3:// path of the script or JAR to run).");
  const entryPointArguments = stringList(value["entryPointArguments"], "spark_job_driver.entryPointArguments");
  const sparkSubmitParameters = optionalString(value, "sparkSubmitParameters", "spark_job_driver.sparkSubmitParameters");
  return { entryPoint, ...(entryPointArguments?.length ? { entryPointArguments } : {}), ...(sparkSubmitParameters ? { sparkSubmitParameters } : {}) };
}

function hiveDriver(value: JsonValue | undefined): HiveJobDriver | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw invalid("hive_job_driver", `must be an object ({query, initQueryFile, parameters}), got ${show(value)}.`);
  const query = optionalString(value, "query", "hive_job_driver.query");
  if (!query) throw invalid("hive_job_driver.query", "is required (the query, or the s3:// path of a query file).");
  const initQueryFile = optionalString(value, "initQueryFile", "hive_job_driver.initQueryFile");
  const parameters = optionalString(value, "parameters", "hive_job_driver.parameters");
  return { query, ...(initQueryFile ? { initQueryFile } : {}), ...(parameters ? { parameters } : {}) };
}

/**
 * Reads and checks `custom`; every problem is INVALID_ARGUMENT naming the key. Keys that only matter for creating
 * or updating an application (`release_label`, `initial_capacity`, `image_configuration`, `sync_image`, …) are
 * accepted and not used: this connector runs jobs on existing applications.
 */
export function parseConfig(custom: JsonObject): EmrServerlessConfig {
  const executionRoleArn = optionalString(custom, "execution_role_arn");
  if (!executionRoleArn) throw invalid("execution_role_arn", "is required (the IAM role ARN the job runs as).");

  const applicationId = optionalString(custom, "application_id");
  if (!applicationId) {
    const name = optionalString(custom, "application_name");
    throw name
      ? invalid("application_id", `is required: this connector runs jobs on existing applications and does not create one (application_name ${show(name)}).`)
      : invalid("application_id", "is required (the id of an existing EMR Serverless application, e.g. \"00fm0lpr3kbcq60p\").");
  }
  // As flytekit's connector: what is not an id is the name of an existing application, looked up at create.
  if (!isApplicationId(applicationId) && !APPLICATION_NAME.test(applicationId)) {
    throw invalid("application_id", `must be an application id (lower-case letters and digits, e.g. "00fm0lpr3kbcq60p") or an application's name, got ${show(applicationId)}.`);
  }

  const region = optionalString(custom, "region");
  if (region !== undefined && !isRegion(region)) throw invalid("region", `must be an AWS region such as "us-east-1", got ${show(region)}.`);

  const applicationType = optionalString(custom, "application_type") ?? "SPARK";
  if (applicationType !== "SPARK" && applicationType !== "HIVE") throw invalid("application_type", `must be "SPARK" or "HIVE", got ${show(applicationType)}.`);
  const sparkJobDriver = sparkDriver(custom["spark_job_driver"]);
  const hiveJobDriver = hiveDriver(custom["hive_job_driver"]);
  if (sparkJobDriver && hiveJobDriver) throw invalid("spark_job_driver", "and custom.hive_job_driver are both set: give one of them.");
  if (applicationType === "HIVE" && !hiveJobDriver) throw invalid("hive_job_driver", "is required when application_type is \"HIVE\".");

  const applicationConfiguration = custom["application_configuration"];
  if (applicationConfiguration !== undefined && applicationConfiguration !== null && (!Array.isArray(applicationConfiguration) || !applicationConfiguration.every(isObject))) {
    throw invalid("application_configuration", `must be a list of configurations ({classification, properties}), got ${show(applicationConfiguration)}.`);
  }

  const rawTags = optionalObject(custom, "tags") ?? {};
  for (const [key, value] of Object.entries(rawTags)) if (typeof value !== "string") throw invalid(`tags.${key}`, `must be a string, got ${show(value)}.`);

  // flytekit reads it with int(...): a number, or a string of digits.
  const rawTimeout = custom["execution_timeout_minutes"] ?? 60;
  const timeout = typeof rawTimeout === "string" && /^\s*\d+\s*$/.test(rawTimeout) ? Number(rawTimeout) : rawTimeout;
  if (typeof timeout !== "number" || !Number.isInteger(timeout) || timeout < 1) {
    throw invalid("execution_timeout_minutes", `must be a whole number of minutes, at least 1, got ${show(rawTimeout)}.`);
  }

  const injectFlyteEnv = custom["inject_flyte_env"] ?? true;
  if (typeof injectFlyteEnv !== "boolean") throw invalid("inject_flyte_env", `must be true or false, got ${show(injectFlyteEnv)}.`);

  return {
    executionRoleArn,
    applicationId,
    region,
    applicationType,
    sparkJobDriver,
    hiveJobDriver,
    sparkSubmitParameters: optionalString(custom, "spark_submit_parameters"),
    applicationConfiguration: (applicationConfiguration as JsonObject[] | null | undefined) ?? undefined,
    configurationOverrides: optionalObject(custom, "configuration_overrides"),
    tags: rawTags as Record<string, string>,
    executionTimeoutMinutes: timeout,
    retryPolicy: optionalObject(custom, "retry_policy"),
    injectFlyteEnv,
  };
}

/** True when the task names what to run (script mode); false when it runs the task's own code (Pythonic mode). */
export function isScriptMode(config: EmrServerlessConfig): boolean {
  return config.sparkJobDriver !== undefined || config.hiveJobDriver !== undefined;
}

/**
 * The Flyte context flytekit's connector passes to Spark jobs as environment variables (`inject_flyte_env`): the
 * task and execution identity and the retry attempt, plus the execution's environment variables. Empty values are
 * left out.
 */
export function flyteEnvironment(metadata: CreateRequest["taskExecutionMetadata"]): Record<string, string> {
  const id = metadata?.taskExecutionId;
  if (!metadata || !id) return {};
  const env: Record<string, string> = {};
  const task = id.taskId;
  if (task) Object.assign(env, { FLYTE_INTERNAL_TASK_PROJECT: task.project, FLYTE_INTERNAL_TASK_DOMAIN: task.domain, FLYTE_INTERNAL_TASK_NAME: task.name, FLYTE_INTERNAL_TASK_VERSION: task.version });
  const node = id.nodeExecutionId;
  if (node) {
    env["FLYTE_INTERNAL_NODE_ID"] = node.nodeId;
    const run = node.executionId;
    if (run) Object.assign(env, { FLYTE_INTERNAL_EXECUTION_ID: run.name, FLYTE_INTERNAL_EXECUTION_PROJECT: run.project, FLYTE_INTERNAL_EXECUTION_DOMAIN: run.domain });
  }
  env["FLYTE_INTERNAL_TASK_RETRY_ATTEMPT"] = String(id.retryAttempt);
  Object.assign(env, metadata.environmentVariables);
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ""));
}

// sparkSubmitParameters is split on whitespace by EMR Serverless, without quoting: a value with a space, quote or
// `=` would break the line (flytekit skips those too), and a name must be a plain variable name.
const SAFE_ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const UNSAFE_ENV_VALUE = /[\s='"]/;

/** `--conf` flags setting `env` for the Spark driver and executors; variables that cannot be written safely are left out. */
export function sparkEnvConf(env: Readonly<Record<string, string>>): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!SAFE_ENV_NAME.test(name) || UNSAFE_ENV_VALUE.test(value)) continue;
    parts.push(`--conf spark.emr-serverless.driverEnv.${name}=${value}`, `--conf spark.executorEnv.${name}=${value}`);
  }
  return parts.join(" ");
}

/** `user` followed by each Pythonic-mode default whose setting `user` does not already make. */
function withPythonicDefaults(user: string | undefined): string {
  const defaults = PYTHONIC_SPARK_DEFAULTS.filter((setting) => !user?.includes(setting.split("=", 1)[0]!)).map((setting) => `--conf ${setting}`);
  return [user, ...defaults].filter(Boolean).join(" ");
}

const join = (...parts: Array<string | undefined>) => parts.filter(Boolean).join(" ").trim() || undefined;

export interface JobRunContext {
  /** The task's container args (Pythonic mode runs them through the entry point). */
  containerArgs: readonly string[];
  /** The s3:// entry point script that runs a Flyte task's container args (Pythonic mode). */
  pythonicEntryPoint: string | undefined;
  /** The job run's name: the task's name. */
  name: string | undefined;
  clientToken: string;
  taskExecutionMetadata: CreateRequest["taskExecutionMetadata"];
}

/** The StartJobRun request for a task, built as flytekit's connector builds it. */
export function startJobRunRequest(config: EmrServerlessConfig, context: JobRunContext): StartJobRunRequest {
  let jobDriver: StartJobRunRequest["jobDriver"];
  if (config.hiveJobDriver) {
    jobDriver = { hive: { ...config.hiveJobDriver } };
  } else {
    let spark: SparkJobDriver;
    if (config.sparkJobDriver) {
      const parameters = join(config.sparkJobDriver.sparkSubmitParameters, config.sparkSubmitParameters);
      spark = { ...config.sparkJobDriver, ...(parameters ? { sparkSubmitParameters: parameters } : {}) };
    } else {
      if (!context.pythonicEntryPoint) {
        throw new ConnectorError(
          "FAILED_PRECONDITION",
          "The task sets no custom.spark_job_driver or custom.hive_job_driver (Pythonic mode: run the task's own code on EMR Serverless), " +
            "which needs the entry point script flytekit's plugin uploads: give the connector its s3:// URI (FLYTE_EMR_ENTRYPOINT_URI or the pythonicEntryPoint option), " +
            "or set custom.spark_job_driver.",
        );
      }
      spark = { entryPoint: context.pythonicEntryPoint, entryPointArguments: [...context.containerArgs], sparkSubmitParameters: withPythonicDefaults(config.sparkSubmitParameters) };
    }
    if (config.injectFlyteEnv) {
      const parameters = join(spark.sparkSubmitParameters, sparkEnvConf(flyteEnvironment(context.taskExecutionMetadata)));
      if (parameters) spark.sparkSubmitParameters = parameters;
    }
    jobDriver = { sparkSubmit: spark };
  }

  let configurationOverrides = config.configurationOverrides ? structuredClone(config.configurationOverrides) : undefined;
  if (config.applicationConfiguration?.length) {
    const existing = configurationOverrides?.["applicationConfiguration"];
    configurationOverrides = {
      ...configurationOverrides,
      applicationConfiguration: [...(Array.isArray(existing) ? existing : []), ...structuredClone(config.applicationConfiguration)],
    };
  }

  return {
    applicationId: config.applicationId,
    clientToken: context.clientToken,
    executionRoleArn: config.executionRoleArn,
    jobDriver,
    ...(configurationOverrides ? { configurationOverrides: configurationOverrides as StartJobRunRequest["configurationOverrides"] } : {}),
    tags: { ...FLYTE_TAGS, ...config.tags },
    executionTimeoutMinutes: config.executionTimeoutMinutes,
    ...(context.name ? { name: context.name } : {}),
    ...(config.retryPolicy ? { retryPolicy: config.retryPolicy as StartJobRunRequest["retryPolicy"] } : {}),
  };
}

/**
 * The StartJobRun request a Python connector stored in its resource meta (`pending_job_request`, snake_case keys, when
 * the application was still starting), so a job it deferred is submitted here exactly as it would have been there.
 */
export function pendingJobRunRequest(applicationId: string, pending: Record<string, unknown>): StartJobRunRequest {
  const text = (key: string) => (typeof pending[key] === "string" && pending[key] !== "" ? (pending[key] as string) : undefined);
  const object = (key: string) => (isObject(pending[key] as JsonValue) ? (pending[key] as JsonObject) : undefined);
  const executionRoleArn = text("execution_role_arn");
  const jobDriver = object("job_driver");
  const clientToken = text("client_token");
  // Without its client token every poll would start another run.
  if (!executionRoleArn || !jobDriver || !clientToken) {
    throw new ConnectorError("INVALID_ARGUMENT", "The resource meta's pending_job_request lacks execution_role_arn, job_driver or client_token.");
  }
  const timeout = pending["execution_timeout_minutes"];
  const name = text("name");
  const configurationOverrides = object("configuration_overrides");
  const retryPolicy = object("retry_policy");
  const tags = object("tags");
  return {
    applicationId,
    executionRoleArn,
    jobDriver: jobDriver as unknown as StartJobRunRequest["jobDriver"],
    clientToken,
    ...(configurationOverrides ? { configurationOverrides: configurationOverrides as StartJobRunRequest["configurationOverrides"] } : {}),
    ...(tags ? { tags: tags as Record<string, string> } : {}),
    ...(typeof timeout === "number" && Number.isInteger(timeout) ? { executionTimeoutMinutes: timeout } : {}),
    ...(name ? { name } : {}),
    ...(retryPolicy ? { retryPolicy: retryPolicy as StartJobRunRequest["retryPolicy"] } : {}),
  };
}
