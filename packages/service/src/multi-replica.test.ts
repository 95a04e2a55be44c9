// Several replicas of the service behind one backend: every call may land on any replica, so a job created on one
// must be readable and deletable on another, even after the first is gone. Real service processes (the CLI), real
// grpc-js clients; the round-robin checks use the Flyte backend's default service config string (connector plugin
// config.go, flyteorg/flyte: `{"loadBalancingConfig": [{"round_robin":{}}]}`). The last test dials as the backend
// does — grpc-go, a `dns:///` target — with a small DNS server standing in for the cluster DNS of a headless
// Service (A records, one per ready pod; RFC 1035 messages through the dns-packet library).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import { once } from "node:events";
import dnsPacket from "dns-packet";
import * as grpc from "@grpc/grpc-js";
import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { Duration, encodeInputs, Phase, types, variableMap } from "flyte-connectors";
import { serviceDefinition } from "./testing/grpc-definitions.js";
import { testClient, type TestClient } from "./testing/client.js";
import { buildGoClient } from "./testing/go-build.js";
import { spawnService, type SpawnedService } from "./testing/spawn.js";

interface Replica extends SpawnedService {
  host: string;
  client: TestClient;
}

/** Starts `flyte-connector serve` (built-in echo and sleep connectors) on `host` (a free port unless given). */
async function startReplica(host = "127.0.0.1", port = 0): Promise<Replica> {
  // --connect-port 0: with a fixed --port the default Connect port 8090 would be bound too.
  const service = await spawnService(["serve", "--port", String(port), "--prometheus-port", "0", "--connect-port", "0", "--host", host, "--no-discover", "--log-level", "warn"]);
  return Object.assign(service, { host, client: testClient(service.port, {}, undefined, host) });
}

function stopAll(replicas: Replica[]): void {
  for (const r of replicas) {
    r.client.close();
    r.child.kill("SIGKILL");
  }
}

const inputTypes = { duration: types.duration };

async function sleepRequest(seconds: number) {
  return {
    template: { type: "sleep", interface: { inputs: variableMap(inputTypes) } },
    inputs: await encodeInputs({ duration: Duration.fromSeconds(seconds) }, inputTypes),
    outputPrefix: "s3://bucket/run/action/1",
  };
}

/** Successful calls of `operation` a replica has counted, from its Prometheus endpoint. */
async function successfulCalls(replica: Replica, operation: string): Promise<number> {
  const text = await (await fetch(`http://${replica.host}:${replica.metricsPort}/metrics`)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith("flyte_connector_requests_success_total{") && l.includes(`operation="${operation}"`))
    .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}

test("a job created on one replica is polled and deleted on another, after the first has stopped", async () => {
  const a = await startReplica();
  const b = await startReplica();
  try {
    // Long enough that the job is still running after A has stopped, even on a loaded machine.
    const created = await a.client.unary(AsyncConnectorService.method.createTask, await sleepRequest(3));
    assert.ok(created.resourceMeta.length > 0);

    // Replica A goes away (a rollout, a scale-down): B answers from the resource meta alone.
    assert.equal(await a.stop(), 0);

    const category = { name: "sleep", version: 0 };
    const running = await b.client.unary(AsyncConnectorService.method.getTask, { taskCategory: category, resourceMeta: created.resourceMeta });
    assert.equal(running.resource?.phase, Phase.RUNNING);
    assert.match(running.resource?.message ?? "", /sleeping, \d s left/);

    // Poll B as the backend would, until the job ends (bounded: a job that never ends fails the test).
    let done = running;
    for (let polls = 0; done.resource?.phase === Phase.RUNNING && polls < 100; polls++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      done = await b.client.unary(AsyncConnectorService.method.getTask, { taskCategory: category, resourceMeta: created.resourceMeta });
    }
    assert.equal(done.resource?.phase, Phase.SUCCEEDED);
    assert.equal(done.resource?.message, "slept 3 s");
    // DeleteTask (abort / garbage collection) on yet another process is OK too.
    await b.client.unary(AsyncConnectorService.method.deleteTask, { taskCategory: category, resourceMeta: created.resourceMeta });
  } finally {
    stopAll([a, b]);
  }
});

