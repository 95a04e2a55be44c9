import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { create, type JsonObject } from "@bufbuild/protobuf";
import { ResourceType } from "@flyte-connectors/flyteidl2/flyteidl2/core/identifier_pb.js";
import {
  ContainerSchema,
  RuntimeMetadata_RuntimeType,
  TaskTemplateSchema,
  type Container,
  type TaskTemplate,
} from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { TaskSpecSchema, type TaskSpec } from "@flyte-connectors/flyteidl2/flyteidl2/task/task_definition_pb.js";
import type { TypeSpecs } from "../task/index.js";
import { variableMap, type InferShape } from "../types/index.js";
import type { TaskLink } from "./links.js";
import { extendedResourcesToProto, resourcesToProto, type Resources } from "./resources.js";
import { securityContextOf, type SecretRequest } from "./secrets.js";

// Both src/environment/*.ts and dist/environment/*.js sit two levels below the package root.
const SDK_VERSION = (createRequire(import.meta.url)("../../package.json") as { version: string }).version;

/** A container image: its URI, or any object with a `uri` (such as an `Image`). */
export type ImageRef = string | { readonly uri: string };

/** The body of a function task: takes the declared inputs, returns the declared outputs. */
export type TaskFunction<I extends TypeSpecs, O extends TypeSpecs> = (inputs: InferShape<I>) => Promise<InferShape<O>> | InferShape<O>;

/**
 * Settings a task can set over its environment's, and `task.override` over the task's. The image is not
 * among them: as in flyte-sdk, all tasks of an environment share its image.
 */
export interface TaskSettings {
  /** Compute resources. Default: none (the backend's defaults). */
  resources?: Resources;
  /** Environment variables of the task's container (local runs do not set them). Default: none. */
  env?: Readonly<Record<string, string>>;
  /** Secrets the task needs at run time. Default: none. */
  secrets?: SecretRequest;
  /** Plugin configuration, e.g. `new Dask({...})`: selects the task class (see {@link TaskPluginRegistry}). Default: none. */
  pluginConfig?: object;
  /** Links shown with each action of the task. Default: none. */
  links?: readonly TaskLink[];
  /** Retries on failure (remote runs; local runs do not retry). Default: 0. */
  retries?: number;
  /** Longest run time in seconds (remote runs). Default: none. */
  timeout?: number;
  /** May run on interruptible (spot) nodes. Default: false. */
  interruptible?: boolean;
}

/** What `new FunctionTask(...)` (and every plugin task class) takes; `env.task` fills most of it. */
export interface FunctionTaskOptions<I extends TypeSpecs, O extends TypeSpecs> extends TaskSettings {
  /** Container image. Default: none (the container's image is left empty; see the README). */
  image?: ImageRef;
  /** Task name, the `name` of the template id; `env.task` makes it `<environment>.<name>` as Python does. */
  name: string;
  /** Name shown in the UI. Default: `name`. */
  shortName?: string;
  /** Name of the environment the task belongs to. Default: none. */
  environmentName?: string;
  /** Input names and types. Default: no inputs. */
  inputs?: I;
  /** Output names and types. Default: no outputs. */
  outputs?: O;
  /** The task's body. */
  fn: TaskFunction<I, O>;
  /** Where `override({ pluginConfig })` looks up the task class. Default: `TaskPluginRegistry.default`. */
  plugins?: TaskPluginRegistry;
}

/** Where a task template is registered: its id fields and the paths its container reads and writes. */
export interface SerializationContext {
  /** Default: "local". */
  project?: string;
  /** Default: "development". */
  domain?: string;
  /** Default: "". */
  org?: string;
  /** Version of the task id (and the container's `--version`). Default: "local". */
  version?: string;
  /** Input path template. Default: "{{.input}}" (filled in by the backend). */
  inputPath?: string;
  /** Output prefix template. Default: "{{.outputPrefix}}" (filled in by the backend). */
  outputPath?: string;
}

/** The constructor type of FunctionTask and its plugin subclasses. */
// `any` here: a plugin class may fix its own input and output specs, so no single generic signature fits all.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type FunctionTaskClass = new (options: FunctionTaskOptions<any, any>) => FunctionTask<any, any>;

/**
 * A task whose body is a TypeScript function, declared with `env.task(...)` (Python's `@env.task`). Plugins
 * subclass it to change the task type and `custom` config:
 *
 * ```ts
 * class DaskTask extends FunctionTask<TypeSpecs, TypeSpecs> {
 *   override get taskType() { return "dask"; }
 *   protected override customConfig() { return toJson(DaskJobSchema, ...) as JsonObject; }
 * }
 * TaskPluginRegistry.default.register(Dask, DaskTask);
 * ```
 */
export class FunctionTask<I extends TypeSpecs = Record<never, never>, O extends TypeSpecs = Record<never, never>> {
  readonly name: string;
  readonly shortName: string;
  readonly environmentName: string | undefined;
  readonly inputs: I;
  readonly outputs: O;
  readonly image: ImageRef | undefined;
  readonly resources: Resources | undefined;
  readonly env: Readonly<Record<string, string>>;
  readonly secrets: SecretRequest | undefined;
  readonly pluginConfig: object | undefined;
  readonly links: readonly TaskLink[];
  readonly retries: number;
  readonly timeout: number | undefined;
  readonly interruptible: boolean;
  readonly #options: FunctionTaskOptions<I, O>;

