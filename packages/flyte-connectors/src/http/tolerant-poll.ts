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

/**
 * Runs one status poll (a connector's `get`). When it fails with a transient fault of the external API even after
 * retries, the job is not failed: the reply repeats the last phase (and log links) this process saw for `jobKey`
 * (RUNNING if none), with a message naming the fault, and the backend polls again later. Other errors propagate.
 */
export async function pollTolerantly(jobKey: string, poll: () => Promise<Resource>): Promise<Resource> {
  try {
    const resource = await poll();
    remember(jobKey, resource);
    return resource;
  } catch (error) {
    if (!isTransient(error)) throw error;
    const last = lastSeen.get(jobKey) ?? { phase: Phase.RUNNING };
    return { ...last, message: `Status temporarily unavailable (${describeFault(error)}); will check again.` };
  }
}
