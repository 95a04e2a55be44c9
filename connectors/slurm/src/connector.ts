import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import {
  AsyncConnector,
  attemptIdentity,
  ConnectorError,
  connectorSecret,
  connectorSecretPath,
  defaultStorage,
  FlyteDir,
  FlyteFile,
  Phase,
  pythonFloatRepr,
  SecretNotFoundError,
  StorageError,
  type CreateRequest,
  type LogsPage,
  type LogsRequest,
  type Resource,
  type ResourceRequest,
  type Storage,
} from "flyte-connectors";
import { pollTolerantly } from "flyte-connectors/http";
import type { TaskExecutionMetadata } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import type { TaskTemplate } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import {
  connectorUploadMaxBytes,
  DEFAULT_WORKING_DIR,
  ENV_HOST,
  ENV_KNOWN_HOSTS,
  ENV_PORT,
  ENV_SSH_PRIVATE_KEY,
  ENV_UPLOAD_MAX_BYTES,
  ENV_USERNAME,
  ENV_WORKING_DIR,
  parseCustom,
  SECRET_KNOWN_HOSTS,
  SECRET_PRIVATE_KEY,
  skipHostKeyVerification,
  SlurmJobMetadata,
  TASK_TYPE_NATIVE,
  TASK_TYPE_SCRIPT,
  type DeclaredOutput,
  type SlurmCustom,
} from "./config.js";
import { inputEnvName, outputEnvName, renderContainerJob, renderScriptJob, shellQuote, structScalarText } from "./render.js";
import { cancelJob, StatusBatcher, submitOnce, tailFile } from "./slurm-commands.js";
import { SshError, SshPool, type SshConnection, type SshOptions, type SshTarget } from "./ssh.js";
import { describeState, phaseOfState } from "./states.js";

const STDERR_TAIL_LINES = 30;
/** Lines per page of getLogs. */
const LOG_PAGE_LINES = 1000;
/** Most bytes one getLogs call streams; its last page's token continues from there. */
const LOG_CALL_MAX_BYTES = 8 << 20;

export interface SlurmConnectorOptions {
  /** The task type served: "slurm" (container entrypoint) or "slurm_script" (an sbatch script). Default: "slurm". */
  taskType?: typeof TASK_TYPE_NATIVE | typeof TASK_TYPE_SCRIPT;
  /**
   * Connections, poll batching and output uploads shared between connectors (both task types share one by default
   * in `connectors.ts`). Default: a new {@link SlurmClients} with `ssh` options.
   */
  clients?: SlurmClients;
  /** SSH settings of a new {@link SlurmClients} (ignored with `clients`). Default: SshOptions' defaults. */
  ssh?: SshOptions;
  /** The deployment environment (FLYTE_SLURM_*), read on each call. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /**
   * Longest a status poll waits for the cluster, in ms, before answering the last known phase with a message (keep it
   * below the backend's 10 s GetTask deadline). Default: 8000.
   */
  pollBudget?: number;
  /** How long a job unknown to squeue, sacct and scontrol is polled on (non-terminal) before it fails, in ms. Default: 300 000. */
  unknownJobGrace?: number;
  /** How long a poll waits for a finished job's outputs to reach storage before answering RUNNING, in ms. Default: 4000. */
  outputWait?: number;
}

/** The fields of a meta being built by create. */
type MetaInit = ConstructorParameters<typeof SlurmJobMetadata>[0];
type Draft = { -readonly [K in Exclude<keyof MetaInit, "known_hosts">]-?: NonNullable<MetaInit[K]> } & { known_hosts: string | null };

type Collected = { outputs: Record<string, unknown> } | { failed: string };

/** SSH connections (one per login node and identity), status batchers and output uploads in flight. */
export class SlurmClients {
  readonly pool: SshPool;
  readonly #batchers = new WeakMap<SshConnection, StatusBatcher>();
  readonly collections = new Map<string, Promise<Collected>>();
  readonly unknownSince = new Map<string, number>();

