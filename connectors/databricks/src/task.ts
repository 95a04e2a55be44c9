import { ConnectorTask, type ConnectorTaskOptions } from "flyte-connectors";
import { DATABRICKS_TOKEN_SECRET } from "./connector.js";

type NoTypes = Record<never, never>;
type JsonObject = NonNullable<ConnectorTaskOptions<NoTypes, NoTypes>["custom"]>;

export interface DatabricksTaskOptions extends Pick<ConnectorTaskOptions<NoTypes, NoTypes>, "configs" | "project" | "domain" | "version"> {
  name: string;
  /**
   * The Jobs API 2.1 `runs/submit` settings: a cluster (`new_cluster` or `existing_cluster_id`), what to run
   * (`notebook_task`, `spark_python_task`, `spark_jar_task`, … or a `tasks` list), `run_name`, `timeout_seconds`, ….
   * Sent as written; the connector adds `idempotency_token` unless set here.
   */
  databricksConf: JsonObject;
  /** Workspace host, e.g. `"myorg.cloud.databricks.com"`. Default: the connector's `FLYTE_DATABRICKS_INSTANCE`. */
  databricksInstance?: string;
  /**
   * Reference of the secret holding a Databricks token (written to `custom.secrets.databricks_token`). The backend
   * resolves it; `runTask` reads the environment variable of that name.
   */
  databricksToken: string;
  /** Spark configuration; becomes `new_cluster.spark_conf` when the cluster sets none. Default: none. */
  sparkConf?: Readonly<Record<string, string>>;
  /** Hadoop configuration, carried as Python carries it (`custom.hadoopConf`). Default: none. */
  hadoopConf?: Readonly<Record<string, string>>;
}

/**
 * A Databricks run, started by {@link DatabricksConnector}. Its `custom` has the keys the Python
 * `Databricks` plugin config writes (`databricksConf`, `databricksInstance`, `sparkConf`, `hadoopConf`,
 * `secrets.databricks_token`), so the same connector runs tasks from either SDK.
 *
 * ```ts
 * const nightly = new DatabricksTask({
 *   name: "nightly_etl",
 *   databricksInstance: "myorg.cloud.databricks.com",
 *   databricksToken: "DATABRICKS_TOKEN",
 *   databricksConf: {
 *     run_name: "nightly-etl",
 *     new_cluster: { spark_version: "13.3.x-scala2.12", node_type_id: "i3.xlarge", num_workers: 2 },
 *     notebook_task: { notebook_path: "/Repos/etl/nightly" },
 *   },
 * });
 * ```
 */
export class DatabricksTask extends ConnectorTask<NoTypes, NoTypes> {
  static readonly TASK_TYPE = "databricks";
  readonly databricksConf: JsonObject;
  readonly databricksInstance: string | undefined;
  readonly sparkConf: Readonly<Record<string, string>>;
  readonly hadoopConf: Readonly<Record<string, string>>;

  constructor({ databricksConf, databricksInstance, databricksToken, sparkConf, hadoopConf, ...options }: DatabricksTaskOptions) {
    if (typeof databricksConf !== "object" || databricksConf === null || Array.isArray(databricksConf)) {
      throw new TypeError(`DatabricksTask "${options.name}": databricksConf must be an object (the runs/submit settings).`);
    }
    if (!databricksToken) throw new TypeError(`DatabricksTask "${options.name}" needs databricksToken (a secret reference).`);
    super({ ...options, taskType: DatabricksTask.TASK_TYPE, secrets: { [DATABRICKS_TOKEN_SECRET]: databricksToken } });
    this.databricksConf = structuredClone(databricksConf);
    this.databricksInstance = databricksInstance;
    this.sparkConf = { ...sparkConf };
    this.hadoopConf = { ...hadoopConf };
  }

  protected override customConfig(): JsonObject {
    // Key names and omission of empty values as protobuf's MessageToDict writes the Python SparkJob.
    return {
      ...(Object.keys(this.sparkConf).length > 0 ? { sparkConf: { ...this.sparkConf } } : {}),
      ...(Object.keys(this.hadoopConf).length > 0 ? { hadoopConf: { ...this.hadoopConf } } : {}),
      databricksConf: structuredClone(this.databricksConf),
      ...(this.databricksInstance ? { databricksInstance: this.databricksInstance } : {}),
    };
  }
}
