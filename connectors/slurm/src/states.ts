// Slurm's command output (sbatch, squeue, sacct, scontrol) and its job states as Flyte phases, as the Python plugin
// (flyte-sdk plugins/slurm transport.py, connector.py) reads and maps them.
import { ConnectorError, Phase } from "flyte-connectors";

/** One job's state as Slurm reports it. */
export interface SlurmJobState {
  jobId: string;
  /** As reported, e.g. `CANCELLED by 1000`, `FAILED+`. */
  state: string;
  /** `exit:signal`, e.g. `1:0` (sacct, scontrol); unset from squeue. */
  exitCode?: string | undefined;
  /** Slurm's reason, e.g. `NonZeroExitCode`, `Priority`; unset when `None`. */
  reason?: string | undefined;
}

/** `squeue -o` format (job id, state, reason), as Python's. */
export const SQUEUE_FORMAT = "%i|%T|%r";
/** `sacct --format`, as Python's. */
export const SACCT_FORMAT = "JobIDRaw,State,ExitCode,Reason";

/** The bare state: first word, `+` removed, upper case (`CANCELLED by 1234`, `CANCELLED+` → `CANCELLED`). */
export function baseState(state: string): string {
  return (state.trim().split(/\s+/)[0] ?? "").replace(/\+$/, "").toUpperCase();
}

const QUEUED = new Set(["PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SUSPENDED", "STOPPED"]);
const RUNNING = new Set(["RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING", "RESIZING"]);
const FAILED = new Set(["FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "TIMEOUT", "DEADLINE", "BOOT_FAIL", "SPECIAL_EXIT", "REVOKED"]);

/** Every state the map knows, for tests and the README. */
export const KNOWN_STATES: ReadonlyMap<string, Phase> = new Map<string, Phase>([
  ...[...QUEUED].map((s) => [s, Phase.QUEUED] as const),
  ...[...RUNNING].map((s) => [s, Phase.RUNNING] as const),
  ["COMPLETED", Phase.SUCCEEDED],
  ["PREEMPTED", Phase.RETRYABLE_FAILED],
  ["CANCELLED", Phase.ABORTED],
  ...[...FAILED].map((s) => [s, Phase.FAILED] as const),
]);

/** The Flyte phase of a Slurm state, or undefined for a state the map does not know. */
export function phaseOfState(state: string): Phase | undefined {
  return KNOWN_STATES.get(baseState(state));
}

/** `Slurm job 7 is FAILED, exit code 1:0, reason: NonZeroExitCode` (Python's `_describe`). */
export function describeState(state: SlurmJobState): string {
  const parts = [`Slurm job ${state.jobId} is ${state.state}`];
  if (state.exitCode && state.exitCode !== "0:0") parts.push(`exit code ${state.exitCode}`);
  if (state.reason) parts.push(`reason: ${state.reason}`);
  return parts.join(", ");
}

const noneToUndefined = (value: string | undefined): string | undefined => {
  const text = value?.trim();
  return text && text !== "None" ? text : undefined;
};

/** `squeue -h -o '%i|%T|%r'` lines. */
export function parseSqueue(output: string): Map<string, SlurmJobState> {
  const states = new Map<string, SlurmJobState>();
  for (const line of output.split("\n")) {
    const parts = line.trim().split("|");
    if (parts.length < 2 || !parts[0]) continue;
    const jobId = parts[0].trim();
    states.set(jobId, { jobId, state: parts[1]!.trim(), reason: noneToUndefined(parts[2]) });
  }
  return states;
}

/** `sacct -X -n -P --format=JobIDRaw,State,ExitCode,Reason` lines; step rows (`123.batch`) are skipped. */
export function parseSacct(output: string): Map<string, SlurmJobState> {
  const states = new Map<string, SlurmJobState>();
  for (const line of output.split("\n")) {
    const parts = line.trim().split("|");
    if (parts.length < 2 || !parts[0]) continue;
    const jobId = parts[0].trim();
    if (jobId.includes(".")) continue;
    states.set(jobId, { jobId, state: parts[1]!.trim(), exitCode: parts[2]?.trim() || undefined, reason: noneToUndefined(parts[3]) });
  }
  return states;
}

/** One `scontrol -o show job <id>` line (`JobId=7 … JobState=FAILED Reason=… ExitCode=1:0 …`); undefined when unreadable. */
export function parseScontrol(line: string): SlurmJobState | undefined {
  const field = (name: string) => new RegExp(`(?:^|\\s)${name}=(\\S*)`).exec(line)?.[1];
  const jobId = field("JobId");
  const state = field("JobState");
  if (!jobId || !state) return undefined;
  return { jobId, state, exitCode: field("ExitCode") || undefined, reason: noneToUndefined(field("Reason")) };
}

/** The job id `sbatch --parsable` prints (`<id>` or `<id>;<cluster>`). */
export function parseSbatchJobId(output: string): string {
  const first = output.trim().split("\n")[0] ?? "";
  const jobId = first.split(";")[0]!.trim();
  if (!/^\d+$/.test(jobId)) throw new ConnectorError("INTERNAL", `Unexpected sbatch output: ${JSON.stringify(output.slice(0, 300))}`);
  return jobId;
}

/** Messages of Slurm commands that mean the controller (or accounting) could not be reached: transient. */
export function isControllerUnreachable(stderr: string): boolean {
  return /unable to contact slurm controller|connection refused|socket timed out|slurm_receive_msg|communication connection failure|zero bytes were transmitted|slurmctld.*not responding|temporarily unavailable/i.test(stderr);
}
