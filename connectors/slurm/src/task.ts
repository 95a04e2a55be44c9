import { create } from "@bufbuild/protobuf";
import { ContainerSchema, type TaskTemplate } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { ConnectorTask, types, type ConnectorTaskOptions, type TypeSpec, type TypeSpecs } from "flyte-connectors";
import { TASK_TYPE_NATIVE, TASK_TYPE_SCRIPT } from "./config.js";
import { CONTAINER_RUNTIMES, OUTPUT_REFERENCE, outputEnvName, sbatchDirectives, moduleLines, type ContainerRuntime } from "./render.js";

type JsonObject = NonNullable<ConnectorTaskOptions<TypeSpecs, TypeSpecs>["custom"]>;

/**
 * Where and how a task runs on Slurm: flyte-sdk's `Slurm` config, with the same names. Scheduling fields map onto
 * sbatch options; connection fields may be left to the connector's FLYTE_SLURM_* settings. Every field is optional.
 */
export interface SlurmConfig {
  partition?: string;
  nodes?: number;
  ntasks?: number;
  cpus_per_task?: number;
  /** Generic resources, e.g. "gpu:8". */
  gres?: string;
  gpus_per_node?: number | string;
  /** Memory per node, e.g. "64G". */
  mem?: string;
  /** Wall-clock limit in Slurm's format, e.g. "4:00:00". */
  time_limit?: string;
  account?: string;
  qos?: string;
  reservation?: string;
  constraint?: string;
  /** Other sbatch options, `--<key>=<value>` (true: a bare flag); they win over the fields above. Default: none. */
  sbatch_options?: Record<string, string | number | boolean>;
  /** "pyxis" (default) or "apptainer" (`slurm` tasks). */
  container_runtime?: ContainerRuntime;
  /** Arguments of the container runtime itself, e.g. ["--rocm"]. Default: none. */
  container_args?: string[];
  /** Environment modules to `module load` first, e.g. ["apptainer"]. Default: none. */
  modules?: string[];
  /** Image given to the runtime instead of the task's (a .sqsh or .sif path). Default: the task's image. */
  container_image?: string;
  /** Bind mounts `src:dst[:ro]`. Default: none. */
  container_mounts?: string[];
  container_workdir?: string;
  /** Extra srun arguments. Default: none. */
  srun_args?: string[];
  /** Variables exported into the job (written to the cluster in plain text: no secrets). Default: none. */
  env?: Record<string, string>;
  /** Directory on the cluster for scripts and logs; relative to the SSH user's home. Default: ".flyte/jobs". */
  working_dir?: string;
  /** Login node; the connector's FLYTE_SLURM_HOST wins. */
  host?: string;
  /** SSH port. Default: 22. */
  port?: number;
  username?: string;
  /** Name of the Flyte secret holding the SSH private key. */
  ssh_private_key?: string;
  /** Path of a known_hosts file on the connector. */
  known_hosts?: string;
  /** Name of the Flyte secret holding known_hosts entries. */
  known_hosts_secret?: string;
  /** Ignored by the connector unless its deployment sets FLYTE_SLURM_SKIP_HOST_KEY_VERIFICATION. Default: false. */
  skip_host_key_verification?: boolean;
}

const SBATCH_FIELDS = ["partition", "nodes", "ntasks", "cpus_per_task", "gres", "gpus_per_node", "mem", "time_limit", "account", "qos", "reservation", "constraint"] as const;

/** `custom` as flyte-sdk's `Slurm.to_custom_config` writes it (secrets are written by ConnectorTask). */
export function slurmCustomConfig(config: SlurmConfig): { custom: JsonObject; secrets: Record<string, string> } {
  const runtime = config.container_runtime ?? "pyxis";
  if (!(CONTAINER_RUNTIMES as readonly string[]).includes(runtime)) throw new TypeError(`Unknown container_runtime "${runtime}"; expected one of: ${CONTAINER_RUNTIMES.join(", ")}.`);
  const sbatch: JsonObject = {};
  for (const name of SBATCH_FIELDS) if (config[name] !== undefined) sbatch[name] = config[name];
  const connection: JsonObject = {};
  if (config.port !== undefined && config.port !== 22) connection["port"] = config.port;
  for (const name of ["host", "username", "known_hosts"] as const) if (config[name]) connection[name] = config[name];
  if (config.skip_host_key_verification) connection["skip_host_key_verification"] = true;
  // The same checks the connector makes, at declaration time.
  sbatchDirectives("flyte-check-00000000", "/o", "/e", sbatch, config.sbatch_options ?? {});
  moduleLines(config.modules ?? []);
  const custom: JsonObject = {
    connection,
    sbatch,
    sbatch_options: { ...config.sbatch_options },
    container: {
      runtime,
      args: [...(config.container_args ?? [])],
      image: config.container_image ?? null,
      mounts: [...(config.container_mounts ?? [])],
      workdir: config.container_workdir ?? null,
      srun_args: [...(config.srun_args ?? [])],
    },
    env: { ...config.env },
  };
  if (config.modules?.length) custom["modules"] = [...config.modules];
  if (config.working_dir) custom["working_dir"] = config.working_dir;
  const secrets: Record<string, string> = {};
  if (config.ssh_private_key) secrets["ssh_private_key"] = config.ssh_private_key;
  if (config.known_hosts_secret) secrets["known_hosts_data"] = config.known_hosts_secret;
  return { custom, secrets };
}

