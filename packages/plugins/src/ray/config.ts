import type { JsonObject } from "@bufbuild/protobuf";
import { RayJobSchema } from "@flyte-connectors/flyteidl2/flyteidl2/plugins/ray_pb.js";
import { stringify as yamlStringify } from "yaml";
import { checkPodTemplate, k8sPodJson, nodePodTemplate, type PodTemplate } from "../internal/pod-template.js";
import { canonicalJson } from "../internal/proto-json.js";
import { pythonJsonDumps } from "flyte-connectors";
import { checkResources, type PodResources } from "../internal/resources.js";

// Container names flyteplugins.ray gives the head and worker containers when it builds their pod specs.
const HEAD_CONTAINER = "ray-head";
const WORKER_CONTAINER = "ray-worker";

/** The Ray head node (Python's `HeadNodeConfig`). */
export interface RayHeadNode {
  /** Parameters of `ray start` on the head, e.g. `{ "dashboard-host": "0.0.0.0" }`. Default: none. */
  readonly rayStartParams?: Readonly<Record<string, string>>;
  /** Pod template of the head pod; `requests`/`limits` are merged into its `ray-head` container. Default: none. */
  readonly podTemplate?: PodTemplate;
  /** Resource requests of the head container (a pair is not allowed; use `limits`). Default: none. */
  readonly requests?: PodResources;
  /** Resource limits of the head container. Default: the requests. */
  readonly limits?: PodResources;
}

/** A group of Ray worker nodes (Python's `WorkerNodeConfig`). */
export interface RayWorkerGroup {
  /** Name of the group, unique within the cluster. */
  readonly groupName: string;
  /** Number of worker pods, ≥ 0. */
  readonly replicas: number;
  /** Fewest pods when autoscaling, ≤ replicas. Default: not set. */
  readonly minReplicas?: number;
  /** Most pods when autoscaling, ≥ replicas. Default: not set. */
  readonly maxReplicas?: number;
  /** Parameters of `ray start` on the workers. Default: none. */
  readonly rayStartParams?: Readonly<Record<string, string>>;
  /** Pod template of the worker pods; `requests`/`limits` are merged into its `ray-worker` container. Default: none. */
  readonly podTemplate?: PodTemplate;
  /** Resource requests of each worker container. Default: none. */
  readonly requests?: PodResources;
  /** Resource limits of each worker container. Default: the requests. */
  readonly limits?: PodResources;
}

/** What `new RayJobConfig(...)` takes. */
export interface RayJobConfigOptions {
  /** The worker groups. May be empty (a head-only cluster). */
  readonly workers: readonly RayWorkerGroup[];
  /** The head node. Default: the backend's head node. */
  readonly head?: RayHeadNode;
  /** Lets KubeRay's autoscaler scale worker groups between their min and max replicas. Default: false. */
  readonly enableAutoscaling?: boolean;
  /**
   * Ray runtime environment (`pip`, `env_vars`, `working_dir`, …), sent both as base64 JSON (`runtimeEnv`,
   * for KubeRay < 1.1) and as YAML (`runtimeEnvYaml`). Default: none.
   */
  readonly runtimeEnv?: Readonly<Record<string, unknown>>;
  /** Delete the cluster once the job finishes. Default: false. */
  readonly shutdownAfterJobFinishes?: boolean;
  /** Seconds to keep the cluster after the job finishes (with `shutdownAfterJobFinishes`). Default: not set. */
  readonly ttlSecondsAfterFinished?: number;
}

/**
 * Runs a task as a Ray job on a transient KubeRay cluster, as Python's `flyteplugins.ray.RayJobConfig`:
 * task type `"ray"`, `TaskTemplate.custom` = `flyteidl2.plugins.RayJob`.
 *
 * ```ts
 * new RayJobConfig({ workers: [{ groupName: "cpu", replicas: 2, requests: { cpu: 2, memory: "4Gi" } }] })
 * ```
 */
export class RayJobConfig {
  readonly workers: readonly Readonly<RayWorkerGroup>[];
  readonly head: Readonly<RayHeadNode> | undefined;
  readonly enableAutoscaling: boolean;
  readonly runtimeEnv: Readonly<Record<string, unknown>> | undefined;
  readonly shutdownAfterJobFinishes: boolean;
  readonly ttlSecondsAfterFinished: number | undefined;

