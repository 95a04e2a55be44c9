import type { FunctionTaskClass } from "./function-task.js";

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
