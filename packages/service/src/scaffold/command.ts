import path from "node:path";
import type { Command } from "commander";
import { scaffoldConnector, ScaffoldError } from "./scaffold.js";

interface InitFlags {
  dir?: string;
  force?: boolean;
  taskType?: string;
}

/** Adds `flyte-connector init <name>`: scaffolds a connector package. */
export function registerInitCommand(program: Command): void {
  const init: Command = program
    .command("init <name>")
    .description("create a connector package (connector, task, test, Dockerfile) in ./<name without @scope/> (or --dir)")
    .option("--dir <dir>", "folder to create it in (default: ./<name without @scope/>)")
    .option("--force", "write into a non-empty folder, overwriting the generated files")
    .option("--task-type <type>", "task type the connector serves (default: from the name, snake_case)")
    .action(async (name: string, flags: InitFlags) => {
      let result;
      try {
        result = await scaffoldConnector({ name, ...flags });
      } catch (error) {
        if (error instanceof ScaffoldError) init.error(`error: ${error.message}`);
        throw error;
      }
      const rel = path.relative(process.cwd(), result.dir) || ".";
      process.stdout.write(
        `Created ${name} (task type ${result.taskType}) in ${rel}:\n${result.files.map((f) => `  ${f}`).join("\n")}\n\nNext:\n  cd ${rel}\n  npm install\n  npm test\n`,
      );
    });
}
