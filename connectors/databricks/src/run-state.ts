import { Phase } from "flyte-connectors";

/** `state` of a Jobs API 2.1 `runs/get` reply (the fields this connector reads). */
export interface RunState {
  life_cycle_state?: string;
  result_state?: string;
  state_message?: string;
}

/** A phase and, where the state alone would not tell the user much, a message. */
export interface RunPhase {
  phase: Phase;
  message: string;
}

// RunLifeCycleState of the Jobs API 2.1 (docs.databricks.com/api/workspace/jobs_21/getrun, 2024-2025). TERMINATED
// is decided by the result state; the Python connector maps PENDING, RUNNING, TERMINATING, SKIPPED and INTERNAL_ERROR
// the same way (via convert_to_flyte_phase) and fails the call on the others, which we map instead.
const LIFE_CYCLE: ReadonlyMap<string, Phase> = new Map([
  ["QUEUED", Phase.QUEUED],
  ["BLOCKED", Phase.QUEUED],
  ["PENDING", Phase.INITIALIZING],
  ["RUNNING", Phase.RUNNING],
  ["TERMINATING", Phase.RUNNING],
  // Databricks retries the run itself; it is not over.
  ["WAITING_FOR_RETRY", Phase.RUNNING],
  ["SKIPPED", Phase.FAILED],
  ["INTERNAL_ERROR", Phase.RETRYABLE_FAILED],
]);

// RunResultState of the Jobs API 2.1, meaningful once life_cycle_state is TERMINATED.
const RESULT: ReadonlyMap<string, Phase> = new Map([
  ["SUCCESS", Phase.SUCCEEDED],
  // Every leaf task succeeded; some non-leaf tasks failed. The run's outcome is success.
  ["SUCCESS_WITH_FAILURES", Phase.SUCCEEDED],
  ["FAILED", Phase.FAILED],
  ["TIMEDOUT", Phase.FAILED],
  ["CANCELED", Phase.FAILED],
  ["MAXIMUM_CONCURRENT_RUNS_REACHED", Phase.FAILED],
  ["EXCLUDED", Phase.FAILED],
  ["UPSTREAM_FAILED", Phase.FAILED],
  ["UPSTREAM_CANCELED", Phase.FAILED],
  ["DISABLED", Phase.FAILED],
]);

/**
 * The Flyte phase of a Databricks run. A state this table does not know (a newer API value) never fails the
 * task: it stays RUNNING with a message naming the state, so the backend keeps polling.
 */
export function runPhase(state: RunState | undefined): RunPhase {
  const lifeCycle = state?.life_cycle_state;
  const stateMessage = state?.state_message ?? "";
  if (!lifeCycle) return { phase: Phase.RUNNING, message: "Databricks reported no run state yet." };
  if (lifeCycle === "TERMINATED") {
    const result = state?.result_state;
    const phase = result ? RESULT.get(result) : undefined;
    if (phase === undefined) {
      return { phase: Phase.RUNNING, message: `Databricks run terminated with ${result ? `unknown result state ${result}` : "no result state yet"}; checking again.` };
    }
    const label = `${lifeCycle}/${result}`;
    return { phase, message: stateMessage ? `${label}: ${stateMessage}` : label };
  }
  const phase = LIFE_CYCLE.get(lifeCycle);
  if (phase === undefined) return { phase: Phase.RUNNING, message: `Unknown Databricks run state ${lifeCycle}; checking again.` };
  return { phase, message: stateMessage ? `${lifeCycle}: ${stateMessage}` : lifeCycle };
}
