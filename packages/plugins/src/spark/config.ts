import type { JsonObject } from "@bufbuild/protobuf";
import { SparkJobSchema } from "@flyte-connectors/flyteidl2/flyteidl2/plugins/spark_pb.js";
import { checkPodTemplate, k8sPodJson, type PodTemplate } from "../internal/pod-template.js";
import { canonicalJson } from "../internal/proto-json.js";

/**
 * The interpreter flyte-sdk's `SerializationContext` assumes by default; Python's Spark plugin falls back to
 * it for `executorPath` and derives the application file from its folder (`<dir>/runtime.py`).
 */
const DEFAULT_INTERPRETER = "/opt/venv/bin/python";
const DEFAULT_APPLICATION = "local:///opt/venv/bin/runtime.py";

/** What `new Spark(...)` takes. */
export interface SparkOptions {
  /** Spark configuration, e.g. `{ "spark.executor.instances": "2" }`. Default: `{}`. */
  readonly sparkConf?: Readonly<Record<string, string>>;
  /** Hadoop configuration. Default: `{}`. */
  readonly hadoopConf?: Readonly<Record<string, string>>;
  /** The Python interpreter of driver and executors. Default: `"/opt/venv/bin/python"` (flyte-sdk's default). */
  readonly executorPath?: string;
  /**
   * The main application file. Default: `"local:///opt/venv/bin/runtime.py"`, flyte-sdk's task entry point
   * beside its default interpreter (Python derives it from the interpreter, not from `executorPath`).
   */
  readonly applicationsPath?: string;
  /** Pod template of the driver pod. Default: none. */
  readonly driverPod?: PodTemplate;
  /** Pod template of the executor pods. Default: none. */
  readonly executorPod?: PodTemplate;
}

/**
 * Runs a task as a Spark application (Spark Operator), as Python's `flyteplugins.spark.Spark`: task type
 * `"spark"`, `TaskTemplate.custom` = `flyteidl2.plugins.SparkJob` with application type PYTHON.
 *
 * ```ts
 * new Spark({ sparkConf: { "spark.executor.instances": "2", "spark.executor.memory": "2g" } })
 * ```
 */
export class Spark {
  readonly sparkConf: Readonly<Record<string, string>>;
  readonly hadoopConf: Readonly<Record<string, string>>;
  readonly executorPath: string | undefined;
  readonly applicationsPath: string | undefined;
  readonly driverPod: PodTemplate | undefined;
  readonly executorPod: PodTemplate | undefined;

  /** @throws TypeError naming the bad option. */
  constructor(options: SparkOptions = {}) {
    this.sparkConf = checkConf(options.sparkConf, "sparkConf");
    this.hadoopConf = checkConf(options.hadoopConf, "hadoopConf");
    this.executorPath = checkPath(options.executorPath, "executorPath");
    this.applicationsPath = checkPath(options.applicationsPath, "applicationsPath");
    this.driverPod = checkPodTemplate(options.driverPod, "Spark: driverPod");
    this.executorPod = checkPodTemplate(options.executorPod, "Spark: executorPod");
    Object.freeze(this);
  }

  /** `TaskTemplate.custom`: the `SparkJob` message as JSON, as Python's `MessageToDict(SparkJob(...))`. */
  toCustom(): JsonObject {
    const job: JsonObject = {
      applicationType: "PYTHON",
      sparkConf: { ...this.sparkConf },
      hadoopConf: { ...this.hadoopConf },
      mainApplicationFile: this.applicationsPath ?? DEFAULT_APPLICATION,
      executorPath: this.executorPath ?? DEFAULT_INTERPRETER,
    };
    if (this.driverPod) job["driverPod"] = k8sPodJson(this.driverPod);
    if (this.executorPod) job["executorPod"] = k8sPodJson(this.executorPod);
    return canonicalJson(SparkJobSchema, job);
  }
}

function checkConf(conf: Readonly<Record<string, string>> | undefined, name: string): Readonly<Record<string, string>> {
  if (conf === undefined) return Object.freeze({});
  if (conf === null || typeof conf !== "object" || Array.isArray(conf)) throw new TypeError(`Spark: ${name} must be an object of strings`);
  for (const [k, v] of Object.entries(conf)) {
    if (typeof v !== "string") throw new TypeError(`Spark: ${name}["${k}"] must be a string, got ${typeof v} (Spark settings are strings: write "${String(v)}")`);
  }
  return Object.freeze({ ...conf });
}

function checkPath(path: string | undefined, name: string): string | undefined {
  if (path !== undefined && (typeof path !== "string" || path === "")) throw new TypeError(`Spark: ${name} must be a non-empty string`);
  return path;
}
