import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { testClient } from "./testing/client.js";
import { CLI_BIN as bin, spawnService } from "./testing/spawn.js";

const fixture = fileURLToPath(new URL("./testing/fixture-connectors.ts", import.meta.url));

test("CLI: TypeScript module via --modules, SIGTERM drains in-flight calls, health NOT_SERVING, exit 0", async () => {
  const cli = await spawnService(["serve", "--port", "0", "--prometheus-port", "0", "--host", "127.0.0.1", "--modules", fixture, "--no-discover", "--grace-period", "10"]);
  const port = cli.port;
  assert.match(cli.stderr(), /Test Connector\s+test\s+0/);
  assert.match(cli.stderr(), /Echo Connector\s+echo\s+0/);
  const client = testClient(port);
  try {
    const watch = (client.health["watch"] as Function).call(client.health, { service: "" }) as grpc.ClientReadableStream<{ status: string }>;
    const statuses: string[] = [];
    watch.on("data", (d: { status: string }) => statuses.push(String(d.status)));
    watch.on("error", () => {});
    const slow = client.unary(AsyncConnectorService.method.getTask, {
      taskCategory: { name: "test", version: 0 },
      resourceMeta: new TextEncoder().encode(JSON.stringify({ id: "slow", ms: 1500 })),
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(statuses, ["SERVING"]);
    const exited = cli.stop();
    const t0 = Date.now();
    const got = await slow;
    assert.equal(got.resource?.message, "done slow", "the call in flight completes");
    assert.ok(statuses.includes("NOT_SERVING"), `health went NOT_SERVING while draining: ${statuses.join(",")}`);
    assert.equal(await exited, 0);
    assert.ok(Date.now() - t0 < 5000);
  } finally {
    client.close();
    await cli.stop("SIGKILL");
  }
});

test("CLI: list prints the connector table; a broken --modules entry is reported and fails the command (as serve)", async () => {
  const child = spawn(process.execPath, [bin, "list", "--no-discover", "--modules", fixture, "--modules", "./no/such/module.ts"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += String(d)));
  child.stderr.on("data", (d) => (err += String(d)));
  const [code] = await once(child, "exit");
  assert.equal(code, 1, err);
  assert.match(out, /NAME\s+TASK TYPE\s+VERSION\s+SOURCE/);
  assert.match(out, /Test Connector\s+test\s+0/);
  assert.match(out, /Sleep Connector\s+sleep\s+0/);
  assert.match(err, /cannot load --modules \.\/no\/such\/module\.ts: Cannot find module/);
});

test("CLI: SIGTERM while connectors load exits 0 without announcing; a second signal exits 1 at once", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "slow-module-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const slow = join(dir, "slow.mts");
  // The module says when it starts loading: the signal is sent then, not after a fixed time (start-up speed
  // varies several-fold on a loaded machine).
  writeFileSync(slow, 'process.stderr.write("slow module loading\\n");\nawait new Promise((resolve) => setTimeout(resolve, 3000));\nexport default [];\n');
  for (const signals of [1, 2]) {
    const child = spawn(process.execPath, [bin, "serve", "--port", "0", "--prometheus-port", "0", "--host", "127.0.0.1", "--no-discover", "--modules", slow], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d) => (err += String(d)));
    const exited = once(child, "exit");
    const loading = new Promise<void>((resolve) => {
      const onData = () => {
        if (!err.includes("slow module loading")) return;
        child.stderr.off("data", onData);
        resolve();
      };
      child.stderr.on("data", onData);
    });
    await Promise.race([loading, exited]);
    child.kill("SIGTERM");
    // Signals are not queued: a second one sent at once may be merged with the first.
    if (signals === 2) setTimeout(() => child.kill("SIGTERM"), 100);
    const [code] = await exited;
    assert.equal(code, signals === 1 ? 0 : 1, err);
    assert.doesNotMatch(err, /serving gRPC/);
  }
});

test("CLI: TLS flag mistakes are one-line errors naming the flag, exit 1", async () => {
  for (const [args, message] of [
    [["--tls-cert", "cert.pem"], /^error: --tls-cert and --tls-key go together\.\n$/],
    [["--tls-cert", "no/such/cert.pem", "--tls-key", "no/such/key.pem"], /^error: cannot read --tls-cert no\/such\/cert\.pem: ENOENT\n$/],
  ] as const) {
    const child = spawn(process.execPath, [bin, "serve", "--port", "0", "--prometheus-port", "0", "--no-discover", ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += String(d)));
    const [code] = await once(child, "exit");
    assert.equal(code, 1, err);
    assert.match(err, message);
  }
});

test("CLI: --timeout and --grace-period beyond the longest Node timer are refused with a clear error", async () => {
  for (const [flag, value] of [["--timeout", "2147484"], ["--grace-period", "99999999"]] as const) {
    const child = spawn(process.execPath, [bin, "serve", "--port", "0", "--prometheus-port", "0", "--no-discover", flag, value], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += String(d)));
    const [code] = await once(child, "exit");
    assert.equal(code, 1, err);
    assert.match(err, new RegExp(`${flag} must be an integer from \\d+ to 2147483\\.`));
  }
});