  constructor(options: FunctionTaskOptions<I, O>) {
    if (!options || !options.name) throw new TypeError("A task needs a name.");
    if (typeof options.fn !== "function") throw new TypeError(`Task "${options.name}" needs a function (fn).`);
    const retries = options.retries ?? 0;
    if (!Number.isInteger(retries) || retries < 0) throw new TypeError(`Task "${options.name}": retries must be a whole number >= 0, got ${retries}.`);
    if (options.timeout !== undefined && !(options.timeout > 0)) {
      throw new TypeError(`Task "${options.name}": timeout must be a number of seconds > 0, got ${options.timeout}.`);
    }
    this.#options = options;
    this.name = options.name;
    this.shortName = options.shortName ?? options.name;
    this.environmentName = options.environmentName;
    this.inputs = options.inputs ?? ({} as I);
    this.outputs = options.outputs ?? ({} as O);
    this.image = options.image;
    this.resources = options.resources;
    this.env = { ...options.env };
    this.secrets = options.secrets;
    this.pluginConfig = options.pluginConfig;
    this.links = [...(options.links ?? [])];
    this.retries = retries;
    this.timeout = options.timeout;
    this.interruptible = options.interruptible ?? false;
  }

  /** `TaskTemplate.type`: "python" for a plain task (as flyte-sdk's `@env.task`); plugin classes override it. */
  get taskType(): string {
    return "python";
  }

  /** `TaskTemplate.task_type_version`. Default: 0; plugin classes override it. */
  get taskTypeVersion(): number {
    return 0;
  }

  /** The task's body. */
  get fn(): TaskFunction<I, O> {
    return this.#options.fn;
  }

  /** `TaskTemplate.custom`, usually derived from {@link pluginConfig}. Default: none. */
  protected customConfig(): JsonObject | undefined {
    return undefined;
  }

  /**
   * The container's args: how the runtime in the image loads and runs this task. The same template
   * variables as flyte-sdk's `a0` entrypoint, with a TypeScript entrypoint in its place (see the README).
   */
  protected containerArgs(context: Required<SerializationContext>): string[] {
    return [
      "flyte-connector",
      "execute",
      "--inputs",
      context.inputPath,
      "--outputs-path",
      context.outputPath,
      "--version",
      context.version,
      "--raw-data-path",
      "{{.rawOutputDataPrefix}}",
      "--checkpoint-path",
      "{{.checkpointOutputPrefix}}",
      "--prev-checkpoint",
      "{{.prevCheckpointPrefix}}",
      "--run-name",
      "{{.runName}}",
      "--name",
      "{{.actionName}}",
      "--run-start-time",
      "{{.runStartTime}}",
      "--task",
      this.name,
    ];
  }

