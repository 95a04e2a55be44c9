// `npm run bench`: the connector service vs a bare node:http2 server answering the same call with a fixed response.
// Load comes from a separate process (loadgen.mjs: raw node:http2 client session, pre-encoded gRPC frames).
// Usage: node packages/service/bench/run.mjs [--seconds 4] [--levels 1,16,64,256] [--libs]
//   --libs  also compares @grpc/grpc-js and @connectrpc/connect-node servers with trivial handlers (the library choice).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { create, toBinary } from "@bufbuild/protobuf";
import { CreateTaskRequestSchema, GetTaskRequestSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const seconds = Number(arg("seconds", 4));
const levels = arg("levels", "1,16,64,256").split(",").map(Number);
const withLibs = process.argv.includes("--libs");

const b64 = (schema, init) => Buffer.from(toBinary(schema, create(schema, init))).toString("base64");
const calls = {
  GetTask: {
    path: "/flyteidl2.connector.AsyncConnectorService/GetTask",
    body: b64(GetTaskRequestSchema, {
      taskCategory: { name: "echo", version: 0 },
      resourceMeta: new TextEncoder().encode(JSON.stringify({ inputs: "" })),
      outputPrefix: "s3://bucket/shard/run/action/1",
    }),
  },
  CreateTask: {
    path: "/flyteidl2.connector.AsyncConnectorService/CreateTask",
    body: b64(CreateTaskRequestSchema, {
      template: { type: "echo", id: { name: "bench" } },
      outputPrefix: "s3://bucket/shard/run/action/1",
      taskExecutionMetadata: { namespace: "bench", labels: { a: "b" } },
    }),
  },
};

const rssMb = (pid) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
};

async function startServer(file) {
  const child = spawn(process.execPath, [here(file)], { stdio: ["ignore", "ignore", "inherit", "ipc"] });
  const [msg] = await once(child, "message");
  await new Promise((r) => setTimeout(r, 300));
  return { child, port: msg.port, restRss: rssMb(child.pid) };
}

async function load(port, call, conc) {
  const child = spawn(process.execPath, [here("./loadgen.mjs"), `http://127.0.0.1:${port}`, call.path, call.body, String(conc), String(seconds)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  await once(child, "exit");
  return JSON.parse(out);
}

// Bare http2 servers answer every path with the same fixed GetTask response: the upper bound for any call.
const bareFile = "./servers/bare.mjs";

async function matrix() {
  const rows = [];
  for (const [callName, call] of Object.entries(calls)) {
    for (const conc of levels) {
      const bare = await startServer(bareFile);
      const b = await load(bare.port, call, conc);
      const bareRss = rssMb(bare.child.pid);
      bare.child.kill();
      const svc = await startServer("./servers/service.mjs");
      const s = await load(svc.port, call, conc);
      const svcRss = rssMb(svc.child.pid);
      svc.child.kill();
      rows.push({ callName, conc, b, s, bareRss, svcRss });
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
  const results = [];
  for (const name of ["bare", "grpcjs", "connect"]) {
    const server = await startServer(`./servers/${name}.mjs`);
    const r = await load(server.port, { path: calls.GetTask.path, body: b64(GetTaskRequestSchema, { taskCategory: { name: "echo", version: 0 } }) }, 64);
    server.child.kill();
    results.push({ name, r });
  }
  const bare = results[0].r.rps;
  console.log(`\nLibrary choice: GetTask, trivial handler, 64 in flight, ${seconds} s per server`);
  console.log(`| server | calls/s | ratio to bare | p50 ms | p99 ms |\n|---|---|---|---|---|`);
  for (const { name, r } of results) console.log(`| ${name} | ${r.rps.toFixed(0)} | ${(r.rps / bare).toFixed(2)} | ${r.p50ms.toFixed(2)} | ${r.p99ms.toFixed(2)} |`);
}

console.log(`node ${process.version}, ${(await import("node:os")).cpus().length} CPUs, ${seconds} s per measurement, load generator: bench/loadgen.mjs (separate process, 1 HTTP/2 connection)`);
if (withLibs) await libs();
const st = await startup();
console.log(`\nStart to health SERVING: ${st.ms.toFixed(0)} ms; RSS at rest: ${st.rest.toFixed(1)} MB`);
const rows = await matrix();
console.log(`\n| call | in flight | service calls/s | bare calls/s | ratio | service p50 / p99 ms | bare p50 / p99 ms | p99 ratio | service RSS MB | bare RSS MB | RSS ratio | errors |`);
console.log(`|---|---|---|---|---|---|---|---|---|---|---|---|`);
for (const { callName, conc, b, s, bareRss, svcRss } of rows) {
  console.log(
    `| ${callName} | ${conc} | ${s.rps.toFixed(0)} | ${b.rps.toFixed(0)} | ${(s.rps / b.rps).toFixed(2)} | ${s.p50ms.toFixed(2)} / ${s.p99ms.toFixed(2)} | ${b.p50ms.toFixed(2)} / ${b.p99ms.toFixed(2)} | ${(s.p99ms / b.p99ms).toFixed(2)} | ${svcRss.toFixed(0)} | ${bareRss.toFixed(0)} | ${(svcRss / bareRss).toFixed(2)} | ${s.errors}${s.firstError ? ` (${s.firstError})` : ""} |`,
  );
}
