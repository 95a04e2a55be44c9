import { ConnectorError, type CreateRequest } from "flyte-connectors";

type TaskTemplate = CreateRequest["taskTemplate"];
type JsonObject = Record<string, unknown>;
type JsonValue = unknown;

// What the Python connector (flyte-sdk plugins/databricks connector.py) runs for a Python task: flytetools'
// entrypoint at a pinned commit, fetched by Databricks from Git, with the container's args as parameters.
const PYTHON_ENTRYPOINT = "flyteplugins/databricks/entrypoint.py";
const FLYTETOOLS_GIT_SOURCE = {
  git_url: "https://github.com/flyteorg/flytetools",
  git_provider: "gitHub",
  git_commit: "194364210c47c49ce66c419e8fb68d6f9c06fd7e",
} as const;

// What flytekit's connector (Flyte 1, flytekitplugins.spark connector.py) runs for a task flytekit wrote (container
// args `pyflyte-execute …` / `pyflyte-fast-execute …`): flytekit's entrypoint at flytekit's pinned flytetools commit.
const FLYTEKIT_ENTRYPOINT = "flytekitplugins/databricks/entrypoint.py";
const FLYTEKIT_SERVERLESS_ENTRYPOINT = "flytekitplugins/databricks/entrypoint_serverless.py";
/** The connector's environment variable naming a serverless credential provider when the task names none (as flytekit's). */
export const DATABRICKS_CREDENTIAL_PROVIDER_ENV = "FLYTE_DATABRICKS_SERVICE_CREDENTIAL_PROVIDER";
const FLYTEKIT_GIT_SOURCE = {
  git_url: "https://github.com/flyteorg/flytetools",
  git_provider: "gitHub",
  git_commit: "572298df1f971fb58c258398bd70a6372f811c96",
} as const;

/** A template flytekit (Flyte 1) wrote: its container runs flytekit's `pyflyte-*` commands. */
function writtenByFlytekit(container: { args: readonly string[] } | undefined): boolean {
  return /^pyflyte-/.test(container?.args[0] ?? "");
}

/** runs/submit fields that say what the run executes (single-task form), or `tasks` (multi-task form). */
const TASK_KEYS = [
  "tasks",
  "spark_python_task",
  "notebook_task",
  "spark_jar_task",
  "spark_submit_task",
  "python_wheel_task",
  "sql_task",
  "dbt_task",
  "pipeline_task",
  "run_job_task",
] as const;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The Jobs API 2.1 `runs/submit` body for a task, built as the Python connector builds it:
 * - `custom.databricksConf` is the base (required);
 * - without `existing_cluster_id`, `new_cluster` is required and gets defaults: `docker_image.url` = the container
 *   image, `spark_conf` = `custom.sparkConf`, `spark_env_vars` += the container's env;
 * - a template with a container (a Python task) runs flytetools' entrypoint with the container's args, as Python does.
 * A template without a container (a TypeScript `DatabricksTask`) runs what `databricksConf` itself names
 * (`spark_python_task`, `notebook_task`, …, or `tasks`), which Python does not support.
 *
 * Templates flytekit wrote (Flyte 1) are built as flytekit's connector builds them: `FLYTE_FAIL_ON_ERROR=true` in the
 * cluster's environment (so a failed task fails the run), flytekit's entrypoint unless `databricksConf` names its own
 * `python_file`/`git_source`, and `custom.notebookPath` (+ `notebookBaseParameters`) runs a notebook instead.
 * Their serverless form (`environment_key`/`environments` without a cluster) becomes a one-task `tasks` run in that
 * environment, the container's env (and `FLYTE_FAIL_ON_ERROR`) in its `environment_vars`.
 */
