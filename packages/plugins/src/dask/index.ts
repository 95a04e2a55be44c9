/**
 * Dask plugin: `pluginConfig: new Dask({...})` runs a task's environment with a transient Dask cluster.
 * Importing this module registers {@link DaskTask} for {@link Dask} configs (as importing flyteplugins.dask does).
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { FunctionTask, TaskPluginRegistry, type FunctionTaskOptions, type TypeSpecs } from "flyte-connectors";
import { configOf } from "../internal/task-config.js";
import { Dask } from "./config.js";

export { Dask, type DaskOptions, type DaskScheduler, type DaskWorkerGroup } from "./config.js";
export type { PodResources } from "../internal/resources.js";

/** A function task run with a Dask cluster: task type `"dask"`, `custom` = the `DaskJob` of its {@link Dask} config. */
export class DaskTask<I extends TypeSpecs = TypeSpecs, O extends TypeSpecs = TypeSpecs> extends FunctionTask<I, O> {
  readonly dask: Dask;

  /** @throws TypeError when `pluginConfig` is not a {@link Dask}. */
  constructor(options: FunctionTaskOptions<I, O>) {
    super(options);
    this.dask = configOf(this, Dask);
  }

  override get taskType(): string {
    return "dask";
  }

  protected override customConfig(): JsonObject {
    return this.dask.toCustom();
  }
}

TaskPluginRegistry.default.register(Dask, DaskTask);
