import { ConnectorError, type StatusName } from "../errors.js";
import { Phase, phaseName } from "../phase.js";

/**
 * A task run locally did not succeed: the connector reported FAILED, RETRYABLE_FAILED or ABORTED, the run was
 * cancelled (phase ABORTED), or it succeeded without the outputs the task declares (phase FAILED, as the
 * backend would fail it).
 */
export class TaskFailedError extends ConnectorError {
  /** The phase the task ended in. */
  readonly phase: Phase;
  /** The task's name. */
  readonly taskName: string;
  /** The connector's message (or the executor's reason), without the task name prefix of `message`. */
  readonly reason: string;

  constructor(taskName: string, phase: Phase, reason: string, options?: { cause?: unknown }) {
    super(statusOf(phase), `Task "${taskName}" ended in phase ${phaseName(phase)}${reason ? `: ${reason}` : "."}`, options);
    this.phase = phase;
    this.taskName = taskName;
    this.reason = reason;
  }
}

function statusOf(phase: Phase): StatusName {
  if (phase === Phase.ABORTED) return "CANCELLED";
  // The backend retries RETRYABLE_FAILED; UNAVAILABLE is the gRPC name for "try again".
  if (phase === Phase.RETRYABLE_FAILED) return "UNAVAILABLE";
  return "INTERNAL";
}
