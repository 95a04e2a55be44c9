#!/usr/bin/env node
// Launcher of the `flyte-connector` CLI: runs the compiled CLI (build first: `npm run build`).
import { main } from "../dist/cli.js";

main(process.argv).catch((error) => {
  process.stderr.write(`flyte-connector: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