  /**
   * A copy of this task with some settings replaced (Python's `task.override`); settings left undefined keep
   * the task's. A `pluginConfig` makes the copy an instance of the task class registered for it; `null`
   * removes the plugin config, making the copy a plain FunctionTask.
   * @throws TypeError naming the config's class when none is registered.
   */
  override(settings: Omit<TaskSettings, "pluginConfig"> & { shortName?: string; pluginConfig?: object | null }): FunctionTask<I, O> {
    const { pluginConfig, ...rest } = settings;
    const given = Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined)) as TaskSettings;
    const options: FunctionTaskOptions<I, O> = { ...this.#options, ...given };
    let TaskClass = this.constructor as FunctionTaskClass;
    if (pluginConfig === null) {
      delete options.pluginConfig;
      TaskClass = FunctionTask;
    } else if (pluginConfig !== undefined) {
      options.pluginConfig = pluginConfig;
      TaskClass = (options.plugins ?? TaskPluginRegistry.default).find(pluginConfig);
    }
    return new TaskClass(options) as FunctionTask<I, O>;
  }

  /**
   * The flyteidl2 `task.TaskSpec` flyte-sdk deploys (`translate_task_to_wire`): the template, the short name
   * and the environment's name (both cut to 63 characters, as flyte-sdk does).
   */
  toTaskSpec(context: SerializationContext = {}): TaskSpec {
    return create(TaskSpecSchema, {
      taskTemplate: this.toTaskTemplate(context),
      shortName: this.shortName.slice(0, 63),
      ...(this.environmentName !== undefined ? { environment: { name: this.environmentName.slice(0, 63) } } : {}),
    });
  }

  /** The flyteidl2 `core.TaskTemplate` of this task, as flyte-sdk's `get_proto_task` builds it. */
  toTaskTemplate(context: SerializationContext = {}): TaskTemplate {
    const ctx: Required<SerializationContext> = {
      project: context.project ?? "local",
      domain: context.domain ?? "development",
      org: context.org ?? "",
      version: context.version ?? "local",
      inputPath: context.inputPath ?? "{{.input}}",
      outputPath: context.outputPath ?? "{{.outputPrefix}}",
    };
    const custom = this.customConfig();
    const imageUri = this.image === undefined ? undefined : typeof this.image === "string" ? this.image : this.image.uri;
    const securityContext = securityContextOf(this.secrets);
    const extendedResources = extendedResourcesToProto(this.resources);
    return create(TaskTemplateSchema, {
      id: { resourceType: ResourceType.TASK, project: ctx.project, domain: ctx.domain, org: ctx.org, name: this.name, version: ctx.version },
      type: this.taskType,
      taskTypeVersion: this.taskTypeVersion,
      metadata: {
        discoverable: false,
        discoveryVersion: this.#codeVersion(imageUri),
        cacheSerializable: false,
        runtime: { type: RuntimeMetadata_RuntimeType.FLYTE_SDK, version: SDK_VERSION, flavor: "typescript" },
        retries: { retries: this.retries },
        ...(this.timeout !== undefined ? { timeout: secondsToDuration(this.timeout) } : {}),
        interruptibleValue: { case: "interruptible", value: this.interruptible },
        generatesDeck: false,
        debuggable: false,
        isEntrypoint: false,
      },
      interface: { inputs: variableMap(this.inputs), outputs: variableMap(this.outputs) },
      // Unset rather than {} when there is nothing, as Python leaves it for an empty custom_config.
      ...(custom && Object.keys(custom).length > 0 ? { custom } : {}),
      target: { case: "container", value: this.#container(ctx, imageUri) },
      ...(securityContext ? { securityContext } : {}),
      ...(extendedResources ? { extendedResources } : {}),
    });
  }

  #container(ctx: Required<SerializationContext>, imageUri: string | undefined): Container {
    const resources = resourcesToProto(this.resources);
    return create(ContainerSchema, {
      image: imageUri ?? "",
      command: [],
      args: this.containerArgs(ctx),
      ...(resources ? { resources } : {}),
      env: Object.entries(this.env).map(([key, value]) => ({ key, value })),
    });
  }

  /** Identifies the task's code and image (Python's cache version under the "auto" policy, from the function source). */
  #codeVersion(imageUri: string | undefined): string {
    return createHash("sha256")
      .update(this.#options.fn.toString())
      .update("\0")
      .update(imageUri ?? "")
      .digest("hex");
  }
}

function secondsToDuration(seconds: number): { seconds: bigint; nanos: number } {
  const whole = Math.floor(seconds);
  return { seconds: BigInt(whole), nanos: Math.round((seconds - whole) * 1e9) };
}

// The registry lives with the task classes it maps to (one module, no import cycle).
/** A class of plugin configs, e.g. `Dask`. */
export type PluginConfigClass = abstract new (...args: never[]) => object;

function className(type: Function): string {
  return type.name || "<anonymous class>";
}

/**
 * Maps plugin config classes to the task classes that run them (Python's `flyte.extend.TaskPluginRegistry`).
 * A task declared with `pluginConfig: new Dask(...)` is built by the task class registered for `Dask`.
 *
 * ```ts
 * TaskPluginRegistry.default.register(Dask, DaskTask);
 * ```
 */
export class TaskPluginRegistry {
  /** The registry environments use unless given another; plugins register themselves here on import. */
  static readonly default: TaskPluginRegistry = new TaskPluginRegistry();

  readonly #plugins = new Map<Function, FunctionTaskClass>();

  /** Registers `taskClass` for configs of `configType`; registering a type again replaces its task class. */
  register(configType: PluginConfigClass, taskClass: FunctionTaskClass): void {
    if (typeof configType !== "function") throw new TypeError("TaskPluginRegistry.register: configType must be a class.");
    if (typeof taskClass !== "function") {
      throw new TypeError(`TaskPluginRegistry.register(${className(configType)}): taskClass must be a FunctionTask subclass.`);
    }
    this.#plugins.set(configType, taskClass);
  }

  /**
   * The task class for a config: the one registered for its class, or else for the nearest registered base
   * class.
   * @throws TypeError naming the config's class when none is registered.
   */
  find(config: object): FunctionTaskClass {
    if (typeof config !== "object" || config === null) {
      throw new TypeError(`A plugin config must be an instance of a registered config class, got ${config === null ? "null" : typeof config}.`);
    }
    for (let proto: unknown = Object.getPrototypeOf(config); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
      const found = this.#plugins.get((proto as { constructor: Function }).constructor);
      if (found) return found;
    }
    const type = (config as { constructor?: Function }).constructor;
    if (!type || type === Object) {
      throw new TypeError(
        "A plugin config must be an instance of a registered config class (e.g. `new Dask({...})`), not a plain object.",
      );
    }
    const known = [...this.#plugins.keys()].map(className);
    throw new TypeError(
      `No task plugin is registered for plugin config type ${className(type)}. Import the plugin that provides it, or ` +
        `register one with TaskPluginRegistry.default.register(${className(type)}, SomeTask)` +
        `${known.length ? ` (registered: ${known.join(", ")})` : ""}.`,
    );
  }
}
