// The HTTP client's cost in a latency-bound connector: JSON GET and POST to a loopback vendor API that answers
// after 200 ms (bench/servers/vendor.mjs), with N requests in flight (default 1,000; each answer starts the next).
// Every client runs in a fresh process (its own RSS peak); the vendor runs in another. Per client: requests/s,
// CPU µs per request (user+system of the client process during the measured window / requests — the number that
// holds on a shared machine), RSS peak (VmHWM) and the CPU ratio to fetch in the same run.
// Usage: node packages/service/bench/http-clients.mjs [--concurrency 1000] [--seconds 5] [--warmup 2]
//        [--clients fetch,undici-request,...] [--modes get,post] [--rounds 1]
import { fork } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import http from "node:http";
import { fileURLToPath } from "node:url";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};

const PAYLOAD = { job: "job-1", spec: { cluster: "c-1", epochs: 3, args: ["--lr", "0.01"] } };

/** Each client: (url, method, body) → parsed JSON reply. Built once per process (pools and agents are shared). */
const CLIENTS = {
  // Node's global fetch (its bundled undici, the global pool).
  fetch: async () => async (url, method, body) => {
    const response = await fetch(url, { method, headers: { accept: "application/json", ...(body ? { "content-type": "application/json" } : {}) }, body });
    return response.json();
  },
  // fetch as flyte-connectors' requestJson called it before: a signal per call (caller's + a per-attempt timeout).
  "fetch+signal": async () => {
    const caller = new AbortController().signal;
    return async (url, method, body) => {
      const signal = AbortSignal.any([caller, AbortSignal.timeout(30_000)]);
      const response = await fetch(url, { method, signal, headers: { accept: "application/json", ...(body ? { "content-type": "application/json" } : {}) }, body });
      return response.json();
    };
  },
  // undici's request API on the global dispatcher (the same one fetch uses when undici's global is set).
  "undici-request": async () => {
    const { request } = await import("undici");
    return async (url, method, body) => {
      const { body: reply } = await request(url, { method, headers: { accept: "application/json", ...(body ? { "content-type": "application/json" } : {}) }, body });
      return reply.json();
    };
  },
  "undici-agent": async () => {
    const { Agent } = await import("undici");
    const agent = new Agent({ keepAliveTimeout: 60_000 });
    return async (url, method, body) => {
      const { body: reply } = await agent.request({ origin: url.origin, path: url.pathname, method, headers: { accept: "application/json", ...(body ? { "content-type": "application/json" } : {}) }, body });
      return reply.json();
    };
  },
  "undici-pool": async (origin) => {
    const { Pool } = await import("undici");
    const pool = new Pool(origin, { keepAliveTimeout: 60_000 });
    return async (url, method, body) => {
      const { body: reply } = await pool.request({ path: url.pathname, method, headers: { accept: "application/json", ...(body ? { "content-type": "application/json" } : {}) }, body });
      return reply.json();
    };
  },
  // node:http with a keep-alive agent and no socket cap (as undici's default pool).
  "node-http": async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
    return (url, method, body) =>
      new Promise((resolve, reject) => {
        const req = http.request(url, { method, agent, headers: { accept: "application/json", ...(body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {}) } }, (res) => {
          const chunks = [];
          res.on("data", (chunk) => chunks.push(chunk));
          res.on("end", () => {
            try {
              resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
            } catch (error) {
              reject(error);
            }
          });
          res.on("error", reject);
        });
        req.on("error", reject);
        req.end(body);
      });
  },
  // The SDK's helper as connectors call it (built dist of flyte-connectors): a caller signal, default timeout and retries.
  requestJson: async () => {
    const { requestJson } = await import("flyte-connectors/http");
    const signal = new AbortController().signal;
    return (url, method, body) => requestJson({ url, method, signal, ...(body ? { body: PAYLOAD } : {}) });
  },
};

const vmHwmMb = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0) / 1024;