  constructor(ssh: SshOptions = {}) {
    this.pool = new SshPool(ssh);
  }

  batcher(connection: SshConnection): StatusBatcher {
    let batcher = this.#batchers.get(connection);
    if (!batcher) this.#batchers.set(connection, (batcher = new StatusBatcher(connection)));
    return batcher;
  }

  close(): void {
    this.pool.close();
  }
}

/** `a` joined with `b` as Python's posixpath.join: `b` when absolute. */
function posixJoin(a: string, b: string): string {
  if (b.startsWith("/")) return b;
  return a === "" || a.endsWith("/") ? `${a}${b}` : `${a}/${b}`;
}

function pyRepr(text: string): string {
  return `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** `flyte-<task name>-<8 hex>`: the hex from the attempt's identity, so a repeated create names the same job. */
export function jobName(template: TaskTemplate, request: Pick<CreateRequest, "taskExecutionMetadata" | "outputPrefix">): string {
  const full = template.id?.name ?? "";
  const last = full ? full.slice(full.lastIndexOf(".") + 1) : "task";
  const base = Array.from(last.replace(/[^A-Za-z0-9_.-]/gu, "-")).slice(0, 40).join("").replace(/^[-.]+|[-.]+$/g, "") || "task";
  const identity = attemptIdentity(request);
  const suffix = identity === undefined ? randomBytes(4).toString("hex") : createHash("sha256").update(identity).digest("hex").slice(0, 8);
  return `flyte-${base}-${suffix}`;
}

/** Variables flytek8s adds to a task pod from the execution id (a connector has to add them itself). */
function envFromExecutionId(metadata: TaskExecutionMetadata | undefined): Record<string, string> {
  const id = metadata?.taskExecutionId;
  if (!id) return {};
  const execution = id.nodeExecutionId?.executionId;
  const env: Record<string, string> = {};
  if (execution?.project) env["FLYTE_INTERNAL_EXECUTION_PROJECT"] = execution.project;
  if (execution?.domain) env["FLYTE_INTERNAL_EXECUTION_DOMAIN"] = execution.domain;
  if (execution?.name) env["FLYTE_INTERNAL_EXECUTION_ID"] = execution.name;
  if (execution?.org) env["_U_ORG_NAME"] = execution.org;
  env["FLYTE_ATTEMPT_NUMBER"] = String(id.retryAttempt);
  return env;
}

/** Scalar inputs as FLYTE_INPUT_<NAME> (rendered as Python's str()), File/Dir as their URI; anything else is refused. */
function envFromInputs(inputs: Record<string, unknown>, template: TaskTemplate): Record<string, string> {
  const floats = new Set(
    (template.interface?.inputs?.variables ?? [])
      .filter((v) => v.value?.type?.type.case === "simple" && v.value.type.type.value === 2 /* FLOAT */)
      .map((v) => v.key),
  );
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(inputs)) {
    const name = inputEnvName(key);
    if (typeof value === "string") env[name] = value;
    else if (typeof value === "boolean") env[name] = value ? "true" : "false";
    else if (typeof value === "bigint") env[name] = value.toString();
    else if (typeof value === "number") env[name] = floats.has(key) || !Number.isInteger(value) ? pythonFloatRepr(value) : String(value);
    else if (value instanceof FlyteFile || value instanceof FlyteDir) env[name] = value.uri;
    else {
      const kind = value === null || value === undefined ? "None" : Array.isArray(value) ? "list" : value instanceof Date ? "datetime" : typeof value;
      throw new ConnectorError(
        "INVALID_ARGUMENT",
        `Input ${pyRepr(key)} of type ${kind} cannot be passed to an sbatch script. Scalars become FLYTE_INPUT_<NAME>, and File/Dir become their URI; anything else has no representation in the environment. Pass a URI as a string and fetch it in the script.`,
      );
    }
  }
  return env;
}

function configEnv(env: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, structScalarText(value)]));
}

/**
 * Runs Flyte tasks as Slurm jobs over SSH to a login node, wire-compatible with flyte-sdk's Slurm plugin: `slurm`
 * submits the task's container and Flyte entrypoint through Pyxis or Apptainer; `slurm_script` submits the task's
 * sbatch script with its inputs in FLYTE_INPUT_* and declared File/Dir outputs in FLYTE_OUTPUT_*.
 */
export class SlurmConnector extends AsyncConnector<SlurmJobMetadata> {
  readonly name = "Slurm Connector";
  readonly taskTypeName: string;
  readonly metadataType = SlurmJobMetadata;
  readonly clients: SlurmClients;
  readonly #env: NodeJS.ProcessEnv;
  readonly #pollBudget: number;
  readonly #unknownJobGrace: number;
  readonly #outputWait: number;

  constructor(options: SlurmConnectorOptions = {}) {
    super();
    this.taskTypeName = options.taskType ?? TASK_TYPE_NATIVE;
    if (this.taskTypeName !== TASK_TYPE_NATIVE && this.taskTypeName !== TASK_TYPE_SCRIPT) throw new TypeError(`taskType must be "${TASK_TYPE_NATIVE}" or "${TASK_TYPE_SCRIPT}"`);
    this.clients = options.clients ?? new SlurmClients(options.ssh);
    this.#env = options.env ?? process.env;
    this.#pollBudget = options.pollBudget ?? 8000;
    this.#unknownJobGrace = options.unknownJobGrace ?? 300_000;
    this.#outputWait = options.outputWait ?? 4000;
  }

  #envValue(name: string): string | undefined {
    return this.#env[name] || undefined;
  }

  /** The task's ssh_private_key secret, else the deployment's FLYTE_SLURM_SSH_PRIVATE_KEY. */
  async #privateKey(secrets: Readonly<Record<string, string>>): Promise<{ key: string; fromDeployment: boolean }> {
    const own = secrets[SECRET_PRIVATE_KEY];
    if (own) return { key: own, fromDeployment: false };
    const deployment = this.#env === process.env ? await connectorSecret(ENV_SSH_PRIVATE_KEY) : this.#envValue(ENV_SSH_PRIVATE_KEY);
    if (deployment) return { key: deployment, fromDeployment: true };
    throw new SecretNotFoundError(
      `Missing Slurm SSH private key. Set \`ssh_private_key\` on the Slurm config to the name of a Flyte secret (custom.secrets.${SECRET_PRIVATE_KEY}), or set ${ENV_SSH_PRIVATE_KEY} on the connector (environment variable or ${connectorSecretPath(ENV_SSH_PRIVATE_KEY)}).`,
    );
  }

  /** known_hosts content: the known_hosts_data secret, else the file the deployment or task names, else ~/.ssh/known_hosts. */
  async #knownHosts(path: string | undefined, secrets: Readonly<Record<string, string>>, skip: boolean): Promise<Pick<SshTarget, "knownHosts" | "knownHostsSource">> {
    if (skip) return { knownHosts: "skip", knownHostsSource: `${skipHostKeyVerificationName}` };
    const data = secrets[SECRET_KNOWN_HOSTS];
    if (data && !this.#envValue(ENV_KNOWN_HOSTS)) return { knownHosts: data, knownHostsSource: `secret ${SECRET_KNOWN_HOSTS}` };
    if (path) {
      try {
        return { knownHosts: await readFile(path, "utf8"), knownHostsSource: `file ${path}` };
      } catch (error) {
        throw new ConnectorError("FAILED_PRECONDITION", `The known_hosts file ${JSON.stringify(path)} cannot be read on the connector (${(error as NodeJS.ErrnoException).code ?? "error"}).`, { cause: error });
      }
    }
    const fallback = join(homedir(), ".ssh", "known_hosts");
    const text = await readFile(fallback, "utf8").catch(() => undefined);
    if (text) return { knownHosts: text, knownHostsSource: `file ${fallback}` };
    throw new ConnectorError(
      "FAILED_PRECONDITION",
      `No known hosts to verify the Slurm login node's host key with; refusing to connect. Give the entries in a Flyte secret (Slurm(known_hosts_secret=...), custom.secrets.${SECRET_KNOWN_HOSTS}), a file on the connector (${ENV_KNOWN_HOSTS}, or custom.connection.known_hosts), or ${fallback}.`,
    );
  }

  async #connection(meta: SlurmJobMetadata, secrets: Readonly<Record<string, string>>): Promise<SshConnection> {
    const { key, fromDeployment } = await this.#privateKey(secrets);
    if (fromDeployment) {
      // The deployment's key only goes to the deployment's host: a crafted resource meta cannot redirect it.
      const host = this.#envValue(ENV_HOST);
      const username = this.#envValue(ENV_USERNAME);
      if ((host && meta.host !== host) || (username && meta.username !== username)) {
        throw new ConnectorError("INVALID_ARGUMENT", `The resource meta names ${meta.username}@${meta.host}, not the connector's ${ENV_USERNAME}@${ENV_HOST}.`);
      }
    }
    // Verification is off only while the deployment still says so, whatever the meta holds.
    const skip = meta.skip_host_key_verification === true && skipHostKeyVerification(this.#env);
    const knownHosts = await this.#knownHosts(meta.known_hosts ?? undefined, secrets, skip);
    return this.clients.pool.get({ host: meta.host, port: meta.port, username: meta.username, privateKey: key, ...knownHosts });
  }

  async create(request: CreateRequest): Promise<SlurmJobMetadata> {
    const { taskTemplate, secrets, signal } = request;
    const custom = parseCustom(request.custom);
    // A malformed ceiling fails before the job runs, not after it succeeded.
    connectorUploadMaxBytes(this.#env);
    const { connection } = custom;
    // The deployment wins over task config: its key must not be pointed at a host the task chooses.
    const host = this.#envValue(ENV_HOST) ?? connection.host;
    const username = this.#envValue(ENV_USERNAME) ?? connection.username;
    const envPort = this.#envValue(ENV_PORT);
    const port = envPort !== undefined ? Number(envPort) : (connection.port ?? 22);
    if (!Number.isInteger(port) || port <= 0 || port >= 65536) throw new ConnectorError("FAILED_PRECONDITION", `${ENV_PORT}=${JSON.stringify(envPort)} is not a port number.`);
    const knownHostsPath = this.#envValue(ENV_KNOWN_HOSTS) ?? connection.known_hosts;
    // Never from the task: it could turn off host key checking for a connection made with the deployment's key.
    const skip = skipHostKeyVerification(this.#env);
    if (!host || !username) {
      throw new ConnectorError("INVALID_ARGUMENT", `Missing Slurm connection details. Set \`host\` and \`username\` on the Slurm config, or set ${ENV_HOST} and ${ENV_USERNAME} on the connector.`);
    }
    const name = jobName(taskTemplate, request);
    const draft: Draft = {
      job_id: "",
      job_name: name,
      host,
      username,
      port,
      stdout_path: "",
      stderr_path: "",
      known_hosts: knownHostsPath ?? null,
      skip_host_key_verification: skip,
      declared_outputs: {},
    };
    const ssh = await this.#connection(new SlurmJobMetadata(draft), secrets);
    let workingDir = custom.workingDir ?? this.#envValue(ENV_WORKING_DIR) ?? DEFAULT_WORKING_DIR;
    if (!workingDir.startsWith("/")) workingDir = posixJoin(await ssh.home(signal), workingDir);
    draft.stdout_path = posixJoin(workingDir, `${name}.out`);
    draft.stderr_path = posixJoin(workingDir, `${name}.err`);
    const script = this.#render(request, custom, draft);
    const jobDir = draft.stdout_path.slice(0, -`${name}.out`.length);
    draft.job_id = await submitOnce(ssh, jobDir, name, script, signal);
    return new SlurmJobMetadata(draft);
  }

  #render(request: CreateRequest, custom: SlurmCustom, meta: Draft): string {
    const { taskTemplate, taskExecutionMetadata } = request;
    const container = taskTemplate.target.case === "container" ? taskTemplate.target.value : undefined;
    // Lowest first: template env, identity from the execution id, the platform's variables, the task's own config.
    const env: Record<string, string> = {
      ...Object.fromEntries((container?.env ?? []).map((kv) => [kv.key, kv.value])),
      ...envFromExecutionId(taskExecutionMetadata),
      ...(taskExecutionMetadata?.environmentVariables ?? {}),
      ...configEnv(custom.env),
    };
    const files = { jobName: meta.job_name, stdoutPath: meta.stdout_path, stderrPath: meta.stderr_path };
    if (taskTemplate.type === TASK_TYPE_SCRIPT) {
      if (!custom.script) throw new ConnectorError("INVALID_ARGUMENT", "slurm_script task has no script (custom.script).");
      Object.assign(env, envFromInputs(request.inputs, taskTemplate));
      const dir = meta.stdout_path.slice(0, -`${meta.job_name}.out`.length);
      const localOutputs = `${dir}${meta.job_name}.outputs`;
      const declared: Record<string, DeclaredOutput> = {};
      for (const [name, kind] of Object.entries(custom.outputs)) {
        const uri = `${request.outputPrefix.replace(/\/+$/, "")}/${name}`;
        declared[name] = { uri, kind, upload: custom.outputUpload, written_to: custom.outputUpload === "connector" ? `${localOutputs}/${name}` : uri };
        env[outputEnvName(name)] = declared[name].written_to;
      }
      meta.declared_outputs = declared as unknown as Record<string, unknown>;
      const needsDir = Object.values(declared).some((spec) => spec.upload === "connector");
      return renderScriptJob({
        ...files,
        // The directory the script writes its outputs into exists first. Unlike the Python plugin (which prepends this
        // to the script, so the script's own #SBATCH lines stop being leading directives), it goes after them.
        script: needsDir ? prependToBody(custom.script, `mkdir -p ${shellQuote(localOutputs)}`) : custom.script,
        env,
        sbatchFields: custom.sbatch,
        sbatchExtra: custom.sbatchOptions,
        modules: custom.modules,
      });
    }
    if (!container) throw new ConnectorError("INVALID_ARGUMENT", "slurm task has no container spec.");
    const image = custom.container.image ?? container.image;
    if (!image) throw new ConnectorError("INVALID_ARGUMENT", "slurm task has no container image.");
    return renderContainerJob({
      ...files,
      image,
      command: [...container.command, ...container.args],
      env,
      sbatchFields: custom.sbatch,
      sbatchExtra: custom.sbatchOptions,
      containerMounts: custom.container.mounts,
      containerWorkdir: custom.container.workdir,
      srunArgs: custom.container.srunArgs,
      containerRuntime: custom.container.runtime ?? "pyxis",
      containerArgs: custom.container.args,
      modules: custom.modules,
    });
  }

  async get({ resourceMeta: meta, secrets, signal, outputPrefix, storage }: ResourceRequest<SlurmJobMetadata>): Promise<Resource> {
    const prefix = outputPrefix.replace(/\/+$/, "");
    for (const [name, spec] of Object.entries(meta.outputs)) {
      // Outputs go to this attempt's prefix only: a crafted meta cannot make the connector write elsewhere.
      if (prefix && spec.uri !== `${prefix}/${name}`) throw new ConnectorError("INVALID_ARGUMENT", `declared_outputs.${name}.uri is not under the request's output prefix.`);
    }
    const ssh = await this.#connection(meta, secrets);
    const jobKey = `${meta.username}@${meta.host}:${meta.port}/${meta.job_id}`;
    return pollTolerantly(`slurm:${jobKey}`, async (pollSignal) => {
      const state = await raceSignal(this.clients.batcher(ssh).state(meta.job_id), pollSignal, "a Slurm status query");
      if (!state) return this.#unknown(meta, jobKey);
      this.clients.unknownSince.delete(jobKey);
      const phase = phaseOfState(state.state);
      let message = `${describeState(state)}\nJob files on ${meta.username}@${meta.host}: ${meta.stdout_path} (stdout), ${meta.stderr_path} (stderr)`;
      if (phase === undefined) {
        return {
          phase: Phase.FAILED,
          message: `Unrecognized Slurm job state ${pyRepr(state.state)}. If this is a real Slurm state, it needs adding to the connector's state map.\n${message}`,
        };
      }
      if (phase === Phase.RUNNING) message += `\nAttach to the running job: ssh ${meta.username}@${meta.host} 'srun --jobid=${meta.job_id} --overlap --pty bash'`;
      if (phase === Phase.FAILED || phase === Phase.RETRYABLE_FAILED) {
        const tail = await tailFile(ssh, meta.stderr_path, STDERR_TAIL_LINES, pollSignal);
        if (tail.trim()) message += `\n--- stderr (last ${STDERR_TAIL_LINES} lines) ---\n${tail.trimEnd()}`;
      }
      if (phase === Phase.SUCCEEDED && Object.keys(meta.outputs).length > 0) {
        const collected = await this.#outputs(meta, ssh, jobKey, storage ?? defaultStorage(), pollSignal);
        if (collected === undefined) return { phase: Phase.RUNNING, message: `${message}\nThe job finished; moving its outputs to storage.` };
        if ("failed" in collected) return { phase: Phase.FAILED, message: `${collected.failed}\n${message}` };
        return { phase, message, outputs: collected.outputs };
      }
      return { phase, message };
    }, { signal, budget: this.#pollBudget });
  }

  /** A job neither squeue, sacct nor scontrol knows: non-terminal for a while (accounting lags), then FAILED. */
  #unknown(meta: SlurmJobMetadata, jobKey: string): Resource {
    const since = this.clients.unknownSince.get(jobKey) ?? Date.now();
    if (!this.clients.unknownSince.has(jobKey)) {
      this.clients.unknownSince.set(jobKey, since);
      if (this.clients.unknownSince.size > 10_000) this.clients.unknownSince.delete(this.clients.unknownSince.keys().next().value!);
    }
    const what = `Slurm job ${meta.job_id} (${meta.job_name}) is not known to squeue, sacct or scontrol on ${meta.host}`;
    if (Date.now() - since < this.#unknownJobGrace) throw new SshError("UNAVAILABLE", `${what} yet`, true);
    this.clients.unknownSince.delete(jobKey);
    return { phase: Phase.FAILED, message: `${what} (for ${Math.round((Date.now() - since) / 1000)} s): it left the controller and accounting has no record of it.` };
  }

  /**
   * The declared outputs of a finished script job, moved to storage in the background (an upload can outlast a
   * poll): undefined while still moving. Transient faults throw (the next poll tries again).
   */
  async #outputs(meta: SlurmJobMetadata, ssh: SshConnection, jobKey: string, storage: Storage, signal: AbortSignal): Promise<Collected | undefined> {
    let collection = this.clients.collections.get(jobKey);
    if (!collection) {
      collection = collectOutputs(meta, ssh, storage, connectorUploadMaxBytes(this.#env));
      this.clients.collections.set(jobKey, collection);
      // Kept a while so repeated polls answer the same; dropped at once on a transient fault, to be retried.
      collection.then(
        () => setTimeout(() => this.clients.collections.delete(jobKey), 10 * 60_000).unref(),
        () => this.clients.collections.delete(jobKey),
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), this.#outputWait)));
    try {
      return await raceSignal(Promise.race([collection, waited]), signal, "moving outputs");
    } finally {
      clearTimeout(timer);
    }
  }

  async delete({ resourceMeta: meta, secrets, signal }: ResourceRequest<SlurmJobMetadata>): Promise<void> {
    const ssh = await this.#connection(meta, secrets);
    await cancelJob(ssh, meta.job_id, signal);
  }

  /**
   * The job's stdout file, streamed from the byte offset in `token` (start: 0) in pages of up to 1000 lines, each
   * with the token of the next unread byte; with `lines` > 0 and no token, only its last `lines` lines. A logs call
   * carries no secrets: it uses a connection already open to the job's login node, else the deployment's key.
   */
  override async *getLogs({ resourceMeta: meta, secrets, signal, lines, token }: LogsRequest<SlurmJobMetadata>): AsyncGenerator<LogsPage> {
    const ssh = this.clients.pool.find(meta.username, meta.host, meta.port) ?? (await this.#connection(meta, secrets));
    if (lines > 0 && !token) {
      const text = await tailFile(ssh, meta.stdout_path, lines, signal, LOG_CALL_MAX_BYTES);
      yield { lines: splitLogLines(text) };
      return;
    }
    let offset = token ? Number(token) : 0;
    if (!Number.isSafeInteger(offset) || offset < 0) throw new ConnectorError("INVALID_ARGUMENT", `Logs token ${JSON.stringify(token.slice(0, 40))} is not a byte offset.`);
    const lease = await ssh.openSftp(signal);
    try {
      const stats = await Promise.race([lease.session.stat(meta.stdout_path), lease.closed]);
      if (!stats || offset >= stats.size) {
        yield { lines: [], token: String(Math.max(offset, stats?.size ?? 0)) };
        return;
      }
      const end = Math.min(stats.size, offset + LOG_CALL_MAX_BYTES);
      let pending = Buffer.alloc(0);
      let page: string[] = [];
      for await (const chunk of lease.session.readStream(meta.stdout_path, { start: offset, end: end - 1 })) {
        pending = Buffer.concat([pending, chunk as Buffer]);
        let newline: number;
        while ((newline = pending.indexOf(10)) >= 0) {
          page.push(pending.subarray(0, newline).toString("utf8").replace(/\r$/, ""));
          offset += newline + 1;
          pending = pending.subarray(newline + 1);
          if (page.length >= LOG_PAGE_LINES) {
            yield { lines: page, token: String(offset) };
            page = [];
          }
        }
      }
      // A last line without its newline yet (the job is still writing): sent, and the token moves past it.
      if (pending.length > 0 && end === stats.size) {
        page.push(pending.toString("utf8"));
        offset += pending.length;
      }
      yield { lines: page, token: String(offset) };
    } finally {
      lease.done();
    }
  }
}

const skipHostKeyVerificationName = "FLYTE_SLURM_SKIP_HOST_KEY_VERIFICATION (verification off)";

function splitLogLines(text: string): string[] {
  const lines = text.split("\n").map((line) => line.replace(/\r$/, ""));
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

/** `command` placed after the script's shebang and leading #SBATCH block (where sbatch still reads directives). */
function prependToBody(script: string, command: string): string {
  const lines = script.split("\n");
  let index = 0;
  if (lines[0]?.startsWith("#!")) index = 1;
  let insertAt = index;
  for (let i = index; i < lines.length; i++) {
    const stripped = lines[i]!.trim();
    if (stripped.startsWith("#SBATCH") || !stripped || stripped.startsWith("#")) {
      if (stripped.startsWith("#SBATCH")) insertAt = i + 1;
      continue;
    }
    break;
  }
  return [...lines.slice(0, insertAt), command, ...lines.slice(insertAt)].join("\n");
}

function raceSignal<T>(promise: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) return Promise.reject(ConnectorError.fromAbort(signal, what));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason instanceof Error && signal.reason.name === "TimeoutError" ? signal.reason : ConnectorError.fromAbort(signal, what));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Python's `{size / 1e6:.0f} MB`. */
const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

/** Checks and moves every declared output of a succeeded script job; a missing or oversized one fails the task. */
async function collectOutputs(meta: SlurmJobMetadata, ssh: SshConnection, storage: Storage, maxBytes: number | undefined): Promise<Collected> {
  try {
    return await moveOutputs(meta, ssh, storage, maxBytes);
  } catch (error) {
    // A store that refuses (denied, a local path the service may not write, a bad URI) will refuse again: the task
    // fails with the store's message. Transient faults propagate, and the next poll tries again.
    if (error instanceof StorageError && error.code !== "UNAVAILABLE" && error.code !== "CANCELLED") {
      return { failed: `Slurm job ${meta.job_id} succeeded, but its outputs cannot be stored: ${error.message}` };
    }
    throw error;
  }
}

async function moveOutputs(meta: SlurmJobMetadata, ssh: SshConnection, storage: Storage, maxBytes: number | undefined): Promise<Collected> {
  const outputs: Record<string, unknown> = {};
  const missing: string[] = [];
  const tooLarge = (name: string, size: number): Collected | undefined =>
    maxBytes !== undefined && size >= maxBytes
      ? {
          failed:
            `Output ${pyRepr(name)} of Slurm job ${meta.job_id} is ${megabytes(size)}, above the ${megabytes(maxBytes)} the connector will move on a job's behalf. ` +
            `Set output_upload='job' on the task and have the script upload to the URI it is given in FLYTE_OUTPUT_<NAME> -- with \`aws s3 cp\`, \`rclone copyto\`, \`gcloud storage cp\` or whatever the cluster has -- so the bytes go straight from the compute node to object storage. ` +
            `A platform team that wants the connector to carry more can raise ${ENV_UPLOAD_MAX_BYTES} on the connector deployment, bearing in mind the pod is shared with every other job it polls.`,
        }
      : undefined;
  for (const [name, spec] of Object.entries(meta.outputs)) {
    if (spec.upload === "job") {
      const present = spec.kind === "directory" ? await hasObjects(storage, spec.uri) : await storage.exists(spec.uri);
      if (!present) {
        missing.push(`${name} at ${spec.uri}`);
        continue;
      }
    } else {
      // One SFTP session per output: stat/list, then stream each file into storage (never buffered whole).
      const result = await ssh.sftp(async (sftp) => {
        if (spec.kind === "directory") {
          const stats = await sftp.stat(spec.written_to);
          const entries = stats?.isDirectory() ? await sftp.walk(spec.written_to) : [];
          if (entries.length === 0) return "missing" as const;
          const refusal = tooLarge(name, entries.reduce((sum, entry) => sum + entry.size, 0));
          if (refusal) return refusal;
          for (const entry of entries) await storage.putStream(`${spec.uri.replace(/\/+$/, "")}/${entry.path}`, sftp.readStream(`${spec.written_to}/${entry.path}`));
          return "ok" as const;
        }
        const stats = await sftp.stat(spec.written_to);
        if (!stats?.isFile()) return "missing" as const;
        const refusal = tooLarge(name, stats.size);
        if (refusal) return refusal;
        await storage.putStream(spec.uri, sftp.readStream(spec.written_to));
        return "ok" as const;
      }, { timeout: 60 * 60_000 });
      if (result === "missing") {
        missing.push(`${name} at ${spec.written_to}`);
        continue;
      }
      if (result !== "ok") return result;
    }
    outputs[name] = spec.kind === "directory" ? new FlyteDir(spec.uri) : new FlyteFile(spec.uri);
  }
  if (missing.length > 0) {
    return {
      failed: `Slurm job ${meta.job_id} succeeded but did not write every declared output: ${missing.join("; ")}. The script is given each destination as FLYTE_OUTPUT_<NAME> and must write there.`,
    };
  }
  return { outputs };
}

async function hasObjects(storage: Storage, uri: string): Promise<boolean> {
  for await (const _ of storage.list(`${uri.replace(/\/+$/, "")}/`)) return true;
  return false;
}
