// `npm run bench`: one run, two tables (see BENCHMARKS.md for what each number means).
//  1. Side by side: the service on its native transport, the service on grpc-js, a bare node:http2 server (fixed
//     response: the upper bound) and a Python grpc.aio baseline modelled on flyte-sdk's connector server —
//     GetTask ×64 in flight over 1 and over 4 connections, CreateTask with 1 MiB of inputs (×8 in flight, 1 connection).
//  2. Latency-bound capacity: a connector whose `get` polls a fake vendor API answering after 200 ms, polled with
//     1,000 and 10,000 calls in flight over 4 connections: polls/s, % of ideal (in flight / 0.2 s), p50/p99, RSS
//     peak (VmHWM), event-loop delay p99 in the server process.
//  3. GetTask over Connect (HTTP/1.1 keep-alive, h2c) beside gRPC, on one service process (bench/connect.mjs).
// Load comes from a separate process: h2load (Debian nghttp2-client) when on PATH, else bench/loadgen.mjs.
// Usage: node packages/service/bench/run.mjs [--seconds 3] [--capacity-seconds 10] [--capacity-levels 1000,10000]
//        [--only side|capacity|connect] [--vendor http|sleep] [--servers native,grpc-js,bare,python] [--loadgen h2load|node]
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
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
const seconds = Number(arg("seconds", 3));
const capacitySeconds = Number(arg("capacity-seconds", 10));
// Long enough for every connection to the vendor to be open and the heap to reach its working size.
const capacityWarmup = Number(arg("capacity-warmup", 3));
const capacityLevels = arg("capacity-levels", "1000,10000").split(",").map(Number);
const only = arg("only", "");
// http: `get` calls the fake vendor API (fetch / aiohttp); sleep: it waits 200 ms on a timer (no HTTP client cost).
const vendorKind = arg("vendor", "http");
const PYTHON = process.env.PYTHON ?? "/usr/bin/python3";
const onPath = (cmd, args = ["--version"]) => {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};
const loadgen = arg("loadgen", onPath("h2load") ? "h2load" : "node");
const tmp = mkdtempSync(path.join(os.tmpdir(), "fc-bench-"));
// Servers still running when this process ends (an error, ^C) are killed with it.
const children = new Set();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
});
process.on("SIGINT", () => process.exit(130));
const track = (child) => {
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
};

// The grpc-js row needs the service's `transport` option (transport/index.ts).
const distService = here("../dist/service.js");
const hasGrpcJsTransport = existsSync(distService) && readFileSync(distService, "utf8").includes("createTransport");
const pythonProblem = onPath(PYTHON, ["-c", "import grpc, google.protobuf, aiohttp"])
  ? undefined
  : `${PYTHON} with grpc, protobuf and aiohttp not found (Debian: apt-get install python3-grpcio python3-protobuf python3-aiohttp; or set PYTHON)`;

const SERVERS = {
  native: { label: "service, native transport", file: "./servers/service.mjs", env: {} },
  "grpc-js": { label: "service, grpc-js transport", file: "./servers/service.mjs", env: { TRANSPORT: "grpc-js" }, missing: hasGrpcJsTransport ? undefined : "the service has no `transport` option yet" },
  bare: { label: "bare node:http2 (fixed response)", file: "./servers/bare.mjs", env: {} },
  python: { label: "Python grpc.aio (flyte-sdk model)", python: true, env: {}, missing: pythonProblem },
};
const serverNames = arg("servers", "native,grpc-js,bare,python").split(",");

const frameOf = (message) => {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(frame, 5);
  return frame;
};

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
const stringLiteral = (s) => ({ value: { case: "scalar", value: { value: { case: "primitive", value: { value: { case: "stringValue", value: s } } } } } });
const createTask1MiB = {
  path: "/flyteidl2.connector.AsyncConnectorService/CreateTask",
  message: toBinary(
    CreateTaskRequestSchema,
    create(CreateTaskRequestSchema, {
      inputs: { literals: [{ name: "data", value: stringLiteral("x".repeat(1024 * 1024)) }] },
      template: {
        type: "trivial",
        id: { name: "bench" },
        interface: { inputs: { variables: [{ key: "data", value: { type: { type: { case: "simple", value: 3 } } } }] } },
      },
      outputPrefix: "s3://bucket/shard/run/action/1",
      taskExecutionMetadata: { namespace: "bench", labels: { a: "b" } },
    }),
  ),
  response: CreateTaskResponseSchema,
};
const trivialGet = getTask("trivial", { id: "job-1" });
const vendorGet = getTask("vendor", { id: "job-1" });

