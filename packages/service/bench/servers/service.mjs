// The real connector service (built dist) for the benchmark: built-in connectors (echo, sleep) plus a "trivial"
// connector (get → SUCCEEDED, no outputs), default log level (info) to stdout, metrics on.
import { AsyncConnector, ConnectorRegistry, Phase, ResourceMeta } from "flyte-connectors";
import { startConnectorService } from "../../dist/index.js";

class TrivialMeta extends ResourceMeta.define({ id: "string" }) {}
class TrivialConnector extends AsyncConnector {
  name = "Trivial Connector";
  taskTypeName = "trivial";
  metadataType = TrivialMeta;
  async create() {
    return new TrivialMeta({ id: "job-1" });
  }
  async get() {
    return { phase: Phase.SUCCEEDED };
  }
  async delete() {}
}

const registry = new ConnectorRegistry().register(new TrivialConnector());
const handle = await startConnectorService({
  port: 0,
  prometheusPort: 0,
  host: "127.0.0.1",
  discover: false,
  registry,
  logLevel: process.env.LOG_LEVEL ?? "info",
  ...(process.env.WORKER ? { worker: Number(process.env.WORKER) } : {}),
});
process.send?.({ port: handle.port, prometheusPort: handle.prometheusPort });
process.on("SIGINT", () => process.exit(0));
