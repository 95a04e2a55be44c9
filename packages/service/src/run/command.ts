import { existsSync } from "node:fs";
import path from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import {
  ActionFailedError,
  ConnectorRegistry,
  ConnectorTask,
  FunctionTask,
  runLocal,
  type Connector,
  type RunnableTask,
  type TypeSpecs,
} from "flyte-connectors";
import { addLoadOptions, type LoadFlags } from "../load-options.js";
import { connectorsOf, importModule, loadConnectors as loadServedConnectors, type LoadFailure } from "../loader.js";
import { InputError, outputsToJson, parseInputs } from "./inputs.js";

interface RunFlags extends LoadFlags {
  quiet?: boolean;
  pollInterval: number;
}

function milliseconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("--poll-interval must be a whole number of milliseconds >= 0.");
  return n;
}

/** Adds `flyte-connector run <file> <task> --<input> <value>…`: runs a task locally. */
export function registerRunCommand(program: Command): void {
  addLoadOptions(program.command("run"))
    .description("run a task of a .ts/.js file locally (the counterpart of `flyte run`) and print its outputs as JSON")
    .argument("<file>", "module that exports the task (.ts or .js)")
    .argument("[task]", "the task: its export name, its name (<environment>.<task>) or its short name (none: list the file's tasks)")
    .argument("[inputs...]", "the task's inputs: --<input> <value> … (after `--` if an input is named like an option below)")
    .option("--poll-interval <ms>", "milliseconds between two polls of a connector job", milliseconds, 3000)
    .option("--quiet", "do not write the actions' phases and log links to stderr")
    .allowUnknownOption()
    .allowExcessArguments()
    .addHelpText(
      "after",
      `
Inputs are parsed by their declared types: int, float, string, boolean (--flag, --no-flag or --flag true|false),
datetime (ISO 8601), duration (90s, 1h30m, PT1H or seconds), JSON for lists, maps, structs and dataclasses (or
the path of a .json file), a local path or URI for files and dirs. Optional inputs default to null.
Connectors for connector tasks: the built-ins, installed packages declaring "flyteConnectors", --modules, and
the file's own default export when it is a connector or a list of connectors.
Exit code: 0 when the task succeeds, 1 otherwise.

Example:
  flyte-connector run workflow.ts train_model --modules ./connectors.ts --epochs 3`,
    )
    .action(async (file: string, taskName: string | undefined, inputArgs: string[], flags: RunFlags) => {
      if (taskName === undefined) {
        process.exitCode = await listTasks(file);
        return;
      }
      const code = await run(file, taskName, inputArgs, flags);
      process.exitCode = code;
      // Stray handles in user code (an open socket, a timer) must not keep a finished run alive.
      setTimeout(() => process.exit(code), 200).unref();
    });
}

async function run(file: string, taskName: string, inputArgs: string[], flags: RunFlags): Promise<number> {
  const cwd = process.cwd();
  const say = (text: string) => process.stderr.write(`flyte-connector run: ${text}\n`);
  try {
    const module = await importFile(file, cwd);
    const task = findTask(module, taskName, file);
    const inputs = parseInputs(inputArgs, task.inputs, task.name, cwd);
    const { registry, failures } = await connectorsForRun(module, file, flags, cwd);
    for (const failure of failures) say(`skipped ${failure.source}: ${failure.error}`);
    const controller = new AbortController();
    const onSigint = () => controller.abort(new Error("interrupted (SIGINT)"));
    process.once("SIGINT", onSigint);
    try {
      const outputs = await runLocal(task, inputs as never, {
        registry,
        pollInterval: flags.pollInterval,
        quiet: flags.quiet ?? false,
        signal: controller.signal,
        handleSigint: false,
      });
      process.stdout.write(`${outputsToJson(outputs as Record<string, unknown>)}\n`);
      return 0;
    } finally {
      process.off("SIGINT", onSigint);
    }
  } catch (error) {
    if (error instanceof ActionFailedError) say(`${error.message}`);
    else if (error instanceof InputError || error instanceof TaskLookupError) say(error.message);
    else say(error instanceof Error ? (error.stack ?? error.message) : String(error));
    return 1;
  }
}

