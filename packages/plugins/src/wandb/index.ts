/**
 * Weights & Biases: links from each action to its W&B run or sweep, and the run-context settings they read,
 * compatible with flyte-sdk's `flyteplugins.wandb` (v2.6.5: `_link.py`, `_context.py`). The Python plugin's
 * `@wandb_init` / `@wandb_sweep` start runs with the `wandb` Python library; a TypeScript task logs to W&B
 * with whatever client it uses, under the run id {@link wandbRunId} gives, so the links point at it.
 */
import { pythonJsonDumps, type LinkContext, type Secret, type TaskLink } from "flyte-connectors";

/** How a task's W&B run relates to its parent's (Python's `run_mode`). */
export type WandbRunMode = "auto" | "new" | "shared";

const DEFAULT_HOST = "https://wandb.ai";
// Keys flyteplugins.wandb keeps in the run's custom context.
const PARENT_RUN_ID = "_wandb_run_id";
const SWEEP_ID = "_wandb_sweep_id";

/** The environment variable the `wandb` clients read the API key from. */
export const WANDB_API_KEY_ENV = "WANDB_API_KEY";

/**
 * The secret request that exposes a stored W&B API key as `WANDB_API_KEY`, as the Python plugin's examples
 * declare it (`flyte.Secret(key="wandb_api_key", as_env_var="WANDB_API_KEY")`).
 * @param key name of the secret in the secret store. Default: `"wandb_api_key"`.
 */
export function wandbApiKeySecret(key = "wandb_api_key"): Secret {
  return { key, asEnvVar: WANDB_API_KEY_ENV };
}

/**
 * The W&B run id of an action that starts its own run: `<run name>-<action name>`, as `@wandb_init` names it.
 * Use it as the `id` of the run the task creates so its {@link WandbLink} points at it.
 */
export function wandbRunId(context: Pick<LinkContext, "runName" | "actionName">): string {
  return `${context.runName}-${context.actionName}`;
}

/** What `new WandbLink(...)` takes. */
export interface WandbLinkOptions {
  /** W&B host. Default: the run context's `wandb_host`, else `"https://wandb.ai"`. */
  readonly host?: string;
  /** W&B project. Default: the run context's `wandb_project`. */
  readonly project?: string;
  /** W&B entity (team or user). Default: the run context's `wandb_entity`. */
  readonly entity?: string;
  /**
   * `"auto"`: the parent's run when there is one, else the action's own; `"new"`: always the action's own;
   * `"shared"`: always the parent's. Default: `"auto"`.
   */
  readonly runMode?: WandbRunMode;
  /** Run id to link to instead of the derived one. Default: the run context's `wandb_id`, else derived. */
  readonly id?: string;
  /** Label of the link. Default: `"Weights & Biases"`. */
  readonly name?: string;
}

/**
 * A link to an action's W&B run: `<host>/<entity>/<project>/runs/<id>` (Python's `flyteplugins.wandb.Wandb`
 * link). Without a project or entity it links to the host; in `"shared"` mode without a parent run, to the
 * project.
 */
export class WandbLink implements TaskLink {
  readonly name: string;
  readonly host: string | undefined;
  readonly project: string | undefined;
  readonly entity: string | undefined;
  readonly runMode: WandbRunMode;
  readonly id: string | undefined;

  constructor(options: WandbLinkOptions = {}) {
    this.name = options.name ?? "Weights & Biases";
    this.host = checkHost(options.host);
    this.project = options.project;
    this.entity = options.entity;
    this.runMode = options.runMode ?? "auto";
    if (!["auto", "new", "shared"].includes(this.runMode)) {
      throw new TypeError(`WandbLink: runMode must be "auto", "new" or "shared", got ${JSON.stringify(options.runMode)}`);
    }
    this.id = options.id;
    Object.freeze(this);
  }

