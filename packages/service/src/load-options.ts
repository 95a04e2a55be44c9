import type { Command } from "commander";

/** The flags of {@link addLoadOptions}, as commander parses them. */
export interface LoadFlags {
  modules: string[];
  discover: boolean;
  builtins: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** The flags choosing which connectors a command loads, shared by `serve`, `list` and `run`. */
export function addLoadOptions(command: Command): Command {
  return command
    .option("--modules <module>", "module to load connectors from: a .ts/.js file path or a package name (repeatable)", collect, [])
    .option("--no-discover", 'do not load installed packages that declare "flyteConnectors" in their package.json')
    .option("--no-builtins", "do not serve the built-in echo and sleep connectors");
}
