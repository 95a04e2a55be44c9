// `npm run bench`: the connector service vs a bare node:http2 server answering the same call with a fixed response.
// Load comes from a separate process: h2load (nghttp2's C load generator) when it is on PATH, else bench/loadgen.mjs
// (a Node node:http2 client, which needs a core of its own and so flatters the ratio to bare).
// Usage: node packages/service/bench/run.mjs [--seconds 4] [--levels 1,16,64,256] [--libs] [--loadgen h2load|node]
//   --libs  also compares servers with trivial handlers: bare, @grpc/grpc-js, @connectrpc/connect-node, the
//           service's own transport with a trivial handler, and the service with the trivial connector.
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  CreateTaskRequestSchema,
  CreateTaskResponseSchema,
  GetTaskRequestSchema,
  GetTaskResponseSchema,
} from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const seconds = Number(arg("seconds", 4));
const levels = arg("levels", "1,16,64,256").split(",").map(Number);
const withLibs = process.argv.includes("--libs");
const onPath = (cmd) => {
  try {
    execFileSync(cmd, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};
const loadgen = arg("loadgen", onPath("h2load") ? "h2load" : "node");
const tmp = mkdtempSync(path.join(os.tmpdir(), "fc-bench-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));

const getTask = (name, meta) => ({
  path: "/flyteidl2.connector.AsyncConnectorService/GetTask",
  message: toBinary(
    GetTaskRequestSchema,
    create(GetTaskRequestSchema, {
      taskCategory: { name, version: 0 },
      resourceMeta: new TextEncoder().encode(JSON.stringify(meta)),
      outputPrefix: "s3://bucket/shard/run/action/1",
    }),
  ),
  response: GetTaskResponseSchema,
});
const calls = {
  "GetTask trivial": getTask("trivial", { id: "job-1" }),
  "GetTask echo": getTask("echo", { inputs: "" }),
  "CreateTask echo": {
    path: "/flyteidl2.connector.AsyncConnectorService/CreateTask",
    message: toBinary(
      CreateTaskRequestSchema,
      create(CreateTaskRequestSchema, {
        template: { type: "echo", id: { name: "bench" } },
        outputPrefix: "s3://bucket/shard/run/action/1",
        taskExecutionMetadata: { namespace: "bench", labels: { a: "b" } },
      }),
    ),
    response: CreateTaskResponseSchema,
  },
};
const frameOf = (message) => {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(frame, 5);
  return frame;
};

const rssMb = (pid) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
};

async function startServer(file, env = {}) {
  const child = spawn(process.execPath, [here(file)], { stdio: ["ignore", "ignore", "inherit", "ipc"], env: { ...process.env, ...env } });
  const [msg] = await once(child, "message");
  await new Promise((r) => setTimeout(r, 300));
  return { child, port: msg.port, prometheusPort: msg.prometheusPort, restRss: rssMb(child.pid) };
}

async function stopServer(server) {
  server.child.kill();
  await once(server.child, "exit");
}

/** One call with a Node client: the answer must be grpc-status 0 with a decodable response (h2load only sees HTTP 200). */
function check(port, call) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", reject);
    const req = session.request({ ":method": "POST", ":path": call.path, "content-type": "application/grpc", te: "trailers" });
    const chunks = [];
    let status;
    let message;
    req.on("response", (h) => (status = h["grpc-status"] ?? status));
    req.on("trailers", (t) => ((status = t["grpc-status"]), (message = t["grpc-message"])));
    req.on("data", (d) => chunks.push(d));
    req.on("error", reject);
    req.on("close", () => {
      session.close();
      const body = Buffer.concat(chunks);
      if (status !== "0") return reject(new Error(`${call.path} answered grpc-status ${status}: ${message}`));
      try {
        fromBinary(call.response, body.subarray(5));
      } catch (error) {
        return reject(new Error(`${call.path}: undecodable response: ${error}`));
      }
      resolve();
    });
    req.end(frameOf(call.message));
  });
}