/** The flyteidl2 descriptors the Python baseline builds its message classes from. */
function writeDescriptorSet() {
  const files = [];
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file.name)) return;
    seen.add(file.name);
    for (const dep of file.dependencies) visit(dep);
    files.push(file.proto);
  };
  visit(CreateTaskRequestSchema.file);
  const out = path.join(tmp, "flyteidl2.fds");
  writeFileSync(out, toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: files })));
  return out;
}

const procStatus = (pid, key) => {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
};

/** CPU seconds (user + system) a process has used so far. */
const cpuSeconds = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime: fields 14 and 15, in clock ticks (100 Hz)
};

async function startNode(file, env) {
  // SERVER_NODE_FLAGS: node flags for the Node servers (e.g. "--heap-growing-percent=50"; not allowed in NODE_OPTIONS).
  const flags = (process.env.SERVER_NODE_FLAGS ?? "").split(" ").filter(Boolean);
  const child = track(spawn(process.execPath, [...flags, here(file)], { stdio: ["ignore", "ignore", "inherit", "ipc"], env: { ...process.env, ...env } }));
  const [msg] = await once(child, "message");
  const ask = async (what) => {
    child.send(what);
    const [reply] = await once(child, "message");
    return reply;
  };
  return { child, port: msg.port, prometheusPort: msg.prometheusPort, ask };
}

let descriptorSet;
async function startPython(env) {
  descriptorSet ??= writeDescriptorSet();
  const child = track(spawn(PYTHON, [here("./servers/python_aio.py"), descriptorSet], { stdio: ["pipe", "pipe", "inherit"], env: { ...process.env, ...env } }));
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error("the Python baseline exited before serving");
  const ask = async (what) => {
    child.stdin.write(`${what}\n`);
    return JSON.parse((await lines.next()).value);
  };
  return { child, port: JSON.parse(first.value).port, ask };
}

async function startServer(name, env = {}) {
  const spec = SERVERS[name];
  const server = spec.python ? await startPython({ ...spec.env, ...env }) : await startNode(spec.file, { ...spec.env, ...env });
  await new Promise((r) => setTimeout(r, 300));
  return server;
}

async function stopServer(server) {
  // SIGKILL: the service would otherwise wait out its grace period for calls the load generator left open.
  server.child.kill("SIGKILL");
  if (server.child.exitCode === null && server.child.signalCode === null) await once(server.child, "exit");
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
      if (status !== "0") return reject(new Error(`${call.path} answered grpc-status ${status}: ${message}`));
      try {
        fromBinary(call.response, Buffer.concat(chunks).subarray(5));
      } catch (error) {
        return reject(new Error(`${call.path}: undecodable response: ${error}`));
      }
      resolve();
    });
    req.end(frameOf(call.message));
  });
}

/**
 * Failed calls counted by the service's own metrics (sum of flyte_connector_requests_failure_total), except
 * CANCELLED (499): the load generator cancels the calls still in flight when it stops.
 */
async function serviceFailures(server) {
  if (!server.prometheusPort) return undefined;
  const text = await (await fetch(`http://127.0.0.1:${server.prometheusPort}/metrics`)).text();
  let failures = 0;
  for (const m of text.matchAll(/^flyte_connector_requests_failure_total\{([^}]*)\} (\d+)/gm)) if (!m[1].includes('error_code="499"')) failures += Number(m[2]);
  return failures;
}

const quantile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN);