async function runClient() {
  const { client, mode, origin, concurrency, seconds, warmup } = JSON.parse(process.env.HTTP_CLIENT_BENCH);
  const call = await CLIENTS[client](origin);
  const url = new URL("/jobs/job-1", origin);
  const method = mode === "post" ? "POST" : "GET";
  const body = mode === "post" ? JSON.stringify(PAYLOAD) : undefined;
  let done = 0;
  let errors = 0;
  let firstError;
  let stop = false;
  const loop = async () => {
    while (!stop) {
      try {
        const reply = await call(url, method, body);
        if (reply?.state !== "succeeded") throw new Error(`unexpected reply ${JSON.stringify(reply)}`);
        done++;
      } catch (error) {
        errors++;
        firstError ??= String(error?.cause ?? error);
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  await new Promise((resolve) => setTimeout(resolve, warmup * 1000));
  const start = { done, errors, cpu: process.cpuUsage(), at: performance.now() };
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const cpu = process.cpuUsage(start.cpu);
  const elapsed = (performance.now() - start.at) / 1000;
  const n = done - start.done;
  stop = true;
  const result = { client, mode, perSecond: n / elapsed, cpuUsPerRequest: (cpu.user + cpu.system) / n, rssPeakMb: vmHwmMb(), errors: errors - start.errors, firstError };
  process.send(result, () => process.exit(0));
  await Promise.race([Promise.all(loops), new Promise((resolve) => setTimeout(resolve, 1000))]);
}

async function main() {
  const concurrency = Number(arg("concurrency", 1000));
  const seconds = Number(arg("seconds", 5));
  const warmup = Number(arg("warmup", 2));
  const clients = arg("clients", "fetch,fetch+signal,undici-request,undici-agent,undici-pool,node-http,requestJson").split(",");
  const modes = arg("modes", "get,post").split(",");
  const rounds = Number(arg("rounds", 1));
  const vendor = fork(fileURLToPath(new URL("./servers/vendor.mjs", import.meta.url)), { env: { ...process.env, VENDOR_DELAY_MS: "200" } });
  process.on("exit", () => vendor.kill("SIGKILL"));
  const [{ port }] = await once(vendor, "message");
  const origin = `http://127.0.0.1:${port}`;
  const results = [];
  for (let round = 0; round < rounds; round++) {
    for (const mode of modes) {
      for (const client of clients) {
        const child = fork(fileURLToPath(import.meta.url), ["--child"], {
          env: { ...process.env, HTTP_CLIENT_BENCH: JSON.stringify({ client, mode, origin, concurrency, seconds, warmup }) },
        });
        const [result] = await once(child, "message");
        await once(child, "exit");
        results.push(result);
        process.stderr.write(".");
      }
    }
  }
  process.stderr.write("\n");
  const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  console.log(`${concurrency} in flight, vendor answers after 200 ms, ${seconds} s measured after ${warmup} s, ${rounds} round(s); load average now ${load()}`);
  console.log("| client | mode | requests/s | CPU µs/request | CPU vs fetch | RSS peak MB | errors |");
  console.log("|---|---|---|---|---|---|---|");
  const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  for (const mode of modes) {
    const of = (client, key) => median(results.filter((r) => r.client === client && r.mode === mode).map((r) => r[key]));
    const fetchCpu = of("fetch", "cpuUsPerRequest");
    for (const client of clients) {
      const cpu = of(client, "cpuUsPerRequest");
      const errs = results.filter((r) => r.client === client && r.mode === mode).reduce((sum, r) => sum + r.errors, 0);
      const firstError = results.find((r) => r.client === client && r.mode === mode && r.firstError)?.firstError;
      console.log(`| ${client} | ${mode.toUpperCase()} | ${Math.round(of(client, "perSecond"))} | ${Math.round(cpu)} | ${fetchCpu ? (cpu / fetchCpu).toFixed(2) : "–"} | ${Math.round(of(client, "rssPeakMb"))} | ${errs}${firstError ? ` (${firstError})` : ""} |`);
    }
  }
  vendor.kill("SIGINT");
}

if (process.argv.includes("--child")) await runClient();
else await main();
