import type http from "node:http";
import { pino, type Logger } from "pino";
import { ConnectorDispatcher, ConnectorRegistry, type Connector, type DispatcherOptions } from "flyte-connectors";
import { AsyncConnectorService, ConnectorMetadataService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { asyncConnectorHandlers, metadataHandlers, methodDefinitions, type CallState, type Dispatcher, type HandlerContext } from "./handlers.js";
import { HealthService, type ServingStatus } from "./health.js";
import { ConnectorLimits } from "./limiter.js";
import { listenOn } from "./listen-error.js";
import { loadConnectors, ModuleLoadError, type LoadFailure } from "./loader.js";
import { ServiceMetrics, startMetricsServer } from "./metrics.js";
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_MAX_BUFFERED_REQUEST_BYTES, DEFAULT_MAX_RECEIVE_MESSAGE_BYTES, MAX_TIMER_MS } from "./transport/server.js";
import { TransportEventLog } from "./transport/events.js";
import { createTransport, DEFAULT_TRANSPORT, type TransportKind } from "./transport/index.js";
import { ConnectServer } from "./transport/connect.js";
import { servedConnector, type ServedConnector } from "./table.js";

/** Options of {@link startConnectorService}. Every field is optional. */
export interface ConnectorServiceOptions {
  /** gRPC port; 0 picks a free one (read it from the handle). Default: 8000. */
  port?: number;
  /** Address the gRPC and metrics servers listen on. Default: "0.0.0.0" (all IPv4 interfaces). */
  host?: string;
  /** Prometheus metrics port (`GET /metrics`); 0 picks a free one; `null` serves no metrics endpoint. Default: 9090. */
  prometheusPort?: number | null;
  /**
   * Connect port: the same services over the Connect protocol (and gRPC-Web), HTTP/1.1 and h2c (TLS: both by ALPN,
   * with `tls`), with `/healthz` and `/health`. 0 picks a free one; `null` serves no Connect port.
   * Default: 8090, or a free one when `port` is 0.
   */
  connectPort?: number | null;
  /** PEM certificate chain and private key (contents, not paths): serve TLS instead of cleartext h2c. Default: cleartext. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /**
   * gRPC server implementation: "native" (node:http2, transport/server.ts) or "grpc-js" (@grpc/grpc-js). Both serve
   * the same handlers, metrics and logs. Default: "native".
   */
  transport?: TransportKind;
  /** Largest request message accepted, in bytes. Default: 16 MiB (DEFAULT_MAX_RECEIVE_MESSAGE_BYTES). */
  maxReceiveMessageBytes?: number;
  /**
   * GOAWAY on each connection after this many ms (±10%): clients reconnect and re-resolve, so replicas added by a
   * scale-up get calls. Both ports; HTTP/1.1 on the Connect port has no GOAWAY: the answer in progress carries
   * `connection: close`, an idle keep-alive connection is closed. 0: never. Default: 0.
   */
  maxConnectionAgeMs?: number;
  /**
   * After a connection's max-age GOAWAY, how long its calls still open may take before the connection is closed
   * hard (their streams reset with CANCEL, which clients retry). Default: `gracePeriodMs`.
   */
  maxConnectionAgeGraceMs?: number;
  /**
   * GOAWAY on a connection without calls for this many ms (grpc-go's MaxConnectionIdle); on the Connect port an idle
   * HTTP/1.1 keep-alive connection is closed. 0: never. Default: 0.
   */
  maxConnectionIdleMs?: number;
  /**
   * Native transport only: request bytes all calls together may hold before new data is refused with
   * RESOURCE_EXHAUSTED. Default: 64 MiB (DEFAULT_MAX_BUFFERED_REQUEST_BYTES).
   */
  maxBufferedRequestBytes?: number;
  /**
   * ms a new connection has to finish its TLS and HTTP/2 handshake (grpc-js: the HTTP/2 preface; its TLS handshake
   * keeps Node's 120 s). 0: never. Default: 10000.
   */
  handshakeTimeoutMs?: number;
  /**
   * Most connector calls (CreateTask, GetTask, DeleteTask, GetTaskMetrics; GetTaskLogs while the connector
   * produces a page, not while the stream waits for the client to read) running at once over all connectors; more
   * wait in FIFO order until a slot frees, their deadline passes or the caller cancels. A slot is held until the
   * connector's work settles, even past its call's deadline. To protect a vendor API, set the connector's
   * `maxConcurrency` instead: this cap also queues cheap polls of every other connector. 0: no limit. Default: 0.
   */
  worker?: number;
  /**
   * On close: how long in-flight calls may take to finish before they are cancelled, in ms (at most 2^31 − 1,
   * ~24.8 days: longer is clamped). Default: 30000.
   */
  gracePeriodMs?: number;
  /** pino log level ("fatal" … "trace", or "silent"). Default: "info". Ignored when `logger` is given. */
  logLevel?: string;
  /** Logger to use. Default: a pino JSON logger on stdout at `logLevel`. */
  logger?: Logger;
  /** Registry to serve; connectors loaded by the service are added to it. Default: a new empty registry. */
  registry?: ConnectorRegistry;
  /** Serve the built-in connectors (echo, sleep) of `flyte-connectors/builtin`. Default: true. */
  builtins?: boolean;
  /** Modules to load connectors from: file paths (TypeScript or JavaScript, relative to `cwd`) or package names. Default: []. */
  modules?: readonly string[];
  /** Load installed packages whose package.json has a `"flyteConnectors"` field. Default: true. */
  discover?: boolean;
  /** Directory module paths and package discovery start from. Default: process.cwd(). */
  cwd?: string;
  /** Options of the core dispatcher (literal storage, …). Default: {}. */
  dispatcherOptions?: DispatcherOptions;
  /**
   * Read offloaded literals at local paths and `file://` URIs from this machine's disk for a caller. Off, a
   * request naming one is INVALID_ARGUMENT: a remote caller must not make the service read its own files
   * (mounted secrets, service account tokens). Default: false (CLI: `--allow-local-files`).
   */
  allowLocalFiles?: boolean;
}

