// GetTask over Connect (HTTP/1.1 keep-alive and h2c) beside gRPC, in one run, with h2load as the load generator.
// The service (built dist, "trivial" connector, info logging, metrics on) answers gRPC on --port and Connect on
// --connect-port; for the choice of implementation the same handlers also run behind @connectrpc/connect-node
// (connectNodeAdapter, a router whose methods bridge to the service's handlers) on node:http and node:http2.
// Usage: node packages/service/bench/connect.mjs [--seconds 2] [--rounds 3] [--levels 1,16,64] [--no-connect-node]
// HTTP/1.1 has one call per connection at a time: N calls in flight = N keep-alive connections (h2load --h1 -c N
// -m 1); HTTP/2 rows use one connection with N streams (-c 1 -m N), as grpc-go does per backend address.
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { GetTaskRequestSchema, GetTaskResponseSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";

const here = fileURLToPath(import.meta.url);
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const GET_TASK = "/flyteidl2.connector.AsyncConnectorService/GetTask";
const request = toBinary(
  GetTaskRequestSchema,
  create(GetTaskRequestSchema, {
    taskCategory: { name: "trivial", version: 0 },
    resourceMeta: new TextEncoder().encode(JSON.stringify({ id: "job-1" })),
    outputPrefix: "s3://bucket/shard/run/action/1",
  }),
);

// ---------------------------------------------------------------------------------------------- server processes
async function trivialRegistry() {
  const { AsyncConnector, ConnectorRegistry, Phase, ResourceMeta } = await import("flyte-connectors");
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
  return new ConnectorRegistry().register(new TrivialConnector());
}

/** The service itself: gRPC + Connect ports, as `flyte-connector serve` runs them. */
async function serveService() {
  const { startConnectorService } = await import("../dist/index.js");
  const handle = await startConnectorService({ port: 0, connectPort: 0, prometheusPort: 0, host: "127.0.0.1", discover: false, registry: await trivialRegistry() });
  process.send({ grpc: handle.port, connect: handle.connectPort, connectH2: handle.connectPort, metrics: handle.prometheusPort });
}

/** The service's handlers behind @connectrpc/connect-node (HTTP/1.1 and h2c ports): the alternative measured. */
async function serveConnectNode() {
  const { connectNodeAdapter } = await import("@connectrpc/connect-node");
  const { ConnectError } = await import("@connectrpc/connect");
  const { ConnectorDispatcher } = await import("flyte-connectors");
  const { pino } = await import("pino");
  const { AsyncConnectorService, ConnectorMetadataService } = await import("@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js");
  const { asyncConnectorHandlers, metadataHandlers } = await import("../dist/handlers.js");
  const { ServiceMetrics, startMetricsServer } = await import("../dist/metrics.js");
  const metrics = new ServiceMetrics();
  const ctx = {
    dispatcher: new ConnectorDispatcher(await trivialRegistry()),
    metrics,
    logger: pino({ level: "info", base: { svc: "flyte-connector" } }, pino.destination({ dest: 1, sync: true })),
    state: { ready: true, inFlight: 0, onIdle: undefined, taskTypes: new Set(["trivial"]) },
  };
  // A ServerCall over connect-node's (request, context) → Promise: unary only (what is measured).
  const bridge = (handler) => (req, context) =>
    new Promise((resolve, reject) => {
      let done = false;
      handler({
        protocol: "connect",
        request: req,
        requests: [req],
        signal: context.signal,
        get done() {
          return done;
        },
        header: (name) => context.requestHeader.get(name) ?? undefined,
        metadata: (name) => (context.requestHeader.has(name) ? [context.requestHeader.get(name)] : []),
        sendHeaders: () => {},
        respond: (message) => ((done = true), resolve(message)),
        write: () => false,
        drained: () => Promise.resolve(),
        whenDone: () => {},
        end: () => {},
        fail: (code, message) => ((done = true), reject(new ConnectError(message, code))),
      });
    });
  const implement = (handlers) => Object.fromEntries(Object.entries(handlers).map(([name, h]) => [name, bridge(h)]));
  const adapter = connectNodeAdapter({
    routes(router) {
      router.service(AsyncConnectorService, implement(asyncConnectorHandlers(ctx)));
      router.service(ConnectorMetadataService, implement(metadataHandlers(ctx)));
    },
  });
  const listen = (server) => new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
  const h1 = http.createServer({ keepAliveTimeout: 65_000 }, adapter);
  const h2 = http2.createServer(adapter);
  const metricsServer = await startMetricsServer(metrics, 0, "127.0.0.1");
  process.send({ connect: await listen(h1), connectH2: await listen(h2), metrics: metricsServer.port });
}

// ------------------------------------------------------------------------------------------------ load and report
let tmp;
const quantile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN);

function frame(message) {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(out, 5);
  return out;
}

/** h2load against one URL; only 2xx answers count (Connect errors are non-2xx; gRPC ones are checked by metrics). */
async function h2load(url, { body, headers, h1, conc, secs }) {
  const data = path.join(tmp, "body.bin");
  const log = path.join(tmp, "h2load.log");
  writeFileSync(data, body);
  rmSync(log, { force: true });
  const shape = h1 ? ["--h1", "-c", String(conc), "-m", "1"] : ["-c", "1", "-m", String(conc)];
  const args = ["-D", String(secs), "--warm-up-time", "1", ...shape, "-t", "1", "-d", data, "--log-file", log];
  for (const h of headers) args.push("-H", h);
  const child = spawn("h2load", [...args, url], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  await once(child, "exit");
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  if (!codes) throw new Error(`h2load output not understood:\n${out}`);
  const lat = [];
  for (const line of readFileSync(log, "utf8").split("\n")) {
    const cols = line.split("\t");
    if (cols.length >= 3 && cols[1] === "200") lat.push(Number(cols[2]) / 1000);
  }
  lat.sort((a, b) => a - b);
  return { rps: lat.length / secs, errors: Number(codes[3]) + Number(codes[4]), p50: quantile(lat, 0.5), p99: quantile(lat, 0.99) };
}

async function failures(metricsPort) {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^flyte_connector_requests_failure_total\{[^}]*\} (\d+)/gm)) n += Number(m[1]);
  return n;
}

