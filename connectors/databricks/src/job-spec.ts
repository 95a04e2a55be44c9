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
 */
export function buildRunSubmitBody(template: TaskTemplate, custom: CreateRequest["custom"]): JsonObject {
  const conf = custom["databricksConf"];
  if (!isObject(conf)) {
    throw new ConnectorError("INVALID_ARGUMENT", "custom.databricksConf is missing or not an object: it must hold the Databricks runs/submit settings (new_cluster or existing_cluster_id, run_name, …).");
  }
  const job: JsonObject = structuredClone(conf);
  const container = template.target.case === "container" ? template.target.value : undefined;
  const multiTask = Array.isArray(job["tasks"]);
  if (!multiTask && job["existing_cluster_id"] === undefined) {
    const cluster = job["new_cluster"];
    if (!isObject(cluster)) {
      throw new ConnectorError("INVALID_ARGUMENT", "custom.databricksConf needs existing_cluster_id or new_cluster (an object).");
    }
    if (!cluster["docker_image"] && container?.image) cluster["docker_image"] = { url: container.image };
    if (!cluster["spark_conf"] || isEmpty(cluster["spark_conf"])) cluster["spark_conf"] = isObject(custom["sparkConf"]) ? custom["sparkConf"] : {};
    const env = Object.fromEntries((container?.env ?? []).map((pair) => [pair.key, pair.value]));
    const existingEnv = cluster["spark_env_vars"];
    cluster["spark_env_vars"] = isObject(existingEnv) && !isEmpty(existingEnv) ? { ...existingEnv, ...env } : env;
  }
  if (container) {
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

function isEmpty(value: JsonValue | undefined): boolean {
  return value === undefined || value === null || (isObject(value) && Object.keys(value).length === 0);
}
