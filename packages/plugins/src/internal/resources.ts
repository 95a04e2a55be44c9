/**
 * Compute resources for the pods a plugin provisions (Dask scheduler/workers, Ray nodes, …), serialized as
 * flyte-sdk's `flyte.Resources` is: `get_proto_resources` for `core.Resources` and `pod_spec_from_resources`
 * for Kubernetes resource requirements (flyte-sdk v2.6.5, src/flyte/_internal/runtime/resources_serde.py and
 * src/flyte/_resources.py).
 */
import type { JsonObject } from "@bufbuild/protobuf";

/** A Kubernetes quantity such as `"500m"`, `"2"`, `"1.5Gi"`, `"10G"`, `"1e3"`. */
const QUANTITY = /^\+?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/;

/** A CPU amount: cores as a number (`0.5`) or a Kubernetes quantity (`"500m"`). */
export type Cpu = number | string;

/**
 * Compute resources of one kind of pod, as `flyte.Resources` takes them. A `[request, limit]` pair sets
 * the limit too; a single value is the request only.
 */
export interface PodResources {
  /** CPU cores: `1`, `0.5`, `"500m"`, or `[request, limit]`. Default: not set. */
  readonly cpu?: Cpu | readonly [Cpu, Cpu];
  /** Memory as a Kubernetes quantity: `"4Gi"`, or `[request, limit]`. Default: not set. */
  readonly memory?: string | readonly [string, string];
  /**
   * Number of GPUs (any type). Default: not set. Accelerator strings such as `"A100:2"` (which need
   * `ExtendedResources`) are not supported here.
   */
  readonly gpu?: number;
  /** Ephemeral storage as a Kubernetes quantity: `"10Gi"`. Default: not set. */
  readonly disk?: string;
}

/** Checks `resources` (naming `where` in errors) and returns a frozen copy. */
export function checkResources(resources: PodResources | undefined, where: string): PodResources | undefined {
  if (resources === undefined) return undefined;
  if (resources === null || typeof resources !== "object") throw new TypeError(`${where}: resources must be an object`);
  const known = new Set(["cpu", "memory", "gpu", "disk"]);
  for (const key of Object.keys(resources)) {
    if (!known.has(key)) throw new TypeError(`${where}: unknown resource "${key}" (known: cpu, memory, gpu, disk)`);
  }
  const { cpu, memory, gpu, disk } = resources;
  if (cpu !== undefined) forEachOfPair(cpu, `${where}.cpu`, checkCpu);
  if (memory !== undefined) forEachOfPair(memory, `${where}.memory`, checkQuantity);
  if (gpu !== undefined && !(Number.isInteger(gpu) && gpu >= 0)) {
    throw new RangeError(`${where}.gpu must be a whole number ≥ 0, got ${String(gpu)}`);
  }
  if (disk !== undefined) checkQuantity(disk, `${where}.disk`);
  return Object.freeze({
    ...(cpu !== undefined ? { cpu: freezePair(cpu) } : {}),
    ...(memory !== undefined ? { memory: freezePair(memory) } : {}),
    ...(gpu !== undefined ? { gpu } : {}),
    ...(disk !== undefined ? { disk } : {}),
  });
}

function forEachOfPair<T>(value: T | readonly [T, T], where: string, check: (v: unknown, where: string) => void): void {
  if (Array.isArray(value)) {
    if (value.length !== 2) throw new TypeError(`${where} must be a value or a [request, limit] pair, got ${value.length} values`);
    check(value[0], `${where} request`);
    check(value[1], `${where} limit`);
  } else {
    check(value, where);
  }
}

function freezePair<T>(value: T | readonly [T, T]): T | readonly [T, T] {
  return Array.isArray(value) ? (Object.freeze([...value]) as unknown as readonly [T, T]) : value;
}

function checkCpu(value: unknown, where: string): void {
  if (typeof value === "number") {
    if (!(Number.isFinite(value) && value >= 0)) throw new RangeError(`${where} must be ≥ 0, got ${value}`);
    return;
  }
  checkQuantity(value, where);
}

function checkQuantity(value: unknown, where: string): void {
  if (typeof value !== "string" || !QUANTITY.test(value)) {
    throw new TypeError(`${where} must be a Kubernetes quantity such as "500m" or "4Gi", got ${JSON.stringify(value)}`);
  }
}

type Entry = { name: "CPU" | "MEMORY" | "GPU" | "EPHEMERAL_STORAGE"; value: string };

/**
 * `flyteidl2.core.Resources` in JSON form, or undefined when nothing is set (Python returns None then).
 * Entries come in Python's order: cpu, memory, gpu, disk; pairs put their second value in `limits`.
 */
export function resourcesJson(resources: PodResources | undefined): JsonObject | undefined {
  if (!resources) return undefined;
  const requests: Entry[] = [];
  const limits: Entry[] = [];
  const add = (name: Entry["name"], value: Cpu | readonly [Cpu, Cpu] | undefined) => {
    if (value === undefined) return;
    if (Array.isArray(value)) {
      requests.push({ name, value: String(value[0]) });
      limits.push({ name, value: String(value[1]) });
    } else {
      requests.push({ name, value: String(value) });
    }
  };
  add("CPU", resources.cpu);
  add("MEMORY", resources.memory);
  add("GPU", resources.gpu);
  add("EPHEMERAL_STORAGE", resources.disk);
  if (requests.length === 0 && limits.length === 0) return undefined;
  return { requests, limits };
}

/**
 * The Kubernetes resource map (`{"cpu": "1", "memory": "4Gi", "nvidia.com/gpu": "1"}`) of one Resources
 * value, as `pod_spec_from_resources` builds it for Ray nodes, where requests and limits are separate
 * Resources values and pairs are not allowed.
 */
export function k8sResourceMap(resources: PodResources, where: string): Record<string, string | number> | undefined {
  const map: Record<string, string | number> = {};
  for (const key of ["cpu", "memory"] as const) {
    const value = resources[key];
    if (Array.isArray(value)) throw new TypeError(`${where}.${key} cannot be a [request, limit] pair here: set requests and limits separately`);
    if (value !== undefined) map[key] = value as string | number;
  }
  if (resources.gpu !== undefined) map["nvidia.com/gpu"] = String(resources.gpu);
  if (resources.disk !== undefined) map["ephemeral-storage"] = resources.disk;
  return Object.keys(map).length ? map : undefined;
}