export type { ServedConnector } from "./table.js";

/** A running connector service. */
export interface ConnectorServiceHandle {
  /** The gRPC port (useful with `port: 0`). */
  readonly port: number;
  /** The metrics port, or undefined without a metrics endpoint. */
  readonly prometheusPort: number | undefined;
  /** The Connect port, or undefined without one. */
  readonly connectPort: number | undefined;
  /** The connectors served, in registration order. */
  readonly connectors: readonly ServedConnector[];
  /** Discovered packages that failed to load (they were skipped); a `modules` entry that fails stops start-up ({@link ModuleLoadError}). */
  readonly failures: readonly LoadFailure[];
  /** The logger the service writes to. */
  readonly logger: Logger;
  /**
   * Graceful stop: health NOT_SERVING, no new connections or calls (GOAWAY), in-flight calls get up to the grace
   * period to finish, then whatever is left is cancelled. Resolves when everything is closed. Idempotent.
   */
  close(options?: { gracePeriodMs?: number }): Promise<void>;
  /** Immediate stop: cancels in-flight calls. */
  forceClose(): Promise<void>;
}

/** Services whose health is reported; "" is the whole server (what a Kubernetes grpc probe checks). */
/** Flyte 1's agent services (flyte1/handlers.ts), named here so that module loads only when a service starts. */
const FLYTE1_SERVICE_NAMES = ["flyteidl.service.AsyncAgentService", "flyteidl.service.SyncAgentService", "flyteidl.service.AgentMetadataService"];
const HEALTH_SERVICES = ["", AsyncConnectorService.typeName, ConnectorMetadataService.typeName, ...FLYTE1_SERVICE_NAMES];

/** Internal hook for tests: serve a given dispatcher instead of one built from the registry. */
interface InternalOptions extends ConnectorServiceOptions {
  dispatcher?: Dispatcher;
}

/**
 * Starts the connector service: binds gRPC (health NOT_SERVING), starts the metrics endpoint, loads the
 * connectors (built-ins, `modules`, discovered packages), then reports SERVING.
 */
