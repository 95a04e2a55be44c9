// Operator experience of `serve` and `list`: loud start-up failures, one-line port errors, log lines a JSON
// parser reads whole, and no reading of the service's own disk for a caller (issue 12 items 9, 11, 12, 13).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Writable } from "node:stream";
import { create, toBinary } from "@bufbuild/protobuf";
import { pino } from "pino";
import { AsyncConnector, ConnectorRegistry, encodeInputs, encodeLiteral, Phase, ResourceMeta, types, variableMap, type CreateRequest, type Resource } from "flyte-connectors";
import { LiteralSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/literals_pb.js";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { startConnectorService } from "./service.js";
import { CLI_BIN as bin } from "./testing/spawn.js";
import { testClient } from "./testing/client.js";
import { testTransport } from "./testing/transport.js";

const repositoryRoot = fileURLToPath(new URL("../../..", import.meta.url));

class Meta extends ResourceMeta.define({ id: "string" }) {}

/** Runs the CLI to its end; resolves with its exit code and output. */
async function cli(args: readonly string[], cwd?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += String(d)));
  child.stderr.on("data", (d) => (stderr += String(d)));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}

const serveArgs = ["serve", "--port", "0", "--prometheus-port", "0", "--connect-port", "0", "--host", "127.0.0.1", "--no-discover", "--timeout", "5"];

function tempDir(t: { after: (fn: () => void) => void }, prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("serve: a --modules entry that fails to load stops start-up with exit 1, naming the file, line and reason", async (t) => {
  const dir = tempDir(t, "fc-modules-");
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
  writeFileSync(path.join(dir, "syntax.ts"), 'export default {\n  kind: "sync",\n  name: = 3,\n};\n');
  writeFileSync(path.join(dir, "syntax.js"), 'const a = 1;\nexport default {\n  kind: "sync",,\n};\n');
  writeFileSync(path.join(dir, "throws.ts"), 'const key = process.env["NOPE"];\nif (!key) throw new Error("NOPE is not set");\nexport default [];\n');
  const cases: Array<[string, RegExp]> = [
    ["syntax.ts", /cannot load --modules \S*syntax\.ts: \S*syntax\.ts:3:8: Unexpected "="/],
    ["syntax.js", /cannot load --modules \S*syntax\.js: Unexpected token ',' \(at \S*syntax\.js:3\)/],
    ["throws.ts", /cannot load --modules \S*throws\.ts: NOPE is not set \(at \S*throws\.ts:2:\d+\)/],
    ["missing.ts", /cannot load --modules \S*missing\.ts: Cannot find module '\S*missing\.ts'$/m],
  ];
  for (const [file, reason] of cases) {
    const run = await cli([...serveArgs, "--modules", path.join(dir, file)], dir);
    assert.equal(run.code, 1, `${file}: ${run.stderr}`);
    assert.match(run.stderr, reason, file);
    assert.doesNotMatch(run.stderr, /serving gRPC|Transform failed|\n\s+at /, `${file}: no serving line, no bare esbuild header, no stack`);
  }
  // `list` says the same, after the table of what did load.
  const listed = await cli(["list", "--no-discover", "--modules", path.join(dir, "syntax.ts")], dir);
  assert.equal(listed.code, 1);
  assert.match(listed.stdout, /Echo Connector/);
  assert.match(listed.stderr, /syntax\.ts:3:8: Unexpected "="/);
});

test("serve and list: a discovered package that fails is skipped with its full reason; start-up goes on", async (t) => {
  const dir = tempDir(t, "fc-discovered-");
  const pkg = path.join(dir, "node_modules", "broken-connectors");
  mkdirSync(pkg, { recursive: true });
  writeFileSync(path.join(pkg, "package.json"), JSON.stringify({ name: "broken-connectors", type: "module", flyteConnectors: "index.ts" }));
  writeFileSync(path.join(pkg, "index.ts"), "export default [\n  1 +,\n];\n");
  const listed = await cli(["list"], dir);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stderr, /skipped broken-connectors \(flyteConnectors\): \S*index\.ts:2:\d+: Unexpected/);
  const served = await cli(["serve", "--port", "0", "--prometheus-port", "0", "--connect-port", "0", "--host", "127.0.0.1", "--timeout", "1"], dir);
  assert.equal(served.code, 0, served.stderr);
  assert.match(served.stderr, /serving gRPC/);
  assert.match(served.stderr, /skipped broken-connectors \(flyteConnectors\): \S*index\.ts:2:\d+: Unexpected/);
});

