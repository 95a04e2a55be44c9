// Library choice measurement: GetTask with a trivial handler, N in flight, bare http2 vs grpc-js vs connect-node.
// Usage: node packages/service/bench/compare-libs.mjs [concurrency=64] [seconds=5] [rounds=2]
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { toBinary } from "@bufbuild/protobuf";
import { GetTaskRequestSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { getTaskRequest } from "./servers/common.mjs";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const conc = Number(process.argv[2] ?? 64), secs = Number(process.argv[3] ?? 5), rounds = Number(process.argv[4] ?? 2);
const b64 = Buffer.from(toBinary(GetTaskRequestSchema, getTaskRequest)).toString("base64");
const path = "/flyteidl2.connector.AsyncConnectorService/GetTask";

async function startServer(file) {
  const child = spawn(process.execPath, [here(file)], { stdio: ["ignore", "pipe", "inherit"] });
  const [line] = await once(child.stdout, "data");
  return { child, port: JSON.parse(String(line)).port };
}
async function load(port) {
  const child = spawn(process.execPath, [here("./loadgen.mjs"), `http://127.0.0.1:${port}`, path, b64, String(conc), String(secs)], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  await once(child, "exit");
  return JSON.parse(out);
}
const results = {};
for (let r = 0; r < rounds; r++) {
  for (const name of ["bare", "grpcjs", "connect"]) {
    const { child, port } = await startServer(`./servers/${name}.mjs`);
    const res = await load(port);
    child.kill();
    (results[name] ??= []).push(res);
  }
}
const best = (arr) => arr.reduce((a, b) => (b.rps > a.rps ? b : a));
const bare = best(results.bare);
console.log(`| server | calls/s | ratio to bare | p50 ms | p99 ms | errors |`);
console.log(`|---|---|---|---|---|---|`);
for (const [name, arr] of Object.entries(results)) {
  const b = best(arr);
  console.log(`| ${name} | ${b.rps.toFixed(0)} | ${(b.rps / bare.rps).toFixed(2)} | ${b.p50ms.toFixed(2)} | ${b.p99ms.toFixed(2)} | ${b.errors} |`);
}
