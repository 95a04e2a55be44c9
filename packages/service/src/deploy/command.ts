import { InvalidArgumentError, Option, type Command } from "commander";
import { IMAGE_REQUIRED, MANIFEST_DEFAULTS, renderManifests, type ManifestOptions } from "./manifests.js";

interface ManifestFlags {
  name: string;
  namespace: string;
  image?: string;
  imagePullPolicy: "Always" | "IfNotPresent" | "Never";
  replicas: number;
  port: number;
  prometheusPort: number;
  connectPort: number;
  probe: "grpc" | "http";
  gracePeriod: number;
  maxConnectionAge: number;
  maxConnectionAgeGrace?: number;
  maxConnectionIdle: number;
  transport?: "native" | "grpc-js";
  worker?: number;
  logLevel?: string;
  serveArg: string[];
  requestsCpu: string;
  requestsMemory: string;
  limitsCpu: string;
  limitsMemory: string;
  env: { name: string; value: string }[];
  secret?: string;
  serviceMonitor: boolean;
  hpaMin?: number;
  hpaMax?: number;
  hpaCpu?: number;
  pdb: boolean;
}

function integer(flag: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`${flag} must be an integer from ${min} to ${max}.`);
    return n;
  };
}

/** DNS-1035 label: what a Service name must be (and so every object here, which share the name). */
function dnsLabel(flag: string) {
  return (value: string): string => {
    if (value.length > 63 || !/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(value)) {
      throw new InvalidArgumentError(`${flag} must be a DNS label: at most 63 lowercase letters, digits or "-", starting with a letter and not ending with "-" (got "${value}").`);
    }
    return value;
  };
}

/** DNS-1123 subdomain, the rule for Secret names. */
function secretName(value: string): string {
  if (value.length > 253 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(value)) {
    throw new InvalidArgumentError(`--secret must be a Secret name: lowercase letters, digits, "-" and "." (got "${value}").`);
  }
  return value;
}

function imageReference(value: string): string {
  if (!/^[^\s:@/][^\s]*$/.test(value)) throw new InvalidArgumentError(`--image must be an image reference such as ghcr.io/org/name:tag (got "${value}").`);
  return value;
}

