// Rendering of sbatch scripts: pure functions, so the generated text is unit-tested against the Python plugin's
// (flyte-sdk plugins/slurm script.py) without a cluster. Every value that reaches the shell is quoted here.
import { ConnectorError, pythonFloatRepr } from "flyte-connectors";

/** Container runtimes a `slurm` task can be launched with (Python: CONTAINER_RUNTIMES). */
export const CONTAINER_RUNTIMES = ["pyxis", "apptainer"] as const;
export type ContainerRuntime = (typeof CONTAINER_RUNTIMES)[number];

/** Options a task may not set through `sbatch_options`: they redirect files, change identity or what runs. */
export const RESERVED_SBATCH_OPTIONS: ReadonlySet<string> = new Set(["job-name", "output", "error", "chdir", "wrap", "uid", "gid"]);

/** First-class config fields (custom.sbatch) → sbatch option, in the order Python emits them. */
export const SBATCH_FIELDS: ReadonlyArray<readonly [field: string, option: string]> = [
  ["partition", "partition"],
  ["nodes", "nodes"],
  ["ntasks", "ntasks"],
  ["cpus_per_task", "cpus-per-task"],
  ["gres", "gres"],
  ["gpus_per_node", "gpus-per-node"],
  ["mem", "mem"],
  ["time_limit", "time"],
  ["account", "account"],
  ["qos", "qos"],
  ["reservation", "reservation"],
  ["constraint", "constraint"],
];

// Enroot resets PATH, so the entrypoint runs behind a shim re-deriving the venv's bin directory (as Python does);
// `exec "$@"` hands argv over untouched.
const PATH_SHIM = 'export PATH="${VIRTUAL_ENV:+$VIRTUAL_ENV/bin:}$PATH"; exec "$@"';
const SBATCH_KEY = /^[a-z][a-z0-9-]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const APPTAINER_SCHEMES = ["docker://", "oras://", "library://", "shub://", "docker-daemon://"];
/** Flags that already choose a GPU stack for Apptainer: with one of them the inferred `--nv` is left out. */
const APPTAINER_GPU_FLAGS = new Set(["--nv", "--rocm", "--nvccli"]);

function invalid(message: string): ConnectorError {
  return new ConnectorError("INVALID_ARGUMENT", message);
}

/** Python's `shlex.quote`: unchanged when only `[\w@%+=:,./-]` (ASCII), else single-quoted. */
export function shellQuote(value: string): string {
  if (value === "") return "''";
  if (!/[^A-Za-z0-9_@%+=:,./-]/.test(value)) return value;
  return `'${value.replace(/'/g, `'"'"'`)}'`;
}

/** Python's `shlex.join`. */
export function shellJoin(args: readonly string[]): string {
  return args.map(shellQuote).join(" ");
}

/**
 * Python's `str()` of a value read from a protobuf Struct (every number is a float there): `True`, `None`, `2.0`,
 * `0.1`, `1e-07`. Used where the Python plugin renders config values with `str()`.
 */
export function structScalarText(value: unknown): string {
  if (value === true) return "True";
  if (value === false) return "False";
  if (value === null || value === undefined) return "None";
  if (typeof value === "number") return pythonFloatRepr(value);
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "string") return value;
  throw invalid(`a list or object (${JSON.stringify(value).slice(0, 60)}) cannot be rendered as a shell or sbatch value`);
}

/** `FLYTE_<KIND>_<NAME>`: the name upper-cased with anything outside `[A-Za-z0-9_]` replaced by `_` (per code point). */
function envNameFor(prefix: string, name: string): string {
  return prefix + name.replace(/[^A-Za-z0-9_]/gu, "_").toUpperCase();
}

/** The variable a script task's input arrives in. */
export function inputEnvName(name: string): string {
  return envNameFor("FLYTE_INPUT_", name);
}

/** The variable a script task's declared output destination arrives in (Python: output_env_name). */
export function outputEnvName(name: string): string {
  return envNameFor("FLYTE_OUTPUT_", name);
}

