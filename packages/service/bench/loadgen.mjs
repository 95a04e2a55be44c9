// Load generator: a separate process speaking gRPC over raw node:http2 client sessions with pre-encoded frames.
// Usage: node loadgen.mjs <url> <path> <base64 request message> <concurrency> <seconds> [sessions] [warm-up seconds]
// Prints one JSON line: { calls, errors, seconds, rps, p50ms, p99ms, firstError }.
import http2 from "node:http2";

const [url, path, b64, concStr, secStr, sessStr, warmStr] = process.argv.slice(2);
const msg = Buffer.from(b64 ?? "", "base64");
const frame = Buffer.alloc(5 + msg.length);
frame.writeUInt8(0, 0);
frame.writeUInt32BE(msg.length, 1);
msg.copy(frame, 5);
const concurrency = Number(concStr ?? 64);
const seconds = Number(secStr ?? 5);
const nSessions = Number(sessStr ?? 1);

const sessions = [];
for (let i = 0; i < nSessions; i++) {
  const s = http2.connect(url, { settings: { initialWindowSize: 1 << 24 } });
  s.on("error", () => {});
  sessions.push(s);
}
await Promise.all(sessions.map((s) => new Promise((res, rej) => { s.once("connect", res); s.once("error", rej); })));

const headers = {
  ":method": "POST",
  ":path": path,
  "content-type": "application/grpc",
  te: "trailers",
  "grpc-timeout": "10S",
};
const warmupMs = warmStr ? Number(warmStr) * 1000 : Math.min(1000, seconds * 200);
const start = performance.now();
const measureFrom = start + warmupMs;
const end = measureFrom + seconds * 1000;
const lat = [];
let calls = 0, errors = 0, firstError;
let sessIdx = 0;

function one() {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = sessions[sessIdx++ % sessions.length];
    const req = s.request(headers);
    let status;
    req.on("response", (h) => { if (h["grpc-status"] !== undefined) status = h["grpc-status"]; });
    req.on("trailers", (t) => { status = t["grpc-status"]; if (status !== "0" && !firstError) firstError = t["grpc-message"]; });
    req.on("data", () => {});
    req.on("error", (e) => { if (!firstError) firstError = String(e); });
    req.on("close", () => {
      const t1 = performance.now();
      if (t0 >= measureFrom && t1 <= end) {
        if (status === "0") { calls++; lat.push(t1 - t0); } else errors++;
      }
      resolve();
    });
    req.end(frame);
  });
}

async function worker() {
  while (performance.now() < end) await one();
}
await Promise.all(Array.from({ length: concurrency }, worker));
lat.sort((a, b) => a - b);
const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN);
for (const s of sessions) s.close();
process.stdout.write(JSON.stringify({ calls, errors, seconds, rps: calls / seconds, p50ms: q(0.5), p99ms: q(0.99), firstError }) + "\n");
