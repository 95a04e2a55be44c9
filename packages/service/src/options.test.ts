import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { ConnectorMetadataService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { startConnectorService } from "./service.js";
import { testClient } from "./testing/client.js";
import { testTransport } from "./testing/transport.js";
import { selfSignedCertificate } from "./testing/tls.js";

test("TLS with --tls-cert/--tls-key material", async (t) => {
  const material = selfSignedCertificate(t);
  if (!material) return;
  const { cert, key } = material;
  const service = await startConnectorService({ transport: testTransport(), port: 0, host: "127.0.0.1", prometheusPort: null, logLevel: "silent", discover: false, tls: { cert, key: key } });
  const client = testClient(service.port, {}, grpc.credentials.createSsl(cert));
  try {
    const list = await client.unary(ConnectorMetadataService.method.listConnectors, {});
    assert.ok(list.connectors.some((c) => c.name === "Echo Connector"));
  } finally {
    client.close();
    await service.forceClose();
  }
});

test('discovery: installed packages with a "flyteConnectors" field are loaded; broken ones skipped', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "fc-discover-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pkg = (name: string, manifest: object, files: Record<string, string>) => {
    const root = path.join(dir, "node_modules", ...name.split("/"));
    mkdirSync(root, { recursive: true });
    writeFileSync(path.join(root, "package.json"), JSON.stringify({ name, ...manifest }));
    for (const [file, text] of Object.entries(files)) writeFileSync(path.join(root, file), text);
  };
  // A connector object of the core's shape (a plain object: the temp dir cannot import flyte-connectors).
  const connector = (name: string, type: string) =>
    `export default { kind: "async", name: ${JSON.stringify(name)}, taskTypeName: ${JSON.stringify(type)}, taskTypeVersion: 0, metadataType: { name: "M", decode: () => ({}) }, create: async () => ({ encode: () => new Uint8Array() }), get: async () => ({ phase: 3 }), delete: async () => {} };`;
  pkg("@acme/flyte-thing", { type: "module", flyteConnectors: "./connectors.js" }, { "connectors.js": connector("Acme Thing", "acme_thing") });
  pkg("ts-connectors", { flyteConnectors: "./src/index.ts" }, {});
  mkdirSync(path.join(dir, "node_modules", "ts-connectors", "src"));
  writeFileSync(path.join(dir, "node_modules", "ts-connectors", "src", "index.ts"), connector("Ts Thing", "ts_thing").replace("export default {", "const c: Record<string, unknown> = {").replace(/;$/, "; export default c;"));
  pkg("broken", { type: "module", flyteConnectors: "./missing.js" }, {});
  pkg("throws-bare", { type: "module", flyteConnectors: "./index.js" }, { "index.js": 'throw new TypeError("");' });
  pkg("unrelated", { type: "module", main: "x.js" }, {});
  const service = await startConnectorService({ transport: testTransport(), port: 0, host: "127.0.0.1", prometheusPort: null, logLevel: "silent", builtins: false, cwd: dir });
  try {
    assert.deepEqual(
      service.connectors.map((c) => [c.name, c.taskType, c.source]).sort(),
      [
        ["Acme Thing", "acme_thing", "@acme/flyte-thing (flyteConnectors)"],
        ["Ts Thing", "ts_thing", "ts-connectors (flyteConnectors)"],
      ],
    );
    assert.deepEqual(service.failures.map((f) => f.source), ["broken (flyteConnectors)", "throws-bare (flyteConnectors)"]);
    assert.match(service.failures[1]?.error ?? "", /^TypeError \(at \S+:\d+:\d+\)$/, "an error without a message is named by its type and place");
  } finally {
    await service.forceClose();
  }
});

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function rawHealth(port: number): Promise<string> {
  return new Promise((resolve) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => resolve("unreachable"));
    const req = session.request({ ":method": "POST", ":path": "/grpc.health.v1.Health/Check", "content-type": "application/grpc", te: "trailers" });
    const chunks: Buffer[] = [];
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("error", () => resolve("unreachable"));
    req.on("close", () => {
      session.close();
      const body = Buffer.concat(chunks);
      resolve(body.length >= 7 ? ["UNKNOWN", "SERVING", "NOT_SERVING"][body[6]!] ?? "?" : "none");
    });
    req.end(Buffer.from([0, 0, 0, 0, 0]));
  });
}

test("health is NOT_SERVING until connector modules are loaded, then SERVING within the load time", async () => {
  const port = await freePort();
  const bin = fileURLToPath(new URL("../bin/flyte-connector.js", import.meta.url));
  const module = fileURLToPath(new URL("./testing/slow-load.ts", import.meta.url));
  // --connect-port 0: a fixed --port would otherwise also bind the default Connect port 8090 (shared by parallel tests).
  const child = spawn(process.execPath, [bin, "serve", "--port", String(port), "--prometheus-port", "0", "--connect-port", "0", "--host", "127.0.0.1", "--no-discover", "--modules", module], { stdio: "ignore" });
  try {
    const seen: string[] = [];
    const t0 = Date.now();
    while (Date.now() - t0 < 10_000) {
      const status = await rawHealth(port);
      if (seen.at(-1) !== status) seen.push(status);
      if (status === "SERVING") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(seen.includes("NOT_SERVING"), `saw ${seen.join(" → ")}`);
    assert.equal(seen.at(-1), "SERVING");
  } finally {
    child.kill("SIGTERM");
    const [code] = await once(child, "exit");
    assert.equal(code, 0);
  }
});
