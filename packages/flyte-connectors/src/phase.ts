import { TaskExecution_Phase } from "@flyte-connectors/flyteidl2/flyteidl2/core/execution_pb.js";

/** flyteidl2 `core.TaskExecution.Phase`: UNDEFINED 0, QUEUED 1, RUNNING 2, SUCCEEDED 3, ABORTED 4, FAILED 5,
 * INITIALIZING 6, WAITING_FOR_RESOURCES 7, RETRYABLE_FAILED 8. */
export const Phase = TaskExecution_Phase;
export type Phase = TaskExecution_Phase;

const TERMINAL: ReadonlySet<Phase> = new Set([
  Phase.SUCCEEDED,
  Phase.ABORTED,
  Phase.FAILED,
  Phase.RETRYABLE_FAILED,
]);

/** True for the phases the Flyte backend stops polling at: SUCCEEDED, ABORTED, FAILED, RETRYABLE_FAILED. */
export function isTerminalPhase(phase: Phase): boolean {
  return TERMINAL.has(phase);
}

/** Name of a phase, e.g. "SUCCEEDED"; `PHASE_<n>` for a number flyteidl2 does not define. */
export function phaseName(phase: Phase): string {
  return Phase[phase] ?? `PHASE_${phase}`;
}

const STATE_TO_PHASE: ReadonlyMap<string, Phase> = new Map([
  ...["failed", "timeout", "timedout", "canceled", "cancelled", "skipped"].map((s) => [s, Phase.FAILED] as const),
  ["internal_error", Phase.RETRYABLE_FAILED],
  ...["done", "succeeded", "success", "completed"].map((s) => [s, Phase.SUCCEEDED] as const),
  ["running", Phase.RUNNING],
  ["terminating", Phase.RUNNING],
  ["pending", Phase.INITIALIZING],
]);

/**
 * Maps an external system's job state (case-insensitive) to a Flyte phase, as the Python SDK does:
 * failed/timeout/timedout/canceled/cancelled/skipped → FAILED, internal_error → RETRYABLE_FAILED,
 * done/succeeded/success/completed → SUCCEEDED, running/terminating → RUNNING, pending → INITIALIZING.
 *
 * An unknown state (or none: `undefined`, `null`) never throws: it returns `undefined`, so the caller decides (keep polling, fail the task, …).
 * Pass a fallback to get a phase every time: `convertToFlytePhase(state) ?? Phase.RUNNING`.
 */
export function convertToFlytePhase(state: string | null | undefined): Phase | undefined {
  // Vendors omit the state field at times: no state is an unknown state, not a crash.
  if (typeof state !== "string") return undefined;
  return STATE_TO_PHASE.get(state.trim().toLowerCase());
}
