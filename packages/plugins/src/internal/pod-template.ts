/**
 * Pod templates for plugin pods (Spark driver/executor, Ray head/workers), serialized as flyte-sdk's
 * `PodTemplate.to_k8s_pod()` does (flyte-sdk v2.6.5, src/flyte/_pod.py): a `core.K8sPod` with metadata,
 * the pod spec as a Struct, and the primary container name.
 */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { k8sResourceMap, type PodResources } from "./resources.js";

/** A Kubernetes pod template for a pod the plugin creates. */
export interface PodTemplate {
  /**
   * A Kubernetes `PodSpec` in its API JSON form (camelCase keys, as `kubectl get -o json` shows it).
   * Default: an empty spec.
   */
  readonly podSpec?: JsonObject;
  /** The container Flyte fills with the task's image and command. Default: `"primary"`. */
  readonly primaryContainerName?: string;
  /** Pod labels. Default: none. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Pod annotations. Default: none. */
  readonly annotations?: Readonly<Record<string, string>>;
}

const DEFAULT_PRIMARY_CONTAINER = "primary";

/** Checks a pod template and returns a deep-frozen copy. */
export function checkPodTemplate(template: PodTemplate | undefined, where: string): PodTemplate | undefined {
  if (template === undefined) return undefined;
  if (template === null || typeof template !== "object") throw new TypeError(`${where} must be an object`);
  if (template.podSpec !== undefined) {
    if (template.podSpec === null || typeof template.podSpec !== "object" || Array.isArray(template.podSpec)) {
      throw new TypeError(`${where}.podSpec must be a Kubernetes PodSpec object`);
    }
    const containers = template.podSpec["containers"];
    if (containers !== undefined && !Array.isArray(containers)) throw new TypeError(`${where}.podSpec.containers must be an array`);
  }
  if (template.primaryContainerName !== undefined && (typeof template.primaryContainerName !== "string" || !template.primaryContainerName)) {
    throw new TypeError(`${where}.primaryContainerName must be a non-empty string`);
  }
  for (const key of ["labels", "annotations"] as const) {
    const map = template[key];
    if (map === undefined) continue;
    for (const [k, v] of Object.entries(map)) {
      if (typeof v !== "string") throw new TypeError(`${where}.${key}["${k}"] must be a string`);
    }
  }
  return deepFreeze(structuredClone(template));
}

/** `core.K8sPod` in JSON form. */
export function k8sPodJson(template: PodTemplate): JsonObject {
  const metadata: JsonObject = {};
  if (template.labels && Object.keys(template.labels).length) metadata["labels"] = { ...template.labels };
  if (template.annotations && Object.keys(template.annotations).length) metadata["annotations"] = { ...template.annotations };
  return {
    metadata,
    podSpec: structuredClone(template.podSpec ?? {}) as JsonObject,
    primaryContainerName: template.primaryContainerName ?? DEFAULT_PRIMARY_CONTAINER,
  };
}

/**
 * Ray's node pod template (flyteplugins/ray/task.py `_build_node_pod_template`): resource requests/limits are
 * merged into the container named `containerName` (or the only container, or a new one) of the user's
 * template; without a template, a spec holding just that container is built. Requests and limits default to
 * each other, as `pod_spec_from_resources` does.
 */
export function nodePodTemplate(
  containerName: string,
  template: PodTemplate | undefined,
  requests: PodResources | undefined,
  limits: PodResources | undefined,
  where: string,
): PodTemplate | undefined {
  const req = requests ? k8sResourceMap(requests, `${where}.requests`) : undefined;
  const lim = limits ? k8sResourceMap(limits, `${where}.limits`) : undefined;
  if (!req && !lim) return template;
  const resources = { requests: req ?? lim, limits: lim ?? req } as JsonObject;

  if (!template?.podSpec) {
    return {
      podSpec: { containers: [{ name: containerName, resources }] },
      // A given template keeps its own primary container name (default "primary"), as Python's PodTemplate does.
      primaryContainerName: template ? (template.primaryContainerName ?? DEFAULT_PRIMARY_CONTAINER) : containerName,
      ...(template?.labels ? { labels: template.labels } : {}),
      ...(template?.annotations ? { annotations: template.annotations } : {}),
    };
  }
  const podSpec = structuredClone(template.podSpec) as JsonObject;
  const containers = ((podSpec["containers"] as JsonObject[] | undefined) ?? []).slice();
  let primary = containers.find((c) => c["name"] === containerName) ?? (containers.length === 1 ? containers[0] : undefined);
  if (!primary) {
    primary = { name: containerName };
    containers.push(primary);
  }
  podSpec["containers"] = containers;
  const existing = (primary["resources"] ?? {}) as { requests?: JsonObject; limits?: JsonObject };
  const merged: JsonObject = {};
  const mergedRequests = { ...existing.requests, ...(resources["requests"] as JsonObject) };
  const mergedLimits = { ...existing.limits, ...(resources["limits"] as JsonObject) };
  if (Object.keys(mergedRequests).length) merged["requests"] = mergedRequests;
  if (Object.keys(mergedLimits).length) merged["limits"] = mergedLimits;
  primary["resources"] = merged;
  return { ...template, podSpec };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const v of Object.values(value as Record<string, JsonValue>)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
