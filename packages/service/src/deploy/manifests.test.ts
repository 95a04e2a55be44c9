// `flyte-connector manifests` and the Helm chart at charts/flyte-connector. Objects are checked against the Kubernetes
// API schemas bundled in kubernetes-models (JSON schemas of the Kubernetes OpenAPI, compiled validators) and the
// prometheus-operator CRD schema (@kubernetes-models/prometheus-operator); the chart is rendered with a real helm binary
// when one is found (HELM=/path/to/helm, or `helm` on PATH) and must print the same objects as the CLI.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseAllDocuments, parse } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { Secret, Service, ServiceAccount } from "kubernetes-models/v1";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import { LOCAL_IMAGE, MANIFEST_DEFAULTS } from "./manifests.js";
import { healthCheck, testClient } from "../testing/client.js";
import { CLI_BIN as bin, spawnService } from "../testing/spawn.js";

const chartDir = fileURLToPath(new URL("../../../../charts/flyte-connector", import.meta.url));
const run = promisify(execFile);

// Loose shapes for reading parsed YAML in assertions.
type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace: string; labels: Record<string, string> }; spec?: any; [k: string]: any };

function parseStream(text: string): Obj[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length) throw new Error(`YAML error: ${doc.errors[0]!.message}`);
      return doc.toJS() as Obj | null;
    })
    .filter((o): o is Obj => o !== null);
}

const models: Record<string, new (data: any) => { validate(): void }> = {
  "v1/ServiceAccount": ServiceAccount,
  "v1/Service": Service,
  "v1/Secret": Secret,
  "apps/v1/Deployment": Deployment,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
};

/** Throws unless every object has a known kind and passes its API schema. */
function validateAll(objects: Obj[]): void {
  for (const o of objects) {
    const Model = models[`${o.apiVersion}/${o.kind}`];
    assert.ok(Model, `unexpected object ${o.apiVersion} ${o.kind}`);
    assert.doesNotThrow(() => new Model(o).validate(), `${o.kind} ${o.metadata?.name} fails its schema`);
  }
}

/** The image the tests name (no image is published, so `manifests` and the chart require one). */
const TEST_REPOSITORY = "registry.example.com/team/connectors";
const TEST_IMAGE = `${TEST_REPOSITORY}:1.0.0`;

/** `flyte-connector manifests ...args`, with `--image TEST_IMAGE` unless args name one. */
async function manifests(...args: string[]): Promise<Obj[]> {
  const image = args.includes("--image") ? [] : ["--image", TEST_IMAGE];
  const { stdout } = await run(process.execPath, [bin, "manifests", ...image, ...args]);
  const objects = parseStream(stdout);
  validateAll(objects);
  return objects;
}

const byKind = (objects: Obj[], kind: string) => objects.filter((o) => o.kind === kind);
const one = (objects: Obj[], kind: string): Obj => {
  const found = byKind(objects, kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0]!;
};