const QUANTITY_SUFFIX: Record<string, number> = { "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };

/** Value of a Kubernetes quantity in base units, or undefined if `text` is not one (exponent forms like 1e3 are not accepted). */
function quantityValue(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(text);
  return m ? Number(m[1]) * QUANTITY_SUFFIX[m[2] ?? ""]! : undefined;
}

function quantity(flag: string) {
  return (value: string): string => {
    if (value !== "none" && quantityValue(value) === undefined) {
      throw new InvalidArgumentError(`${flag} must be a Kubernetes quantity such as 500m, 1, 256Mi or 1Gi, or "none" to leave it unset (got "${value}").`);
    }
    return value;
  };
}

function envVar(value: string, previous: { name: string; value: string }[]): { name: string; value: string }[] {
  const eq = value.indexOf("=");
  const name = eq < 0 ? value : value.slice(0, eq);
  if (eq < 0 || !/^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(name)) throw new InvalidArgumentError(`--env must be NAME=VALUE with a valid variable name (got "${name}").`);
  return [...previous, { name, value: value.slice(eq + 1) }];
}

/** Turns the flags into options, refusing combinations Kubernetes would reject or that cannot mean anything. */
function toOptions(flags: ManifestFlags): ManifestOptions {
  if (flags.port === flags.prometheusPort) throw new InvalidArgumentError("--port and --prometheus-port must differ.");
  if (flags.connectPort === flags.port || flags.connectPort === flags.prometheusPort) throw new InvalidArgumentError("--connect-port must differ from --port and --prometheus-port.");
  if (flags.probe === "http" && flags.connectPort === 0) throw new InvalidArgumentError("--probe http asks /healthz on the Connect port: it needs --connect-port (not 0).");
  if (flags.hpaMax === undefined && (flags.hpaMin !== undefined || flags.hpaCpu !== undefined)) {
    throw new InvalidArgumentError("--hpa-min and --hpa-cpu configure the autoscaler: give --hpa-max to enable it.");
  }
  for (const arg of flags.serveArg) {
    // These also shape the probes, ports and grace period of the pod: they must come from the flags of the same name.
    const managed = /^(--port|--prometheus-port|--prometheus_port|--connect-port|--connect_port|--grace-period|--max-connection-age)(=|$)/.exec(arg);
    if (managed) throw new InvalidArgumentError(`--serve-arg ${arg}: use ${managed[1]!.replace("_port", "-port")} of \`manifests\` itself (it also sets the probes, ports and grace period).`);
  }
  const unset = (q: string) => (q === "none" ? null : q);
  for (const [what, request, limit] of [
    ["cpu", flags.requestsCpu, flags.limitsCpu],
    ["memory", flags.requestsMemory, flags.limitsMemory],
  ] as const) {
    const r = request === "none" ? undefined : quantityValue(request);
    const l = limit === "none" ? undefined : quantityValue(limit);
    if (r !== undefined && l !== undefined && l < r) throw new InvalidArgumentError(`--limits-${what} (${limit}) is below --requests-${what} (${request}); Kubernetes rejects that.`);
  }
  let autoscaling: ManifestOptions["autoscaling"];
  if (flags.hpaMax !== undefined) {
    const minReplicas = flags.hpaMin ?? flags.replicas;
    if (minReplicas > flags.hpaMax) throw new InvalidArgumentError(`--hpa-min (${minReplicas}${flags.hpaMin === undefined ? ", from --replicas" : ""}) is above --hpa-max (${flags.hpaMax}).`);
    // The CPU target is a percentage of the request: without one the autoscaler cannot compute it.
    if (flags.requestsCpu === "none") throw new InvalidArgumentError("--hpa-max scales on CPU utilisation, which needs a CPU request: drop --requests-cpu none.");
    autoscaling = { minReplicas, maxReplicas: flags.hpaMax, targetCPUUtilizationPercentage: flags.hpaCpu ?? MANIFEST_DEFAULTS.hpaCpuPercent };
  }
  // Checked after the other flags, so a mistake in them is named even before an image is chosen.
  if (!flags.image) throw new InvalidArgumentError(IMAGE_REQUIRED);
  const extraArgs = [...(flags.worker !== undefined ? ["--worker", String(flags.worker)] : []), ...(flags.logLevel !== undefined ? ["--log-level", flags.logLevel] : []), ...flags.serveArg];
  return {
    name: flags.name,
    namespace: flags.namespace,
    image: flags.image,
    imagePullPolicy: flags.imagePullPolicy,
    replicas: flags.replicas,
    port: flags.port,
    prometheusPort: flags.prometheusPort,
    connectPort: flags.connectPort,
    probe: flags.probe,
    gracePeriodSeconds: flags.gracePeriod,
    maxConnectionAgeSeconds: flags.maxConnectionAge,
    maxConnectionAgeGraceSeconds: flags.maxConnectionAgeGrace ?? null,
    maxConnectionIdleSeconds: flags.maxConnectionIdle,
    transport: flags.transport ?? "",
    extraArgs,
    requestsCpu: unset(flags.requestsCpu),
    requestsMemory: unset(flags.requestsMemory),
    limitsCpu: unset(flags.limitsCpu),
    limitsMemory: unset(flags.limitsMemory),
    env: flags.env,
    ...(flags.secret ? { secret: flags.secret } : {}),
    serviceMonitor: flags.serviceMonitor,
    ...(autoscaling ? { autoscaling } : {}),
    podDisruptionBudget: flags.pdb,
  };
}

/** Adds `flyte-connector manifests`: prints Kubernetes manifests for the service. */
export function registerManifestsCommand(program: Command): void {
  const d = MANIFEST_DEFAULTS;
  program
    .command("manifests")
    .description("print Kubernetes manifests (ServiceAccount, Deployment, headless Service, PodDisruptionBudget, HPA, ServiceMonitor) for the service")
    .option("--name <name>", "name of every object", dnsLabel("--name"), d.name)
    .option("--namespace <namespace>", "namespace of every object", dnsLabel("--namespace"), d.namespace)
    .option("--image <image>", "container image with your connectors (its ENTRYPOINT: flyte-connector serve); required: none is published", imageReference)
    .addOption(new Option("--image-pull-policy <policy>", "image pull policy").choices(["Always", "IfNotPresent", "Never"]).default(d.imagePullPolicy))
    .option("--replicas <n>", "pods (without an autoscaler)", integer("--replicas", 1, 1000), d.replicas)
    .option("--port <port>", "gRPC port", integer("--port", 1, 65535), d.port)
    .option("--prometheus-port <port>", "Prometheus metrics port", integer("--prometheus-port", 1, 65535), d.prometheusPort)
    .option("--connect-port <port>", "Connect protocol port (HTTP/1.1 and h2c, /healthz); 0: none", integer("--connect-port", 0, 65535), d.connectPort)
    .addOption(new Option("--probe <kind>", "probes: grpc (gRPC health on --port) or http (GET /healthz on --connect-port)").choices(["grpc", "http"]).default(d.probe))
    .option("--grace-period <seconds>", "the service's drain time on SIGTERM; the pod gets 15 s more", integer("--grace-period", 0, 86400), d.gracePeriodSeconds)
    .option("--max-connection-age <seconds>", "passed to serve: renew each backend connection this often so new pods get calls (0: never)", integer("--max-connection-age", 0, 86400), d.maxConnectionAgeSeconds)
    .option("--max-connection-age-grace <seconds>", "passed to serve: after the age GOAWAY, how long open calls may take before the connection is closed (default: serve's, the grace period)", integer("--max-connection-age-grace", 0, 86400))
    .option("--max-connection-idle <seconds>", "passed to serve: GOAWAY on a connection without calls for this long (0: never)", integer("--max-connection-idle", 0, 86400), d.maxConnectionIdleSeconds)
    .addOption(new Option("--transport <kind>", "passed to serve: gRPC server implementation (default: serve's)").choices(["native", "grpc-js"]))
    .option("--worker <n>", "passed to serve: most connector calls running at once per pod (0: no limit)", integer("--worker", 0, 1_000_000))
    .addOption(new Option("--log-level <level>", "passed to serve").choices(["trace", "debug", "info", "warn", "error", "fatal", "silent"]))
    .option("--serve-arg <arg>", "further argument of `flyte-connector serve`, e.g. --serve-arg=--host --serve-arg=:: (repeatable)", (value: string, previous: string[]) => [...previous, value], [])
    .option("--requests-cpu <quantity>", 'CPU request ("none": unset)', quantity("--requests-cpu"), d.requestsCpu)
    .option("--requests-memory <quantity>", 'memory request ("none": unset)', quantity("--requests-memory"), d.requestsMemory)
    .option("--limits-cpu <quantity>", 'CPU limit ("none": unset)', quantity("--limits-cpu"), d.limitsCpu)
    .option("--limits-memory <quantity>", 'memory limit ("none": unset)', quantity("--limits-memory"), d.limitsMemory)
    .option("--env <NAME=VALUE>", "environment variable of the container (repeatable)", envVar, [])
    .option("--secret <name>", "existing Secret to mount read-only at /etc/secrets (connector credentials)", secretName)
    .option("--service-monitor", "also print a prometheus-operator ServiceMonitor", false)
    .option("--hpa-max <n>", "add a HorizontalPodAutoscaler (autoscaling/v2, CPU) scaling up to this many pods", integer("--hpa-max", 1, 1000))
    .option("--hpa-min <n>", "autoscaler minimum (default: --replicas)", integer("--hpa-min", 1, 1000))
    .option("--hpa-cpu <percent>", `autoscaler target CPU utilisation, % of the request (default: ${d.hpaCpuPercent})`, integer("--hpa-cpu", 1, 1000))
    .option("--no-pdb", "no PodDisruptionBudget (by default one with maxUnavailable 1 when at least 2 pods run)")
    .action(async (flags: ManifestFlags, command: Command) => {
      let options: ManifestOptions;
      try {
        options = toOptions(flags);
      } catch (error) {
        // Same output and exit code (1) as commander's own flag errors.
        if (error instanceof InvalidArgumentError) command.error(`error: ${error.message}`, { exitCode: 1, code: error.code });
        throw error;
      }
      process.stdout.write(await renderManifests(options));
    });
}