class TaskLookupError extends Error {}

/** `run <file>` without a task: the tasks the file exports, one per line, to stdout. */
async function listTasks(file: string): Promise<number> {
  try {
    const tasks = exportedTasks(await importFile(file, process.cwd()));
    if (tasks.length === 0) {
      process.stderr.write(`flyte-connector run: ${file} exports no task (export them, e.g. \`export const train = env.task(...)\`)\n`);
      return 1;
    }
    process.stdout.write(`Tasks exported by ${file} (run one with: flyte-connector run ${file} <task> --<input> <value>):\n${taskListing(tasks)}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`flyte-connector run: ${error instanceof TaskLookupError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

function exportedTasks(module: Record<string, unknown>): Array<[string, AnyTask]> {
  return Object.entries(module).filter((entry): entry is [string, AnyTask] => isTask(entry[1]));
}

function taskListing(tasks: ReadonlyArray<[string, AnyTask]>): string {
  return tasks.map(([exportName, task]) => `  ${exportName} (${task.name})`).join("\n");
}

/** Imports the user's file (TypeScript through tsx, as --modules). */
async function importFile(file: string, cwd: string): Promise<Record<string, unknown>> {
  if (!existsSync(path.resolve(cwd, file))) throw new TaskLookupError(`no such file: ${file}`);
  return importModule(path.resolve(cwd, file), cwd);
}

type AnyTask = RunnableTask<TypeSpecs, TypeSpecs>;

function isTask(value: unknown): value is AnyTask {
  return value instanceof FunctionTask || value instanceof ConnectorTask;
}

/** The exported task named `wanted` by export name, task name or short name. */
function findTask(module: Record<string, unknown>, wanted: string, file: string): AnyTask {
  const tasks = exportedTasks(module);
  const matches = new Set<AnyTask>();
  for (const [exportName, task] of tasks) {
    if (exportName === wanted || task.name === wanted || (task instanceof FunctionTask && task.shortName === wanted)) matches.add(task);
  }
  if (matches.size === 1) return [...matches][0]!;
  const listing = tasks.length
    ? taskListing(tasks)
    : "  (none: export the tasks, e.g. `export const train = env.task(...)`)";
  if (matches.size > 1) throw new TaskLookupError(`"${wanted}" names several tasks in ${file}; use the export name. Tasks exported:\n${listing}`);
  throw new TaskLookupError(`no task "${wanted}" is exported by ${file}. Tasks exported:\n${listing}`);
}

/** Built-ins, --modules, discovered packages (as `serve` loads them) and the file's own connectors. */
async function connectorsForRun(
  module: Record<string, unknown>,
  file: string,
  flags: RunFlags,
  cwd: string,
): Promise<{ registry: ConnectorRegistry; failures: LoadFailure[] }> {
  const registry = new ConnectorRegistry();
  const { failed: failures } = await loadServedConnectors(registry, { builtins: flags.builtins, modules: flags.modules, discover: flags.discover, cwd });
  const add = (connectors: readonly Connector[], source: string) => {
    for (const connector of connectors) {
      try {
        registry.register(connector);
      } catch (error) {
        failures.push({ source, error: error instanceof Error ? error.message : String(error) });
      }
    }
  };
  // The file's default export, when it is connectors (a module with tasks and their connectors side by side).
  // Those already loaded (the same file given to --modules, say) are not loaded twice.
  if (module.default !== undefined) {
    let own: Connector[] = [];
    try {
      own = connectorsOf(module, file);
    } catch {
      // Not connectors: nothing to add.
    }
    const loaded = new Set(registry.list().map((c) => `${c.taskTypeName}@${c.taskTypeVersion ?? 0}`));
    add(own.filter((c) => !loaded.has(`${c.taskTypeName}@${c.taskTypeVersion ?? 0}`)), file);
  }
  return { registry, failures };
}

