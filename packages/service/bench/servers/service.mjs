// The real connector service (built dist) for the benchmark: built-in connectors, default log level (info) to stdout.
import { startConnectorService } from "../../dist/index.js";

const handle = await startConnectorService({ port: 0, prometheusPort: 0, host: "127.0.0.1", discover: false, logLevel: process.env.LOG_LEVEL ?? "info" });
process.send?.({ port: handle.port });
process.on("SIGINT", () => process.exit(0));
