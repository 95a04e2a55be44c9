import { Phase } from "flyte-connectors";

// JobRunState of the EMR Serverless API (GetJobRun `jobRun.state`, API version 2021-07-13). flytekit's connector
// maps every non-final state to RUNNING and CANCELLED to FAILED; waiting states are QUEUED here so the UI shows a job
// that has not started yet, and a cancelled run is ABORTED (it was stopped, it did not fail).
const PHASES: ReadonlyMap<string, Phase> = new Map([
  ["SUBMITTED", Phase.QUEUED],
  ["PENDING", Phase.QUEUED],
  ["SCHEDULED", Phase.QUEUED],
  // Waiting for capacity under the application's concurrency limit (job-level queueing).
  ["QUEUED", Phase.QUEUED],
  ["RUNNING", Phase.RUNNING],
  // Still running until EMR reports CANCELLED.
  ["CANCELLING", Phase.RUNNING],
  ["SUCCESS", Phase.SUCCEEDED],
  ["FAILED", Phase.FAILED],
  ["CANCELLED", Phase.ABORTED],
]);

/** States after which a job run no longer changes. */
export const FINAL_STATES: ReadonlySet<string> = new Set(["SUCCESS", "FAILED", "CANCELLED"]);

/**
 * The Flyte phase and message of a job run. A state this table does not know (a newer API value) never ends the
 * task: it stays RUNNING with a message naming the state, so the backend keeps polling.
 */
export function jobRunPhase(jobRunId: string, state: string | undefined, stateDetails: string | undefined): { phase: Phase; message: string } {
  const details = stateDetails?.trim();
  if (!state) return { phase: Phase.RUNNING, message: `EMR Serverless reported no state for job run ${jobRunId} yet; checking again.` };
  const phase = PHASES.get(state);
  if (phase === undefined) return { phase: Phase.RUNNING, message: `EMR Serverless job run ${jobRunId} is in unknown state ${state}; checking again.` };
  return { phase, message: `EMR Serverless job run ${jobRunId} is ${state}${details ? `: ${details}` : ""}` };
}
