// Kubernetes objects for running the connector service: typed objects (kubernetes-types), printed as YAML.
// The Helm chart at charts/flyte-connector renders the same objects for the same settings (see manifests.test.ts).
import { readFileSync } from "node:fs";
import type { Deployment } from "kubernetes-types/apps/v1.js";
import type { HorizontalPodAutoscaler } from "kubernetes-types/autoscaling/v2.js";
import type { Container, EnvVar, Probe, ResourceRequirements, Service, ServiceAccount, Volume, VolumeMount } from "kubernetes-types/core/v1.js";
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1.js";

const packageVersion = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

/**
 * The name the docs give an image built locally from the root Dockerfile (`docker build -t flyte-connectors:<version> .`)
 * for kind or minikube, where it is loaded into the cluster, never pulled. Not a default: this project publishes no
 * image, so the manifests run only the image their user names.
 */
export const LOCAL_IMAGE = `flyte-connectors:${packageVersion}`;

/** Why the manifests need an image, and how to get one: the error of `manifests` without `--image`. */
export const IMAGE_REQUIRED =
  "--image is required: the image with your connectors installed (its ENTRYPOINT flyte-connector serve). This project publishes none: " +
  `build the repository's Dockerfile and push it (docker build -t <registry>/<name>:<tag> .), or, for kind/minikube, build it as ${LOCAL_IMAGE}, ` +
  `load it (kind load docker-image ${LOCAL_IMAGE}) and pass --image ${LOCAL_IMAGE} --image-pull-policy Never. See docs/deploy.md.`;

/** Where a connector Secret's keys appear as files (as in flyteorg/flyte's charts/flyteconnector). */
export const SECRET_MOUNT_PATH = "/etc/secrets";

/** Non-root user and group the container runs as (numeric, so `runAsNonRoot` can be checked by the kubelet). */
export const RUN_AS_USER = 65532;

/** Seconds Kubernetes waits after SIGTERM beyond the service's own `--grace-period` before it sends SIGKILL. */
const TERMINATION_MARGIN_SECONDS = 15;

/** A Kubernetes quantity ("500m", "256Mi", "1") or null for "not set". */
type Quantity = string | null;

export interface ManifestOptions {
  /** Name of every object (Deployment, Service, …) and the `app.kubernetes.io/instance` label. Default `flyte-connector`. */
  name?: string;
  /** Namespace of every object. Default `flyte`. */
  namespace?: string;
  /** Container image with the connectors installed; its ENTRYPOINT must be `flyte-connector serve` (the args are serve flags). Required: no image is published (see {@link LOCAL_IMAGE}). */
  image: string;
  /** Default `IfNotPresent`. */
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  /** Pods when no autoscaler is set. Default 1. */
  replicas?: number;
  /** gRPC port (container, Service, probes). Default 8000. */
  port?: number;
  /** Prometheus metrics port (container, Service, scrape annotations). Default 9090. */
  prometheusPort?: number;
  /** Connect port (Connect protocol, gRPC-Web and `/healthz` over HTTP/1.1 and h2c; container, Service); 0: none. Default 8090. */
  connectPort?: number;
  /**
   * What the startup, readiness and liveness probes ask: `grpc` Kubernetes' gRPC probe (grpc.health.v1, service
   * "") on the gRPC port; `http` a GET of `/healthz` on the Connect port. Both follow the same states (healthy once
   * the connectors are loaded, not while loading or draining). Default `grpc`.
   */
  probe?: "grpc" | "http";
  /** The service's `--grace-period` in seconds; the pod's `terminationGracePeriodSeconds` is this plus 15. Default 30. */
  gracePeriodSeconds?: number;
  /**
   * The service's `--max-connection-age` in seconds: each backend connection is renewed this often, so pods added
   * by a scale-up (or the autoscaler) get calls; 0 never renews. Default 300.
   */
  maxConnectionAgeSeconds?: number;
  /**
   * The service's `--max-connection-age-grace` in seconds: after the age GOAWAY, how long a connection's open calls
   * may take before it is closed. Default null: not passed (the service then uses its grace period).
   */
  maxConnectionAgeGraceSeconds?: number | null;
  /** The service's `--max-connection-idle` in seconds; 0: not passed (never). Default 0. */
  maxConnectionIdleSeconds?: number;
  /** The service's `--transport` (native or grpc-js); "": not passed (the service's default). Default "". */
  transport?: "" | "native" | "grpc-js";
  /** Further `flyte-connector serve` arguments (e.g. `["--worker", "200"]`). Default none. */
  extraArgs?: readonly string[];
  /** CPU request. Default `500m`. */
  requestsCpu?: Quantity;
  /** Memory request. Default `256Mi`. */
  requestsMemory?: Quantity;
  /** CPU limit. Default `1`. */
  limitsCpu?: Quantity;
  /** Memory limit. Default `512Mi`. */
  limitsMemory?: Quantity;
  /** Environment variables of the container. Default none. */
  env?: readonly EnvVar[];
  /** Name of an existing Secret to mount read-only at {@link SECRET_MOUNT_PATH}. Default none. */
  secret?: string;
  /** Also print a prometheus-operator ServiceMonitor. Default false. */
  serviceMonitor?: boolean;
  /** A HorizontalPodAutoscaler on CPU; the Deployment then leaves `replicas` to it. Default none. */
  autoscaling?: { minReplicas: number; maxReplicas: number; targetCPUUtilizationPercentage: number };
  /** A PodDisruptionBudget (`maxUnavailable: 1`), printed only when at least 2 pods run. Default true. */
  podDisruptionBudget?: boolean;
}

