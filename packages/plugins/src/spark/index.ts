/**
 * Spark plugin: `pluginConfig: new Spark({...})` runs a task as a Spark application (Spark Operator).
 * Importing this module registers {@link SparkTask} for {@link Spark} configs.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { FunctionTask, TaskPluginRegistry, type FunctionTaskOptions, type TypeSpecs } from "flyte-connectors";
import { configOf } from "../internal/task-config.js";
import { Spark } from "./config.js";

export { Spark, type SparkOptions } from "./config.js";
export type { PodTemplate } from "../internal/pod-template.js";

/** A function task run as a Spark application: task type `"spark"`, `custom` = the `SparkJob` of its {@link Spark}. */
export class SparkTask<I extends TypeSpecs = TypeSpecs, O extends TypeSpecs = TypeSpecs> extends FunctionTask<I, O> {
  readonly spark: Spark;

  /** @throws TypeError when `pluginConfig` is not a {@link Spark}. */
  constructor(options: FunctionTaskOptions<I, O>) {
    super(options);
    this.spark = configOf(this, Spark);
  }

  override get taskType(): string {
    return "spark";
  }

  protected override customConfig(): JsonObject {
    return this.spark.toCustom();
  }
}

TaskPluginRegistry.default.register(Spark, SparkTask);
