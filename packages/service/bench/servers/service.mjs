// The real connector service (built dist) for the benchmark: built-in connectors (echo, sleep) plus
// - "trivial": get → SUCCEEDED, no outputs;
// - "vendor": get polls a fake vendor API (VENDOR_URL, bench/servers/vendor.mjs) through the SDK's `requestJson`, as
//   a real connector does (VENDOR_CLIENT=fetch: Node's fetch instead, as before), and reports its state (without
//   VENDOR_URL it waits 200 ms on a timer instead);
// default log level (info) to stdout, metrics on, every other option at its default.
// TRANSPORT=grpc-js serves on the grpc-js transport (when the service has the option); WORKER sets --worker.
import { AsyncConnector, ConnectorRegistry, Phase, ResourceMeta } from "flyte-connectors";
import { requestJson } from "flyte-connectors/http";
import { startConnectorService } from "../../dist/index.js";
import { serveStats } from "./stats.mjs";

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

const vendorUrl = process.env.VENDOR_URL;
class VendorConnector extends AsyncConnector {
  name = "Vendor Connector";
  taskTypeName = "vendor";
  metadataType = TrivialMeta;
  // VENDOR_MAX_CONCURRENCY: the connector's own limit (default none, as a connector that sets nothing).
  maxConcurrency = process.env.VENDOR_MAX_CONCURRENCY ? Number(process.env.VENDOR_MAX_CONCURRENCY) : undefined;
  async create() {
    return new TrivialMeta({ id: "job-1" });
  }
  async get({ resourceMeta, signal }) {
    if (!vendorUrl) {
      // No vendor server: a 200 ms timer stands in for the call (the gRPC and scheduling cost alone).
      await new Promise((resolve) => setTimeout(resolve, 200));
      return { phase: Phase.SUCCEEDED };
    }
    const url = `${vendorUrl}/jobs/${resourceMeta.id}`;
    const job = process.env.VENDOR_CLIENT === "fetch" ? await (await fetch(url, { signal })).json() : await requestJson({ url, signal });
    return { phase: job.state === "succeeded" ? Phase.SUCCEEDED : Phase.RUNNING };
  }
  async delete() {}
}

const registry = new ConnectorRegistry().register(new TrivialConnector()).register(new VendorConnector());
const handle = await startConnectorService({
  port: 0,
  prometheusPort: 0,
  connectPort: null,
  host: "127.0.0.1",
  discover: false,
  registry,
  logLevel: process.env.LOG_LEVEL ?? "info",
  ...(process.env.WORKER ? { worker: Number(process.env.WORKER) } : {}),
  ...(process.env.TRANSPORT ? { transport: process.env.TRANSPORT } : {}),
});
serveStats();
process.send?.({ port: handle.port, prometheusPort: handle.prometheusPort });
process.on("SIGINT", () => process.exit(0));
