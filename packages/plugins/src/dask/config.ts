import type { JsonObject } from "@bufbuild/protobuf";
import { DaskJobSchema } from "@flyte-connectors/flyteidl2/flyteidl2/plugins/dask_pb.js";
import { canonicalJson } from "../internal/proto-json.js";
import { checkResources, resourcesJson, type PodResources } from "../internal/resources.js";

/** The Dask scheduler pod (Python's `flyteplugins.dask.Scheduler`). */
export interface DaskScheduler {
  /**
   * Image of the scheduler pod; it must have `dask[distributed]` and the same environment as the workers.
   * Default: the task's image.
   */
  readonly image?: string;
  /** Resources of the scheduler pod. Default: the backend's defaults. */
  readonly resources?: PodResources;
}

/** The default group of Dask worker pods (Python's `flyteplugins.dask.WorkerGroup`). */
export interface DaskWorkerGroup {
  /** Number of worker pods, ≥ 1. Default: 1. */
  readonly numberOfWorkers?: number;
  /** Image of the worker pods. Default: the task's image. */
  readonly image?: string;
  /** Resources of each worker pod. Default: the backend's defaults. */
  readonly resources?: PodResources;
}

/** What `new Dask(...)` takes. */
export interface DaskOptions {
  /** The scheduler pod. Default: `{}`. */
  readonly scheduler?: DaskScheduler;
  /** The worker pods. Default: `{ numberOfWorkers: 1 }`. */
  readonly workers?: DaskWorkerGroup;
}

/**
 * Runs a task with a transient Dask cluster (Dask Operator), as Python's `flyteplugins.dask.Dask`:
 * task type `"dask"`, `TaskTemplate.custom` = `flyteidl2.plugins.DaskJob`.
 *
 * ```ts
 * new Dask({ workers: { numberOfWorkers: 4, resources: { cpu: 2, memory: "8Gi" } } })
 * ```
 */
export class Dask {
  readonly scheduler: Readonly<DaskScheduler>;
  readonly workers: Readonly<Required<Pick<DaskWorkerGroup, "numberOfWorkers">> & DaskWorkerGroup>;

  /** @throws TypeError or RangeError naming the bad option. */
  constructor(options: DaskOptions = {}) {
    const { scheduler = {}, workers = {} } = options;
    const numberOfWorkers = workers.numberOfWorkers ?? 1;
    if (!Number.isInteger(numberOfWorkers) || numberOfWorkers < 1) {
      throw new RangeError(`Dask: workers.numberOfWorkers must be a whole number ≥ 1, got ${String(workers.numberOfWorkers)}`);
    }
    checkImage(scheduler.image, "Dask: scheduler.image");
    checkImage(workers.image, "Dask: workers.image");
    this.scheduler = Object.freeze({
      ...(scheduler.image !== undefined ? { image: scheduler.image } : {}),
      ...optionalResources(scheduler.resources, "Dask: scheduler.resources"),
    });
    this.workers = Object.freeze({
      numberOfWorkers,
      ...(workers.image !== undefined ? { image: workers.image } : {}),
      ...optionalResources(workers.resources, "Dask: workers.resources"),
    });
    Object.freeze(this);
  }

  /** `TaskTemplate.custom`: the `DaskJob` message as JSON, as Python's `MessageToDict(DaskJob(...))`. */
  toCustom(): JsonObject {
    const scheduler: JsonObject = {};
    if (this.scheduler.image) scheduler["image"] = this.scheduler.image;
    const schedulerResources = resourcesJson(this.scheduler.resources);
    if (schedulerResources) scheduler["resources"] = schedulerResources;
    const workers: JsonObject = { numberOfWorkers: this.workers.numberOfWorkers };
    if (this.workers.image) workers["image"] = this.workers.image;
    const workerResources = resourcesJson(this.workers.resources);
    if (workerResources) workers["resources"] = workerResources;
    return canonicalJson(DaskJobSchema, { scheduler, workers });
  }
}

function checkImage(image: unknown, where: string): void {
  if (image !== undefined && (typeof image !== "string" || image.trim() === "")) {
    throw new TypeError(`${where} must be a non-empty image reference, got ${JSON.stringify(image)}`);
  }
}

function optionalResources(resources: PodResources | undefined, where: string): { resources?: PodResources } {
  const checked = checkResources(resources, where);
  return checked ? { resources: checked } : {};
}
