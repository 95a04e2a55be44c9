import { randomUUID } from "node:crypto";
import { mkdtemp, rmdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { create, fromBinary, type JsonObject } from "@bufbuild/protobuf";
import {
  CreateTaskRequestSchema,
  DeleteTaskRequestSchema,
  GetTaskRequestSchema,
  type Resource,
} from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { ConnectionSchema, type Connection } from "@flyte-connectors/flyteidl2/flyteidl2/core/security_pb.js";
import type { TaskTemplate } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { OutputsSchema, type Outputs } from "@flyte-connectors/flyteidl2/flyteidl2/task/common_pb.js";
import { ConnectorDispatcher } from "../dispatcher.js";
import { ConnectorError, SecretNotFoundError } from "../errors.js";
import { isTerminalPhase, Phase } from "../phase.js";
import type { ConnectorRegistry } from "../registry.js";
import type { ConnectorTask, TypeSpecs } from "../task/index.js";
import { decodeOutputs, encodeInputs, type InferShape } from "../types/index.js";
import { defaultStorage } from "../storage/object-store.js";
import { StorageError, type Storage } from "../storage/types.js";
import { joinUri } from "../storage/uri.js";
import { TaskFailedError } from "./errors.js";
import { Progress, type ProgressOutput } from "./progress.js";
import { runCancellation } from "./cancellation.js";

/** Exponential back-off of the poll interval: each wait is `factor` times the previous one, up to `maxInterval`. */
export interface Backoff {
  /** Multiplier applied after every poll; at least 1. */
  factor: number;
  /** Longest wait between polls in milliseconds. Default: 30 000 (the backend's poll period), or `pollInterval` if larger. */
  maxInterval?: number;
}

/** Options of {@link runTask}. */
export interface RunOptions {
  /** The connectors to run the task with; the one registered for the task's (type, version) is used. Required. */
  registry: ConnectorRegistry;
  /** Milliseconds between two polls (GetTask calls); the first poll follows create at once. Default: 3000. */
  pollInterval?: number;
  /** Grow the poll interval exponentially. Default: none (constant `pollInterval`). */
  backoff?: Backoff;
  /** Cancels the run: the job is deleted once and the run rejects with a TaskFailedError in phase ABORTED. */
  signal?: AbortSignal;
  /**
   * Cancel the run on Ctrl-C (SIGINT), as `signal` does; the listener is removed when the run ends, and a
   * second Ctrl-C (while the delete runs) ends the process as usual. Default: true when stdin is a TTY.
   */
  handleSigint?: boolean;
  /**
   * Where phase, elapsed time and log links are written. When `isTTY` is true, one live status line is
   * rewritten in place; otherwise a plain line is written at each phase change. Default: `process.stderr`.
   */
  output?: ProgressOutput;
  /** Write nothing. Default: false. */
  quiet?: boolean;
  /** Text between the brackets that start each progress line. Default: the task's name. */
  label?: string;
  /**
   * The request's `output_prefix`, where a connector may write `outputs.pb`. Default: a fresh temporary
   * directory as a `file://` URI, removed after the run if the connector left it empty (returned files may
   * live there).
   */
  outputPrefix?: string;
  /** Environment that secrets are read from (see {@link runTask}). Default: `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Deadline of each CreateTask, GetTask and DeleteTask call in milliseconds, as the backend's. Default: 10 000. */
  callTimeout?: number;
  /**
   * Where offloaded inputs, File/Dir contents and `<outputPrefix>/outputs.pb` are read (any scheme, e.g. an
   * `s3://` `outputPrefix`). Default: `defaultStorage()` (configured from flyte-sdk's environment variables).
   */
  storage?: Storage;
}

/**
 * Runs a connector task locally the way the Flyte backend does, through the same {@link ConnectorDispatcher}
 * (and so the same protobuf requests) as the gRPC service: CreateTask, then GetTask until a terminal phase
 * (at once, then every `pollInterval`), printing each new log link once. The TypeScript form of Python's
 * `AsyncConnectorExecutorMixin`. Sync connectors run the same way; their first poll returns the result.
 *
 * Secrets: each `custom.secrets` entry `{ name: reference }` of the task template is read from the environment
 * variable named `reference` and passed to the connector as `secrets[name]`; `custom.configs` become `configs`.
 *
 * Outputs: the reply's outputs, or else `<outputPrefix>/outputs.pb` read through `storage` (a local path,
 * file://, s3://, gs://, abfs://), decoded with the task's declared output types. A task without declared
 * outputs returns `{}`.
 *
 * Cancellation (`signal`, Ctrl-C): an in-flight GetTask is abandoned, DeleteTask is called once, and the run
 * rejects with a TaskFailedError in phase ABORTED. A create in flight is allowed to finish first, so the job it
 * started is the one deleted.
 *
 * @returns the task's outputs by name, typed by its output specs.
 * @throws SecretNotFoundError when a secret's environment variable is not set (nothing is created).
 * @throws TaskFailedError when the task ends in FAILED, RETRYABLE_FAILED or ABORTED, is cancelled, or succeeds
 *   without its declared outputs (phase FAILED, as the backend would fail it).
 * @throws ConnectorError when CreateTask or GetTask fails (a connector error, a call timeout). After a failed
 *   GetTask the job is deleted (best effort) so that nothing is left running unobserved.
 */
export async function runTask<I extends TypeSpecs, O extends TypeSpecs>(
  task: ConnectorTask<I, O>,
  inputs: InferShape<I>,
  options: RunOptions,
): Promise<InferShape<O>> {
  const pollInterval = nonNegative("pollInterval", options.pollInterval ?? 3000);
  const callTimeout = nonNegative("callTimeout", options.callTimeout ?? 10_000);
  const nextInterval = backoffFn(pollInterval, options.backoff);
  const template = task.toTaskTemplate();
  const connection = create(ConnectionSchema, {
    taskType: template.type,
    secrets: resolveSecrets(task.name, template.custom, options.env ?? process.env),
    configs: stringMap(task.name, template.custom, "configs"),
  });
  const storage = options.storage ?? defaultStorage();
  const dispatcher = new ConnectorDispatcher(options.registry, { storage });
  const taskCategory = { name: template.type, version: template.taskTypeVersion };
  const progress = new Progress(options.label ?? task.name, options.quiet ? undefined : (options.output ?? process.stderr));

  // One controller for every way to cancel, so cancellation is handled (and delete called) in one place.
  const cancel = runCancellation(options);

  let tempDir: string | undefined;
  try {
    const literals = await encodeInputs(inputs as Record<string, unknown>, task.inputs);
    if (options.outputPrefix === undefined) tempDir = await mkdtemp(join(tmpdir(), "flyte-local-run-"));
    const outputPrefix = options.outputPrefix ?? pathToFileURL(tempDir!).href;
    if (cancel.signal.aborted) throw aborted(task.name, progress, "cancelled before the task was created");

    const createRequest = create(CreateTaskRequestSchema, {
      template,
      inputs: literals,
      outputPrefix,
      taskExecutionMetadata: localExecutionMetadata(template),
      connection,
    });
    const { resourceMeta } = await withDeadline(callTimeout, undefined, (signal) => dispatcher.createTask(createRequest, signal));
    const deleteRequest = create(DeleteTaskRequestSchema, { resourceMeta, taskCategory, connection });
    const deleteOnce = () => withDeadline(callTimeout, undefined, (signal) => dispatcher.deleteTask(deleteRequest, signal));
    const getRequest = create(GetTaskRequestSchema, { resourceMeta, taskCategory, outputPrefix, connection });

    let resource: Resource | undefined;
    try {
      for (let interval = pollInterval; ; interval = nextInterval(interval)) {
        if (cancel.signal.aborted) break;
        ({ resource } = await withDeadline(callTimeout, cancel.signal, (signal) => dispatcher.getTask(getRequest, signal)));
        if (!resource) throw new ConnectorError("INTERNAL", "GetTask answered without a resource.");
        progress.links(resource.logLinks);
        if (isTerminalPhase(resource.phase)) break;
        progress.phase(resource.phase, resource.message);
        await sleep(interval, cancel.signal);
      }
    } catch (error) {
      if (!cancel.signal.aborted) {
        progress.stop();
        await deleteOnce().catch(() => {}); // best effort: the GetTask error is the one worth reporting
        throw error;
      }
      resource = undefined; // the GetTask was abandoned because of the cancellation
    }
    if (!resource || !isTerminalPhase(resource.phase)) {
      try {
        await deleteOnce();
      } catch (error) {
        throw aborted(task.name, progress, `cancelled, but deleting the job failed: ${(error as Error).message}`, error);
      }
      throw aborted(task.name, progress, "cancelled");
    }

    progress.finish(resource.phase, resource.message);
    if (resource.phase !== Phase.SUCCEEDED) throw new TaskFailedError(task.name, resource.phase, resource.message);
    return (await withDeadline(callTimeout, cancel.signal, (signal) => readOutputs(task, template, resource!, outputPrefix, storage, signal))) as InferShape<O>;
  } finally {
    progress.stop();
    cancel.dispose();
    // Only an empty directory goes: anything the connector wrote there (returned files) stays.
    if (tempDir) await rmdir(tempDir).catch(() => {});
  }
}

function aborted(taskName: string, progress: Progress, reason: string, cause?: unknown): TaskFailedError {
  progress.finish(Phase.ABORTED, reason);
  return new TaskFailedError(taskName, Phase.ABORTED, reason, cause === undefined ? undefined : { cause });
}

/** The outputs of a SUCCEEDED task: from the reply, else from `<outputPrefix>/outputs.pb` in `storage`. */
async function readOutputs(
  task: ConnectorTask<TypeSpecs, TypeSpecs>,
  template: TaskTemplate,
  resource: Resource,
  outputPrefix: string,
  storage: Storage,
  signal: AbortSignal,
): Promise<Record<string, unknown>> {
  const outputs = resource.outputs ?? (await readOutputsFile(outputPrefix, storage, signal));
  if (outputs) return decodeOutputs(outputs, template.interface?.outputs, { storage, signal });
  const declared = Object.keys(task.outputs);
  if (declared.length === 0) return {};
  throw new TaskFailedError(
    task.name,
    Phase.FAILED,
    `the connector reported SUCCEEDED without outputs and no ${outputPrefix}/outputs.pb was found; declared outputs: ${declared.join(", ")}`,
  );
}

async function readOutputsFile(outputPrefix: string, storage: Storage, signal: AbortSignal): Promise<Outputs | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await storage.get(joinUri(outputPrefix, "outputs.pb"), { signal });
  } catch (error) {
    if (error instanceof StorageError && error.problem === "not-found") return undefined;
    throw error;
  }
  // The backend expects a core.LiteralMap there; task.Outputs has the same wire form.
  return fromBinary(OutputsSchema, bytes);
}