test("a .ts module loaded as CommonJS (no \"type\": \"module\") says so", async (t) => {
  const dir = tempDir(t, "fc-cjs-");
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "mine" }));
  writeFileSync(path.join(dir, "conn.ts"), "const ready = await Promise.resolve(true);\nexport default [];\n");
  const run = await cli([...serveArgs, "--modules", "./conn.ts"], dir);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /conn\.ts is loaded as CommonJS because \S*package\.json has no "type": "module": add it, or name the file \.mts/);
});

test("a port in use or out of range is one line naming the flag and the port", async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  const taken = (blocker.address() as net.AddressInfo).port;
  try {
    const cases: Array<[string[], RegExp]> = [
      [["--port", String(taken)], new RegExp(`^error: --port ${taken}: 127\\.0\\.0\\.1:${taken} is already in use \\(EADDRINUSE\\)`)],
      [["--port", "0", "--prometheus-port", String(taken)], new RegExp(`^error: --prometheus-port ${taken}: 127\\.0\\.0\\.1:${taken} is already in use`)],
      [["--port", "0", "--prometheus-port", "0", "--connect-port", String(taken)], new RegExp(`^error: --connect-port ${taken}: 127\\.0\\.0\\.1:${taken} is already in use`)],
      [["--port", "70000"], /--port must be an integer from 0 to 65535/],
      [["--port", "0", "--prometheus-port", "65536"], /--prometheus-port must be an integer from 0 to 65535/],
    ];
    for (const [flags, line] of cases) {
      const run = await cli(["serve", "--host", "127.0.0.1", "--no-discover", "--prometheus-port", "0", "--connect-port", "0", ...flags]);
      assert.equal(run.code, 1, run.stderr);
      const lines = run.stderr.trim().split("\n");
      assert.equal(lines.length, 1, `one line: ${run.stderr}`);
      assert.match(lines[0]!, line);
    }
  } finally {
    blocker.close();
  }
});

test("a failed request's log line has one msg and the reason under its own key", async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  const service = await startConnectorService({ transport: testTransport(), port: 0, host: "127.0.0.1", prometheusPort: null, connectPort: null, discover: false, logger: pino({ level: "info" }, sink) });
  const client = testClient(service.port);
  try {
    await assert.rejects(client.unary(AsyncConnectorService.method.getTask, { taskCategory: { name: "no-such-type", version: 0 }, resourceMeta: new Uint8Array() }));
    const failed = lines.filter((line) => line.includes('"request failed"'));
    assert.equal(failed.length, 1, lines.join("\n"));
    assert.equal(failed[0]!.match(/"msg":/g)?.length, 1, `one msg key: ${failed[0]}`);
    const parsed = JSON.parse(failed[0]!) as { msg: string; reason?: string; code: string };
    assert.equal(parsed.msg, "request failed");
    assert.equal(parsed.code, "NOT_FOUND");
    assert.match(parsed.reason ?? "", /Cannot find connector for task type: no-such-type/);
  } finally {
    client.close();
    await service.forceClose();
  }
});

test("serve does not read its own disk for a caller (offloaded literal at a local path) unless --allow-local-files", async (t) => {
  const dir = tempDir(t, "fc-local-");
  const file = path.join(dir, "n.pb");
  writeFileSync(file, toBinary(LiteralSchema, await encodeLiteral(5, types.int.literalType)));
  const request = async (uri: string) => {
    const inputs = await encodeInputs({ n: 1 }, { n: types.int });
    inputs.literals[0]!.value = create(LiteralSchema, { value: { case: "offloadedMetadata", value: { uri } } });
    // The built-in echo connector answers its inputs as outputs.
    return { template: { type: "echo", interface: { inputs: variableMap({ n: types.int }), outputs: variableMap({ n: types.int }) } }, inputs, outputPrefix: "s3://b/x/1" };
  };
  for (const allowLocalFiles of [false, true]) {
    const service = await startConnectorService({ transport: testTransport(), port: 0, host: "127.0.0.1", prometheusPort: null, connectPort: null, discover: false, logLevel: "silent", allowLocalFiles });
    const client = testClient(service.port);
    try {
      for (const uri of [file, pathToFileURL(file).href]) {
        const call = client.unary(AsyncConnectorService.method.createTask, await request(uri));
        if (allowLocalFiles) {
          assert.ok((await call).resourceMeta.length > 0, "read with the flag");
        } else {
          await assert.rejects(call, (error: { code: number; details: string }) => {
            assert.equal(error.code, 3, error.details); // INVALID_ARGUMENT
            assert.ok(error.details.includes(`"${uri}"`), error.details);
            assert.match(error.details, /--allow-local-files/);
            return true;
          });
        }
      }
    } finally {
      client.close();
      await service.forceClose();
    }
  }
});

