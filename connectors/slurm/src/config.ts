// The task's `custom` config and the deployment's FLYTE_SLURM_* environment, read as the Python connector reads them.
import { ConnectorError, ResourceMeta } from "flyte-connectors";

export const TASK_TYPE_NATIVE = "slurm";
export const TASK_TYPE_SCRIPT = "slurm_script";

export const ENV_HOST = "FLYTE_SLURM_HOST";
export const ENV_PORT = "FLYTE_SLURM_PORT";
export const ENV_USERNAME = "FLYTE_SLURM_USERNAME";
export const ENV_SSH_PRIVATE_KEY = "FLYTE_SLURM_SSH_PRIVATE_KEY";
export const ENV_KNOWN_HOSTS = "FLYTE_SLURM_KNOWN_HOSTS";
export const ENV_WORKING_DIR = "FLYTE_SLURM_WORKING_DIR";
export const ENV_SKIP_HOST_KEY_VERIFICATION = "FLYTE_SLURM_SKIP_HOST_KEY_VERIFICATION";
export const ENV_UPLOAD_MAX_BYTES = "FLYTE_SLURM_CONNECTOR_UPLOAD_MAX_BYTES";

/** Secret keys (custom.secrets → connection.secrets) the Python plugin defines. */
export const SECRET_PRIVATE_KEY = "ssh_private_key";
export const SECRET_KNOWN_HOSTS = "known_hosts_data";

export const DEFAULT_WORKING_DIR = ".flyte/jobs";
export const DEFAULT_CONNECTOR_UPLOAD_MAX_BYTES = 100 * 1024 * 1024;

const SIZE_SUFFIXES: ReadonlyArray<readonly [string, number]> = [
  ["KIB", 2 ** 10],
  ["MIB", 2 ** 20],
  ["GIB", 2 ** 30],
  ["TIB", 2 ** 40],
  ["KB", 1e3],
  ["MB", 1e6],
  ["GB", 1e9],
  ["TB", 1e12],
  ["B", 1],
];

/**
 * A byte count with an optional decimal or binary suffix (`500MB`, `2GB`, `512MiB`), as the Python connector parses
 * FLYTE_SLURM_CONNECTOR_UPLOAD_MAX_BYTES; `0`, `unlimited` and `none` mean no limit (undefined). A malformed value
 * throws (never a silent fallback to the default).
 */
export function parseSize(raw: string): number | undefined {
  const text = raw.trim();
  if (["unlimited", "none"].includes(text.toLowerCase())) return undefined;
  let digits = text;
  let multiplier = 1;
  for (const [suffix, factor] of SIZE_SUFFIXES) {
    if (text.toUpperCase().endsWith(suffix)) {
      digits = text.slice(0, -suffix.length).trim();
      multiplier = factor;
      break;
    }
  }
  // Python's int(): optional sign, digits with single underscores between them.
  if (!/^[+-]?\d+(_\d+)*$/.test(digits)) {
    throw new ConnectorError("FAILED_PRECONDITION", `${ENV_UPLOAD_MAX_BYTES}=${JSON.stringify(raw)} is not a size. Give a byte count, optionally suffixed (500MB, 2GB, 512MiB), or 0 for no limit.`);
  }
  const value = Number(digits.replace(/_/g, ""));
  if (value < 0) throw new ConnectorError("FAILED_PRECONDITION", `${ENV_UPLOAD_MAX_BYTES}=${JSON.stringify(raw)} is negative. Use 0 for no limit.`);
  return value * multiplier || undefined;
}

/** The deployment's ceiling on what the connector moves for a job (undefined: none), read on each use. */
export function connectorUploadMaxBytes(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[ENV_UPLOAD_MAX_BYTES];
  if (raw === undefined || !raw.trim()) return DEFAULT_CONNECTOR_UPLOAD_MAX_BYTES;
  return parseSize(raw);
}

/** Whether the deployment turned host key verification off (`1`, `true`, `yes`). */
export function skipHostKeyVerification(env: NodeJS.ProcessEnv = process.env): boolean {
  return ["1", "true", "yes"].includes((env[ENV_SKIP_HOST_KEY_VERIFICATION] ?? "").toLowerCase());
}

function invalid(message: string): ConnectorError {
  return new ConnectorError("INVALID_ARGUMENT", message);
}

type Json = Record<string, unknown>;

function object(value: unknown, key: string): Json {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw invalid(`custom.${key} must be an object.`);
  return value as Json;
}

function optionalString(value: unknown, key: string): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw invalid(`custom.${key} must be a string.`);
  return value;
}

function stringList(value: unknown, key: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) throw invalid(`custom.${key} must be a list of strings.`);
  return value as string[];
}

/** An output name that is a plain file name (it becomes a path on the cluster and a key under the output prefix). */
export const OUTPUT_NAME = /^(?!\.\.?$)[\p{L}\p{N}_.-]+$/u;

/** A declared script output: where it ends up and who moves it there (Python's `declared_outputs` values). */
export interface DeclaredOutput {
  uri: string;
  kind: "file" | "directory";
  upload: "connector" | "job";
  written_to: string;
}

/** The parts of `custom` the connector reads (the keys flyte-sdk's `Slurm.to_custom_config` writes). */
export interface SlurmCustom {
  connection: { host?: string | undefined; port?: number | undefined; username?: string | undefined; known_hosts?: string | undefined; skip_host_key_verification: boolean };
  sbatch: Json;
  sbatchOptions: Json;
  container: { runtime?: string | undefined; args: string[]; image?: string | undefined; mounts: string[]; workdir?: string | undefined; srunArgs: string[] };
  env: Json;
  modules: string[];
  workingDir?: string | undefined;
  script?: string | undefined;
  outputs: Record<string, "file" | "directory">;
  outputUpload: "connector" | "job";
}