test("manifests: defaults give a valid ServiceAccount, Deployment and headless Service, hardened, with gRPC probes", async () => {
  const objects = await manifests();
  assert.deepEqual(objects.map((o) => o.kind), ["ServiceAccount", "Deployment", "Service"]);
  for (const o of objects) assert.deepEqual([o.metadata.name, o.metadata.namespace], ["flyte-connector", "flyte"]);

  const deployment = one(objects, "Deployment");
  assert.equal(deployment.spec.replicas, 1);
  const pod = deployment.spec.template;
  // The Deployment's selector must pick its own pods, and the Service the same pods.
  for (const [k, v] of Object.entries(deployment.spec.selector.matchLabels)) assert.equal(pod.metadata.labels[k], v);
  assert.equal(pod.spec.serviceAccountName, one(objects, "ServiceAccount").metadata.name);
  assert.ok(pod.spec.terminationGracePeriodSeconds > 30, "SIGKILL comes after the service's own 30 s drain");
  assert.deepEqual(pod.metadata.annotations, { "prometheus.io/scrape": "true", "prometheus.io/port": "9090", "prometheus.io/path": "/metrics" });
  assert.equal(pod.spec.securityContext.seccompProfile.type, "RuntimeDefault");
  assert.equal(pod.spec.securityContext.runAsNonRoot, true);
  assert.ok(Number.isInteger(pod.spec.securityContext.runAsUser) && pod.spec.securityContext.runAsUser > 0, "a numeric non-root uid");

  const [container, ...others] = pod.spec.containers;
  assert.equal(others.length, 0);
  assert.equal(container.image, TEST_IMAGE);
  assert.equal(container.command, undefined, "the image's ENTRYPOINT (flyte-connector serve) runs");
  assert.deepEqual(container.args, ["--port", "8000", "--prometheus-port", "9090", "--connect-port", "8090", "--grace-period", "30", "--max-connection-age", "300"]);
  assert.deepEqual(container.ports.map((p: any) => [p.name, p.containerPort]), [["grpc", 8000], ["metrics", 9090], ["connect", 8090]]);
  for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
    assert.deepEqual(container[probe].grpc, { port: 8000 }, `${probe} is a native gRPC probe on the health service ("")`);
  }
  // Liveness must not kill a pod still loading its connectors: the startup probe allows a minute first.
  assert.ok(container.startupProbe.periodSeconds * container.startupProbe.failureThreshold >= 60);
  assert.deepEqual(container.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ["ALL"] } });
  // Read-only root: /tmp is writable through an emptyDir.
  const tmp = container.volumeMounts.find((m: any) => m.mountPath === "/tmp");
  assert.ok(pod.spec.volumes.find((v: any) => v.name === tmp.name).emptyDir);
  assert.deepEqual(container.resources, { requests: { cpu: "500m", memory: "256Mi" }, limits: { cpu: "1", memory: "512Mi" } });

  const service = one(objects, "Service");
  assert.equal(service.spec.clusterIP, "None", "headless: DNS lists every pod for round_robin");
  assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);
  const grpcPort = service.spec.ports.find((p: any) => p.name === "grpc");
  assert.deepEqual([grpcPort.port, grpcPort.targetPort, grpcPort.appProtocol], [8000, "grpc", "kubernetes.io/h2c"]);
  assert.equal(service.spec.ports.find((p: any) => p.name === "metrics").port, 9090);
});

test("the container's args start the service, and Health/Check \"\" (what the gRPC probes call) answers SERVING", async () => {
  const objects = await manifests("--worker", "20", "--log-level", "warn", "--secret", "s", "--max-connection-age-grace", "5", "--max-connection-idle", "600");
  const args: string[] = one(objects, "Deployment").spec.template.spec.containers[0].args;
  assert.deepEqual(args.slice(args.indexOf("--max-connection-age-grace"), args.indexOf("--max-connection-age-grace") + 4), ["--max-connection-age-grace", "5", "--max-connection-idle", "600"]);
  // As the image's ENTRYPOINT would run them, then free local ports instead of 8000/9090 (the last value wins).
  const service = await spawnService(["serve", ...args, "--port", "0", "--prometheus-port", "0", "--connect-port", "0", "--host", "127.0.0.1", "--no-discover"]);
  try {
    const client = testClient(service.port);
    try {
      assert.equal(await healthCheck(client, ""), "SERVING");
    } finally {
      client.close();
    }
    assert.equal(await service.stop(), 0, "SIGTERM drains and exits 0");
  } finally {
    await service.stop("SIGKILL");
  }
});

