#!/usr/bin/env node
// Storage benchmark: write and read an object of --size MiB (default 100) against a local S3 server (s3rver, in its
// own process), through ObjectStore's streams, beside the same transfer by a plain AWS SDK call and by the AWS CLI
// (when `aws` is on PATH), each in a fresh process. Prints MB/s and the process's peak RSS (VmHWM): with streams the
// peak stays flat whatever the size (try --size 1024). Not a test: numbers vary with the machine.
//   node packages/flyte-connectors/bench/storage.mjs [--size 100] [--size 1024]
// Needs a build (npm run build): it imports flyte-connectors from dist.
import { spawn, spawnSync } from "node:child_process";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createCipheriv } from "node:crypto";

const MiB = 1024 * 1024;
const BUCKET = "bench";
const KEYS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
const isolated = { AWS_EC2_METADATA_DISABLED: "true", METADATA_SERVER_DETECTION: "none", AWS_SHARED_CREDENTIALS_FILE: "/dev/null", AWS_CONFIG_FILE: "/dev/null" };

/** Peak resident set size of this process in MiB (the kernel's high-water mark). */
async function peakRssMiB() {
  const status = await readFile("/proc/self/status", "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

/** One case in this (fresh) process; prints {seconds, peakRssMiB}. */
async function runCase([name, endpoint, key, file]) {
  // Modules are loaded before the clock starts (in both forms), so MB/s is the transfer's; RSS counts them.
  const { ObjectStore } = await import("flyte-connectors");
  const { S3Client, GetObjectCommand } = await import("@aws-sdk/client-s3");
  const { Upload } = await import("@aws-sdk/lib-storage");
  const store = new ObjectStore({ s3: { endpoint, ...KEYS, addressingStyle: "path" } });
  const client = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: KEYS });
  const uri = `s3://${BUCKET}/${key}`;
  const started = performance.now();
  if (name === "store-put") await store.putStream(uri, createReadStream(file));
  else if (name === "store-get") await pipeline(await store.getStream(uri), createWriteStream(file));
  else if (name === "sdk-put") await new Upload({ client, params: { Bucket: BUCKET, Key: key, Body: createReadStream(file) } }).done();
  else await pipeline((await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body, createWriteStream(file));
  console.log(JSON.stringify({ seconds: (performance.now() - started) / 1000, peakRssMiB: await peakRssMiB() }));
}

/** Runs a command, sampling its peak RSS from /proc (VmHWM) until it exits. */
async function measured(command, args, env) {
  const started = performance.now();
  const child = spawn(command, args, { env: { ...process.env, ...isolated, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  let peak = 0;
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  const timer = setInterval(async () => {
    try {
      const status = await readFile(`/proc/${child.pid}/status`, "utf8");
      peak = Math.max(peak, Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024);
    } catch {}
  }, 20);
  const code = await new Promise((resolve) => child.on("exit", resolve));
  clearInterval(timer);
  if (code !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${code}: ${out}`);
  const reported = out.trim().startsWith("{") ? JSON.parse(out.trim().split("\n").pop()) : undefined;
  return { seconds: reported?.seconds ?? (performance.now() - started) / 1000, peakRssMiB: reported?.peakRssMiB ?? peak };
}

async function main() {
  const sizes = process.argv.flatMap((a, i) => (a === "--size" ? [Number(process.argv[i + 1])] : []));
  if (sizes.length === 0) sizes.push(100);
  const dir = await mkdtemp(join(tmpdir(), "storage-bench-"));
  // s3rver in its own process, so its memory is not counted in any case.
  const server = spawn(process.execPath, ["--input-type=module", "-e", `
    const { default: S3rver } = await import("s3rver");
    const s = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: ${JSON.stringify(join(dir, "s3"))}, configureBuckets: [{ name: "${BUCKET}" }] });
    const { port } = await s.run();
    console.log(port);
  `], { stdio: ["ignore", "pipe", "inherit"], cwd: import.meta.dirname });
  const port = await new Promise((resolve) => server.stdout.once("data", (d) => resolve(Number(String(d).trim()))));
  const endpoint = `http://127.0.0.1:${port}`;
  const hasCli = spawnSync("aws", ["--version"], { stdio: "ignore" }).status === 0;
  const rows = [];
  try {
    for (const size of sizes) {
      const source = join(dir, `source-${size}.bin`);
      // Incompressible bytes (AES-CTR of zeros), written once.
      const cipher = createCipheriv("aes-128-ctr", Buffer.alloc(16, 1), Buffer.alloc(16));
      await pipeline(async function* () {
        for (let i = 0; i < size; i++) yield cipher.update(Buffer.alloc(MiB));
      }, createWriteStream(source));
      const bytes = (await stat(source)).size;
      const node = (name, key, file) => measured(process.execPath, [import.meta.filename, "--case", name, endpoint, key, file]);
      const cases = [
        ["ObjectStore.putStream", () => node("store-put", `store-${size}`, source)],
        ["ObjectStore.getStream", () => node("store-get", `store-${size}`, join(dir, "out.bin"))],
        ["AWS SDK Upload (lib-storage)", () => node("sdk-put", `sdk-${size}`, source)],
        ["AWS SDK GetObject", () => node("sdk-get", `sdk-${size}`, join(dir, "out.bin"))],
      ];
      if (hasCli) {
        const cli = (args) => measured("aws", ["--endpoint-url", endpoint, "s3", "cp", "--only-show-errors", ...args], { AWS_ACCESS_KEY_ID: KEYS.accessKeyId, AWS_SECRET_ACCESS_KEY: KEYS.secretAccessKey, AWS_DEFAULT_REGION: "us-east-1" });
        cases.push(["aws s3 cp (upload)", () => cli([source, `s3://${BUCKET}/cli-${size}`])], ["aws s3 cp (download)", () => cli([`s3://${BUCKET}/cli-${size}`, join(dir, "out.bin")])]);
      }
      for (const [label, run] of cases) {
        const { seconds, peakRssMiB } = await run();
        rows.push({ case: label, MiB: size, "MB/s": (bytes / 1e6 / seconds).toFixed(1), "peak RSS MiB": peakRssMiB.toFixed(0) });
        console.error(`${label} ${size} MiB: ${(bytes / 1e6 / seconds).toFixed(1)} MB/s, peak RSS ${peakRssMiB.toFixed(0)} MiB`);
      }
      await rm(source);
    }
    console.table(rows);
  } finally {
    server.kill();
    await rm(dir, { recursive: true, force: true });
  }
}

const at = process.argv.indexOf("--case");
if (at >= 0) await runCase(process.argv.slice(at + 1));
else await main();
