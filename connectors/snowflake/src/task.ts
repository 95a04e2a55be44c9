import { create, type JsonObject } from "@bufbuild/protobuf";
import { SqlSchema, Sql_Dialect, type TaskTemplate } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { ConnectorTask, types, type ConnectorTaskOptions, type DataFrame, type TypeSpec, type TypeSpecs } from "flyte-connectors";
import { SNOWFLAKE_TASK_TYPE } from "./connector.js";

/** Where a Snowflake task runs: the Python plugin's `SnowflakeConfig`. */
export interface SnowflakeConfig {
  /** Account identifier, e.g. `myorg-myaccount` (or a locator with region, `xy12345.us-east-1`). */
  account: string;
  database: string;
  /** Default (in the connector): "PUBLIC". */
  schema: string;
  warehouse: string;
  user: string;
  /**
   * Extra connection settings, as the Python plugin's `connection_kwargs`. Used here: `role`, `session_parameters`,
   * `timezone`, and `host`/`port`/`protocol` (another endpoint, e.g. private link). Default: none.
   */
  connectionKwargs?: JsonObject;
}

/** The output a Snowflake task declares when it returns its query result. */
export type SnowflakeResults = { results: TypeSpec<DataFrame> };
type NoOutputs = Record<never, never>;

/** What `new SnowflakeTask(...)` takes. */
export interface SnowflakeTaskOptions<I extends TypeSpecs, R extends boolean>
  extends Pick<ConnectorTaskOptions<I, NoOutputs>, "project" | "domain" | "version" | "org"> {
  name: string;
  /** The SQL to run; inputs appear as `%(name)s`. Sent as written (only trimmed), line breaks and comments included. */
  queryTemplate: string;
  config: SnowflakeConfig;
  /** Input names and types. Default: none. */
  inputs?: I;
  /** Declare output `results`, a DataFrame referring to the query's result (Python's `output_dataframe_type`). Default: false. */
  outputDataFrame?: R;
  /** Expand list inputs into one row each of the template's single `VALUES (…)` clause. Default: false. */
  batch?: boolean;
  /**
   * Secret group: the secrets' environment variable names become `<GROUP>_<KEY>` (upper case, `-` → `_`), as in
   * Python. Default: none (just `<KEY>`).
   */
  secretGroup?: string;
  /** Secret key of the PEM private key for key-pair authentication (the connector reads it as `snowflake_private_key`). */
  snowflakePrivateKey?: string;
  /** Secret key of the private key's passphrase, when the key is encrypted (`snowflake_private_key_passphrase`). */
  snowflakePrivateKeyPassphrase?: string;
}

/**
 * A SQL statement run on Snowflake by {@link SnowflakeConnector}: the TypeScript form of the Python plugin's
 * `Snowflake` task, writing the same task template (type "snowflake", `sql.statement`, custom config keys).
 *
 * ```ts
 * const lookup = new SnowflakeTask({
 *   name: "lookup_user",
 *   queryTemplate: "SELECT * FROM users WHERE id = %(user_id)s",
 *   config: { account: "myorg-myaccount", user: "FLYTE", database: "ANALYTICS", schema: "PUBLIC", warehouse: "COMPUTE_WH" },
 *   inputs: { user_id: types.int },
 *   outputDataFrame: true,
 *   snowflakePrivateKey: "snowflake-pk",
 * });
 * ```
 */
export class SnowflakeTask<I extends TypeSpecs = NoOutputs, R extends boolean = false> extends ConnectorTask<I, R extends true ? SnowflakeResults : NoOutputs> {
  static readonly TASK_TYPE = SNOWFLAKE_TASK_TYPE;
  readonly queryTemplate: string;
  readonly config: SnowflakeConfig;
  readonly batch: boolean;

  constructor(options: SnowflakeTaskOptions<I, R>) {
    const { queryTemplate, config, inputs, outputDataFrame, batch, secretGroup, snowflakePrivateKey, snowflakePrivateKeyPassphrase, ...rest } = options;
    const envVar = (key: string) => (secretGroup ? `${secretGroup}_${key}` : key).replaceAll("-", "_").toUpperCase();
    const secrets: Record<string, string> = {};
    if (snowflakePrivateKey !== undefined) secrets["snowflake_private_key"] = envVar(snowflakePrivateKey);
    if (snowflakePrivateKeyPassphrase !== undefined) secrets["snowflake_private_key_passphrase"] = envVar(snowflakePrivateKeyPassphrase);
    const outputs = (outputDataFrame ? { results: types.dataframe() } : {}) as R extends true ? SnowflakeResults : NoOutputs;
    super({ ...rest, taskType: SNOWFLAKE_TASK_TYPE, inputs: inputs ?? ({} as I), outputs, secrets });
    // Kept as written (Python collapses all whitespace, which turns the rest of the query after a `--` comment into
    // comment and changes multi-line string literals).
    this.queryTemplate = queryTemplate.trim();
    this.config = config;
    this.batch = batch ?? false;
  }

  /** The Python plugin's `custom_config`: account, database, schema, warehouse, user, [batch], [connection_kwargs]. */
  protected override customConfig(): JsonObject {
    const { account, database, schema, warehouse, user, connectionKwargs } = this.config;
    return {
      account,
      database,
      schema,
      warehouse,
      user,
      ...(this.batch ? { batch: true } : {}),
      ...(connectionKwargs && Object.keys(connectionKwargs).length > 0 ? { connection_kwargs: connectionKwargs } : {}),
    };
  }

  /** The template with `sql { statement, dialect: ANSI }`, as the Python task's `sql()`. */
  override toTaskTemplate(): TaskTemplate {
    const template = super.toTaskTemplate();
    template.target = { case: "sql", value: create(SqlSchema, { statement: this.queryTemplate, dialect: Sql_Dialect.ANSI }) };
    return template;
  }
}