/** `$FLYTE_OUTPUT_X` and `${FLYTE_OUTPUT_X…}` expansions in a script (a name built at run time does not match). */
export const OUTPUT_REFERENCE = /\$\{?(FLYTE_OUTPUT_[A-Za-z0-9_]+)/g;

/** An OCI reference in Enroot's `REGISTRY#IMAGE:TAG` form; local paths and `#` references unchanged. */
export function pyxisImageRef(image: string): string {
  if (image.startsWith("/") || image.startsWith("./") || image.includes("#")) return image;
  const ref = image.startsWith("docker://") ? image.slice("docker://".length) : image;
  const slash = ref.indexOf("/");
  if (slash < 0) return ref;
  const first = ref.slice(0, slash);
  // A registry host has a dot or a port, or is localhost; anything else is a Docker Hub namespace.
  if (first.includes(".") || first.includes(":") || first === "localhost") return `${first}#${ref.slice(slash + 1)}`;
  return ref;
}

/** An OCI reference as Apptainer takes it: a URI scheme (`docker://` added), local paths unchanged. */
export function apptainerImageRef(image: string): string {
  if (image.startsWith("/") || image.startsWith("./") || APPTAINER_SCHEMES.some((scheme) => image.startsWith(scheme))) return image;
  return `docker://${image}`;
}

function sbatchDirective(key: string, value: unknown): string {
  if (!SBATCH_KEY.test(key)) throw invalid(`Invalid sbatch option name: ${JSON.stringify(key)} (expected lower-case letters, digits and '-').`);
  if (value === true || value === null || value === undefined) return `#SBATCH --${key}`;
  // Integral numbers are ints: the Python connector converts Struct floats back with `_int_or_none`.
  const rendered = typeof value === "number" && Number.isInteger(value) ? String(value) : structScalarText(value);
  // A newline ends the #SBATCH comment (the rest would run as the SSH user); a space smuggles in a second option.
  if (/\s/u.test(rendered)) {
    throw invalid(`sbatch option ${JSON.stringify(key)} may not contain whitespace: ${JSON.stringify(rendered)}. A single value could otherwise smuggle in a second option, or end the directive.`);
  }
  return `#SBATCH --${key}=${rendered}`;
}

/**
 * The `#SBATCH` lines: job name, output, error, then the first-class fields, then `extra` (which wins on conflict,
 * keeping the first position of the option as a Python dict update does). Reserved options are refused.
 */
export function sbatchDirectives(jobName: string, stdoutPath: string, stderrPath: string, fields: Readonly<Record<string, unknown>>, extra: Readonly<Record<string, unknown>> = {}): string[] {
  const options = new Map<string, unknown>([
    ["job-name", jobName],
    ["output", stdoutPath],
    ["error", stderrPath],
  ]);
  for (const [field, flag] of SBATCH_FIELDS) {
    const value = fields[field];
    if (value !== undefined && value !== null) options.set(flag, value);
  }
  for (const [name, value] of Object.entries(extra)) {
    if (RESERVED_SBATCH_OPTIONS.has(name)) {
      throw invalid(`sbatch option ${JSON.stringify(name)} is set by the plugin and cannot be overridden from task config. Reserved: ${[...RESERVED_SBATCH_OPTIONS].sort().join(", ")}.`);
    }
    options.set(name, value);
  }
  return [...options].map(([key, value]) => sbatchDirective(key, value));
}

/** `export NAME=<quoted value>` lines, sorted by name (code point order, as Python's sorted). */
export function exportLines(env: Readonly<Record<string, string>>): string[] {
  return Object.keys(env)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((key) => {
      if (!ENV_NAME.test(key)) throw invalid(`Invalid environment variable name: ${JSON.stringify(key)}.`);
      return `export ${key}=${shellQuote(env[key]!)}`;
    });
}

/** `module load <name>` lines; names with whitespace are refused, and every name is quoted. */
export function moduleLines(modules: readonly string[]): string[] {
  return modules.map((name) => {
    if (typeof name !== "string" || name === "" || /\s/u.test(name)) {
      throw invalid(`Module name ${JSON.stringify(name)} may not be empty or contain whitespace.`);
    }
    return `module load ${shellQuote(name)}`;
  });
}

/** Whether the job asks for GPUs through `gres` or `gpus_per_node` (Apptainer then needs `--nv`). */
function requestsGpus(fields: Readonly<Record<string, unknown>>): boolean {
  const gres = fields["gres"];
  const gpus = fields["gpus_per_node"];
  return (typeof gres === "string" && /gpu/i.test(gres)) || (gpus !== undefined && gpus !== null && gpus !== false && gpus !== 0 && gpus !== "");
}

function containerInvocation(runtime: string, image: string, mounts: readonly string[], workdir: string | undefined, args: readonly string[], gpus: boolean): string[] {
  if (runtime === "pyxis") {
    const parts = [`--container-image=${pyxisImageRef(image)}`];
    if (mounts.length > 0) parts.push(`--container-mounts=${mounts.join(",")}`);
    if (workdir) parts.push(`--container-workdir=${workdir}`);
    parts.push(...args);
    return parts;
  }
  if (runtime === "apptainer") {
    const parts = ["apptainer", "exec"];
    if (gpus && !args.some((arg) => APPTAINER_GPU_FLAGS.has(arg))) parts.push("--nv");
    parts.push(...args);
    if (mounts.length > 0) parts.push("--bind", mounts.join(","));
    if (workdir) parts.push("--pwd", workdir);
    parts.push(apptainerImageRef(image));
    return parts;
  }
  throw invalid(`Unknown container_runtime ${JSON.stringify(runtime)}; expected one of: ${CONTAINER_RUNTIMES.join(", ")}.`);
}

export interface JobFiles {
  jobName: string;
  stdoutPath: string;
  stderrPath: string;
}

export interface ContainerJob extends JobFiles {
  image: string;
  /** The task's container command and args: its Flyte entrypoint. */
  command: readonly string[];
  env: Readonly<Record<string, string>>;
  sbatchFields: Readonly<Record<string, unknown>>;
  sbatchExtra?: Readonly<Record<string, unknown>>;
  /** Default: none. */
  containerMounts?: readonly string[];
  /** Default: the runtime's. */
  containerWorkdir?: string | undefined;
  /** Extra srun arguments, before the runtime. Default: none. */
  srunArgs?: readonly string[];
  /** Default: "pyxis". */
  containerRuntime?: string;
  /** Extra arguments of the runtime itself (e.g. `--rocm`). Default: none. */
  containerArgs?: readonly string[];
  /** Environment modules loaded before srun. Default: none. */
  modules?: readonly string[];
}

/** The sbatch script of a `slurm` task: its image and entrypoint through Pyxis or Apptainer, pinned to one task. */
export function renderContainerJob(job: ContainerJob): string {
  if (job.command.length === 0) throw invalid("A container job needs a non-empty command (the task template's container has no command or args).");
  const fields = job.sbatchFields;
  // One process: without the pin, nodes=2 would start the entrypoint once per node, all writing one output prefix.
  const srun = ["srun", "--nodes=1", "--ntasks=1", ...(job.srunArgs ?? [])];
  srun.push(...containerInvocation(job.containerRuntime ?? "pyxis", job.image, job.containerMounts ?? [], job.containerWorkdir, job.containerArgs ?? [], requestsGpus(fields)));
  srun.push("bash", "-c", PATH_SHIM, "--", ...job.command);
  return [
    "#!/bin/bash",
    ...sbatchDirectives(job.jobName, job.stdoutPath, job.stderrPath, fields, job.sbatchExtra),
    "",
    "set -euo pipefail",
    ...exportLines(job.env),
    ...moduleLines(job.modules ?? []),
    "",
    shellJoin(srun),
    "",
  ].join("\n");
}

/**
 * A user script's leading `#SBATCH` block (the directives sbatch would honour: before the first executable line)
 * and the rest; the shebang is dropped.
 */
export function splitLeadingDirectives(script: string): { directives: string[]; body: string } {
  let lines = splitLines(script);
  if (lines[0]?.startsWith("#!")) lines = lines.slice(1);
  const directives: string[] = [];
  for (let index = 0; index < lines.length; index++) {
    const stripped = lines[index]!.trim();
    if (stripped.startsWith("#SBATCH")) {
      directives.push(stripped);
      continue;
    }
    if (!stripped || stripped.startsWith("#")) continue; // blank lines and comments do not end the block
    return { directives, body: lines.slice(index).join("\n") };
  }
  return { directives, body: "" };
}

/** Python's `str.splitlines()` (no trailing empty line; \r\n, \r and the Unicode separators split). */
function splitLines(text: string): string[] {
  const lines = text.split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

export interface ScriptJob extends JobFiles {
  script: string;
  env: Readonly<Record<string, string>>;
  sbatchFields: Readonly<Record<string, unknown>>;
  sbatchExtra?: Readonly<Record<string, unknown>>;
  /** Environment modules loaded before the script body. Default: none. */
  modules?: readonly string[];
}

/**
 * The sbatch script of a `slurm_script` task: the user's leading directives, then ours (the last occurrence wins
 * in sbatch), the exports, then the user's script as written.
 */
export function renderScriptJob(job: ScriptJob): string {
  const { directives, body } = splitLeadingDirectives(job.script);
  const text = body && !body.endsWith("\n") ? `${body}\n` : body;
  return [
    "#!/bin/bash",
    ...directives,
    ...sbatchDirectives(job.jobName, job.stdoutPath, job.stderrPath, job.sbatchFields, job.sbatchExtra),
    "",
    ...exportLines(job.env),
    ...moduleLines(job.modules ?? []),
    "",
    text,
  ].join("\n");
}
