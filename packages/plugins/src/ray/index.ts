/**
 * Ray plugin: `pluginConfig: new RayJobConfig({...})` runs a task as a Ray job on a transient KubeRay cluster.
 * Importing this module registers {@link RayTask} for {@link RayJobConfig} configs.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { FunctionTask, TaskPluginRegistry, type FunctionTaskOptions, type TypeSpecs } from "flyte-connectors";
import { configOf } from "../internal/task-config.js";
import { RayJobConfig } from "./config.js";

export { RayJobConfig, type RayJobConfigOptions, type RayHeadNode, type RayWorkerGroup } from "./config.js";
export type { PodResources } from "../internal/resources.js";
export type { PodTemplate } from "../internal/pod-template.js";

/** A function task run as a Ray job: task type `"ray"`, `custom` = the `RayJob` of its {@link RayJobConfig}. */
export class RayTask<I extends TypeSpecs = TypeSpecs, O extends TypeSpecs = TypeSpecs> extends FunctionTask<I, O> {
  readonly ray: RayJobConfig;

  /** @throws TypeError when `pluginConfig` is not a {@link RayJobConfig}. */
  constructor(options: FunctionTaskOptions<I, O>) {
    super(options);
    this.ray = configOf(this, RayJobConfig);
  }

  override get taskType(): string {
    return "ray";
  }

  protected override customConfig(): JsonObject {
    return this.ray.toCustom();
  }
}

TaskPluginRegistry.default.register(RayJobConfig, RayTask);