async function loadH2load(port, call, conc, conns, secs, warmup) {
  const data = path.join(tmp, "request.bin");
  const log = path.join(tmp, "h2load.log");
  writeFileSync(data, frameOf(call.message));
  rmSync(log, { force: true });
  const perConn = Math.ceil(conc / conns);
  const args = ["-D", String(secs), "--warm-up-time", String(warmup), "-c", String(conns), "-m", String(perConn), "-t", "1", "-d", data];
  args.push("-H", "content-type: application/grpc", "-H", "te: trailers", "-H", "grpc-timeout: 10S", "--log-file", log);
  const child = spawn("h2load", [...args, `http://127.0.0.1:${port}${call.path}`], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  await once(child, "exit");
  const requests = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  if (!requests) throw new Error(`h2load output not understood:\n${out}`);
  // The log holds the measured requests only (not the warm-up): start µs, HTTP status, µs until the response ended.
  const lat = [];
  for (const line of readFileSync(log, "utf8").split("\n")) {
    const cols = line.split("\t");
    if (cols.length >= 3 && cols[1] === "200") lat.push(Number(cols[2]) / 1000);
  }
  lat.sort((a, b) => a - b);
  const succeeded = Number(requests[4]);
  return { calls: succeeded, errors: Number(requests[5]) + Number(requests[6]) + Number(requests[7]), rps: succeeded / secs, p50ms: quantile(lat, 0.5), p99ms: quantile(lat, 0.99) };
}

async function loadNode(port, call, conc, conns, secs, warmup) {
  const b64 = Buffer.from(call.message).toString("base64");
  const child = spawn(process.execPath, [here("./loadgen.mjs"), `http://127.0.0.1:${port}`, call.path, b64, String(conc), String(secs), String(conns), String(warmup)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  await once(child, "exit");
  return JSON.parse(out);
}

/** One measurement on a fresh server: load, errors (service metrics), RSS peak, event-loop delay p99. */
async function measure(name, call, conc, conns, secs, warmup, env = {}) {
  const server = await startServer(name, env);
  try {
    await check(server.port, call);
    const before = await serviceFailures(server);
    await server.ask("reset");
    // CPU used in the measured window only (after the load generator's warm-up).
    let cpuBefore = NaN;
    const atWarm = setTimeout(() => (cpuBefore = cpuSeconds(server.child.pid)), warmup * 1000);
    const result = loadgen === "h2load" ? await loadH2load(server.port, call, conc, conns, secs, warmup) : await loadNode(server.port, call, conc, conns, secs, warmup);
    clearTimeout(atWarm);
    // Server CPU per successful call in the measured window: much less dependent on how much CPU a shared machine
    // leaves the server than calls/s, and 1 / this = the calls/s one core could serve.
    result.cpuMsPerCall = ((cpuSeconds(server.child.pid) - cpuBefore) * 1000) / Math.max(1, result.calls);
    const stats = await server.ask("stats");
    if (stats.errors) result.errors += stats.errors;
    const after = await serviceFailures(server);
    if (before !== undefined && after !== undefined) result.errors += after - before;
    result.rssPeak = procStatus(server.child.pid, "VmHWM");
    result.rss = procStatus(server.child.pid, "VmRSS");
    result.eldP99Ms = stats.eldP99Ms;
    result.memoryPeakMb = stats.memoryPeakMb;
    return result;
  } finally {
    await stopServer(server);
  }
}

const f0 = (n) => (Number.isFinite(n) ? n.toFixed(0) : "–");
const f1 = (n) => (Number.isFinite(n) ? n.toFixed(1) : "–");
const f2 = (n) => (Number.isFinite(n) ? n.toFixed(2) : "–");

async function sideBySide() {
  const scenarios = [
    { name: "GetTask ×64, 1 conn", call: trivialGet, conc: 64, conns: 1 },
    { name: "GetTask ×64, 4 conns", call: trivialGet, conc: 64, conns: 4 },
    { name: "CreateTask 1 MiB ×8, 1 conn", call: createTask1MiB, conc: 8, conns: 1 },
  ];
  const rows = [];
  for (const name of serverNames) {
    const spec = SERVERS[name];
    if (spec.missing) {
      rows.push({ name, missing: spec.missing });
      continue;
    }
    const cells = [];
    for (const s of scenarios) {
      const r = await measure(name, s.call, s.conc, s.conns, seconds, 1);
      console.error(`  ${spec.label}, ${s.name}: ${f0(r.rps)}/s, p50 ${f2(r.p50ms)} p99 ${f2(r.p99ms)} ms, errors ${r.errors}`);
      cells.push(r);
    }
    rows.push({ name, cells });
  }
  console.log(`\nSide by side (${seconds} s per cell after 1 s warm-up; calls/s, p50 / p99 ms, RSS peak MB, server CPU µs per call; GetTask: trivial connector)`);
  console.log(`| server | ${scenarios.map((s) => s.name).join(" | ")} |\n|---|${scenarios.map(() => "---|").join("")}`);
  for (const row of rows) {
    const label = SERVERS[row.name].label;
    if (row.missing) {
      console.log(`| ${label} | ${scenarios.map(() => `not measured: ${row.missing}`).join(" | ")} |`);
      continue;
    }
    const cells = row.cells.map((r) => `${f0(r.rps)}, ${f2(r.p50ms)} / ${f2(r.p99ms)}, ${f0(r.rssPeak)} MB, ${f0(r.cpuMsPerCall * 1000)} µs${r.errors ? `, **${r.errors} errors**` : ""}`);
    console.log(`| ${label} | ${cells.join(" | ")} |`);
  }
}

async function capacity() {
  const names = serverNames.filter((n) => n !== "bare");
  const rows = [];
  for (const level of capacityLevels) {
    for (const name of names) {
      const spec = SERVERS[name];
      if (spec.missing) {
        rows.push({ name, level, missing: spec.missing });
        continue;
      }
      const vendor = vendorKind === "http" ? await startNode("./servers/vendor.mjs", {}) : undefined;
      try {
        const r = await measure(name, vendorGet, level, 4, capacitySeconds, capacityWarmup, vendor ? { VENDOR_URL: `http://127.0.0.1:${vendor.port}` } : {});
        rows.push({ name, level, r });
        console.error(`  capacity ${spec.label} ×${level}: ${f0(r.rps)}/s (${f0((100 * r.rps * 0.2) / level)} % of ideal), p99 ${f0(r.p99ms)} ms, RSS peak ${f0(r.rssPeak)} MB, eld p99 ${f1(r.eldP99Ms)} ms, CPU ${f0(r.cpuMsPerCall * 1000)} µs/poll, errors ${r.errors}${r.memoryPeakMb ? `, memory peaks MB ${JSON.stringify(r.memoryPeakMb)}` : ""}`);
      } finally {
        if (vendor) await stopServer(vendor);
      }
    }
  }
  const how = vendorKind === "http" ? "get calls a fake vendor API answering after 200 ms (flyte-connectors requestJson on undici, or fetch with VENDOR_CLIENT=fetch / Python aiohttp)" : "get waits 200 ms on a timer (setTimeout / asyncio.sleep)";
  console.log(`\nLatency-bound capacity (${capacitySeconds} s after ${capacityWarmup} s warm-up, 4 connections; ${how}; ideal = in flight / 0.2 s)`);
  console.log("| server | in flight | polls/s | % of ideal | p50 / p99 ms | RSS peak MB | event-loop delay p99 ms | server CPU µs per poll (polls/s per core) | errors |");
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const { name, level, r, missing } of rows) {
    if (missing) {
      console.log(`| ${SERVERS[name].label} | ${level} | not measured: ${missing} | | | | | | |`);
      continue;
    }
    console.log(`| ${SERVERS[name].label} | ${level} | ${f0(r.rps)} | ${f0((100 * r.rps * 0.2) / level)} % | ${f0(r.p50ms)} / ${f0(r.p99ms)} | ${f0(r.rssPeak)} | ${f1(r.eldP99Ms)} | ${f0(r.cpuMsPerCall * 1000)} (${f0(1000 / r.cpuMsPerCall)}) | ${r.errors} |`);
  }
}

const loadgenText =
  loadgen === "h2load"
    ? `h2load (${execFileSync("h2load", ["--version"]).toString().trim().split("\n")[0]}; 1 thread)`
    : "bench/loadgen.mjs (Node node:http2 client, separate process)";
console.log(`node ${process.version}, ${os.cpus().length} CPUs, load generator: ${loadgenText}${pythonProblem ? `; Python baseline skipped: ${pythonProblem}` : ""}`);
if (!only || only === "side") await sideBySide();
if (!only || only === "capacity") await capacity();
if (!only || only === "connect") await connectTable();

/** Table 3: the service's Connect port beside its gRPC port, same process, median of 3 rotating rounds. */
async function connectTable() {
  const { connectRows } = await import("./connect.mjs");
  console.log(`\n## 3. GetTask over Connect beside gRPC (one service process, median of 3 rounds, ${seconds} s each)\n`);
  const rows = await connectRows({ seconds, levels: [16, 64], rounds: 3, connectNode: false, log: () => {} });
  const grpc = new Map(rows.filter((r) => r.row.startsWith("gRPC")).map((r) => [r.conc, r.rps]));
  console.log("| protocol | in flight | calls/s | vs gRPC | p50 / p99 ms | errors |\n|---|---|---|---|---|---|");
  for (const r of rows) {
    const base = grpc.get(r.conc);
    console.log(`| ${r.row} | ${r.conc} | ${f0(r.rps)} | ${base ? f2(r.rps / base) : "–"} | ${f2(r.p50)} / ${f2(r.p99)} | ${r.errors} |`);
  }
}