test("--version prints the package's version", async () => {
  const run = await cli(["--version"]);
  assert.equal(run.code, 0, run.stderr);
  const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  assert.equal(run.stdout.trim(), version);
});

test("list inside a package made by init lists the package's own connectors (from its source before the first build)", async (t) => {
  // Inside the repository, so the package's `import "flyte-connectors"` resolves without installing it.
  const cache = path.join(repositoryRoot, "node_modules", ".cache");
  mkdirSync(cache, { recursive: true });
  const scratch = mkdtempSync(path.join(cache, "fc-own-"));
  t.after(() => rmSync(scratch, { recursive: true, force: true }));
  const made = await cli(["init", "weather-connector", "--task-type", "weather_job"], scratch);
  assert.equal(made.code, 0, made.stderr);
  const dir = path.join(scratch, "weather-connector");
  const listed = await cli(["list"], dir);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /\sweather_job\s+0\s+weather-connector \(this package\)/);
  assert.doesNotMatch(listed.stderr, /skipped/);
  // With --modules the user chose what to load: the package's own entry is not loaded a second time.
  const explicit = await cli(["list", "--modules", "./src/index.ts"], dir);
  assert.equal(explicit.code, 0, explicit.stderr);
  assert.match(explicit.stdout, /\sweather_job\s+0\s+\.\/src\/index\.ts/);
  assert.doesNotMatch(explicit.stderr, /skipped/);
});

test("run <file> without a task name lists the file's tasks", async (t) => {
  const dir = tempDir(t, "fc-run-list-");
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
  const file = path.join(dir, "flow.ts");
  writeFileSync(
    file,
    `import { TaskEnvironment, types } from ${JSON.stringify(pathToFileURL(path.join(repositoryRoot, "packages", "flyte-connectors", "dist", "index.js")).href)};
const env = new TaskEnvironment({ name: "flow" });
export const shout = env.task({ name: "shout", inputs: { text: types.string }, outputs: { out: types.string } }, async ({ text }) => ({ out: text.toUpperCase() }));
export const count = env.task({ name: "count", inputs: { text: types.string }, outputs: { n: types.int } }, async ({ text }) => ({ n: text.length }));
`,
  );
  const run = await cli(["run", file], dir);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^ {2}shout \(flow\.shout\)$/m);
  assert.match(run.stdout, /^ {2}count \(flow\.count\)$/m);
});

test("a connector's failed fetch is logged with its cause (ECONNREFUSED), and the caller's message names the code", async () => {
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve())); // nothing listens there now
  const secret = "sk-live-0123456789abcdef";
  class Fetching extends AsyncConnector<Meta> {
    readonly name = "Fetching";
    readonly taskTypeName = "fetching";
    readonly metadataType = Meta;
    async create({ secrets }: CreateRequest): Promise<Meta> {
      await fetch(`http://127.0.0.1:${port}/jobs`, { method: "POST", headers: { authorization: `Bearer ${secrets["token"]}` } });
      return new Meta({ id: "never" });
    }
    async get(): Promise<Resource> {
      return { phase: Phase.RUNNING };
    }
    async delete(): Promise<void> {}
  }
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  const registry = new ConnectorRegistry().register(new Fetching());
  const service = await startConnectorService({ transport: testTransport(), port: 0, host: "127.0.0.1", prometheusPort: null, connectPort: null, discover: false, builtins: false, registry, logger: pino({ level: "info" }, sink) });
  const client = testClient(service.port);
  try {
    await assert.rejects(client.unary(AsyncConnectorService.method.createTask, { template: { type: "fetching" }, connection: { secrets: { token: secret } } }), (error: { code: number; details: string }) => {
      assert.equal(error.code, 13, error.details);
      assert.match(error.details, /fetch failed \(ECONNREFUSED\)/);
      return true;
    });
    const logged = lines.find((line) => line.includes('"connector call failed"'));
    assert.ok(logged, lines.join("\n"));
    assert.match(logged, /ECONNREFUSED/, "the cause is in the log line");
    assert.ok(!lines.join("\n").includes(secret), "and the secret is not");
  } finally {
    client.close();
    await service.forceClose();
  }
});
