import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { ConnectorRegistry, ImageBuildError } from "flyte-connectors";
import { startConnectorService, type ConnectorServiceHandle } from "./service.js";
import { addLoadOptions, type LoadFlags } from "./load-options.js";
import { ListenError } from "./listen-error.js";
import { loadConnectors, ModuleLoadError } from "./loader.js";
import { registerManifestsCommand } from "./deploy/command.js";
import { registerImageCommand } from "./image/command.js";
import { registerRunCommand } from "./run/command.js";
import { registerInitCommand } from "./scaffold/command.js";
import { connectorTable, servedConnector } from "./table.js";
import { DEFAULT_MAX_BUFFERED_REQUEST_BYTES, DEFAULT_MAX_RECEIVE_MESSAGE_BYTES, MAX_TIMER_MS } from "./transport/server.js";
import { DEFAULT_TRANSPORT, TRANSPORT_KINDS, type TransportKind } from "./transport/index.js";

function integer(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `${name} must be an integer >= ${min}.` : `${name} must be an integer from ${min} to ${max}.`);
    }
    return n;
  };
}

/** Longest `--timeout`/`--grace-period` in seconds: a Node timer holds at most 2^31 − 1 ms (~24.8 days). */
const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

/** The PEM files of --tls-cert and --tls-key; an unreadable one is a usage error naming the flag. */
function readTlsFiles(certPath: string, keyPath: string): { cert: Buffer; key: Buffer } {
  const read = (flag: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new InvalidArgumentError(`cannot read ${flag} ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  };
  return { cert: read("--tls-cert", certPath), key: read("--tls-key", keyPath) };
}

interface ServeFlags extends LoadFlags {
  port: number;
  host: string;
  prometheusPort: number;
  prometheus_port?: number;
  connectPort?: number;
  connect_port?: number;
  worker: number;
  timeout?: number;
  tlsCert?: string;
  tlsKey?: string;
  gracePeriod: number;
  maxReceiveSize: number;
  maxConnectionAge: number;
  maxConnectionAgeGrace?: number;
  maxConnectionIdle: number;
  maxRequestMemory: number;
  transport: TransportKind;
  logLevel: string;
  allowLocalFiles?: boolean;
}

/** --connect-port → the service option: 0 is off; unset leaves the service's default. */
function connectPortOption(flag: number | undefined): { connectPort?: number | null } {
  if (flag === undefined) return {};
  return { connectPort: flag === 0 ? null : flag };
}

async function serve(flags: ServeFlags): Promise<void> {
  if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) throw new InvalidArgumentError("--tls-cert and --tls-key go together.");
  // A signal while connectors load is kept and acted on once the service is up (Node's default would kill at once).
  // A second one does not wait: nothing is served yet, so nothing is lost by exiting at once.
  let earlySignal: string | undefined;
  const onEarlySignal = (signal: NodeJS.Signals) => {
    if (earlySignal) process.exit(1);
    earlySignal = signal;
  };
  process.on("SIGTERM", onEarlySignal).on("SIGINT", onEarlySignal);
  const removeEarlyHandlers = () => process.off("SIGTERM", onEarlySignal).off("SIGINT", onEarlySignal);
  let handle: ConnectorServiceHandle;
  try {
    handle = await startConnectorService({
      port: flags.port,
      host: flags.host,
      prometheusPort: flags.prometheus_port ?? flags.prometheusPort,
      // --connect-port 0 turns the Connect port off (as flyte-sdk's --connect_port); unset: 8090 (free with --port 0).
      ...connectPortOption(flags.connect_port ?? flags.connectPort),
      worker: flags.worker,
      modules: flags.modules,
      discover: flags.discover,
      builtins: flags.builtins,
      gracePeriodMs: flags.gracePeriod * 1000,
      maxReceiveMessageBytes: flags.maxReceiveSize,
      maxConnectionAgeMs: flags.maxConnectionAge * 1000,
      // Unset: the grace period (the service's default).
      ...(flags.maxConnectionAgeGrace !== undefined ? { maxConnectionAgeGraceMs: flags.maxConnectionAgeGrace * 1000 } : {}),
      maxConnectionIdleMs: flags.maxConnectionIdle * 1000,
      maxBufferedRequestBytes: flags.maxRequestMemory,
      transport: flags.transport,
      logLevel: flags.logLevel,
      allowLocalFiles: flags.allowLocalFiles ?? false,
      ...(flags.tlsCert && flags.tlsKey ? { tls: readTlsFiles(flags.tlsCert, flags.tlsKey) } : {}),
    });
  } catch (error) {
    removeEarlyHandlers(); // a failed start-up exits as an error, not as a swallowed signal
    throw error;
  }
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) {
      // A second signal: stop now.
      void handle.forceClose().then(() => exit(1));
      return;
    }
    stopping = true;
    handle.logger.info({ reason }, "shutting down");
    void handle.close().then(
      () => exit(0),
      () => exit(1),
    );
  };
  const exit = (code: number) => {
    handle.logger.flush(() => process.exit(code));
    setTimeout(() => process.exit(code), 1000).unref();
  };
  // Connector code must not take the service down with a stray promise; a thrown exception does (exit 1).
  process.on("unhandledRejection", (reason) => handle.logger.error({ err: reason }, "unhandled promise rejection (connector bug?)"));
  process.on("uncaughtException", (error) => {
    handle.logger.fatal({ err: error }, "uncaught exception");
    void handle.forceClose().finally(() => exit(1));
  });
  removeEarlyHandlers();
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  if (earlySignal) {
    // Not announced as serving: it drains (nothing is in flight yet) and exits.
    stop(earlySignal);
    return;
  }
  process.stderr.write(
    `flyte-connector: serving gRPC on ${flags.host}:${handle.port}${flags.tlsCert ? " (TLS)" : " (h2c)"}, metrics on :${handle.prometheusPort}${handle.connectPort === undefined ? "" : `, Connect on :${handle.connectPort}${flags.tlsCert ? " (TLS)" : " (HTTP/1.1, h2c)"}`}\n${connectorTable(handle.connectors)}\n`,
  );
  for (const failure of handle.failures) process.stderr.write(`flyte-connector: skipped ${failure.source}: ${failure.error}\n`);

  if (flags.timeout !== undefined) setTimeout(() => stop(`--timeout ${flags.timeout}s`), flags.timeout * 1000).unref();
}

async function list(flags: LoadFlags): Promise<void> {
  // The same loading as `serve`, without a server: nothing is bound.
  const { loaded, failed } = await loadConnectors(new ConnectorRegistry(), { modules: flags.modules, discover: flags.discover, builtins: flags.builtins });
  process.stdout.write(connectorTable(loaded.map(({ connector, source }) => servedConnector(connector, source))) + "\n");
  for (const failure of failed.filter((f) => !f.required)) process.stderr.write(`flyte-connector: skipped ${failure.source}: ${failure.error}\n`);
  // As `serve`, which would not start.
  const required = failed.filter((f) => f.required);
  if (required.length > 0) throw new ModuleLoadError(required);
}

/** This package's version (package.json sits beside dist/ and src/). */
function ownVersion(): string {
  return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

/** Runs the CLI with `argv` (as process.argv). */
export async function main(argv: readonly string[]): Promise<void> {
  const program = new Command("flyte-connector").description("Serve TypeScript Flyte 2 connectors over gRPC (flyteidl2).").version(ownVersion(), "-V, --version", "print the version of @flyte-connectors/service");
  const serveCommand = program
    .command("serve", { isDefault: true })
    .description("run the connector gRPC service")
    .option("--port <port>", "gRPC port", integer("--port", 0, 65535), 8000)
    .option("--host <host>", "address to listen on (gRPC and metrics); use :: for IPv6/dual-stack", "0.0.0.0")
    .option("--prometheus-port <port>", "Prometheus metrics port", integer("--prometheus-port", 0, 65535), 9090)
    .addOption(new Option("--prometheus_port <port>", "alias of --prometheus-port").argParser(integer("--prometheus_port", 0, 65535)).hideHelp())
    .option("--connect-port <port>", "Connect protocol port (HTTP/1.1 and h2c; also gRPC-Web), /healthz there; 0: off (default: 8090, a free one with --port 0)", integer("--connect-port", 0, 65535))
    .addOption(new Option("--connect_port <port>", "alias of --connect-port").argParser(integer("--connect_port", 0, 65535)).hideHelp())
    .option("--worker <n>", "most connector calls running at once over all connectors; more wait (0: no limit; to protect a vendor API set the connector's maxConcurrency)", integer("--worker", 0), 0)
    .option("--timeout <seconds>", "stop (gracefully) after this many seconds", integer("--timeout", 1, MAX_TIMER_SECONDS))
    .option("--tls-cert <file>", "PEM certificate chain: serve TLS (with --tls-key)")
    .option("--tls-key <file>", "PEM private key (with --tls-cert)")
    .option("--grace-period <seconds>", "on SIGTERM/SIGINT, how long calls in flight may take to finish", integer("--grace-period", 0, MAX_TIMER_SECONDS), 30)
    .option("--max-connection-age <seconds>", "send GOAWAY on each connection after this long (±10%), so clients re-resolve and reach new replicas (0: never)", integer("--max-connection-age", 0, MAX_TIMER_SECONDS), 0)
    .option("--max-connection-age-grace <seconds>", "after the --max-connection-age GOAWAY, how long calls still open may take before the connection is closed (their streams reset with CANCEL, which clients retry) (default: --grace-period)", integer("--max-connection-age-grace", 0, MAX_TIMER_SECONDS))
    // Off by default: the backend keeps one connection per pod and polls on it all the time; closing it when idle
    // only makes the next call reconnect (grpc-go's MaxConnectionIdle is off by default too).
    .option("--max-connection-idle <seconds>", "send GOAWAY on a connection without calls for this long (0: never; the backend reuses one connection, so closing idle ones only costs reconnects)", integer("--max-connection-idle", 0, MAX_TIMER_SECONDS), 0)
    .option("--max-receive-size <bytes>", "largest request message accepted", integer("--max-receive-size", 1024), DEFAULT_MAX_RECEIVE_MESSAGE_BYTES)
    .option("--max-request-memory <bytes>", "request bytes all calls together may hold before new data is refused with RESOURCE_EXHAUSTED (native transport)", integer("--max-request-memory", 1024), DEFAULT_MAX_BUFFERED_REQUEST_BYTES)
    .addOption(new Option("--transport <kind>", "gRPC server implementation: native (node:http2) or grpc-js (@grpc/grpc-js)").choices(TRANSPORT_KINDS).default(DEFAULT_TRANSPORT))
    .option("--allow-local-files", "read offloaded literals at local paths / file:// URIs for callers (off: a caller cannot make the service read its own disk)")
    .addOption(new Option("--log-level <level>", "log level").choices(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"));
  addLoadOptions(serveCommand).action((flags: ServeFlags) => serve(flags));
  addLoadOptions(program.command("list").description("print the connectors that `serve` would serve, then exit")).action(
    (flags: LoadFlags) => list(flags),
  );
  registerRunCommand(program);
  registerInitCommand(program);
  registerManifestsCommand(program);
  registerImageCommand(program);
  try {
    await program.parseAsync(argv as string[]);
  } catch (error) {
    // Mistakes of the command line (a bad flag value, an unreadable file, no image builder) get one line, as
    // commander's own usage errors do; anything else is a bug and keeps its stack (bin/flyte-connector.js).
    if (error instanceof InvalidArgumentError || error instanceof ImageBuildError || error instanceof ModuleLoadError || error instanceof ListenError) {
      program.error(`error: ${error.message}`);
    }
    throw error;
  }
}
