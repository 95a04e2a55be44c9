import type { TypeSpecs } from "../task/index.js";
import { FunctionTask, TaskPluginRegistry, type FunctionTaskClass, type ImageRef, type TaskFunction, type TaskSettings } from "./function-task.js";
import type { Resources } from "./resources.js";
import type { SecretRequest } from "./secrets.js";

/** What `new TaskEnvironment(...)` takes. */
export interface TaskEnvironmentOptions {
  /** Name of the environment; task names are `<name>.<task name>`. snake_case or kebab-case (`hello_world`), as in flyte-sdk. */
  name: string;
  /** Container image of its tasks. Default: none. */
  image?: ImageRef;
  /** Compute resources of its tasks. Default: none. */
  resources?: Resources;
  /** Environment variables of its tasks' containers. Default: none. */
  env?: Readonly<Record<string, string>>;
  /** Secrets its tasks need. Default: none. */
  secrets?: SecretRequest;
  /** Plugin configuration of its tasks (e.g. `new Dask({...})`), which selects their task class. Default: none. */
  pluginConfig?: object;
  /** Its tasks may run on interruptible (spot) nodes unless a task says otherwise. Default: false. */
  interruptible?: boolean;
  /** Where task classes for plugin configs are found. Default: `TaskPluginRegistry.default`. */
  plugins?: TaskPluginRegistry;
}

/** What `env.task(...)` takes besides the function: the task's name and interface, and settings overriding the environment's. */
export interface TaskDeclaration<I extends TypeSpecs, O extends TypeSpecs> extends TaskSettings {
  /** Task name within the environment (Python's function name). */
  name: string;
  /** Name shown in the UI. Default: `name`. */
  shortName?: string;
  /** Input names and types. Default: no inputs. */
  inputs?: I;
  /** Output names and types. Default: no outputs. */
  outputs?: O;
}

// flyte-sdk's Environment._validate_name: lower-case words joined by single "_" or "-".
const ENVIRONMENT_NAME = /^[a-z0-9]+([_-][a-z0-9]+)*$/;

/**
 * A group of tasks sharing an image, resources, environment variables, secrets and plugin configuration
 * (Python's `flyte.TaskEnvironment`).
 *
 * ```ts
 * const env = new TaskEnvironment({ name: "hello_world", resources: { memory: "250Mi" } });
 * const dataPrep = env.task({ name: "data_prep", outputs: { uri: types.string } }, async () => ({ uri: "gs://b/d.csv" }));
 * ```
 */
export class TaskEnvironment {
  readonly name: string;
  readonly image: ImageRef | undefined;
  readonly resources: Resources | undefined;
  readonly env: Readonly<Record<string, string>>;
  readonly secrets: SecretRequest | undefined;
  readonly pluginConfig: object | undefined;
  readonly interruptible: boolean;
  readonly plugins: TaskPluginRegistry;
  readonly #tasks = new Map<string, FunctionTask<TypeSpecs, TypeSpecs>>();
  readonly #taskClass: FunctionTaskClass;

  constructor(options: TaskEnvironmentOptions) {
    if (!options?.name || !ENVIRONMENT_NAME.test(options.name)) {
      throw new TypeError(`A TaskEnvironment needs a snake_case or kebab-case name (e.g. "hello_world"), got ${JSON.stringify(options?.name)}.`);
    }
    this.name = options.name;
    this.image = options.image;
    this.resources = options.resources;
    this.env = { ...options.env };
    this.secrets = options.secrets;
    this.pluginConfig = options.pluginConfig;
    this.interruptible = options.interruptible ?? false;
    this.plugins = options.plugins ?? TaskPluginRegistry.default;
    // Fail at declaration, naming the config class, rather than at the first task.
    this.#taskClass = this.#classFor(options.pluginConfig);
  }

  /** The tasks declared in this environment, by task name. */
  get tasks(): ReadonlyMap<string, FunctionTask<TypeSpecs, TypeSpecs>> {
    return this.#tasks;
  }

  /**
   * Declares a task in this environment (Python's `@env.task`). Its settings default to the environment's;
   * its class is the one registered for its plugin config (FunctionTask when there is none).
   * @throws TypeError when the name is taken or the plugin config's class is not registered.
   */
  task<I extends TypeSpecs = Record<never, never>, O extends TypeSpecs = Record<never, never>>(
    declaration: TaskDeclaration<I, O>,
    fn: TaskFunction<I, O>,
  ): FunctionTask<I, O> {
    const { name, ...settings } = declaration;
    if (!name) throw new TypeError(`env.task in environment "${this.name}" needs a name.`);
    const fullName = `${this.name}.${name}`;
    if (this.#tasks.has(fullName)) throw new TypeError(`Environment "${this.name}" already has a task named "${name}".`);
    // As in override: a setting left undefined keeps the environment's.
    const given = Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined)) as typeof settings;
    const TaskClass = given.pluginConfig !== undefined ? this.#classFor(given.pluginConfig) : this.#taskClass;
    const task = new TaskClass({
      image: this.image,
      resources: this.resources,
      env: this.env,
      secrets: this.secrets,
      pluginConfig: this.pluginConfig,
      interruptible: this.interruptible,
      ...given,
      name: fullName,
      shortName: declaration.shortName ?? name,
      environmentName: this.name,
      plugins: this.plugins,
      fn,
    }) as FunctionTask<I, O>;
    this.#tasks.set(fullName, task as unknown as FunctionTask<TypeSpecs, TypeSpecs>);
    return task;
  }

  #classFor(pluginConfig: object | undefined): FunctionTaskClass {
    return pluginConfig === undefined ? FunctionTask : this.plugins.find(pluginConfig);
  }
}