export interface SlurmTaskOptions<I extends TypeSpecs, O extends TypeSpecs> extends Pick<ConnectorTaskOptions<I, O>, "project" | "domain" | "version"> {
  name: string;
  inputs?: I;
  outputs?: O;
  /** Where and how the job runs. */
  slurm: SlurmConfig;
  /** The task's container image. */
  image: string;
  /** The command run in the container (the Flyte entrypoint and its arguments). */
  command: string[];
  /** Variables of the task's container. Default: none. */
  containerEnv?: Record<string, string>;
}

/**
 * A `slurm` task: a container image and command run on Slurm through Pyxis or Apptainer (flyte-sdk's
 * `SlurmFunctionTask`, whose command is its Flyte entrypoint).
 */
export class SlurmTask<I extends TypeSpecs = Record<never, never>, O extends TypeSpecs = Record<never, never>> extends ConnectorTask<I, O> {
  static readonly TASK_TYPE = TASK_TYPE_NATIVE;
  readonly #custom: JsonObject;
  readonly #container: { image: string; command: string[]; env: Record<string, string> };

  constructor({ slurm, image, command, containerEnv, ...options }: SlurmTaskOptions<I, O>) {
    const { custom, secrets } = slurmCustomConfig(slurm);
    super({ ...options, taskType: SlurmTask.TASK_TYPE, secrets });
    if (command.length === 0) throw new TypeError(`SlurmTask "${options.name}": command must not be empty.`);
    this.#custom = custom;
    this.#container = { image, command: [...command], env: { ...containerEnv } };
  }

  protected override customConfig(): JsonObject {
    return structuredClone(this.#custom);
  }

  override toTaskTemplate(): TaskTemplate {
    const template = super.toTaskTemplate();
    const { image, command, env } = this.#container;
    template.target = { case: "container", value: create(ContainerSchema, { image, args: command, env: Object.entries(env).map(([key, value]) => ({ key, value })) }) };
    return template;
  }
}

export interface SlurmScriptTaskOptions<I extends TypeSpecs, O extends TypeSpecs> extends Pick<ConnectorTaskOptions<I, O>, "project" | "domain" | "version"> {
  name: string;
  /** The sbatch script, as written: it reads inputs from FLYTE_INPUT_<NAME> and writes outputs to FLYTE_OUTPUT_<NAME>. */
  script: string;
  /** Scalar (int, float, string, bool) and File/Dir inputs. Default: none. */
  inputs?: I;
  /** File and Dir outputs only. Default: none. */
  outputs?: O;
  /** Who moves output bytes: "connector" (the script writes a local path) or "job" (it gets the URI). Default: "connector". */
  outputUpload?: "connector" | "job";
  slurm: SlurmConfig;
}

const sameType = (a: TypeSpec<unknown>, b: TypeSpec<unknown>) => JSON.stringify(a.literalType.type) === JSON.stringify(b.literalType.type);

/** A `slurm_script` task: an existing sbatch script run as a Flyte task (flyte-sdk's `SlurmScriptTask`). */
export class SlurmScriptTask<I extends TypeSpecs = Record<never, never>, O extends TypeSpecs = Record<never, never>> extends ConnectorTask<I, O> {
  static readonly TASK_TYPE = TASK_TYPE_SCRIPT;
  readonly #custom: JsonObject;

  constructor({ script, outputUpload = "connector", slurm, ...options }: SlurmScriptTaskOptions<I, O>) {
    const { custom, secrets } = slurmCustomConfig(slurm);
    super({ ...options, taskType: SlurmScriptTask.TASK_TYPE, secrets });
    if (outputUpload !== "connector" && outputUpload !== "job") throw new TypeError(`output_upload must be 'connector' or 'job', not '${String(outputUpload)}'`);
    const kinds: Record<string, string> = {};
    for (const [name, spec] of Object.entries(this.outputs)) {
      if (sameType(spec, types.file)) kinds[name] = "file";
      else if (sameType(spec, types.dir)) kinds[name] = "directory";
      else throw new TypeError(`Output "${name}" of "${this.name}": a script task can only produce File or Dir (anything else would have to be parsed out of stdout).`);
    }
    // A script writing to an undeclared $FLYTE_OUTPUT_X fails on the cluster (unbound variable) or writes nowhere.
    const expected = new Map(Object.keys(kinds).map((name) => [outputEnvName(name), name]));
    const unknown = [...new Set([...script.matchAll(OUTPUT_REFERENCE)].map((m) => m[1]!))].filter((name) => !expected.has(name)).sort();
    if (unknown.length > 0) {
      const declares = expected.size ? `declares ${[...expected].sort().map(([env, out]) => `${env} (from '${out}')`).join(", ")}` : "declares no outputs";
      throw new TypeError(`The script for "${this.name}" writes to ${unknown.map((u) => `$${u}`).join(", ")}, which this task does not declare -- it ${declares}.`);
    }
    this.#custom = { ...custom, script };
    if (Object.keys(kinds).length > 0) {
      this.#custom["outputs"] = kinds;
      this.#custom["output_upload"] = outputUpload;
    }
  }

  protected override customConfig(): JsonObject {
    return structuredClone(this.#custom);
  }
}