  /** @throws TypeError or RangeError naming the bad option. */
  constructor(options: RayJobConfigOptions) {
    if (!options || !Array.isArray(options.workers)) throw new TypeError("RayJobConfig: workers must be an array of worker groups");
    const names = new Set<string>();
    this.workers = Object.freeze(
      options.workers.map((group, i) => {
        const where = `RayJobConfig: workers[${i}]`;
        if (typeof group?.groupName !== "string" || group.groupName === "") throw new TypeError(`${where}.groupName must be a non-empty string`);
        if (names.has(group.groupName)) throw new TypeError(`${where}.groupName "${group.groupName}" is used by another group`);
        names.add(group.groupName);
        const w = `RayJobConfig: worker group "${group.groupName}"`;
        checkCount(group.replicas, `${w} replicas`, true);
        if (group.minReplicas !== undefined) checkCount(group.minReplicas, `${w} minReplicas`, false);
        if (group.maxReplicas !== undefined) checkCount(group.maxReplicas, `${w} maxReplicas`, false);
        const { minReplicas: min, maxReplicas: max, replicas } = group;
        if (min !== undefined && max !== undefined && min > max) throw new RangeError(`${w}: minReplicas (${min}) must be ≤ maxReplicas (${max})`);
        if (min !== undefined && replicas < min) throw new RangeError(`${w}: replicas (${replicas}) must be ≥ minReplicas (${min})`);
        if (max !== undefined && replicas > max) throw new RangeError(`${w}: replicas (${replicas}) must be ≤ maxReplicas (${max})`);
        return Object.freeze({ ...group, ...checkNode(group, w) });
      }),
    );
    this.head = options.head ? Object.freeze({ ...options.head, ...checkNode(options.head, "RayJobConfig: head") }) : undefined;
    this.enableAutoscaling = options.enableAutoscaling ?? false;
    if (options.runtimeEnv !== undefined && (options.runtimeEnv === null || typeof options.runtimeEnv !== "object" || Array.isArray(options.runtimeEnv))) {
      throw new TypeError("RayJobConfig: runtimeEnv must be an object such as { pip: [\"numpy\"] }");
    }
    this.runtimeEnv = options.runtimeEnv === undefined ? undefined : Object.freeze(structuredClone(options.runtimeEnv));
    this.shutdownAfterJobFinishes = options.shutdownAfterJobFinishes ?? false;
    if (options.ttlSecondsAfterFinished !== undefined) checkCount(options.ttlSecondsAfterFinished, "RayJobConfig: ttlSecondsAfterFinished", false);
    this.ttlSecondsAfterFinished = options.ttlSecondsAfterFinished;
    Object.freeze(this);
  }

  /** `TaskTemplate.custom`: the `RayJob` message as JSON, as Python's `MessageToDict(RayJob(...))`. */
  toCustom(): JsonObject {
    const cluster: JsonObject = {
      workerGroupSpec: this.workers.map((group) => {
        const spec: JsonObject = { groupName: group.groupName, replicas: group.replicas };
        if (group.minReplicas !== undefined) spec["minReplicas"] = group.minReplicas;
        if (group.maxReplicas !== undefined) spec["maxReplicas"] = group.maxReplicas;
        if (group.rayStartParams) spec["rayStartParams"] = { ...group.rayStartParams };
        const pod = nodePodTemplate(WORKER_CONTAINER, group.podTemplate, group.requests, group.limits, `worker group "${group.groupName}"`);
        if (pod) spec["k8sPod"] = k8sPodJson(pod);
        return spec;
      }),
      enableAutoscaling: this.enableAutoscaling,
    };
    if (this.head) {
      const head: JsonObject = {};
      if (this.head.rayStartParams) head["rayStartParams"] = { ...this.head.rayStartParams };
      const pod = nodePodTemplate(HEAD_CONTAINER, this.head.podTemplate, this.head.requests, this.head.limits, "head");
      if (pod) head["k8sPod"] = k8sPodJson(pod);
      cluster["headGroupSpec"] = head;
    }
    const job: JsonObject = { rayCluster: cluster, shutdownAfterJobFinishes: this.shutdownAfterJobFinishes };
    // Python skips both forms for an empty runtime_env (it tests truthiness).
    if (this.runtimeEnv && Object.keys(this.runtimeEnv).length) {
      job["runtimeEnv"] = Buffer.from(pythonJsonDumps(this.runtimeEnv)).toString("base64");
      job["runtimeEnvYaml"] = pyYamlDump(this.runtimeEnv);
    }
    if (this.ttlSecondsAfterFinished !== undefined) job["ttlSecondsAfterFinished"] = this.ttlSecondsAfterFinished;
    return canonicalJson(RayJobSchema, job);
  }
}

function checkCount(value: unknown, where: string, required: boolean): void {
  if (value === undefined && !required) return;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 2 ** 31 - 1) {
    throw new RangeError(`${where} must be a whole number ≥ 0, got ${String(value)}`);
  }
}

function checkNode(node: RayHeadNode, where: string): Partial<RayHeadNode> {
  if (node.rayStartParams !== undefined) {
    for (const [k, v] of Object.entries(node.rayStartParams)) {
      if (typeof v !== "string") throw new TypeError(`${where}: rayStartParams["${k}"] must be a string`);
    }
  }
  const requests = checkResources(node.requests, `${where}.requests`);
  const limits = checkResources(node.limits, `${where}.limits`);
  // Pairs are rejected up front rather than at serialization: Python's pod_spec_from_resources does the same.
  for (const [name, r] of [["requests", requests], ["limits", limits]] as const) {
    for (const key of ["cpu", "memory"] as const) {
      if (Array.isArray(r?.[key])) throw new TypeError(`${where}.${name}.${key} cannot be a [request, limit] pair: set requests and limits separately`);
    }
  }
  return {
    ...(node.rayStartParams ? { rayStartParams: Object.freeze({ ...node.rayStartParams }) } : {}),
    ...(node.podTemplate ? { podTemplate: checkPodTemplate(node.podTemplate, `${where}.podTemplate`) } : {}),
    ...(requests ? { requests } : {}),
    ...(limits ? { limits } : {}),
  };
}

/** YAML as PyYAML's `yaml.dump` writes it by default: keys sorted, block style, unindented lists, YAML 1.1 quoting. */
function pyYamlDump(value: unknown): string {
  return yamlStringify(value, { version: "1.1", sortMapEntries: true, indentSeq: false, singleQuote: true, lineWidth: 80 });
}