  uri(context: LinkContext): string {
    const { host, project, entity, custom } = resolve(this, context);
    if (!project || !entity) return host;
    const ownId = this.id || custom["wandb_id"] || wandbRunId(context);
    const parentId = custom[PARENT_RUN_ID];
    let runId: string;
    if (this.runMode === "new") runId = ownId;
    else if (parentId) runId = parentId;
    else if (this.runMode === "shared") return `${host}/${entity}/${project}`;
    else runId = ownId;
    return `${host}/${entity}/${project}/runs/${runId}`;
  }
}

/** What `new WandbSweepLink(...)` takes. */
export interface WandbSweepLinkOptions {
  /** W&B host. Default: the run context's `wandb_host`, else `"https://wandb.ai"`. */
  readonly host?: string;
  /** W&B project. Default: the run context's `wandb_project`. */
  readonly project?: string;
  /** W&B entity. Default: the run context's `wandb_entity`. */
  readonly entity?: string;
  /** Sweep id. Default: the sweep id the run context carries (`_wandb_sweep_id`), else the project's sweep list. */
  readonly id?: string;
  /** Label of the link. Default: `"Weights & Biases Sweep"`. */
  readonly name?: string;
}

/** A link to a W&B sweep: `<host>/<entity>/<project>/sweeps/<id>` (Python's `WandbSweep` link). */
export class WandbSweepLink implements TaskLink {
  readonly name: string;
  readonly host: string | undefined;
  readonly project: string | undefined;
  readonly entity: string | undefined;
  readonly id: string | undefined;

  constructor(options: WandbSweepLinkOptions = {}) {
    this.name = options.name ?? "Weights & Biases Sweep";
    this.host = checkHost(options.host);
    this.project = options.project;
    this.entity = options.entity;
    this.id = options.id;
    Object.freeze(this);
  }

  uri(context: LinkContext): string {
    const { host, project, entity, custom } = resolve(this, context);
    if (!project || !entity) return host;
    const sweepId = this.id || custom[SWEEP_ID];
    return `${host}/${entity}/${project}/sweeps${sweepId ? `/${sweepId}` : ""}`;
  }
}

