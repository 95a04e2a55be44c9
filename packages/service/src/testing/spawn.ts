// Starts `flyte-connector serve` as a real process for tests and waits for its "serving" line.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { testTransportArgs } from "./transport.js";

/** The CLI's entry point in this package. */
export const CLI_BIN = fileURLToPath(new URL("../../bin/flyte-connector.js", import.meta.url));

export interface SpawnedService {
  child: ChildProcess;
  /** gRPC and metrics ports from the "serving gRPC on …, metrics on :…" line. */
  port: number;
  metricsPort: number;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface SpawnServiceOptions {
  /** Default: `process.execPath` with {@link CLI_BIN} before `args`. */
  command?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** An extra condition on stderr before the service counts as started (e.g. a connector's row). Default: none. */
  ready?: (stderr: string) => boolean;
}

/**
 * Spawns the CLI (`node bin/flyte-connector.js ...args`, or `options.command ...args`) and resolves once it prints its
 * serving line; rejects with its stderr if it exits first. A `serve` without `--transport` gets the one
 * `FLYTE_CONNECTOR_TEST_TRANSPORT` names (the suite runs once per transport).
 */
export async function spawnService(given: readonly string[], options: SpawnServiceOptions = {}): Promise<SpawnedService> {
  const args = given[0] === "serve" && !given.some((arg) => arg === "--transport" || arg.startsWith("--transport=")) ? [...given, ...testTransportArgs()] : given;
  const [command, argv] = options.command ? [options.command, [...args]] : [process.execPath, [CLI_BIN, ...args]];
  const child = spawn(command, argv, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const ports = await new Promise<[number, number]>((resolve, reject) => {
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += String(chunk);
      const match = /serving gRPC on \S+:(\d+) \((?:h2c|TLS)\), metrics on :(\d+)/.exec(stderr);
      if (match && (options.ready?.(stderr) ?? true)) resolve([Number(match[1]), Number(match[2])]);
    });
    void exited.then((code) => reject(new Error(`flyte-connector exited (${code}) before serving: ${stderr}`)));
  });
  return {
    child,
    port: ports[0],
    metricsPort: ports[1],
    stderr: () => stderr,
    exited,
    stop: (signal: NodeJS.Signals = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