test("manifests --probe http: GET /healthz on the named Connect port (appProtocol http), answered 200 by the service the args start", async () => {
  const objects = await manifests("--probe", "http", "--connect-port", "8091");
  const container = one(objects, "Deployment").spec.template.spec.containers[0];
  for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) assert.deepEqual(container[probe].httpGet, { path: "/healthz", port: 8091 });
  const connectPort = one(objects, "Service").spec.ports.find((p: any) => p.name === "connect");
  assert.deepEqual([connectPort.port, connectPort.targetPort, connectPort.appProtocol], [8091, "connect", "http"]);
  const free = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
  const service = await spawnService(["serve", ...container.args, "--port", "0", "--prometheus-port", "0", "--connect-port", String(free), "--host", "127.0.0.1", "--no-discover"]);
  try {
    const res = await fetch(`http://127.0.0.1:${free}${container.readinessProbe.httpGet.path}`);
    assert.equal(res.status, 200);
  } finally {
    await service.stop("SIGKILL");
  }
});

test("manifests --replicas 3: three pods and a disruption budget that leaves two running", async () => {
  const objects = await manifests("--replicas", "3", "--namespace", "data", "--name", "conn");
  const deployment = one(objects, "Deployment");
  assert.equal(deployment.spec.replicas, 3);
  const pdb = one(objects, "PodDisruptionBudget");
  assert.equal(pdb.spec.maxUnavailable, 1);
  assert.ok(deployment.spec.replicas - pdb.spec.maxUnavailable >= 1, "a drain never takes every pod");
  assert.deepEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
  for (const o of objects) assert.deepEqual([o.metadata.name, o.metadata.namespace], ["conn", "data"]);
  assert.equal(byKind(await manifests("--replicas", "3", "--no-pdb"), "PodDisruptionBudget").length, 0);
});

test("manifests --hpa-max: an autoscaler owns the replica count, consistent with the budget and the CPU request", async () => {
  const objects = await manifests("--hpa-min", "2", "--hpa-max", "6", "--hpa-cpu", "60", "--requests-cpu", "250m", "--limits-cpu", "none");
  const deployment = one(objects, "Deployment");
  assert.equal(deployment.spec.replicas, undefined, "no replicas field for kubectl apply to reset");
  const hpa = one(objects, "HorizontalPodAutoscaler");
  assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata.name });
  assert.deepEqual([hpa.spec.minReplicas, hpa.spec.maxReplicas], [2, 6]);
  assert.deepEqual(hpa.spec.metrics, [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 60 } } }]);
  const container = deployment.spec.template.spec.containers[0];
  assert.deepEqual(container.resources, { requests: { cpu: "250m", memory: "256Mi" }, limits: { memory: "512Mi" } });
  const pdb = one(objects, "PodDisruptionBudget");
  assert.ok(hpa.spec.minReplicas > pdb.spec.maxUnavailable);
  // --hpa-min defaults to --replicas; with one pod there is no budget.
  const single = await manifests("--hpa-max", "4");
  assert.equal(one(single, "HorizontalPodAutoscaler").spec.minReplicas, 1);
  assert.equal(byKind(single, "PodDisruptionBudget").length, 0);
});

test("manifests --secret, --env, --service-monitor, --worker: mounted read-only at /etc/secrets, a valid ServiceMonitor", async () => {
  const objects = await manifests("--secret", "my-connector-secret", "--env", "A=1", "--env", "B=x=y", "--service-monitor", "--worker", "200", "--port", "8001", "--prometheus-port", "9191");
  const pod = one(objects, "Deployment").spec.template.spec;
  const container = pod.containers[0];
  const mount = container.volumeMounts.find((m: any) => m.mountPath === "/etc/secrets");
  assert.equal(mount.readOnly, true);
  assert.deepEqual(pod.volumes.find((v: any) => v.name === mount.name).secret, { secretName: "my-connector-secret" });
  assert.deepEqual(container.env, [{ name: "A", value: "1" }, { name: "B", value: "x=y" }]);
  assert.deepEqual(container.args.slice(-2), ["--worker", "200"]);
  assert.deepEqual(container.readinessProbe.grpc, { port: 8001 });
  const monitor = one(objects, "ServiceMonitor");
  const service = one(objects, "Service");
  assert.deepEqual(monitor.spec.selector.matchLabels, service.spec.selector);
  for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels)) assert.equal(service.metadata.labels[k], v, "the ServiceMonitor selects the Service");
  assert.equal(monitor.spec.endpoints[0].port, "metrics");
  assert.equal(service.spec.ports.find((p: any) => p.name === "metrics").port, 9191);
  assert.equal(one(objects, "Deployment").spec.template.metadata.annotations["prometheus.io/port"], "9191");
});