/** Failed calls counted by the service's own metrics (sum of flyte_connector_requests_failure_total). */
async function serviceFailures(server) {
  if (!server.prometheusPort) return undefined;
  const text = await (await fetch(`http://127.0.0.1:${server.prometheusPort}/metrics`)).text();
  let failures = 0;
  for (const m of text.matchAll(/^flyte_connector_requests_failure_total\{[^}]*\} (\d+)/gm)) failures += Number(m[1]);
  return failures;
}

const quantile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN);

async function loadH2load(port, call, conc) {
  const data = path.join(tmp, "request.bin");
  const log = path.join(tmp, "h2load.log");
  writeFileSync(data, frameOf(call.message));
  rmSync(log, { force: true });
  const args = ["-D", String(seconds), "--warm-up-time", "1", "-c", "1", "-m", String(conc), "-t", "1", "-d", data];
  args.push("-H", "content-type: application/grpc", "-H", "te: trailers", "-H", "grpc-timeout: 10S", "--log-file", log);
  const child = spawn("h2load", [...args, `http://127.0.0.1:${port}${call.path}`], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  await once(child, "exit");
  const requests = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  if (!requests) throw new Error(`h2load output not understood:\n${out}`);
  // The log holds the measured requests only (not the warm-up): start µs, HTTP status, µs until the response ended.
  const lat = [];
  for (const line of readFileSync(log, "utf8").split("\n")) {
    const cols = line.split("\t");
    if (cols.length >= 3 && cols[1] === "200") lat.push(Number(cols[2]) / 1000);
  }
  lat.sort((a, b) => a - b);
  const succeeded = Number(requests[4]);
  return { calls: succeeded, errors: Number(requests[5]) + Number(requests[6]), rps: succeeded / seconds, p50ms: quantile(lat, 0.5), p99ms: quantile(lat, 0.99) };
}

async function loadNode(port, call, conc) {
  const b64 = Buffer.from(call.message).toString("base64");
  const child = spawn(process.execPath, [here("./loadgen.mjs"), `http://127.0.0.1:${port}`, call.path, b64, String(conc), String(seconds)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  await once(child, "exit");
  return JSON.parse(out);
}

async function load(server, call, conc) {
  await check(server.port, call);
  const before = await serviceFailures(server);
  const result = loadgen === "h2load" ? await loadH2load(server.port, call, conc) : await loadNode(server.port, call, conc);
  const after = await serviceFailures(server);
  // The service counts every failed call; bare/library servers only get the pre-check.
  if (before !== undefined && after !== undefined) result.errors += after - before;
  result.rss = rssMb(server.child.pid);
  return result;
}

async function matrix() {
  const rows = [];
  for (const conc of levels) {
    // The bare server answers every path with the same fixed GetTask response: the upper bound for any call.
    const bare = await startServer("./servers/bare.mjs");
    const b = await load(bare, calls["GetTask trivial"], conc);
    await stopServer(bare);
    for (const [callName, call] of Object.entries(calls)) {
      const svc = await startServer("./servers/service.mjs");
      const s = await load(svc, call, conc);
      await stopServer(svc);
      rows.push({ callName, conc, b, s });
      console.error(`  ${callName} x${conc}: service ${s.rps.toFixed(0)}/s (p99 ${s.p99ms.toFixed(2)} ms), bare ${b.rps.toFixed(0)}/s`);
    }
  }
  return rows;
}

async function freePort() {
  const server = net.createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

function healthServing(port) {
  return new Promise((resolve) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => resolve(false));
    const req = session.request({ ":method": "POST", ":path": "/grpc.health.v1.Health/Check", "content-type": "application/grpc", te: "trailers" });
    const chunks = [];
    req.on("data", (d) => chunks.push(d));
    req.on("error", () => resolve(false));
    req.on("close", () => {
      session.close();
      const body = Buffer.concat(chunks);
      resolve(body.length >= 7 && body[5] === 0x08 && body[6] === 0x01);
    });
    req.end(Buffer.from([0, 0, 0, 0, 0]));
  });
}

async function startup() {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [here("../bin/flyte-connector.js"), "serve", "--port", String(port), "--prometheus-port", "0", "--host", "127.0.0.1"], {
    stdio: ["ignore", "ignore", "ignore"],
  });
  let ms = NaN;
  for (let i = 0; i < 1000; i++) {
    if (await healthServing(port)) {
      ms = performance.now() - t0;
      break;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setTimeout(r, 1000));
  const rest = rssMb(child.pid);
  child.kill("SIGTERM");
  await once(child, "exit");
  return { ms, rest };
}

async function libs() {
  const servers = [
    ["bare node:http2 (fixed response)", "./servers/bare.mjs"],
    ["@grpc/grpc-js, trivial handler", "./servers/grpcjs.mjs"],
    ["@connectrpc/connect-node, trivial handler", "./servers/connect.mjs"],
    ["service transport (src/transport), trivial handler", "./servers/transport.mjs"],
    ["the service, trivial connector (info logs, metrics)", "./servers/service.mjs"],
  ];
  const rows = [];
  for (const [name, file] of servers) {
    try {
      readFileSync(here(file));
    } catch {
      continue;
    }
    for (const conc of levels) {
      const server = await startServer(file);
      const r = await load(server, calls["GetTask trivial"], conc);
      await stopServer(server);
      rows.push({ name, conc, r });
      console.error(`  ${name} x${conc}: ${r.rps.toFixed(0)}/s`);
    }
  }
  console.log(`\nGetTask with a trivial handler/connector, ${seconds} s per cell (calls/s, ratio to bare at the same level, p50 / p99 ms, RSS MB after the run)`);
  console.log(`| server | ${levels.map((c) => `x${c}`).join(" | ")} |\n|---|${levels.map(() => "---|").join("")}`);
  const bareAt = (conc) => rows.find((row) => row.conc === conc)?.r.rps;
  for (const name of [...new Set(rows.map((row) => row.name))]) {
    const cells = levels.map((conc) => {
      const { r } = rows.find((row) => row.name === name && row.conc === conc);
      return `${r.rps.toFixed(0)} (${(r.rps / bareAt(conc)).toFixed(2)}) ${r.p50ms.toFixed(2)} / ${r.p99ms.toFixed(2)}, ${r.rss.toFixed(0)} MB${r.errors ? `, ${r.errors} errors` : ""}`;
    });
    console.log(`| ${name} | ${cells.join(" | ")} |`);
  }
}

const loadgenText =
  loadgen === "h2load"
    ? `h2load (${execFileSync("h2load", ["--version"]).toString().trim().split("\n")[0]}; 1 connection, 1 thread)`
    : "bench/loadgen.mjs (Node node:http2 client, separate process, 1 connection)";
console.log(`node ${process.version}, ${os.cpus().length} CPUs, ${seconds} s per measurement (+1 s warm-up), load generator: ${loadgenText}`);
if (withLibs) await libs();
const st = await startup();
console.log(`\nStart to health SERVING: ${st.ms.toFixed(0)} ms; RSS at rest: ${st.rest.toFixed(1)} MB`);
const rows = await matrix();
console.log(`\n| call | in flight | service calls/s | bare calls/s | ratio | service p50 / p99 ms | bare p50 / p99 ms | p99 ratio | service RSS MB | bare RSS MB | errors |`);
console.log(`|---|---|---|---|---|---|---|---|---|---|---|`);
for (const { callName, conc, b, s } of rows) {
  console.log(
    `| ${callName} | ${conc} | ${s.rps.toFixed(0)} | ${b.rps.toFixed(0)} | ${(s.rps / b.rps).toFixed(2)} | ${s.p50ms.toFixed(2)} / ${s.p99ms.toFixed(2)} | ${b.p50ms.toFixed(2)} / ${b.p99ms.toFixed(2)} | ${(s.p99ms / b.p99ms).toFixed(2)} | ${s.rss.toFixed(0)} | ${b.rss.toFixed(0)} | ${s.errors}${s.firstError ? ` (${s.firstError})` : ""} |`,
  );
}
