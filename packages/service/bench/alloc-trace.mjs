// node drive.mjs <inflight> <seconds> [extra node args...]: service under h2load, GC trace → allocated/promoted per poll
import { spawn, fork, execFileSync } from "node:child_process";
import { once } from "node:events";
import { openSync, readFileSync, writeFileSync } from "node:fs";
import { create, toBinary } from "@bufbuild/protobuf";
import { GetTaskRequestSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
const [conc = "1000", secs = "10", ...extra] = process.argv.slice(2);
const B = new URL("./servers/", import.meta.url).pathname;
const vendor = fork(B + "vendor.mjs", { env: { ...process.env } });
const [{ port: vport }] = await once(vendor, "message");
const out = openSync("/tmp/j-heap/trace.txt", "w");
const svc = spawn(process.execPath, ["--trace-gc-nvp", ...extra, B + "service.mjs"], { stdio: ["ignore", out, "inherit", "ipc"], env: { ...process.env, VENDOR_URL: `http://127.0.0.1:${vport}`, LOG_LEVEL: process.env.LOG_LEVEL ?? "info" } });
const [{ port }] = await once(svc, "message");
const msg = toBinary(GetTaskRequestSchema, create(GetTaskRequestSchema, { taskCategory: { name: "vendor", version: 0 }, resourceMeta: new TextEncoder().encode(JSON.stringify({ id: "job-1" })), outputPrefix: "s3://bucket/shard/run/action/1" }));
const frame = Buffer.alloc(5 + msg.length); frame.writeUInt32BE(msg.length, 1); Buffer.from(msg).copy(frame, 5);
writeFileSync("/tmp/j-heap/req.bin", frame);
const status = () => readFileSync(`/proc/${svc.pid}/status`, "utf8");
const h = spawn("h2load", ["-D", secs, "--warm-up-time", "3", "-c", "4", "-m", String(Math.ceil(conc / 4)), "-t", "1", "-d", "/tmp/j-heap/req.bin", "-H", "content-type: application/grpc", "-H", "te: trailers", "-H", "grpc-timeout: 10S", `http://127.0.0.1:${port}/flyteidl2.connector.AsyncConnectorService/GetTask`], { stdio: ["ignore", "pipe", "inherit"] });
let hout = ""; h.stdout.on("data", (d) => (hout += d));
await once(h, "exit");
const stat = readFileSync(`/proc/${svc.pid}/stat`, "utf8").split(") ")[1].split(" ");
const cpuS = (Number(stat[11]) + Number(stat[12])) / 100;
const hwm = /VmHWM:\s+(\d+)/.exec(status())[1] / 1024;
svc.kill("SIGKILL"); vendor.kill("SIGKILL");
await new Promise((r) => setTimeout(r, 300));
const done = Number(/(\d+) succeeded/.exec(hout)?.[1]);
const lines = readFileSync("/tmp/j-heap/trace.txt", "utf8").split("\n").filter((l) => l.includes("allocated="));
let alloc = 0, prom = 0, scav = 0, mc = 0, pause = 0;
for (const l of lines) { alloc += Number(/ allocated=(\d+)/.exec(l)?.[1] ?? 0); prom += Number(/ promoted=(\d+)/.exec(l)?.[1] ?? 0); const g = /gc=(\w+)/.exec(l)?.[1]; if (g === "s") scav++; else mc++; pause += Number(/pause=([\d.]+)/.exec(l)?.[1] ?? 0); }
// allocations over the whole run (warm-up included): per poll ≈ over all polls answered (h2load's succeeded covers measured only) 
const allPolls = (done / Number(secs)) * (Number(secs) + 3); // h2load counts the measured window only; GC and CPU cover warm-up too
console.log(JSON.stringify({ conc, extra: extra.join(" "), perSec: Math.round(done / Number(secs)), cpuUsPerPoll: Math.round((cpuS * 1e6) / allPolls), allocKBPerPoll: +(alloc / 1024 / allPolls).toFixed(1), promotedKBPerPoll: +(prom / 1024 / allPolls).toFixed(1), hwmMb: Math.round(hwm), gcs: { scav, mc, pauseMs: Math.round(pause) }, allocMB: Math.round(alloc / 1048576), promotedMB: Math.round(prom / 1048576) }));
