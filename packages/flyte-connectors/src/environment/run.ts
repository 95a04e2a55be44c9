import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { TaskLogSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/execution_pb.js";
import { Phase } from "../phase.js";
import { ConnectorRegistry } from "../registry.js";
import { runTask } from "../executor/index.js";
import { Progress, type ProgressOutput } from "../executor/progress.js";
import { ConnectorTask, type TypeSpecs } from "../task/index.js";
import { decodeInputs, decodeOutputs, encodeInputs, encodeOutputs, type InferShape } from "../types/index.js";
import { FunctionTask } from "./function-task.js";
import type { LinkContext } from "./links.js";
import { runCancellation } from "../executor/cancellation.js";

/** A task that can be run or called: a function task or a connector task. */
export type RunnableTask<I extends TypeSpecs, O extends TypeSpecs> = FunctionTask<I, O> | ConnectorTask<I, O>;

/** Options of {@link runLocal}. */
export interface RunLocalOptions {
  /** Connectors that run the connector tasks called in the run. Default: none (connector tasks fail as not found). */
  registry?: ConnectorRegistry;
  /** Where each action's phase and log links are written (as `runTask` does). Default: `process.stderr`. */
  output?: ProgressOutput;
  /** Write nothing. Default: false. */
  quiet?: boolean;
  /** Cancels the run: connector jobs in flight are deleted, and no further action starts. */
  signal?: AbortSignal;
  /** Cancel the run on Ctrl-C (SIGINT), as `signal` does. Default: true when stdin is a TTY. */
  handleSigint?: boolean;
  /** Milliseconds between two polls of a connector job. Default: 3000 (see `runTask`). */
  pollInterval?: number;
  /** Where connector tasks' secrets are read from (see `runTask`). Default: `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Name of the run, passed to links. Default: "r" and 10 random hex digits. */
  runName?: string;
  /** Project passed to links. Default: "local". */
  project?: string;
  /** Domain passed to links. Default: "development". */
  domain?: string;
  /** Free-form context passed to links (Python's `custom_context`). Default: {}. */
  customContext?: Readonly<Record<string, string>>;
}

/**
 * An action of a run failed: a task's function threw, a connector task ended in a failed phase, or inputs
 * or outputs did not match the declared types. An error raised in a nested action reaches the caller of
 * `runLocal` as the ActionFailedError of the innermost action that failed.
 */
export class ActionFailedError extends Error {
  override readonly name = "ActionFailedError";
  /** The action's name in the run ("a0" for the task the run started with, then "a1", "a2", … in call order). */
  readonly actionName: string;
  /** The task the action ran. */
  readonly taskName: string;
  /** The name of the run. */
  readonly runName: string;
  /** Task names from the run's first action down to this one. */
  readonly callPath: readonly string[];

  constructor(action: { actionName: string; taskName: string; runName: string; callPath: readonly string[] }, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const via = action.callPath.length > 1 ? ` (called via ${action.callPath.slice(0, -1).join(" → ")})` : "";
    super(`Action ${action.actionName} (task "${action.taskName}")${via} failed: ${reason}`, { cause });
    this.actionName = action.actionName;
    this.taskName = action.taskName;
    this.runName = action.runName;
    this.callPath = action.callPath;
  }
}

interface RunState {
  readonly runName: string;
  readonly project: string;
  readonly domain: string;
  readonly customContext: Readonly<Record<string, string>>;
  readonly registry: ConnectorRegistry;
  readonly output: ProgressOutput | undefined;
  readonly pollInterval: number | undefined;
  readonly env: Readonly<Record<string, string | undefined>> | undefined;
  readonly signal: AbortSignal;
  actions: number;
}

interface ActionFrame {
  readonly run: RunState;
  readonly actionName: string;
  readonly taskName: string;
  readonly callPath: readonly string[];
}

const currentAction = new AsyncLocalStorage<ActionFrame>();

/**
 * Runs a task locally (Python's `flyte.with_runcontext(mode="local").run`): function tasks run in this
 * process, connector tasks through their connector as `runTask` runs them. Each action's phase and log links
 * are written to `output` as they come.
 *
 * @returns the task's outputs, typed by its output specs.
 * @throws ActionFailedError naming the action that failed, with the original error as `cause`.
 */
export async function runLocal<I extends TypeSpecs, O extends TypeSpecs>(
  task: RunnableTask<I, O>,
  inputs: InferShape<I>,
  options: RunLocalOptions = {},
): Promise<InferShape<O>> {
  const cancellation = runCancellation(options);
  const run: RunState = {
    runName: options.runName ?? `r${randomBytes(5).toString("hex")}`,
    project: options.project ?? "local",
    domain: options.domain ?? "development",
    customContext: { ...options.customContext },
    registry: options.registry ?? new ConnectorRegistry(),
    output: options.quiet ? undefined : plainLines(options.output ?? process.stderr),
    pollInterval: options.pollInterval,
    env: options.env,
    signal: cancellation.signal,
    actions: 0,
  };
  try {
    return await runAction(run, undefined, task, inputs);
  } finally {
    cancellation.dispose();
  }
}

/** True inside a task of a local run (where {@link callTask} works). */
export function isInRun(): boolean {
  return currentAction.getStore() !== undefined;
}

/**
 * Calls a task from inside another task of a run (Python's `await other_task(...)`): a function task runs
 * in this process, a connector task through its connector. The call is a new action of the run.
 *
 * @throws ActionFailedError when the called action fails (let it propagate: the run then names that action).
 * @throws Error when called outside a run (start one with {@link runLocal}).
 */

export function callTask<I extends TypeSpecs, O extends TypeSpecs>(task: RunnableTask<I, O>, inputs: InferShape<I>): Promise<InferShape<O>> {
  const parent = currentAction.getStore();
  if (!parent) {
    return Promise.reject(
      new Error(`callTask("${task?.name}") was called outside a run; call tasks from inside a task started with runLocal(task, inputs, options).`),
    );
  }
  return runAction(parent.run, parent, task, inputs);
}

async function runAction<I extends TypeSpecs, O extends TypeSpecs>(
  run: RunState,
  parent: ActionFrame | undefined,
  task: RunnableTask<I, O>,
  inputs: InferShape<I>,
): Promise<InferShape<O>> {
  if (!(task instanceof FunctionTask) && !(task instanceof ConnectorTask)) {
    throw new TypeError(`Not a task: ${String(task)} (expected a FunctionTask from env.task(...) or a ConnectorTask).`);
  }
  const frame: ActionFrame = {
    run,
    actionName: `a${run.actions++}`,
    taskName: task.name,
    callPath: [...(parent?.callPath ?? []), task.name],
  };
  const fail = (error: unknown) => (error instanceof ActionFailedError ? error : new ActionFailedError({ ...frame, runName: run.runName }, error));
  if (run.signal.aborted) throw fail(new Error(`cancelled before the action started${reasonOf(run.signal)}`));
  // Lines are labelled with the action as well as the task, so that two calls of one task can be told apart.
  const label = `${frame.actionName} ${task.name}`;
  if (task instanceof ConnectorTask) {
    try {
      return await runTask(task, inputs, {
        registry: run.registry,
        signal: run.signal,
        handleSigint: false,
        quiet: run.output === undefined,
        label,
        ...(run.output ? { output: run.output } : {}),
        ...(run.pollInterval !== undefined ? { pollInterval: run.pollInterval } : {}),
        ...(run.env ? { env: run.env } : {}),
      });
    } catch (error) {
      throw fail(error);
    }
  }
  const progress = new Progress(label, run.output);
  try {
    // Through literals and back, as a remote run would pass them: type errors show up locally, named.
    const checkedInputs = (await decodeInputs(await encodeInputs(inputs as Record<string, unknown>, task.inputs), task.inputs)) as InferShape<I>;
    progress.phase(Phase.RUNNING, "");
    progress.links(
      task.links.map((link) =>
        create(TaskLogSchema, { name: link.name, uri: link.uri(linkContext(run, frame, parent)), iconUri: link.iconUri ?? "" }),
      ),
    );
    const returned: unknown = await currentAction.run(frame, () => task.fn(checkedInputs));
    // A task without outputs may return nothing, as a Python task returns None.
    const outputs = returned === undefined && Object.keys(task.outputs).length === 0 ? {} : returned;
    if (typeof outputs !== "object" || outputs === null) {
      throw new TypeError(`the task function returned ${outputs === null ? "null" : typeof outputs}, expected an object of outputs`);
    }
    const checked = (await decodeOutputs(await encodeOutputs(outputs as Record<string, unknown>, task.outputs), task.outputs)) as InferShape<O>;
    progress.finish(Phase.SUCCEEDED);
    return checked;
  } catch (error) {
    // A nested action's failure was shown on its own line; this one only reports where it surfaced.
    progress.finish(Phase.FAILED, error instanceof ActionFailedError ? `action ${error.actionName} failed` : messageOf(error));
    throw fail(error);
  } finally {
    progress.stop();
  }
}

/**
 * Several actions write at once (nested, or called concurrently), so each writes whole lines: the live
 * status line `runTask` draws on a TTY would be overwritten by the others.
 */
function plainLines(output: ProgressOutput): ProgressOutput {
  return { write: (text: string) => output.write(text), isTTY: false };
}

function linkContext(run: RunState, frame: ActionFrame, parent: ActionFrame | undefined): LinkContext {
  return {
    runName: run.runName,
    actionName: frame.actionName,
    parentActionName: parent?.actionName ?? "",
    taskName: frame.taskName,
    project: run.project,
    domain: run.domain,
    customContext: run.customContext,
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function reasonOf(signal: AbortSignal): string {
  return signal.reason instanceof Error ? `: ${signal.reason.message}` : "";
}
