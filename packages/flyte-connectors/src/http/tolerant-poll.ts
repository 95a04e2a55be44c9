import type { Resource } from "../connector.js";
import { isTerminalPhase, Phase } from "../phase.js";
import { describeFault, isTransient } from "./retry.js";

/** Most jobs whose last phase a process remembers; the oldest are forgotten first. */
const REMEMBERED_JOBS = 10_000;

// A hint only: a replica that never polled a job reports RUNNING during an outage. Correctness never depends on
// it (the resource meta stays the job's identity), so keeping it in memory does not make the service stateful.
const lastSeen = new Map<string, Pick<Resource, "phase" | "logLinks">>();

function remember(key: string, { phase, logLinks }: Resource): void {
  lastSeen.delete(key);
  if (isTerminalPhase(phase)) return;
  lastSeen.set(key, logLinks ? { phase, logLinks } : { phase });
  if (lastSeen.size > REMEMBERED_JOBS) lastSeen.delete(lastSeen.keys().next().value as string);
}

/** How long a tolerant poll may take. */
export interface TolerantPollOptions {
  /**
   * Longest time in milliseconds the poll may take; after it, the poll's signal fires and the reply is the last
   * known phase. Keep it below the backend's per-call timeout (10 s by default): a GetTask that runs into its
   * deadline is an RPC error, and after a few of those the backend fails the task or stops polling it.
   * Default: 8000.
   */
  budget?: number;
  /** The call's signal (its deadline or cancellation); it also fires the poll's signal and is never masked. */
  signal?: AbortSignal;
}

/** Default {@link TolerantPollOptions.budget}: below the Flyte backend's default connector call timeout of 10 s. */
const DEFAULT_BUDGET_MS = 8000;

/**
 * Runs one status poll (a connector's `get`). When it fails with a transient fault of the external API even after
 * retries, or does not finish within `budget`, the job is not failed: the reply repeats the last phase (and log
 * links) this process saw for `jobKey` (RUNNING if none), with a message naming the fault, and the backend polls
 * again later. Pass the signal `poll` receives to the API calls, so they stop when the budget is spent. Other errors,
 * and the caller's own cancellation, propagate.
 */
export async function pollTolerantly(
  jobKey: string,
  poll: (signal: AbortSignal) => Promise<Resource>,
  options: TolerantPollOptions = {},
): Promise<Resource> {
  const { budget = DEFAULT_BUDGET_MS, signal: callSignal } = options;
  const overBudget = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const budgetSpent = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const reason = new DOMException(`no answer within ${budget} ms`, "TimeoutError");
      overBudget.abort(reason);
      reject(reason);
    }, budget);
  });
  budgetSpent.catch(() => {}); // settled by the race below, or not looked at when the poll won
  const signal = callSignal ? AbortSignal.any([callSignal, overBudget.signal]) : overBudget.signal;
  try {
    const resource = await Promise.race([poll(signal), budgetSpent]);
    remember(jobKey, resource);
    return resource;
  } catch (error) {
    if (callSignal?.aborted) throw error;
    const fault = overBudget.signal.aborted ? `no answer within ${budget / 1000} s` : isTransient(error) ? describeFault(error) : undefined;
    if (fault === undefined) throw error;
    const last = lastSeen.get(jobKey) ?? { phase: Phase.RUNNING };
    return { ...last, message: `Status temporarily unavailable (${fault}); will check again.` };
  } finally {
    clearTimeout(timer);
  }
}