/** One Connect call with fetch (HTTP/1.1): 200 and a decodable GetTaskResponse, else the bench stops. */
async function checkConnect(port) {
  const res = await fetch(`http://127.0.0.1:${port}${GET_TASK}`, { method: "POST", headers: { "content-type": "application/proto" }, body: request });
  const body = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`Connect GetTask answered HTTP ${res.status}: ${Buffer.from(body).toString()}`);
  fromBinary(GetTaskResponseSchema, body);
}

async function start(mode) {
  const child = spawn(process.execPath, [here, "--serve", mode], { stdio: ["ignore", "ignore", "inherit", "ipc"] });
  const [ports] = await once(child, "message");
  await new Promise((r) => setTimeout(r, 300));
  return { child, ports };
}

async function stop(server) {
  server.child.kill();
  await once(server.child, "exit");
}

const ROWS = {
  "gRPC (h2c, 1 connection)": { port: "grpc", h1: false, body: frame(request), headers: ["content-type: application/grpc", "te: trailers", "grpc-timeout: 10S"] },
  "Connect HTTP/1.1 (keep-alive, N connections)": { port: "connect", h1: true, body: Buffer.from(request), headers: ["content-type: application/proto", "connect-protocol-version: 1", "connect-timeout-ms: 10000"] },
  "Connect h2c (1 connection)": { port: "connectH2", h1: false, body: Buffer.from(request), headers: ["content-type: application/proto", "connect-protocol-version: 1", "connect-timeout-ms: 10000"] },
};

/**
 * The measurements, for other scripts (bench/run.mjs): one row per server × protocol × level, each on a fresh server
 * process. `connectNode: false` measures only the service (its gRPC port and its Connect port).
 */
export async function connectRows({ seconds: secs = 2, levels = [1, 16, 64], rounds: roundsPerRow = 3, connectNode = true, log = (line) => process.stderr.write(line) } = {}) {
  tmp = mkdtempSync(path.join(os.tmpdir(), "fc-connect-bench-"));
  execFileSync("h2load", ["--version"], { stdio: "ignore" });
  const results = [];
  const servers = [["service", "the service (own Connect transport)"]];
  if (connectNode) servers.push(["connect-node", "@connectrpc/connect-node, same handlers"]);
  // The machine is shared and noisy: per server and level, one process answers every protocol in `rounds` rounds
  // (the protocol order rotating), and each row reports the median round. A ratio then compares neighbours in time.
  for (const [mode, label] of servers) {
    for (const conc of levels) {
      const server = await start(mode);
      try {
        await checkConnect(server.ports.connect);
        const rows = Object.entries(ROWS).filter(([, spec]) => server.ports[spec.port] !== undefined);
        const rounds = new Map(rows.map(([row]) => [row, []]));
        for (let round = 0; round < roundsPerRow; round++) {
          for (let i = 0; i < rows.length; i++) {
            const [row, spec] = rows[(i + round) % rows.length];
            const before = await failures(server.ports.metrics);
            const r = await h2load(`http://127.0.0.1:${server.ports[spec.port]}${GET_TASK}`, { ...spec, conc, secs });
            r.errors += (await failures(server.ports.metrics)) - before;
            rounds.get(row).push(r);
          }
        }
        for (const [row] of rows) {
          const sorted = rounds.get(row).sort((a, b) => a.rps - b.rps);
          const r = { ...sorted[Math.floor(sorted.length / 2)], errors: sorted.reduce((n, x) => n + x.errors, 0) };
          results.push({ server: label, row, conc, ...r });
          log(`${label} | ${row} | ${conc}: ${r.rps.toFixed(0)} calls/s (rounds: ${sorted.map((x) => x.rps.toFixed(0)).join(", ")}), p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, errors ${r.errors}\n`);
        }
      } finally {
        await stop(server);
      }
    }
  }
  rmSync(tmp, { recursive: true, force: true });
  return results;
}

async function main() {
  const results = await connectRows({
    seconds: Number(arg("seconds", 2)),
    rounds: Number(arg("rounds", 3)),
    levels: arg("levels", "1,16,64").split(",").map(Number),
    connectNode: !process.argv.includes("--no-connect-node"),
  });
  const grpc = new Map(results.filter((r) => r.row.startsWith("gRPC") && r.server.startsWith("the service")).map((r) => [r.conc, r.rps]));
  console.log(`| server | protocol | in flight | calls/s | vs service gRPC | p50 / p99 ms | errors |\n|---|---|---|---|---|---|---|`);
  for (const r of results) {
    const ratio = grpc.get(r.conc) ? (r.rps / grpc.get(r.conc)).toFixed(2) : "–";
    console.log(`| ${r.server} | ${r.row} | ${r.conc} | ${r.rps.toFixed(0)} | ${ratio} | ${r.p50.toFixed(2)} / ${r.p99.toFixed(2)} | ${r.errors} |`);
  }
}

const serveMode = arg("serve", undefined);
// A server process exits normally on SIGINT (so `node --cpu-prof` writes its profile).
if (serveMode) process.on("SIGINT", () => process.exit(0));
if (serveMode === "service") await serveService();
else if (serveMode === "connect-node") await serveConnectNode();
else if (process.argv[1] === here) await main();
