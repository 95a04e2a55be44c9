/**
 * PyTorch plugin: `pluginConfig: new Elastic({...})` runs a task as an elastic PyTorch job (Kubeflow
 * PyTorchJob). Importing this module registers {@link PyTorchTask} for {@link Elastic} configs.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { FunctionTask, TaskPluginRegistry, type FunctionTaskOptions, type TypeSpecs } from "flyte-connectors";
import { configOf } from "../internal/task-config.js";
import { Elastic } from "./config.js";

export { Elastic, type ElasticOptions, type RunPolicy, type RdzvBackend, type CleanPodPolicy } from "./config.js";

/**
 * A function task run as an elastic PyTorch job: task type `"pytorch"` (`"python-task"` for `nnodes: 1`),
 * version 1, `custom` = the `DistributedPyTorchTrainingTask` of its {@link Elastic} config.
 */
export class PyTorchTask<I extends TypeSpecs = TypeSpecs, O extends TypeSpecs = TypeSpecs> extends FunctionTask<I, O> {
  readonly elastic: Elastic;

  /** @throws TypeError when `pluginConfig` is not an {@link Elastic}. */
  constructor(options: FunctionTaskOptions<I, O>) {
    super(options);
    this.elastic = configOf(this, Elastic);
  }

  override get taskType(): string {
    return this.elastic.taskType;
  }

  override get taskTypeVersion(): number {
    return 1;
  }

  protected override customConfig(): JsonObject {
    return this.elastic.toCustom();
  }
}

TaskPluginRegistry.default.register(Elastic, PyTorchTask);