test("manifests: bad flags are refused with a message naming the problem", async () => {
  const cases: [string[], RegExp][] = [
    [["--replicas", "0"], /--replicas must be an integer from 1/],
    [["--replicas", "two"], /--replicas must be an integer/],
    [["--name", "Flyte_Connector"], /--name must be a DNS label/],
    [["--requests-memory", "lots"], /--requests-memory must be a Kubernetes quantity/],
    [["--requests-memory", "1Gi", "--limits-memory", "512Mi"], /--limits-memory \(512Mi\) is below --requests-memory \(1Gi\)/],
    [["--hpa-min", "2"], /give --hpa-max/],
    [["--hpa-min", "5", "--hpa-max", "3"], /--hpa-min \(5\) is above --hpa-max \(3\)/],
    [["--replicas", "4", "--hpa-max", "3"], /--hpa-min \(4, from --replicas\) is above --hpa-max \(3\)/],
    [["--hpa-max", "3", "--requests-cpu", "none"], /needs a CPU request/],
    [["--port", "9090"], /--port and --prometheus-port must differ/],
    [["--env", "NOEQUALS"], /--env must be NAME=VALUE/],
    [["--secret", "Bad Name"], /--secret must be a Secret name/],
    [["--image", ""], /--image must be an image reference/],
    [["--image", "ghcr.io/x/y:1", "--image", "two words"], /--image must be an image reference/],
    [["--serve-arg=--port=9000"], /--serve-arg --port=9000: use --port of `manifests` itself/],
    [["--serve-arg=--connect_port=9000"], /--serve-arg --connect_port=9000: use --connect-port of `manifests` itself/],
    [["--connect-port", "8000"], /--connect-port must differ/],
    [["--probe", "http", "--connect-port", "0"], /--probe http .* needs --connect-port/],
  ];
  await Promise.all(
    cases.map(async ([args, message]) => {
      const failed = await run(process.execPath, [bin, "manifests", "--image", TEST_IMAGE, ...args]).then(
        () => assert.fail(`accepted ${args.join(" ")}`),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
      assert.equal(failed.code, 1, args.join(" "));
      assert.equal(failed.stdout, "", "no half-written YAML");
      assert.match(failed.stderr, message);
      assert.doesNotMatch(failed.stderr, /\n\s+at /, "no stack trace");
    }),
  );
});

test("chart values.yaml defaults are the CLI defaults", () => {
  const values = parse(readFileSync(join(chartDir, "values.yaml"), "utf8"));
  const chart = parse(readFileSync(join(chartDir, "Chart.yaml"), "utf8"));
  const d = MANIFEST_DEFAULTS;
  assert.equal(values.image.repository, "", "no default image: this project publishes none");
  assert.equal(chart.appVersion, JSON.parse(readFileSync(fileURLToPath(new URL("../../package.json", import.meta.url)), "utf8")).version, "chart appVersion = package version");
  assert.equal(values.image.pullPolicy, d.imagePullPolicy);
  assert.equal(values.replicaCount, d.replicas);
  assert.equal(values.ports.containerPort, d.port);
  assert.equal(values.metrics.port, d.prometheusPort);
  assert.equal(values.connect.port, d.connectPort);
  assert.equal(values.probe, d.probe);
  assert.equal(values.gracePeriodSeconds, d.gracePeriodSeconds);
  assert.equal(values.maxConnectionAgeSeconds, d.maxConnectionAgeSeconds);
  assert.equal(values.maxConnectionAgeGraceSeconds, d.maxConnectionAgeGraceSeconds);
  assert.equal(values.maxConnectionIdleSeconds, d.maxConnectionIdleSeconds);
  assert.equal(values.transport, d.transport);
  assert.deepEqual(values.resources, { requests: { cpu: d.requestsCpu, memory: d.requestsMemory }, limits: { cpu: d.limitsCpu, memory: d.limitsMemory } });
  assert.equal(values.autoscaling.targetCPUUtilizationPercentage, d.hpaCpuPercent);
  assert.equal(values.autoscaling.enabled, false);
  assert.equal(values.serviceMonitor.enabled, false);
  assert.equal(values.podDisruptionBudget.enabled, true);
});

/** The helm binary: $HELM, else `helm` on PATH, else none. */
function findHelm(): string | undefined {
  for (const candidate of [process.env["HELM"], "helm"]) {
    if (!candidate) continue;
    try {
      execFileSync(candidate, ["version", "--short"], { stdio: "ignore" });
      return candidate;
    } catch {
      // not there
    }
  }
  return undefined;
}

const helm = findHelm();
const noHelm = helm ? false : "no helm binary (set HELM=/path/to/helm or put helm on PATH; see docs/deploy.md, section What the tests verify)";
// .ci/run fetches helm: under CI=true its absence is a failure, not three skipped chart tests.
if (noHelm && process.env["CI"] === "true") test("helm is available (required under CI)", () => assert.fail(noHelm));

/** Labels only one of the two sets (Helm bookkeeping vs the CLI's) carries. */
function withoutToolLabels(objects: Obj[]): Obj[] {
  const strip = (labels?: Record<string, string>) => {
    if (!labels) return;
    delete labels["app.kubernetes.io/managed-by"];
    delete labels["helm.sh/chart"];
  };
  for (const o of objects) {
    strip(o.metadata.labels);
    strip(o.spec?.template?.metadata?.labels);
  }
  return [...objects].sort((a, b) => a.kind.localeCompare(b.kind));
}

async function helmTemplate(release: string, namespace: string, values: object): Promise<Obj[]> {
  const dir = mkdtempSync(join(tmpdir(), "flyte-connector-chart-"));
  try {
    const file = join(dir, "values.json");
    // The tests' image unless the values name one: the chart requires image.repository.
    writeFileSync(file, JSON.stringify({ image: { repository: TEST_REPOSITORY, tag: "1.0.0" }, ...values })); // JSON is YAML
    const { stdout } = await run(helm!, ["template", release, chartDir, "--namespace", namespace, "--values", file]);
    const objects = parseStream(stdout);
    validateAll(objects);
    return objects;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("chart and CLI print the same objects for the same settings (helm template)", { skip: noHelm }, async () => {
  const scenarios: { flags: string[]; release: string; namespace: string; values: object }[] = [
    { flags: [], release: "flyte-connector", namespace: "flyte", values: {} },
    {
      flags: ["--name", "conn", "--namespace", "data", "--replicas", "3", "--image", "registry.example.com/team/conn:1.2.3", "--image-pull-policy", "Always", "--secret", "conn-secret", "--env", "A=1", "--service-monitor", "--hpa-max", "6", "--hpa-min", "2", "--hpa-cpu", "60", "--worker", "50", "--serve-arg=--host", "--serve-arg=::", "--requests-cpu", "250m", "--limits-cpu", "none", "--port", "8001", "--prometheus-port", "9091", "--connect-port", "8091", "--probe", "http", "--grace-period", "60", "--max-connection-age", "120"],
      release: "conn",
      namespace: "data",
      values: {
        replicaCount: 3,
        image: { repository: "registry.example.com/team/conn", tag: "1.2.3", pullPolicy: "Always" },
        connectorSecret: { existingSecret: "conn-secret" },
        podEnv: [{ name: "A", value: "1" }],
        serviceMonitor: { enabled: true },
        autoscaling: { enabled: true, minReplicas: 2, maxReplicas: 6, targetCPUUtilizationPercentage: 60 },
        extraArgs: ["--worker", "50", "--host", "::"],
        resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: null, memory: "512Mi" } },
        ports: { containerPort: 8001 },
        metrics: { port: 9091 },
        connect: { port: 8091 },
        probe: "http",
        gracePeriodSeconds: 60,
        maxConnectionAgeSeconds: 120,
      },
    },
    { flags: ["--replicas", "2", "--no-pdb"], release: "flyte-connector", namespace: "flyte", values: { replicaCount: 2, podDisruptionBudget: { enabled: false } } },
    { flags: ["--connect-port", "0"], release: "flyte-connector", namespace: "flyte", values: { connect: { port: 0 } } },
    {
      flags: ["--transport", "grpc-js", "--max-connection-age-grace", "0", "--max-connection-idle", "600"],
      release: "flyte-connector",
      namespace: "flyte",
      values: { transport: "grpc-js", maxConnectionAgeGraceSeconds: 0, maxConnectionIdleSeconds: 600 },
    },
  ];
  for (const { flags, release, namespace, values } of scenarios) {
    const fromCli = withoutToolLabels(await manifests(...flags));
    const fromChart = withoutToolLabels(await helmTemplate(release, namespace, values));
    assert.deepEqual(fromChart, fromCli, `flags: ${flags.join(" ") || "(defaults)"}`);
  }
});

test("chart: connectorSecret.secretData creates the Secret and mounts it as the Python chart does", { skip: noHelm }, async () => {
  const objects = await helmTemplate("flyte-connector", "flyte", { connectorSecret: { secretData: { stringData: { token: "s3cr3t" } } } });
  const secret = one(objects, "Secret");
  assert.deepEqual([secret.metadata.name, secret.stringData], ["flyte-connector", { token: "s3cr3t" }]);
  const pod = one(objects, "Deployment").spec.template.spec;
  const mount = pod.containers[0].volumeMounts.find((m: any) => m.mountPath === "/etc/secrets");
  assert.deepEqual(pod.volumes.find((v: any) => v.name === mount.name).secret, { secretName: "flyte-connector" });
  const both = await helmTemplate("x", "flyte", { connectorSecret: { secretData: { stringData: { a: "b" } }, existingSecret: "y" } }).then(
    () => "rendered",
    (e: Error) => e.message,
  );
  assert.match(both, /set secretData or existingSecret, not both/);
});

test("no invented image: manifests without --image is a one-line error saying how to get one (kind/minikube too)", async () => {
  const failed = await run(process.execPath, [bin, "manifests"]).then(
    () => assert.fail("manifests printed objects without an image"),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
  assert.equal(failed.code, 1);
  assert.equal(failed.stdout, "");
  assert.equal(failed.stderr.trim().split("\n").length, 1, failed.stderr);
  assert.match(failed.stderr, /^error: --image is required: .*publishes none.*docker build.*kind load docker-image flyte-connectors:\d+\.\d+\.\d+/);
  assert.match(LOCAL_IMAGE, /^flyte-connectors:\d+\.\d+\.\d+$/, "the local name is not under any registry or organisation");
  const kind = one(await manifests("--image", LOCAL_IMAGE, "--image-pull-policy", "Never"), "Deployment").spec.template.spec.containers[0];
  assert.deepEqual([kind.image, kind.imagePullPolicy], [LOCAL_IMAGE, "Never"]);
});

test("chart: without image.repository rendering fails naming the value", { skip: noHelm }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "flyte-connector-chart-"));
  try {
    const rendered = await run(helm!, ["template", "flyte-connector", chartDir, "--namespace", "flyte"]).then(
      () => "rendered",
      (e: { stderr: string }) => e.stderr,
    );
    assert.match(rendered, /image\.repository is required/);
    const chart = parse(readFileSync(join(chartDir, "Chart.yaml"), "utf8")) as Record<string, unknown>;
    assert.ok(!JSON.stringify(chart).includes("flyte-connectors-ts"), "no invented repository URL in Chart.yaml");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
