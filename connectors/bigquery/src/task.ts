import { create, type JsonObject } from "@bufbuild/protobuf";
import type { JobMetadata } from "@google-cloud/bigquery";
import { ConnectorTask, type ConnectorTaskOptions, type DataFrame, type TypeSpec, type TypeSpecs } from "flyte-connectors";
import { SqlSchema, Sql_Dialect, type TaskTemplate } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { CREDENTIALS_SECRET } from "./clients.js";
import { parameterShape, SUPPORTED_INPUTS } from "./query-parameters.js";

/** BigQuery REST `JobConfigurationQuery` (API v2), the fields Python's `QueryJobConfig.to_api_repr()["query"]` writes. */
export type QueryJobConfig = Omit<NonNullable<NonNullable<JobMetadata["configuration"]>["query"]>, "query">;

/** Where and how the query runs: Python's `BigQueryConfig`. */
export interface BigQueryConfig {
  /** Google Cloud project that runs (and is billed for) the job. */
  projectId: string;
  /** Location of the job, e.g. `"US"`, `"EU"`, `"europe-west1"`. Default: BigQuery's choice (from the datasets). */
  location?: string;
  /**
   * Job configuration in the REST API's camelCase form, e.g. `{ useQueryCache: false, destinationTable: {…},
   * writeDisposition: "WRITE_TRUNCATE", maximumBytesBilled: "1000000000" }`. Written into the custom config as
   * Python writes it. Default: none (standard SQL, BigQuery's defaults).
   */
  queryJobConfig?: QueryJobConfig;
}

/** The outputs a BigQuery task may declare: none, or the query's destination table as `results`. */
export type BigQueryOutputs = Readonly<Record<never, never>> | Readonly<{ results: TypeSpec<DataFrame> }>;

export interface BigQueryTaskOptions<I extends TypeSpecs, O extends BigQueryOutputs>
  extends Pick<ConnectorTaskOptions<I, O>, "project" | "domain" | "version" | "org"> {
  name: string;
  /** The SQL; refer to inputs as named parameters, e.g. `WHERE id = @user_id`. */
  query: string;
  config: BigQueryConfig;
  /** Inputs, passed as query parameters: int, float, string, boolean, datetime, string enums, lists and optionals of those. */
  inputs?: I;
  /** `{ results: types.dataframe() }` to return the destination table. Default: no outputs. */
  outputs?: O;
  /**
   * Reference of the secret holding a service-account JSON key, sent as `custom.secrets.google_application_credentials`.
   * Default: none (the connector uses its Application Default Credentials).
   */
  googleApplicationCredentials?: string;
}

/**
 * A BigQuery query (task type `bigquery_query_job_task`) run by {@link BigQueryConnector}; the TypeScript form of
 * flyte-sdk's `BigQueryTask`, with the same custom config (`Location`, `ProjectID`, `Domain`, the QueryJobConfig
 * fields, `secrets`) and the query in `TaskTemplate.sql`.
 *
 * ```ts
 * const counts = new BigQueryTask({
 *   name: "daily_counts",
 *   query: "SELECT COUNT(*) AS n FROM `my-project.logs.events` WHERE day = @day",
 *   config: { projectId: "my-project", location: "US" },
 *   inputs: { day: types.string },
 *   outputs: { results: types.dataframe() },
 * });
 * ```
 */
export class BigQueryTask<I extends TypeSpecs = Record<never, never>, O extends BigQueryOutputs = Record<never, never>> extends ConnectorTask<I, O> {
  static readonly TASK_TYPE = "bigquery_query_job_task";
  readonly query: string;
  readonly config: Readonly<BigQueryConfig>;

  constructor({ query, config, googleApplicationCredentials, ...options }: BigQueryTaskOptions<I, O>) {
    super({
      ...options,
      taskType: BigQueryTask.TASK_TYPE,
      ...(googleApplicationCredentials ? { secrets: { [CREDENTIALS_SECRET]: googleApplicationCredentials } } : {}),
    });
    if (!config?.projectId) throw new TypeError(`BigQueryTask "${options.name}" needs config.projectId.`);
    if (!query.trim()) throw new TypeError(`BigQueryTask "${options.name}" needs a query.`);
    for (const [name, spec] of Object.entries(this.inputs)) {
      if (!parameterShape(spec.literalType)) throw new TypeError(`BigQueryTask "${options.name}": input "${name}" cannot be a query parameter; use ${SUPPORTED_INPUTS}.`);
    }
    const extra = Object.keys(this.outputs).filter((name) => name !== "results");
    if (extra.length > 0) throw new TypeError(`BigQueryTask "${options.name}" can only declare the output "results", not ${extra.join(", ")}.`);
    // Kept as written (Python collapses all whitespace, which breaks `--` comments and multi-line strings).
    this.query = query.trim();
    this.config = { ...config };
  }

  /** `{ Location, ProjectID, Domain, ...queryJobConfig }`, as Python's `BigQueryTask.custom_config`. */
  protected override customConfig(): JsonObject {
    return {
      Location: this.config.location ?? null,
      ProjectID: this.config.projectId,
      Domain: this.domain,
      ...(this.config.queryJobConfig as JsonObject | undefined),
    };
  }

  /** The task template, with the query in `sql` (dialect ANSI) as Python's `BigQueryTask.sql`. */
  override toTaskTemplate(): TaskTemplate {
    const template = super.toTaskTemplate();
    template.target = { case: "sql", value: create(SqlSchema, { statement: this.query, dialect: Sql_Dialect.ANSI }) };
    return template;
  }
}
