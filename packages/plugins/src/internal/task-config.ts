/** The plugin config of a plugin task, checked to be of the class the task class was registered for. */
export function configOf<C extends object>(task: { readonly name: string; readonly pluginConfig: object | undefined }, type: abstract new (...args: never[]) => C): C {
  if (!(task.pluginConfig instanceof type)) {
    const got = task.pluginConfig === undefined ? "none" : (task.pluginConfig.constructor?.name ?? typeof task.pluginConfig);
    throw new TypeError(`Task "${task.name}" needs a pluginConfig of class ${type.name}, got ${got}.`);
  }
  return task.pluginConfig;
}