/** Reads each `custom.secrets` entry `{ name: reference }` from the environment variable `reference`. */
function resolveSecrets(
  taskName: string,
  custom: JsonObject | undefined,
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const [name, reference] of Object.entries(stringMap(taskName, custom, "secrets"))) {
    const value = env[reference];
    if (value === undefined) {
      throw new SecretNotFoundError(
        `Task "${taskName}" needs secret "${name}" from environment variable ${reference}, which is not set; set ${reference} to run the task locally.`,
      );
    }
    secrets[name] = value;
  }
  return secrets;
}

/** `custom[key]` as a map of strings, the form the backend builds `connection.secrets`/`configs` from. */
function stringMap(taskName: string, custom: JsonObject | undefined, key: "secrets" | "configs"): Record<string, string> {
  const value = custom?.[key];
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value) || Object.values(value).some((v) => typeof v !== "string")) {
    throw new ConnectorError("INVALID_ARGUMENT", `Task "${taskName}": custom.${key} must map names to strings.`);
  }
  return { ...(value as Record<string, string>) };
}

/** A plausible TaskExecutionMetadata for a local run: one run, one action ("a0"), first attempt. */
function localExecutionMetadata(template: TaskTemplate) {
  const id = template.id;
  const project = id?.project ?? "";
  const domain = id?.domain ?? "";
  const runName = `local-${randomUUID().slice(0, 8)}`;
  return {
    taskExecutionId: {
      taskId: id,
      nodeExecutionId: { nodeId: "a0", executionId: { project, domain, name: runName, org: id?.org ?? "" } },
      retryAttempt: 0,
    },
    namespace: `${project}-${domain}`,
    environmentVariables: { RUN_NAME: runName, ACTION_NAME: "a0" },
  };
}