export function buildRunSubmitBody(template: TaskTemplate, custom: CreateRequest["custom"]): JsonObject {
  const conf = custom["databricksConf"];
  if (!isObject(conf)) {
    throw new ConnectorError("INVALID_ARGUMENT", "custom.databricksConf is missing or not an object: it must hold the Databricks runs/submit settings (new_cluster or existing_cluster_id, run_name, …).");
  }
  const job: JsonObject = structuredClone(conf);
  const container = template.target.case === "container" ? template.target.value : undefined;
  const flytekit = writtenByFlytekit(container);
  const multiTask = Array.isArray(job["tasks"]);
  const serverless = job["existing_cluster_id"] === undefined && job["new_cluster"] === undefined && (Boolean(job["environment_key"]) || (Array.isArray(job["environments"]) && job["environments"].length > 0));
  if (flytekit && !multiTask && serverless) return serverlessJob(job, custom, container!);
  if (!multiTask && job["existing_cluster_id"] === undefined) {
    const cluster = job["new_cluster"];
    if (!isObject(cluster)) {
      throw new ConnectorError("INVALID_ARGUMENT", "custom.databricksConf needs existing_cluster_id or new_cluster (an object).");
    }
    if (!cluster["docker_image"] && container?.image) cluster["docker_image"] = { url: container.image };
    if (!cluster["spark_conf"] || isEmpty(cluster["spark_conf"])) cluster["spark_conf"] = isObject(custom["sparkConf"]) ? custom["sparkConf"] : {};
    const env: Record<string, string> = Object.fromEntries((container?.env ?? []).map((pair) => [pair.key, pair.value]));
    if (flytekit) env["FLYTE_FAIL_ON_ERROR"] = "true";
    const existingEnv = cluster["spark_env_vars"];
    cluster["spark_env_vars"] = isObject(existingEnv) && !isEmpty(existingEnv) ? { ...existingEnv, ...env } : env;
  }
  const notebookPath = custom["notebookPath"];
  if (typeof notebookPath === "string" && notebookPath) {
    const parameters = custom["notebookBaseParameters"];
    job["notebook_task"] = {
      notebook_path: notebookPath,
      ...(isObject(parameters) && !isEmpty(parameters) ? { base_parameters: parameters } : {}),
      ...(isObject(job["git_source"]) ? { source: "GIT" } : {}),
    };
  } else if (container && flytekit) {
    const pythonFile = typeof job["python_file"] === "string" && job["python_file"] ? job["python_file"] : FLYTEKIT_ENTRYPOINT;
    delete job["python_file"];
    job["spark_python_task"] = { python_file: pythonFile, source: "GIT", parameters: [...container.args] };
    job["git_source"] = isObject(job["git_source"]) ? job["git_source"] : { ...FLYTEKIT_GIT_SOURCE };
  } else if (container) {
    job["spark_python_task"] = { python_file: PYTHON_ENTRYPOINT, parameters: [...container.args], source: "GIT" };
    job["git_source"] = { ...FLYTETOOLS_GIT_SOURCE };
  } else if (!TASK_KEYS.some((key) => job[key] !== undefined)) {
    throw new ConnectorError(
      "INVALID_ARGUMENT",
      `custom.databricksConf names nothing to run: a task without a container needs one of ${TASK_KEYS.join(", ")}.`,
    );
  }
  return job;
}

/** flytekit's serverless run: the job's environment (created with client "1" if absent) gets the container's env; one task. */
function serverlessJob(job: JsonObject, custom: CreateRequest["custom"], container: { args: readonly string[]; env: readonly { key: string; value: string }[] }): JsonObject {
  const key = typeof job["environment_key"] === "string" && job["environment_key"] ? job["environment_key"] : "default";
  const environments = Array.isArray(job["environments"]) ? job["environments"].filter(isObject) : [];
  let environment = environments.find((entry) => entry["environment_key"] === key);
  if (!environment) environments.push((environment = { environment_key: key, spec: { client: "1" } }));
  const spec = isObject(environment["spec"]) ? environment["spec"] : (environment["spec"] = {});
  const env = Object.fromEntries([...container.env.map((pair) => [pair.key, pair.value]), ["FLYTE_FAIL_ON_ERROR", "true"]]);
  spec["environment_vars"] = { ...(isObject(spec["environment_vars"]) ? spec["environment_vars"] : {}), ...env };
  job["environments"] = environments;
  delete job["environment_key"];
  const notebookPath = custom["notebookPath"];
  if (typeof notebookPath === "string" && notebookPath) {
    const parameters = custom["notebookBaseParameters"];
    const notebook = { notebook_path: notebookPath, ...(isObject(parameters) && !isEmpty(parameters) ? { base_parameters: parameters } : {}), ...(isObject(job["git_source"]) ? { source: "GIT" } : {}) };
    job["tasks"] = [{ task_key: "flyte_notebook_task", notebook_task: notebook, environment_key: key }];
    return job;
  }
  const parameters = [...container.args];
  const provider = custom["databricksServiceCredentialProvider"] ?? process.env[DATABRICKS_CREDENTIAL_PROVIDER_ENV];
  // Last, after the flytekit command: flytekit's serverless entrypoint takes it off before running the task.
  if (typeof provider === "string" && provider) parameters.push(`--flyte-credential-provider=${provider}`);
  const pythonFile = typeof job["python_file"] === "string" && job["python_file"] ? job["python_file"] : FLYTEKIT_SERVERLESS_ENTRYPOINT;
  delete job["python_file"];
  job["tasks"] = [{ task_key: "flyte_task", spark_python_task: { python_file: pythonFile, source: "GIT", parameters }, environment_key: key }];
  job["git_source"] = isObject(job["git_source"]) ? job["git_source"] : { ...FLYTEKIT_GIT_SOURCE };
  return job;
}

function isEmpty(value: JsonValue | undefined): boolean {
  return value === undefined || value === null || (isObject(value) && Object.keys(value).length === 0);
}
