// Slurm's commands over one SSH connection: idempotent submission, batched status, cancel, tail. Every value in a
// command line is quoted (`shellQuote`) or checked to be digits.
import { ConnectorError } from "flyte-connectors";
import { shellQuote } from "./render.js";
import { SshError, type SshConnection } from "./ssh.js";
import { isControllerUnreachable, parseSacct, parseSbatchJobId, parseScontrol, parseSqueue, SACCT_FORMAT, SQUEUE_FORMAT, type SlurmJobState } from "./states.js";

const JOB_ID = /^\d+$/;

function checkJobId(jobId: string): string {
  if (!JOB_ID.test(jobId)) throw new ConnectorError("INVALID_ARGUMENT", `Slurm job id ${JSON.stringify(jobId.slice(0, 40))} is not a number.`);
  return jobId;
}

/** Minutes during which a repeated submission of one attempt returns the job submitted first. */
const RESUBMIT_WINDOW_MINUTES = 60;

/**
 * Submits `script` as `<dir>/<jobName>.sbatch` once per job name: a repeated CreateTask of one attempt (the backend
 * retries a create whose reply it lost, possibly on another replica) gets the job id of the first submission,
 * recorded in `<jobName>.jobid`; `<jobName>.lock` (mkdir is atomic) makes concurrent submissions wait for it.
 */
export async function submitOnce(ssh: SshConnection, dir: string, jobName: string, script: string, signal?: AbortSignal): Promise<string> {
  const base = `${dir.endsWith("/") ? dir : `${dir}/`}${jobName}`;
  const [qDir, qLock, qId, qScript] = [dir, `${base}.lock`, `${base}.jobid`, `${base}.sbatch`].map(shellQuote);
  const claim = [
    `mkdir -p ${qDir} || exit 1`,
    // A recent record of this job name: the job of an earlier submission of this attempt.
    `if [ -s ${qId} ] && [ -n "$(find ${qId} -maxdepth 0 -mmin -${RESUBMIT_WINDOW_MINUTES} 2>/dev/null)" ]; then printf 'existing %s\\n' "$(head -n 1 ${qId})"; exit 0; fi`,
    `if [ -s ${qId} ]; then rm -f ${qId}; rmdir ${qLock} 2>/dev/null; fi`,
    `if mkdir ${qLock} 2>/dev/null; then echo claimed; exit 0; fi`,
    `i=0; while [ $i -lt 100 ]; do if [ -s ${qId} ]; then printf 'existing %s\\n' "$(head -n 1 ${qId})"; exit 0; fi; [ -d ${qLock} ] || break; sleep 0.1; i=$((i+1)); done`,
    // A claim older than 2 minutes without a job id: its submitter died; take it over.
    `if [ -n "$(find ${qLock} -maxdepth 0 -mmin +2 2>/dev/null)" ] || [ ! -d ${qLock} ]; then rmdir ${qLock} 2>/dev/null; if mkdir ${qLock} 2>/dev/null; then echo claimed; exit 0; fi; fi`,
    `echo busy`,
  ].join("\n");
  const claimed = await ssh.exec(claim, signal ? { signal } : {});
  const answer = claimed.stdout.trim();
  if (claimed.code !== 0) throw new ConnectorError("FAILED_PRECONDITION", `Cannot create the Slurm working directory ${JSON.stringify(dir)} on ${ssh.target.host}: ${claimed.stderr.trim().slice(0, 500)}`);
  if (answer.startsWith("existing ")) return parseSbatchJobId(answer.slice("existing ".length));
  if (answer !== "claimed") throw new SshError("UNAVAILABLE", `Another submission of Slurm job ${jobName} is in progress on ${ssh.target.host}; try again.`, true);
  try {
    await ssh.sftp((sftp) => sftp.writeFile(`${base}.sbatch`, script, 0o700), signal ? { signal } : {});
  } catch (error) {
    await ssh.exec(`rmdir ${qLock}`).catch(() => {});
    throw error;
  }
  // sbatch runs from the working directory; its output (the job id) is recorded before the claim is kept.
  const submit = `cd ${qDir} && out=$(sbatch --parsable ${qScript}) || { rc=$?; rmdir ${qLock}; exit $rc; }; printf '%s\\n' "$out" > ${shellQuote(`${base}.jobid.tmp`)} && mv ${shellQuote(`${base}.jobid.tmp`)} ${qId}; printf '%s\\n' "$out"`;
  const result = await ssh.exec(submit, { ...(signal ? { signal } : {}), idempotent: false });
  if (result.code !== 0) {
    const detail = (result.stderr.trim() || result.stdout.trim()).slice(0, 2000);
    // sbatch's own refusal (bad partition, limits): the task's config, not a fault of the service.
    throw new ConnectorError(isControllerUnreachable(detail) ? "UNAVAILABLE" : "INVALID_ARGUMENT", `sbatch failed on ${ssh.target.host} (exit ${result.code}): ${detail}`);
  }
  return parseSbatchJobId(result.stdout);
}