function checkHost(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw new TypeError(`W&B host must be a URL such as "https://wandb.ai", got ${JSON.stringify(host)}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new TypeError(`W&B host must be an http(s) URL, got ${JSON.stringify(host)}`);
  return host.replace(/\/+$/, "");
}

// The link's own settings win over the run context's, except the host, which the context overrides (as in Python).
function resolve(link: { host: string | undefined; project: string | undefined; entity: string | undefined }, context: LinkContext) {
  const custom: Readonly<Record<string, string | undefined>> = context.customContext ?? {};
  return {
    host: custom["wandb_host"] || link.host || DEFAULT_HOST,
    project: link.project || custom["wandb_project"],
    entity: link.entity || custom["wandb_entity"],
    custom,
  };
}

/** What {@link wandbConfig} takes: `wandb.init()` settings shared by a run's tasks. */
export interface WandbConfigOptions {
  /** W&B project. */
  readonly project?: string;
  /** W&B entity (team or user). */
  readonly entity?: string;
  /** W&B host, e.g. a self-hosted instance. Default: `"https://wandb.ai"`. */
  readonly host?: string;
  /** Run id. Default: derived per action (see {@link wandbRunId}). */
  readonly id?: string;
  /** Run display name. */
  readonly name?: string;
  /** Run tags. */
  readonly tags?: readonly string[];
  /** Hyperparameters (`wandb.config`). */
  readonly config?: Readonly<Record<string, unknown>>;
  /** `"online"`, `"offline"` or `"disabled"`. */
  readonly mode?: string;
  /** Group of related runs. */
  readonly group?: string;
  /** Whether tasks start their own run or share their parent's. Default: `"auto"`. */
  readonly runMode?: WandbRunMode;
  /** Which ranks log in distributed training (used by the Python plugin's `@wandb_init`). Default: `"global"`. */
  readonly rankScope?: "global" | "worker";
  /** Download the run's files after the task (Python `@wandb_init` only). Default: false. */
  readonly downloadLogs?: boolean;
  /** Other `wandb.init()` parameters (`notes`, `job_type`, `resume`, …). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/**
 * W&B settings as run-context entries (`wandb_project`, `wandb_entity`, …), exactly as Python's
 * `wandb_config(...)` writes them, for `runLocal(task, inputs, { customContext: wandbConfig({...}) })`.
 * Links and Python tasks of the run read them.
 */
export function wandbConfig(options: WandbConfigOptions = {}): Record<string, string> {
  return contextEntries("wandb", [
    ["project", options.project],
    ["entity", options.entity],
    ["host", options.host],
    ["id", options.id],
    ["name", options.name],
    ["tags", options.tags],
    ["config", options.config],
    ["mode", options.mode],
    ["group", options.group],
    ["run_mode", options.runMode ?? "auto"],
    ["rank_scope", options.rankScope ?? "global"],
    ["download_logs", options.downloadLogs ?? false],
    ["kwargs", options.extra && Object.keys(options.extra).length ? options.extra : undefined],
  ]);
}

/** What {@link wandbSweepConfig} takes: a W&B sweep definition. */
export interface WandbSweepConfigOptions {
  /** Search method: `"random"`, `"grid"` or `"bayes"`. */
  readonly method?: string;
  /** Metric to optimize, e.g. `{ name: "loss", goal: "minimize" }`. */
  readonly metric?: Readonly<Record<string, unknown>>;
  /** Parameter definitions. */
  readonly parameters?: Readonly<Record<string, unknown>>;
  /** W&B project of the sweep. */
  readonly project?: string;
  /** W&B entity of the sweep. */
  readonly entity?: string;
  /** Earlier run ids to include in the sweep. */
  readonly priorRuns?: readonly string[];
  /** Sweep name. */
  readonly name?: string;
  /** Download the sweep's files after the task (Python `@wandb_sweep` only). Default: false. */
  readonly downloadLogs?: boolean;
  /** Other sweep settings (`early_terminate`, `description`, `command`, …). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** Sweep settings as run-context entries (`wandb_sweep_method`, …), exactly as Python's `wandb_sweep_config(...)`. */
export function wandbSweepConfig(options: WandbSweepConfigOptions = {}): Record<string, string> {
  return contextEntries("wandb_sweep", [
    ["name", options.name],
    ["method", options.method],
    ["metric", options.metric],
    ["parameters", options.parameters],
    ["project", options.project],
    ["entity", options.entity],
    ["prior_runs", options.priorRuns],
    ["download_logs", options.downloadLogs ?? false],
    ["kwargs", options.extra && Object.keys(options.extra).length ? options.extra : undefined],
  ]);
}

/**
 * The sweep definition to create the sweep with (W&B's sweep config: `method`, `metric`, `parameters`,
 * `name` and the extra settings), as Python's `to_sweep_config()`.
 */
export function wandbSweepDefinition(options: WandbSweepConfigOptions): Record<string, unknown> {
  const definition: Record<string, unknown> = {};
  for (const key of ["name", "method", "metric", "parameters"] as const) {
    if (options[key] !== undefined) definition[key] = options[key];
  }
  Object.assign(definition, options.extra);
  return Object.fromEntries(Object.entries(definition).filter(([, v]) => v !== undefined && v !== null));
}

// Python's _to_dict_helper: lists, dicts and booleans as json.dumps text, other values as str(), None left out.
function contextEntries(prefix: string, fields: [string, unknown][]): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const [key, value] of fields) {
    if (value === undefined || value === null) continue;
    entries[`${prefix}_${key}`] = typeof value === "object" || typeof value === "boolean" ? pythonJsonDumps(value) : String(value);
  }
  return entries;
}