/** Reads and checks `custom` (INVALID_ARGUMENT naming the key on a wrong shape). */
export function parseCustom(custom: Json): SlurmCustom {
  const connection = object(custom["connection"], "connection");
  const port = connection["port"];
  if (port !== undefined && port !== null && !(typeof port === "number" && Number.isInteger(port) && port > 0 && port < 65536)) {
    throw invalid("custom.connection.port must be a port number.");
  }
  const container = object(custom["container"], "container");
  const outputs = object(custom["outputs"], "outputs");
  for (const [name, kind] of Object.entries(outputs)) {
    if (!OUTPUT_NAME.test(name)) throw invalid(`custom.outputs: output name ${JSON.stringify(name.slice(0, 80))} must be letters, digits, '_', '.' or '-' (a file name, no path).`);
    if (kind !== "file" && kind !== "directory") throw invalid(`custom.outputs.${name} must be "file" or "directory".`);
  }
  const upload = custom["output_upload"] ?? "connector";
  if (upload !== "connector" && upload !== "job") throw invalid(`custom.output_upload must be "connector" or "job", not ${JSON.stringify(upload)}.`);
  return {
    connection: {
      host: optionalString(connection["host"], "connection.host"),
      port: typeof port === "number" ? port : undefined,
      username: optionalString(connection["username"], "connection.username"),
      known_hosts: optionalString(connection["known_hosts"], "connection.known_hosts"),
      skip_host_key_verification: connection["skip_host_key_verification"] === true,
    },
    sbatch: object(custom["sbatch"], "sbatch"),
    sbatchOptions: object(custom["sbatch_options"], "sbatch_options"),
    container: {
      runtime: optionalString(container["runtime"], "container.runtime"),
      args: stringList(container["args"], "container.args"),
      image: optionalString(container["image"], "container.image"),
      mounts: stringList(container["mounts"], "container.mounts"),
      workdir: optionalString(container["workdir"], "container.workdir"),
      srunArgs: stringList(container["srun_args"], "container.srun_args"),
    },
    env: object(custom["env"], "env"),
    modules: stringList(custom["modules"], "modules"),
    workingDir: optionalString(custom["working_dir"], "working_dir"),
    script: optionalString(custom["script"], "script"),
    outputs: outputs as Record<string, "file" | "directory">,
    outputUpload: upload,
  };
}

/** A job name as the connector makes them: `flyte-<task name, sanitized, ≤ 40>-<8 hex>`. */
export const JOB_NAME = /^flyte-[A-Za-z0-9_.-]{1,40}-[0-9a-f]{8}$/;

/**
 * The identity of a Slurm job, with the same fields and JSON as the Python plugin's `SlurmJobMetadata`, so a job
 * submitted by either connector is polled by the other.
 */
export class SlurmJobMetadata extends ResourceMeta.define({
  job_id: "string",
  job_name: "string",
  host: "string",
  username: "string",
  port: "integer",
  stdout_path: "string",
  stderr_path: "string",
  known_hosts: "string?",
  skip_host_key_verification: "boolean?",
  declared_outputs: "object?",
}) {
  /**
   * The meta comes back from the caller, and its paths are read over SSH with the deployment's key: only a job's own
   * files are accepted (`<dir>/<job name>.out|.err`, outputs under `<dir>/<job name>.outputs/`), so a crafted meta
   * cannot read `~/.ssh` through logs or outputs.
   */
  override validate(): void {
    if (!/^\d+$/.test(this.job_id)) throw new Error(`job_id ${JSON.stringify(this.job_id.slice(0, 40))} is not a Slurm job id`);
    if (!JOB_NAME.test(this.job_name)) throw new Error(`job_name ${JSON.stringify(this.job_name.slice(0, 80))} is not a job name this connector makes`);
    if (!(this.port > 0 && this.port < 65536)) throw new Error(`port ${this.port} is not a port number`);
    const dir = this.stdout_path.slice(0, this.stdout_path.length - `${this.job_name}.out`.length);
    if (!this.stdout_path.endsWith(`/${this.job_name}.out`) || this.stderr_path !== `${dir}${this.job_name}.err`) {
      throw new Error("stdout_path and stderr_path must be the job's own .out and .err files in one directory");
    }
    for (const [name, spec] of Object.entries(this.declared_outputs ?? {})) {
      // A name with a path in it would make the connector read (and upload) another file of the account.
      if (!OUTPUT_NAME.test(name)) throw new Error(`declared_outputs name ${JSON.stringify(name.slice(0, 80))} is not a plain file name`);
      const output = spec as Partial<DeclaredOutput> | null;
      if (!output || typeof output !== "object" || typeof output.uri !== "string" || typeof output.written_to !== "string") throw new Error(`declared_outputs.${name} must have uri and written_to`);
      if (output.kind !== "file" && output.kind !== "directory") throw new Error(`declared_outputs.${name}.kind must be "file" or "directory"`);
      if (output.upload !== "connector" && output.upload !== "job") throw new Error(`declared_outputs.${name}.upload must be "connector" or "job"`);
      if (output.upload === "connector" && output.written_to !== `${dir}${this.job_name}.outputs/${name}`) {
        throw new Error(`declared_outputs.${name}.written_to must be the job's own outputs directory`);
      }
    }
  }

  get outputs(): Record<string, DeclaredOutput> {
    return (this.declared_outputs ?? {}) as Record<string, DeclaredOutput>;
  }
}