export async function startConnectorService(options: ConnectorServiceOptions = {}): Promise<ConnectorServiceHandle> {
  const opts = options as InternalOptions;
  const host = opts.host ?? "0.0.0.0";
  const logger =
    opts.logger ??
    pino(
      { level: opts.logLevel ?? "info", base: { svc: "flyte-connector" } },
      // Synchronous writes (pino's default): in the GetTask benchmark at least as fast as the asynchronous
      // destination (with or without its buffering), and no lines are lost if the process dies.
      pino.destination({ dest: 1, sync: true }),
    );
  const registry = opts.registry ?? new ConnectorRegistry();
  const metrics = new ServiceMetrics();
  const limits = new ConnectorLimits({
    global: opts.worker ?? 0,
    onOverdue: ({ call, started }) => {
      const taskType = call.connector.taskTypeName;
      metrics.overdue.inc({ task_type: taskType, operation: call.operation });
      const reason = (call.signal.reason as { name?: unknown } | undefined)?.name === "TimeoutError" ? "deadline" : "cancelled";
      logger.warn(
        { op: call.operation, taskType, reason, ms: Math.round(performance.now() - started) },
        "connector call outlived its deadline or cancel",
      );
    },
  });
  const dispatcherOptions = opts.dispatcherOptions ?? {};
  const ownRun = dispatcherOptions.runConnector;
  const dispatcher =
    opts.dispatcher ??
    new ConnectorDispatcher(registry, {
      ...dispatcherOptions,
      allowLocalFiles: opts.allowLocalFiles ?? false,
      // Limits (per connector and --worker) hold their slots until the connector's work settles.
      runConnector: ownRun ? (call, work) => limits.run(call, () => ownRun(call, work)) : limits.run,
    });
  const state: CallState = { ready: false, inFlight: 0, onIdle: undefined, taskTypes: new Set() };
  const ctx: HandlerContext = { dispatcher, metrics, logger, state };

  // Flyte 1's schema is loaded here, not when the module is (~0.1-0.2 s): the CLI has its signal handlers by then.
  const { flyte1MethodDefinitions } = await import("./flyte1/handlers.js");
  const health = new HealthService(Object.fromEntries(HEALTH_SERVICES.map((s) => [s, "NOT_SERVING" as ServingStatus])));
  // The Connect port's /healthz follows the gRPC health of "" (the whole server).
  let serving = false;
  const setHealth = (status: ServingStatus) => {
    serving = status === "SERVING";
    for (const service of HEALTH_SERVICES) health.setStatus(service, status);
  };

  const maxReceiveMessageBytes = opts.maxReceiveMessageBytes ?? DEFAULT_MAX_RECEIVE_MESSAGE_BYTES;
  const gracePeriodMs = Math.min(Math.max(0, opts.gracePeriodMs ?? 30_000), MAX_TIMER_MS);
  // Refused streams, connection errors, GOAWAYs: counted, and logged at most once per name per 10 s.
  const transportEvents = new TransportEventLog({ count: (event) => metrics.transportEvents.inc({ event }), logger });
  const transport = opts.transport ?? DEFAULT_TRANSPORT;
  const server = createTransport(transport, {
    maxReceiveMessageBytes,
    tls: opts.tls,
    maxConnectionAgeMs: opts.maxConnectionAgeMs ?? 0,
    maxConnectionAgeGraceMs: opts.maxConnectionAgeGraceMs ?? gracePeriodMs,
    maxConnectionIdleMs: opts.maxConnectionIdleMs ?? 0,
    maxBufferedRequestBytes: opts.maxBufferedRequestBytes ?? DEFAULT_MAX_BUFFERED_REQUEST_BYTES,
    handshakeTimeoutMs: opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    onHandlerError: (error, path) => logger.error({ err: error, path }, "unexpected error in the gRPC transport"),
    onEvent: transportEvents.record,
  });
  for (const method of methodDefinitions(AsyncConnectorService, asyncConnectorHandlers(ctx))) server.add(method);
  for (const method of methodDefinitions(ConnectorMetadataService, metadataHandlers(ctx))) server.add(method);
  // Flyte 1's agent services on the same port, through the same handlers and dispatcher.
  const flyte1Lookup = opts.dispatcher ? (opts.dispatcher as { registry?: ConnectorRegistry }).registry : registry;
  for (const method of flyte1MethodDefinitions(ctx, flyte1Lookup)) server.add(method);
  health.addTo(server);
  // A port in use or out of range is a ListenError naming the option (the CLI: one line naming the flag).
  const port = await listenOn("port", opts.port ?? 8000, host, () => server.listen(opts.port ?? 8000, host));

  // The Connect port runs the same method definitions (handlers, metrics, logs); started after the gRPC port.
  let connect: ConnectServer | undefined;
  let connectPort: number | undefined;
  let metricsServer: (http.Server & { port: number }) | undefined;
  try {
    if (opts.connectPort !== null) {
      connect = new ConnectServer({
        maxReceiveMessageBytes,
        tls: opts.tls,
        healthy: () => serving,
        // Keep-alive clients of the Connect port (and load balancers in front) rebalance after a scale-up too.
        maxConnectionAgeMs: opts.maxConnectionAgeMs ?? 0,
        maxConnectionAgeGraceMs: opts.maxConnectionAgeGraceMs ?? gracePeriodMs,
        maxConnectionIdleMs: opts.maxConnectionIdleMs ?? 0,
        onEvent: transportEvents.record,
        onHandlerError: (error, path) => logger.error({ err: error, path }, "unexpected error in the Connect transport"),
      });
      for (const method of methodDefinitions(AsyncConnectorService, asyncConnectorHandlers(ctx))) connect.add(method);
      for (const method of methodDefinitions(ConnectorMetadataService, metadataHandlers(ctx))) connect.add(method);
      const wanted = opts.connectPort ?? (opts.port === 0 ? 0 : 8090);
      const connectServer = connect;
      connectPort = await listenOn("connectPort", wanted, host, () => connectServer.listen(wanted, host));
    }
    if (opts.prometheusPort !== null) {
      const wanted = opts.prometheusPort ?? 9090;
      metricsServer = await listenOn("prometheusPort", wanted, host, () => startMetricsServer(metrics, wanted, host));
    }
  } catch (error) {
    server.destroy();
    connect?.destroy();
    throw error;
  }

  // Connectors: built-ins, then --modules, then discovered packages. Failures are reported and skipped.
  const served: ServedConnector[] = [];
  const failures: LoadFailure[] = [];
  if (!opts.dispatcher) {
    for (const connector of registry.list()) served.push(servedConnector(connector, "registry"));
    const result = await loadConnectors(registry, { builtins: opts.builtins, modules: opts.modules, discover: opts.discover, cwd: opts.cwd });
    for (const { connector, source } of result.loaded) served.push(servedConnector(connector, source));
    failures.push(...result.failed);
  }
  const required = failures.filter((failure) => failure.required);
  if (required.length > 0) {
    // The service was deployed for these modules: it must not go Ready without them.
    for (const failure of required) logger.fatal({ source: failure.source, error: failure.error }, "connector module failed to load");
    server.destroy();
    connect?.destroy();
    await new Promise<void>((resolve) => (metricsServer ? metricsServer.close(() => resolve()) : resolve()));
    throw new ModuleLoadError(required);
  }
  for (const failure of failures) logger.error({ source: failure.source, error: failure.error }, "connector module skipped");
  logger.info({ port, connectPort, prometheusPort: metricsServer?.port, tls: Boolean(opts.tls), transport, connectors: served.map((c) => `${c.taskType}@${c.version}`) }, "serving");

  // The registry is complete now: the task types served bound the metrics' task_type label.
  const servedRegistry = opts.dispatcher ? (opts.dispatcher as { registry?: ConnectorRegistry }).registry : registry;
  state.taskTypes = new Set(servedRegistry?.list().map((connector) => connector.taskTypeName));
  state.ready = true;
  setHealth("SERVING");

  let closing: Promise<void> | undefined;
  const shutdownMetrics = () =>
    new Promise<void>((resolve) => {
      if (!metricsServer) return resolve();
      metricsServer.close(() => resolve());
      metricsServer.closeAllConnections();
    });
  const force = async () => {
    state.ready = false;
    setHealth("NOT_SERVING");
    health.endWatches();
    server.destroy();
    connect?.destroy();
    transportEvents.flush();
    await shutdownMetrics();
  };
  const close = (closeOptions: { gracePeriodMs?: number } = {}) => {
    closing ??= (async () => {
      // A timer holds at most 2^31 − 1 ms (~24.8 days); a longer one would fire at once.
      const grace = Math.min(Math.max(0, closeOptions.gracePeriodMs ?? opts.gracePeriodMs ?? 30_000), MAX_TIMER_MS);
      setHealth("NOT_SERVING");
      logger.info({ inFlight: state.inFlight, graceMs: grace }, "draining");
      // Stop listening and send GOAWAY: new calls go elsewhere, calls in flight continue.
      const sessionsClosed = Promise.all([server.close(), connect?.close()]);
      if (state.inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            logger.warn({ inFlight: state.inFlight }, "grace period over: cancelling calls in flight");
            resolve();
          }, grace);
          state.onIdle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      // Let the last answers flush: sessions close once their streams end, but open health Watch streams keep
      // theirs open, so wait at most a moment. Then Watch streams (and calls past the grace period) are cut.
      health.endWatches();
      await Promise.race([sessionsClosed, new Promise((resolve) => setTimeout(resolve, 500).unref())]);
      server.destroy();
      connect?.destroy();
      transportEvents.flush();
      await shutdownMetrics();
      logger.info("stopped");
    })();
    return closing;
  };

  return {
    port,
    prometheusPort: metricsServer?.port,
    connectPort,
    connectors: served,
    failures,
    logger,
    close,
    forceClose: force,
  };
}

