import type { JsonObject } from "@bufbuild/protobuf";
import { DistributedPyTorchTrainingTaskSchema } from "@flyte-connectors/flyteidl2/flyteidl2/plugins/kubeflow/pytorch_pb.js";
import { canonicalJson } from "../internal/proto-json.js";

/** Rendezvous backends torch elastic supports. */
export type RdzvBackend = "c10d" | "etcd" | "etcd-v2";

/** Which pods the Kubeflow training operator deletes when the job ends (Python's spelling). */
export type CleanPodPolicy = "None" | "all" | "Running";

/** Policies of the Kubeflow PyTorchJob (Python's `flyteplugins.pytorch.RunPolicy`). */
export interface RunPolicy {
  /** Which pods to delete when the job ends. Default: the operator's default. */
  readonly cleanPodPolicy?: CleanPodPolicy;
  /** Seconds before a finished job is deleted. Default: not set. */
  readonly ttlSecondsAfterFinished?: number;
  /** Seconds the job may stay active before it is stopped. Default: not set. */
  readonly activeDeadlineSeconds?: number;
  /** Retries before the job is marked failed. Default: not set. */
  readonly backoffLimit?: number;
}

/** What `new Elastic(...)` takes. */
export interface ElasticOptions {
  /** Nodes (pods): a count (`2`) or an elastic range `"min:max"` (`"2:4"`). */
  readonly nnodes: number | string;
  /** Worker processes per node, ≥ 1. */
  readonly nprocPerNode: number;
  /** Rendezvous backend. Default: `"c10d"`. */
  readonly rdzvBackend?: RdzvBackend;
  /** Restarts of the whole worker group before the job fails, ≥ 0. Default: 3. */
  readonly maxRestarts?: number;
  /** Kubeflow run policy. Default: none. */
  readonly runPolicy?: RunPolicy;
}

const CLEAN_POD_POLICY: Readonly<Record<CleanPodPolicy, string>> = {
  None: "CLEANPOD_POLICY_NONE",
  all: "CLEANPOD_POLICY_ALL",
  Running: "CLEANPOD_POLICY_RUNNING",
};

/**
 * Runs a task as an elastic PyTorch job (Kubeflow PyTorchJob), as Python's `flyteplugins.pytorch.Elastic`:
 * task type `"pytorch"` version 1 (`"python-task"` when `nnodes` is the number 1), `TaskTemplate.custom` =
 * `flyteidl2.plugins.kubeflow.DistributedPyTorchTrainingTask`.
 *
 * ```ts
 * new Elastic({ nnodes: "2:4", nprocPerNode: 8 })
 * ```
 */
export class Elastic {
  readonly nnodes: number | string;
  readonly nprocPerNode: number;
  readonly rdzvBackend: RdzvBackend;
  readonly maxRestarts: number;
  readonly runPolicy: Readonly<RunPolicy> | undefined;
  /** Fewest nodes, parsed from `nnodes` as torchrun does. */
  readonly minNodes: number;
  /** Most nodes, parsed from `nnodes`; also the worker replica count. */
  readonly maxNodes: number;

  /** @throws TypeError or RangeError naming the bad option. */
  constructor(options: ElasticOptions) {
    if (!options || typeof options !== "object") throw new TypeError("Elastic: options { nnodes, nprocPerNode } are required");
    [this.minNodes, this.maxNodes] = parseNnodes(options.nnodes);
    this.nnodes = options.nnodes;
    checkWhole(options.nprocPerNode, "nprocPerNode", 1);
    this.nprocPerNode = options.nprocPerNode;
    this.rdzvBackend = options.rdzvBackend ?? "c10d";
    if (!["c10d", "etcd", "etcd-v2"].includes(this.rdzvBackend)) {
      throw new TypeError(`Elastic: rdzvBackend must be "c10d", "etcd" or "etcd-v2", got ${JSON.stringify(options.rdzvBackend)}`);
    }
    this.maxRestarts = options.maxRestarts ?? 3;
    checkWhole(this.maxRestarts, "maxRestarts", 0);
    if (options.runPolicy !== undefined) {
      const p = options.runPolicy;
      if (p.cleanPodPolicy !== undefined && !(p.cleanPodPolicy in CLEAN_POD_POLICY)) {
        throw new TypeError(`Elastic: runPolicy.cleanPodPolicy must be "None", "all" or "Running", got ${JSON.stringify(p.cleanPodPolicy)}`);
      }
      for (const key of ["ttlSecondsAfterFinished", "activeDeadlineSeconds", "backoffLimit"] as const) {
        if (p[key] !== undefined) checkWhole(p[key], `runPolicy.${key}`, 0);
      }
      this.runPolicy = Object.freeze({ ...p });
    }
    Object.freeze(this);
  }

  /** The task type Python's `TorchFunctionTask` uses: a single node (`nnodes === 1`) runs as a plain pod. */
  get taskType(): "pytorch" | "python-task" {
    return this.nnodes === 1 ? "python-task" : "pytorch";
  }

  /** `TaskTemplate.custom`: the `DistributedPyTorchTrainingTask` message as JSON, as Python's `MessageToDict`. */
  toCustom(): JsonObject {
    const job: JsonObject = {
      workerReplicas: { replicas: this.maxNodes },
      elasticConfig: {
        rdzvBackend: this.rdzvBackend,
        minReplicas: this.minNodes,
        maxReplicas: this.maxNodes,
        nprocPerNode: this.nprocPerNode,
        maxRestarts: this.maxRestarts,
      },
    };
    if (this.runPolicy) {
      const p = this.runPolicy;
      job["runPolicy"] = {
        ...(p.cleanPodPolicy ? { cleanPodPolicy: CLEAN_POD_POLICY[p.cleanPodPolicy] } : {}),
        ...(p.ttlSecondsAfterFinished !== undefined ? { ttlSecondsAfterFinished: p.ttlSecondsAfterFinished } : {}),
        ...(p.activeDeadlineSeconds !== undefined ? { activeDeadlineSeconds: p.activeDeadlineSeconds } : {}),
        ...(p.backoffLimit !== undefined ? { backoffLimit: p.backoffLimit } : {}),
      };
    }
    return canonicalJson(DistributedPyTorchTrainingTaskSchema, job);
  }
}

/** `"N"` or `N` → [N, N]; `"MIN:MAX"` → [MIN, MAX] (torch.distributed.run.parse_min_max_nnodes), checked. */
function parseNnodes(nnodes: unknown): [number, number] {
  const bad = (why: string) => new RangeError(`Elastic: nnodes must be a node count ≥ 1 or a range "min:max" such as "2:4"; ${JSON.stringify(nnodes)} ${why}`);
  let parts: string[];
  if (typeof nnodes === "number") parts = [String(nnodes)];
  else if (typeof nnodes === "string") parts = nnodes.split(":");
  else throw bad("is not a number or a string");
  if (parts.length > 2) throw bad("has more than one ':'");
  const values = parts.map((p) => (/^\s*\d+\s*$/.test(p) ? Number(p) : NaN));
  if (values.some((v) => !Number.isSafeInteger(v) || v < 1)) throw bad("is not made of whole numbers ≥ 1");
  const min = values[0]!;
  const max = values[1] ?? min;
  if (min > max) throw bad(`has min (${min}) > max (${max})`);
  return [min, max];
}

function checkWhole(value: unknown, name: string, min: number): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > 2 ** 31 - 1) {
    throw new RangeError(`Elastic: ${name} must be a whole number ≥ ${min}, got ${String(value)}`);
  }
}