/** The defaults of {@link ManifestOptions}, written out (the chart's values.yaml has the same ones). */
export const MANIFEST_DEFAULTS = {
  name: "flyte-connector",
  namespace: "flyte",
  imagePullPolicy: "IfNotPresent",
  replicas: 1,
  port: 8000,
  prometheusPort: 9090,
  connectPort: 8090,
  probe: "grpc",
  gracePeriodSeconds: 30,
  maxConnectionAgeSeconds: 300,
  maxConnectionAgeGraceSeconds: null,
  maxConnectionIdleSeconds: 0,
  transport: "",
  requestsCpu: "500m",
  requestsMemory: "256Mi",
  limitsCpu: "1",
  limitsMemory: "512Mi",
  hpaCpuPercent: 70,
} as const;

/** The ServiceMonitor of prometheus-operator (monitoring.coreos.com/v1): only the fields used here. */
export interface ServiceMonitor {
  apiVersion: "monitoring.coreos.com/v1";
  kind: "ServiceMonitor";
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: {
    selector: { matchLabels: Record<string, string> };
    namespaceSelector: { matchNames: string[] };
    endpoints: { port: string; path: string; interval: string }[];
  };
}

export type Manifest = ServiceAccount | Deployment | Service | PodDisruptionBudget | HorizontalPodAutoscaler | ServiceMonitor;

/** Port names in the pod and the Service. `grpc` also tells meshes (Istio) the protocol. */
const GRPC_PORT_NAME = "grpc";
const METRICS_PORT_NAME = "metrics";
/** The Connect port's name; its `appProtocol: http` tells meshes and gateways it is HTTP (HTTP/1.1, h2c by prior knowledge). */
const CONNECT_PORT_NAME = "connect";

function resources(options: ManifestOptions): ResourceRequirements {
  const pick = (cpu: Quantity | undefined, memory: Quantity | undefined, defaults: { cpu: string; memory: string }) => {
    const out: Record<string, string> = {};
    const c = cpu === undefined ? defaults.cpu : cpu;
    const m = memory === undefined ? defaults.memory : memory;
    if (c !== null) out["cpu"] = c;
    if (m !== null) out["memory"] = m;
    return out;
  };
  const requests = pick(options.requestsCpu, options.requestsMemory, { cpu: MANIFEST_DEFAULTS.requestsCpu, memory: MANIFEST_DEFAULTS.requestsMemory });
  const limits = pick(options.limitsCpu, options.limitsMemory, { cpu: MANIFEST_DEFAULTS.limitsCpu, memory: MANIFEST_DEFAULTS.limitsMemory });
  return { ...(Object.keys(requests).length ? { requests } : {}), ...(Object.keys(limits).length ? { limits } : {}) };
}