/** The states of `jobIds`: squeue for jobs still in the system, then sacct, then scontrol (no accounting). */
export async function queryStates(ssh: SshConnection, jobIds: readonly string[], signal?: AbortSignal, timeout = 20_000): Promise<Map<string, SlurmJobState>> {
  const ids = [...new Set(jobIds.map(checkJobId))].sort((a, b) => Number(a) - Number(b));
  const options = signal ? { signal, timeout } : { timeout };
  if (ids.length === 0) return new Map();
  const unreachable = (command: string, stderr: string) =>
    new SshError("UNAVAILABLE", `${command} on ${ssh.target.host} could not reach Slurm: ${stderr.trim().slice(0, 300)}`, true);
  const squeue = await ssh.exec(`squeue -h -j ${ids.join(",")} -o ${shellQuote(SQUEUE_FORMAT)}`, options);
  if (squeue.code !== 0 && isControllerUnreachable(squeue.stderr)) throw unreachable("squeue", squeue.stderr);
  // squeue exits non-zero when none of the ids exist: not an error here.
  const states = parseSqueue(squeue.stdout);
  let missing = ids.filter((id) => !states.has(id));
  if (missing.length > 0) {
    const sacct = await ssh.exec(`sacct -X -n -P -j ${missing.join(",")} --format=${SACCT_FORMAT}`, options);
    // Accounting off or down: sacct fails, and scontrol still knows jobs that ended less than MinJobAge ago.
    if (sacct.code === 0) for (const [id, state] of parseSacct(sacct.stdout)) if (missing.includes(id)) states.set(id, state);
    missing = missing.filter((id) => !states.has(id));
  }
  if (missing.length > 0) {
    const scontrol = await ssh.exec(missing.map((id) => `scontrol -o show job ${id}`).join("; "), options);
    if (isControllerUnreachable(scontrol.stderr)) throw unreachable("scontrol", scontrol.stderr);
    for (const line of scontrol.stdout.split("\n")) {
      const state = parseScontrol(line);
      if (state && missing.includes(state.jobId)) states.set(state.jobId, state);
    }
  }
  return states;
}

/** Cancels a job; cancelling a finished or unknown job is fine. */
export async function cancelJob(ssh: SshConnection, jobId: string, signal?: AbortSignal): Promise<void> {
  const result = await ssh.exec(`scancel ${checkJobId(jobId)}`, signal ? { signal } : {});
  if (result.code === 0 || /invalid job id|already completing or completed|job has already finished/i.test(result.stderr)) return;
  if (isControllerUnreachable(result.stderr)) throw new SshError("UNAVAILABLE", `scancel ${jobId} on ${ssh.target.host} could not reach Slurm: ${result.stderr.trim().slice(0, 300)}`, true);
  throw new ConnectorError("FAILED_PRECONDITION", `scancel ${jobId} failed on ${ssh.target.host}: ${result.stderr.trim().slice(0, 500)}`);
}

/** The last `lines` lines of a file on the login node, "" when it does not exist; at most `maxBytes` bytes. */
export async function tailFile(ssh: SshConnection, path: string, lines: number, signal?: AbortSignal, maxBytes = 64 * 1024): Promise<string> {
  const result = await ssh.exec(`tail -n ${Math.max(1, Math.floor(lines))} -- ${shellQuote(path)} 2>/dev/null | tail -c ${maxBytes}`, signal ? { signal } : {});
  return result.code === 0 ? result.stdout : "";
}

/**
 * Coalesces status polls of one connection: jobs asked for while a query runs go into the next query together, so
 * N concurrent polls cost one squeue (not N), and at most one query per connection runs at a time.
 */
export class StatusBatcher {
  readonly #ssh: SshConnection;
  #pending = new Map<string, Array<{ resolve: (state: SlurmJobState | undefined) => void; reject: (error: unknown) => void }>>();
  #running = false;
  /** Queries made so far (for tests). */
  queries = 0;

  constructor(ssh: SshConnection) {
    this.#ssh = ssh;
  }

  /** The state of `jobId`, undefined when Slurm does not know it. */
  state(jobId: string): Promise<SlurmJobState | undefined> {
    checkJobId(jobId);
    return new Promise((resolve, reject) => {
      const waiting = this.#pending.get(jobId) ?? [];
      waiting.push({ resolve, reject });
      this.#pending.set(jobId, waiting);
      if (!this.#running) {
        this.#running = true;
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending.size > 0) {
        const batch = this.#pending;
        this.#pending = new Map();
        this.queries++;
        try {
          const states = await queryStates(this.#ssh, [...batch.keys()]);
          for (const [id, waiting] of batch) for (const { resolve } of waiting) resolve(states.get(id));
        } catch (error) {
          for (const waiting of batch.values()) for (const { reject } of waiting) reject(error);
        }
      }
    } finally {
      this.#running = false;
    }
  }
}