function backoffFn(pollInterval: number, backoff: Backoff | undefined): (interval: number) => number {
  if (!backoff) return (interval) => interval;
  const { factor } = backoff;
  if (!Number.isFinite(factor) || factor < 1) throw new RangeError(`backoff.factor must be at least 1, got ${factor}.`);
  const max = nonNegative("backoff.maxInterval", backoff.maxInterval ?? Math.max(30_000, pollInterval));
  return (interval) => Math.min(interval * factor, max);
}

/** Longest delay a Node timer takes (about 24.8 days); larger ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new RangeError(`${name} must be a number of milliseconds from 0 to ${MAX_TIMER_MS}, got ${value}.`);
  }
  return value;
}

/**
 * Runs one dispatcher call with its own deadline (and the run's cancellation, when given). The timer is
 * deliberately not unref'd (unlike AbortSignal.timeout's): a connector awaiting something that never settles
 * must end in DEADLINE_EXCEEDED, not in a process that exits with the run still pending.
 */
async function withDeadline<T>(ms: number, cancel: AbortSignal | undefined, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const deadline = new AbortController();
  // The dispatcher reports an abort whose reason is named "TimeoutError" as DEADLINE_EXCEEDED.
  const timer = setTimeout(() => deadline.abort(new DOMException(`call timed out after ${ms} ms`, "TimeoutError")), ms);
  try {
    return await call(cancel ? AbortSignal.any([deadline.signal, cancel]) : deadline.signal);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits `ms`, or less if the signal fires (the caller checks the signal). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