test("the backend's round_robin service config spreads calls over the replicas it resolves", async (t) => {
  const replicas = [await startReplica(), await startReplica()];
  // What a dns:/// target resolves a headless Service to: every ready pod's address.
  const target = `ipv4:${replicas.map((r) => `127.0.0.1:${r.port}`).join(",")}`;
  const Client = grpc.makeGenericClientConstructor(serviceDefinition(AsyncConnectorService), "AsyncConnectorService");
  const client = new Client(target, grpc.credentials.createInsecure(), { "grpc.service_config": '{"loadBalancingConfig": [{"round_robin":{}}]}' });
  const call = <O extends DescMessage>(method: { localName: string; input: DescMessage; output: O }, request: object) =>
    new Promise<MessageShape<O>>((resolve, reject) => {
      const fn = (client as unknown as Record<string, Function>)[method.localName]!.bind(client);
      fn(create(method.input, request as never), new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e: Error | null, r: MessageShape<O>) => (e ? reject(e) : resolve(r)));
    });
  try {
    const created = await call(AsyncConnectorService.method.createTask, await sleepRequest(60));
    const calls = 20;
    for (let i = 0; i < calls; i++) {
      const got = await call(AsyncConnectorService.method.getTask, { taskCategory: { name: "sleep" }, resourceMeta: created.resourceMeta });
      assert.equal(got.resource?.phase, Phase.RUNNING);
    }
    const counts = await Promise.all(replicas.map((r) => successfulCalls(r, "get")));
    t.diagnostic(`GetTask calls per replica: ${counts.join(" / ")}`);
    assert.equal(counts[0]! + counts[1]!, calls);
    // round_robin alternates once both subchannels are ready; allow for the first picks landing before that.
    for (const count of counts) assert.ok(count >= calls / 4, `each replica served GetTask calls: ${counts.join(" / ")}`);
  } finally {
    client.close();
    stopAll(replicas);
  }
});

// ---- grpc-go through DNS, as the backend dials ----

/** A UDP DNS server on 127.0.0.1 answering A queries for `name` with `addresses()`; NXDOMAIN for other names. */
async function startDns(name: string, addresses: () => string[]): Promise<{ port: number; queries: string[]; close(): void }> {
  const socket = dgram.createSocket("udp4");
  const queries: string[] = [];
  socket.on("message", (message, peer) => {
    const query = dnsPacket.decode(message);
    const question = query.questions?.[0];
    if (!question) return;
    queries.push(`${question.type} ${question.name}`);
    const ours = question.name.toLowerCase().replace(/\.$/, "") === name;
    const answers = ours && question.type === "A" ? addresses().map((ip) => ({ type: "A" as const, name: question.name, ttl: 5, data: ip })) : [];
    const reply = dnsPacket.encode({
      id: query.id,
      type: "response",
      // Recursion desired + available; rcode 3 (NXDOMAIN) for names we do not serve.
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (ours ? 0 : 3),
      questions: [question],
      answers,
    });
    socket.send(reply, peer.port, peer.address);
  });
  socket.bind(0, "127.0.0.1");
  await once(socket, "listening");
  return { port: socket.address().port, queries, close: () => socket.close() };
}

const goBuild = buildGoClient();
const goMissing = "binary" in goBuild ? undefined : "missing" in goBuild ? goBuild.missing : goBuild.error;
// A failed build is a defect anywhere; a missing toolchain only under CI=true (CI installs it, see .ci/run).
if (goMissing && ("error" in goBuild || process.env["CI"] === "true")) test("the grpc-go client builds (Go and grpc-go installed)", () => assert.fail(goMissing));

test("grpc-go with a dns:/// target and round_robin spreads calls over every address the name resolves to", { skip: goMissing ?? false }, async (t) => {
  const binary = (goBuild as { binary: string }).binary;
  // Two "pods": the same port on two addresses, as a headless Service's A records give.
  const a = await startReplica("127.0.0.1");
  const b = await startReplica("127.0.0.2", a.port);
  const name = "flyte-connector.flyte.svc.cluster.local";
  const dns = await startDns(name, () => ["127.0.0.1", "127.0.0.2"]);
  try {
    const calls = 20;
    const input = {
      // dns://<DNS server>/<name>:<port>: grpc-go's DNS resolver asks that server instead of the system's.
      target: `dns://127.0.0.1:${dns.port}/${name}:${a.port}`,
      serviceConfig: '{"loadBalancingConfig": [{"round_robin":{}}]}',
      calls: Array.from({ length: calls }, () => ({ method: "/flyteidl2.connector.ConnectorMetadataService/ListConnectors", request: "", timeoutMs: 5000 })),
    };
    const child = spawn(binary, [], { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.resume();
    child.stdin.end(JSON.stringify(input));
    const [code] = await once(child, "close");
    assert.equal(code, 0);
    const run = JSON.parse(Buffer.concat(out).toString()) as { results: { code: number; message: string }[] };
    assert.deepEqual(run.results.map((r) => r.code), Array(calls).fill(0), JSON.stringify(run.results[0]));
    assert.ok(dns.queries.includes(`A ${name}`), `grpc-go resolved the name through DNS: ${dns.queries.join(", ")}`);
    const counts = await Promise.all([a, b].map((r) => successfulCalls(r, "list")));
    t.diagnostic(`ListConnectors calls per replica (grpc-go, dns:///, round_robin): ${counts.join(" / ")}`);
    assert.equal(counts[0]! + counts[1]!, calls);
    for (const count of counts) assert.ok(count >= calls / 4, `each replica served calls: ${counts.join(" / ")}`);
  } finally {
    dns.close();
    stopAll([a, b]);
  }
});
