import assert from "node:assert/strict";
import { test } from "node:test";
import { Phase, convertToFlytePhase, isTerminalPhase } from "./phase.js";

test("terminal phases are the ones the Go backend stops at", () => {
  const terminal = Object.values(Phase).filter((p): p is Phase => typeof p === "number" && isTerminalPhase(p));
  assert.deepEqual(terminal.sort(), [Phase.SUCCEEDED, Phase.ABORTED, Phase.FAILED, Phase.RETRYABLE_FAILED].sort());
  assert.equal(Phase.SUCCEEDED, 3);
  assert.equal(Phase.RETRYABLE_FAILED, 8);
});

test("external states map as the Python SDK maps them, case-insensitively", () => {
  const expected: Record<string, Phase> = {
    pending: Phase.INITIALIZING,
    RUNNING: Phase.RUNNING,
    terminating: Phase.RUNNING,
    done: Phase.SUCCEEDED,
    Succeeded: Phase.SUCCEEDED,
    success: Phase.SUCCEEDED,
    completed: Phase.SUCCEEDED,
    failed: Phase.FAILED,
    timeout: Phase.FAILED,
    TIMEDOUT: Phase.FAILED,
    canceled: Phase.FAILED,
    cancelled: Phase.FAILED,
    skipped: Phase.FAILED,
    internal_error: Phase.RETRYABLE_FAILED,
  };
  for (const [state, phase] of Object.entries(expected)) assert.equal(convertToFlytePhase(state), phase, state);
});

test("an unknown state returns undefined instead of throwing, so the caller picks", () => {
  assert.equal(convertToFlytePhase("QUEUED_FOR_LUNCH"), undefined);
  assert.equal(convertToFlytePhase("QUEUED_FOR_LUNCH") ?? Phase.RUNNING, Phase.RUNNING);
});

test("convertToFlytePhase of no state (undefined, null) is undefined, as documented, not a throw", () => {
  assert.equal(convertToFlytePhase(undefined), undefined);
  assert.equal(convertToFlytePhase(null), undefined);
  // A vendor reply without a state field, read the usual way:
  const reply: { state?: string } = JSON.parse("{}");
  assert.equal(convertToFlytePhase(reply.state) ?? Phase.RUNNING, Phase.RUNNING);
});