/** Builds the objects, in the order `kubectl apply` should create them. */
export function buildManifests(options: ManifestOptions): Manifest[] {
  const name = options.name ?? MANIFEST_DEFAULTS.name;
  const namespace = options.namespace ?? MANIFEST_DEFAULTS.namespace;
  const port = options.port ?? MANIFEST_DEFAULTS.port;
  const prometheusPort = options.prometheusPort ?? MANIFEST_DEFAULTS.prometheusPort;
  const connectPort = options.connectPort ?? MANIFEST_DEFAULTS.connectPort;
  const gracePeriodSeconds = options.gracePeriodSeconds ?? MANIFEST_DEFAULTS.gracePeriodSeconds;
  const replicas = options.replicas ?? MANIFEST_DEFAULTS.replicas;
  const selectorLabels = { "app.kubernetes.io/name": "flyte-connector", "app.kubernetes.io/instance": name };
  const labels = { ...selectorLabels, "app.kubernetes.io/managed-by": "flyte-connector" };
  const metadata = () => ({ name, namespace, labels: { ...labels } });

  // Health/Check for service "": SERVING once the connectors are loaded, NOT_SERVING while loading and draining.
  // Or GET /healthz on the Connect port: 200 in the same states, 503 otherwise.
  if (options.probe === "http" && connectPort === 0) throw new Error("an http probe needs the Connect port (connectPort 0 turns it off)");
  const grpcProbe = (probe: Omit<Probe, "grpc">): Probe =>
    options.probe === "http" ? { httpGet: { path: "/healthz", port: connectPort }, ...probe } : { grpc: { port }, ...probe };
  const volumes: Volume[] = [{ name: "tmp", emptyDir: { sizeLimit: "256Mi" } }];
  const volumeMounts: VolumeMount[] = [{ name: "tmp", mountPath: "/tmp" }];
  if (options.secret) {
    volumes.push({ name: "connector-secret", secret: { secretName: options.secret } });
    volumeMounts.push({ name: "connector-secret", mountPath: SECRET_MOUNT_PATH, readOnly: true });
  }
  const container: Container = {
    name: "connector",
    image: options.image,
    imagePullPolicy: options.imagePullPolicy ?? MANIFEST_DEFAULTS.imagePullPolicy,
    // The image's ENTRYPOINT is `flyte-connector serve` (as the repository's Dockerfile): only its flags here.
    args: [
      "--port",
      String(port),
      "--prometheus-port",
      String(prometheusPort),
      "--connect-port",
      String(connectPort),
      "--grace-period",
      String(gracePeriodSeconds),
      "--max-connection-age",
      String(options.maxConnectionAgeSeconds ?? MANIFEST_DEFAULTS.maxConnectionAgeSeconds),
      ...(options.maxConnectionAgeGraceSeconds != null ? ["--max-connection-age-grace", String(options.maxConnectionAgeGraceSeconds)] : []),
      ...(options.maxConnectionIdleSeconds ? ["--max-connection-idle", String(options.maxConnectionIdleSeconds)] : []),
      ...(options.transport ? ["--transport", options.transport] : []),
      ...(options.extraArgs ?? []),
    ],
    ports: [
      { name: GRPC_PORT_NAME, containerPort: port, protocol: "TCP" },
      { name: METRICS_PORT_NAME, containerPort: prometheusPort, protocol: "TCP" },
      ...(connectPort > 0 ? [{ name: CONNECT_PORT_NAME, containerPort: connectPort, protocol: "TCP" }] : []),
    ],
    ...(options.env?.length ? { env: options.env.map((e) => ({ ...e })) } : {}),
    resources: resources(options),
    // Loading connector modules can take a while (tsx compiles .ts): up to 60 s before liveness applies.
    startupProbe: grpcProbe({ periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 30 }),
    readinessProbe: grpcProbe({ periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 }),
    livenessProbe: grpcProbe({ periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 }),
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
    },
    volumeMounts,
  };
  const autoscaling = options.autoscaling;
  const deployment: Deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: metadata(),
    spec: {
      // With an autoscaler the replica count is its business: a `replicas` here would reset it on every apply.
      ...(autoscaling ? {} : { replicas }),
      selector: { matchLabels: { ...selectorLabels } },
      template: {
        metadata: {
          labels: { ...labels },
          annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": String(prometheusPort), "prometheus.io/path": "/metrics" },
        },
        spec: {
          serviceAccountName: name,
          // Above the service's own drain time, so calls in flight finish before SIGKILL.
          terminationGracePeriodSeconds: gracePeriodSeconds + TERMINATION_MARGIN_SECONDS,
          securityContext: { runAsNonRoot: true, runAsUser: RUN_AS_USER, runAsGroup: RUN_AS_USER, fsGroup: RUN_AS_USER, seccompProfile: { type: "RuntimeDefault" } },
          containers: [container],
          volumes,
        },
      },
    },
  };
  const serviceAccount: ServiceAccount = { apiVersion: "v1", kind: "ServiceAccount", metadata: metadata() };
  // Headless: DNS returns every ready pod, so grpc-go's dns:/// resolver with round_robin spreads calls over them
  // (a ClusterIP would pin each backend connection to one pod).
  const service: Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: metadata(),
    spec: {
      clusterIP: "None",
      selector: { ...selectorLabels },
      ports: [
        { name: GRPC_PORT_NAME, port, targetPort: GRPC_PORT_NAME, protocol: "TCP", appProtocol: "kubernetes.io/h2c" },
        { name: METRICS_PORT_NAME, port: prometheusPort, targetPort: METRICS_PORT_NAME, protocol: "TCP" },
        ...(connectPort > 0 ? [{ name: CONNECT_PORT_NAME, port: connectPort, targetPort: CONNECT_PORT_NAME, protocol: "TCP", appProtocol: "http" }] : []),
      ],
    },
  };
  const manifests: Manifest[] = [serviceAccount, deployment, service];
  const minPods = autoscaling ? autoscaling.minReplicas : replicas;
  // One pod: a budget either blocks node drains (minAvailable 1) or allows everything; print none.
  if ((options.podDisruptionBudget ?? true) && minPods >= 2) {
    const pdb: PodDisruptionBudget = {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: metadata(),
      spec: { maxUnavailable: 1, selector: { matchLabels: { ...selectorLabels } } },
    };
    manifests.push(pdb);
  }
  if (autoscaling) {
    const hpa: HorizontalPodAutoscaler = {
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      metadata: metadata(),
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name },
        minReplicas: autoscaling.minReplicas,
        maxReplicas: autoscaling.maxReplicas,
        metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: autoscaling.targetCPUUtilizationPercentage } } }],
      },
    };
    manifests.push(hpa);
  }
  if (options.serviceMonitor) {
    manifests.push({
      apiVersion: "monitoring.coreos.com/v1",
      kind: "ServiceMonitor",
      metadata: metadata(),
      spec: {
        selector: { matchLabels: { ...selectorLabels } },
        namespaceSelector: { matchNames: [namespace] },
        endpoints: [{ port: METRICS_PORT_NAME, path: "/metrics", interval: "30s" }],
      },
    });
  }
  return manifests;
}

/** The objects as one multi-document YAML stream. */
export async function renderManifests(options: ManifestOptions): Promise<string> {
  // Loaded here, not at the top: every CLI start (serve included) imports this module, only `manifests` prints YAML.
  const { stringify } = await import("yaml");
  return buildManifests(options)
    .map((manifest) => stringify(manifest, { lineWidth: 0 }))
    .join("---\n");
}
