// Max connection age, its grace, and max connection idle on the Connect port (the gRPC port's flags), through
// real keep-alive clients on 127.0.0.1: node:http's Agent (HTTP/1.1, as a backend or a load balancer in front
// keeps connections) and node:http2 (h2c). Without them, keep-alive clients never leave a replica after a scale-up.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import http2 from "node:http2";
import https from "node:https";
import type net from "node:net";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ConnectorRegistry } from "flyte-connectors";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { startConnectorService, type ConnectorServiceHandle } from "../service.js";
import { TestConnector } from "../testing/fixture-connectors.js";
import { selfSignedCertificate } from "../testing/tls.js";
import { ConnectServer } from "./connect.js";
import type { TransportEvent } from "./types.js";

const GET_TASK = "/flyteidl2.connector.AsyncConnectorService/GetTask";

async function start(options: Record<string, unknown>): Promise<ConnectorServiceHandle> {
  const registry = new ConnectorRegistry().register(new TestConnector());
  return startConnectorService({ port: 0, prometheusPort: 0, host: "127.0.0.1", discover: false, builtins: false, registry, logLevel: "silent", ...options });
}

/** A Connect JSON GetTask whose connector takes `ms` to answer. */
function getTaskBody(ms: number): string {
  const meta = Buffer.from(JSON.stringify({ id: "job", ms })).toString("base64");
  return JSON.stringify({ taskCategory: { name: "test", version: 0 }, resourceMeta: meta, outputPrefix: "s3://bucket/run/1" });
}

interface Answer {
  status: number;
  connection: string | undefined;
  body: string;
  /** The client's port of the connection: the remote port the server saw. */
  clientPort: number;
  socket: net.Socket;
}

/** One GetTask through `agent` (keep-alive: the agent reuses its connection while the server keeps it). */
function getTask(agent: http.Agent, port: number, ms = 0, options: { path?: string; body?: Buffer | string; contentType?: string; tls?: boolean } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = { "content-type": options.contentType ?? "application/json" };
    const request = options.tls ? https.request : http.request;
    const req = request({ host: "127.0.0.1", port, path: options.path ?? GET_TASK, method: "POST", headers, agent }, (res) => {
      let body = "";
      res.on("data", (chunk) => (body += String(chunk)));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body, clientPort: req.socket!.localPort!, socket: req.socket! }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(options.body ?? getTaskBody(ms));
  });
}

async function transportEvents(service: ConnectorServiceHandle): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${service.prometheusPort}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^flyte_connector_transport_events_total\{event="(\w+)"\} (\d+)$/gm)) counts[match[1]!] = Number(match[2]);
  return counts;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > end) assert.fail(`timed out waiting for: ${what}`);
    await sleep(10);
  }
}

/** Resolves when the socket closes; fails the test when it is still open after `ms`. */
async function closeOf(socket: net.Socket, ms: number): Promise<void> {
  if (!socket.destroyed) await until(() => socket.destroyed, ms, "the connection closed");
}

function keepAliveAgent(t: { after(fn: () => void): void }): http.Agent {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  return agent;
}

describe("Connect port: --max-connection-age over HTTP/1.1 keep-alive", () => {
  test("an idle keep-alive connection past the age is closed; the client's next call arrives on a new connection", async (t) => {
    const service = await start({ maxConnectionAgeMs: 400, maxConnectionAgeGraceMs: 5000 });
    t.after(() => service.forceClose());
    const port = service.connectPort!;
    const agent = keepAliveAgent(t);
    const first = await getTask(agent, port);
    assert.equal(first.status, 200, first.body);
    const again = await getTask(agent, port);
    assert.equal(again.clientPort, first.clientPort, "kept alive before the age");
    const t0 = performance.now();
    await closeOf(first.socket, 5000);
    const closedAfter = performance.now() - t0;
    const next = await getTask(agent, port);
    console.log(`# idle connection closed ${closedAfter.toFixed(0)} ms after its second call (age 400 ms ±10%)`);
    assert.equal(next.status, 200, next.body);
    assert.notEqual(next.clientPort, first.clientPort, "a new connection after the age");
    assert.ok(closedAfter < 5000, `closed at ${closedAfter} ms`);
    const events = await transportEvents(service);
    assert.ok((events["goaway_sent"] ?? 0) >= 1, JSON.stringify(events));
    assert.equal(events["connection_age_closed"] ?? 0, 0, "nothing was cut");
  });

  test("a call in flight at the age completes within the grace, answered with `connection: close`; then the socket closes", async (t) => {
    const service = await start({ maxConnectionAgeMs: 300, maxConnectionAgeGraceMs: 10_000 });
    t.after(() => service.forceClose());
    const port = service.connectPort!;
    const agent = keepAliveAgent(t);
    const t0 = performance.now();
    const slow = await getTask(agent, port, 1200);
    const took = performance.now() - t0;
    assert.equal(slow.status, 200, slow.body);
    assert.match(slow.body, /SUCCEEDED|done job/);
    assert.equal(slow.connection, "close", "the answer after the age closes the connection");
    assert.ok(took >= 1100, `answered after ${took} ms: the connector's own time`);
    await closeOf(slow.socket, 3000);
    const next = await getTask(agent, port);
    assert.equal(next.status, 200);
    assert.notEqual(next.clientPort, slow.clientPort);
    const events = await transportEvents(service);
    assert.ok((events["goaway_sent"] ?? 0) >= 1, JSON.stringify(events));
    assert.equal(events["connection_age_closed"] ?? 0, 0, "the call finished within the grace: nothing cut");
  });

  test("a call outlasting the grace is cut when the grace ends (the socket destroyed) and counted", async (t) => {
    const service = await start({ maxConnectionAgeMs: 300, maxConnectionAgeGraceMs: 600 });
    t.after(() => service.forceClose());
    const agent = keepAliveAgent(t);
    const t0 = performance.now();
    const error = await getTask(agent, service.connectPort!, 12_000).then(
      (answer) => assert.fail(`expected the call cut, got ${answer.status} ${answer.body}`),
      (e: Error & { code?: string }) => e,
    );
    const cutAt = performance.now() - t0;
    console.log(`# call cut at ${cutAt.toFixed(0)} ms (age 300 ms ±10% + grace 600 ms): ${error.code ?? error.message}`);
    assert.ok(cutAt >= 270 + 600 - 50, `not before the grace ends (${cutAt} ms)`);
    assert.ok(cutAt < 10_000, `cut at ${cutAt} ms`);
    assert.match(String(error.code ?? error.message), /ECONNRESET|socket hang up/i);
    const events = await transportEvents(service);
    assert.equal(events["connection_age_closed"], 1, JSON.stringify(events));
  });

  test("default (age unset): a keep-alive connection stays open across calls", async (t) => {
    const service = await start({});
    t.after(() => service.forceClose());
    const port = service.connectPort!;
    const agent = keepAliveAgent(t);
    const first = await getTask(agent, port);
    await sleep(900);
    const second = await getTask(agent, port, 300);
    await sleep(600);
    const third = await getTask(agent, port);
    assert.equal(third.status, 200);
    assert.equal(second.clientPort, first.clientPort);
    assert.equal(third.clientPort, first.clientPort);
    assert.equal(first.socket.destroyed, false);
    assert.notEqual(second.connection, "close");
    const events = await transportEvents(service);
    assert.equal(events["goaway_sent"] ?? 0, 0, JSON.stringify(events));
    assert.equal(events["connection_idle_closed"] ?? 0, 0);
  });
});

describe("Connect port: --max-connection-idle over HTTP/1.1 keep-alive", () => {
  test("a keep-alive socket idle for the idle time is closed (counted); a call longer than it keeps its connection", async (t) => {
    const service = await start({ maxConnectionIdleMs: 400 });
    t.after(() => service.forceClose());
    const port = service.connectPort!;
    const agent = keepAliveAgent(t);
    const slow = await getTask(agent, port, 900);
    assert.equal(slow.status, 200, slow.body);
    assert.notEqual(slow.connection, "close", "busy longer than the idle time, still kept alive");
    const t0 = performance.now();
    await closeOf(slow.socket, 5000);
    const closedAfter = performance.now() - t0;
    console.log(`# idle keep-alive socket closed ${closedAfter.toFixed(0)} ms after its answer (idle 400 ms)`);
    assert.ok(closedAfter >= 200 && closedAfter < 5000, `closed ${closedAfter} ms after the answer`);
    const next = await getTask(agent, port);
    assert.notEqual(next.clientPort, slow.clientPort);
    const events = await transportEvents(service);
    assert.ok((events["connection_idle_closed"] ?? 0) >= 1, JSON.stringify(events));
  });
});

describe("Connect port: --max-connection-age over h2c", () => {
  test("GOAWAY at the age; the call in flight completes; the connection closes; a new one serves", async (t) => {
    const service = await start({ maxConnectionAgeMs: 400, maxConnectionAgeGraceMs: 10_000 });
    t.after(() => service.forceClose());
    const port = service.connectPort!;
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => {});
    t.after(() => session.destroy());
    const t0 = performance.now();
    let goawayAt: number | undefined;
    session.once("goaway", () => (goawayAt = performance.now() - t0));
    const stream = session.request({ ":method": "POST", ":path": GET_TASK, "content-type": "application/json" });
    stream.end(getTaskBody(1200));
    let body = "";
    stream.on("data", (chunk) => (body += String(chunk)));
    const [headers] = (await once(stream, "response")) as [http2.IncomingHttpHeaders];
    await once(stream, "end");
    assert.equal(headers[":status"], 200, body);
    assert.match(body, /done job/);
    await until(() => session.closed || session.destroyed, 5000, "the connection closes once its call is done");
    console.log(`# GOAWAY at ${goawayAt?.toFixed(0)} ms; the 1200 ms call completed on it`);
    assert.ok(goawayAt !== undefined && goawayAt >= 300 && goawayAt < 1200, `GOAWAY at ${goawayAt} ms, while the call was in flight`);
    const fresh = http2.connect(`http://127.0.0.1:${port}`);
    t.after(() => fresh.destroy());
    const second = fresh.request({ ":method": "POST", ":path": GET_TASK, "content-type": "application/json" });
    second.end(getTaskBody(0));
    const [h2] = (await once(second, "response")) as [http2.IncomingHttpHeaders];
    second.resume();
    assert.equal(h2[":status"], 200);
    const events = await transportEvents(service);
    assert.ok((events["goaway_sent"] ?? 0) >= 1, JSON.stringify(events));
    assert.equal(events["connection_age_closed"] ?? 0, 0);
  });
});

describe("Connect port: --max-connection-idle over h2c", () => {
  test("GOAWAY once the connection has had no call for the idle time (not during a longer call)", async (t) => {
    const service = await start({ maxConnectionIdleMs: 400 });
    t.after(() => service.forceClose());
    const session = http2.connect(`http://127.0.0.1:${service.connectPort!}`);
    session.on("error", () => {});
    t.after(() => session.destroy());
    let goaway = false;
    session.once("goaway", () => (goaway = true));
    const stream = session.request({ ":method": "POST", ":path": GET_TASK, "content-type": "application/json" });
    stream.end(getTaskBody(900));
    stream.resume();
    const [headers] = (await once(stream, "response")) as [http2.IncomingHttpHeaders];
    assert.equal(headers[":status"], 200);
    assert.equal(goaway, false, "no GOAWAY while a call longer than the idle time runs");
    const t0 = performance.now();
    await until(() => goaway, 5000, "GOAWAY after the idle time");
    await until(() => session.closed || session.destroyed, 5000, "the idle connection closes");
    const after = performance.now() - t0;
    console.log(`# h2c GOAWAY ${after.toFixed(0)} ms after the last call (idle 400 ms)`);
    assert.ok(after >= 200, `${after} ms`);
    const events = await transportEvents(service);
    assert.ok((events["connection_idle_closed"] ?? 0) >= 1, JSON.stringify(events));
  });
});

describe("Connect port: --max-connection-age, other clients and paths", () => {
  test("a stream whose headers went out before the age: it completes, then its keep-alive socket is closed", async (t) => {
    const events: TransportEvent[] = [];
    const server = new ConnectServer({ maxReceiveMessageBytes: 1024, maxConnectionAgeMs: 300, maxConnectionAgeGraceMs: 10_000, onEvent: (e) => events.push(e) });
    // A log stream that sends a page at once and ends 900 ms later (its answer began before the age).
    server.add({
      path: "/t.T/Stream",
      kind: "server_streaming",
      decode: (bytes) => bytes,
      encode: (message) => message as Uint8Array,
      handler: (call) => {
        call.write(Buffer.from("page 1"));
        setTimeout(() => call.end(), 900);
      },
    });
    const port = await server.listen(0, "127.0.0.1");
    t.after(() => server.destroy());
    const agent = keepAliveAgent(t);
    const envelope = Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), Buffer.from("x")]);
    const stream = { path: "/t.T/Stream", body: envelope, contentType: "application/connect+proto" };
    const answer = await getTask(agent, port, 0, stream);
    assert.equal(answer.status, 200);
    assert.match(answer.body, /page 1/);
    assert.notEqual(answer.connection, "close", "headers sent before the age");
    await closeOf(answer.socket, 3000);
    const next = await getTask(agent, port, 0, stream);
    assert.notEqual(next.clientPort, answer.clientPort);
    assert.ok(events.some((e) => e.event === "goaway_sent" && e.detail?.["reason"] === "max_connection_age"), JSON.stringify(events));
    assert.ok(!events.some((e) => e.event === "connection_age_closed"));
  });

  test("HTTPS (HTTP/1.1 by ALPN): an idle keep-alive connection past the age is closed; the next call on a new one", async (t) => {
    const material = selfSignedCertificate(t);
    if (!material) return;
    const service = await start({ tls: material, maxConnectionAgeMs: 400, maxConnectionAgeGraceMs: 5000 });
    t.after(() => service.forceClose());
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: material.cert });
    t.after(() => agent.destroy());
    const first = await getTask(agent, service.connectPort!, 0, { tls: true });
    assert.equal(first.status, 200, first.body);
    await closeOf(first.socket, 5000);
    const next = await getTask(agent, service.connectPort!, 0, { tls: true });
    assert.equal(next.status, 200);
    assert.notEqual(next.clientPort, first.clientPort);
  });

  test("@connectrpc/connect-node clients (HTTP/1.1 and HTTP/2) keep working across the age", async (t) => {
    const service = await start({ maxConnectionAgeMs: 300, maxConnectionAgeGraceMs: 5000 });
    t.after(() => service.forceClose());
    for (const httpVersion of ["1.1", "2"] as const) {
      const client = createClient(AsyncConnectorService, createConnectTransport({ baseUrl: `http://127.0.0.1:${service.connectPort}`, httpVersion }));
      const request = (ms: number) => ({ taskCategory: { name: "test", version: 0 }, resourceMeta: new TextEncoder().encode(JSON.stringify({ id: httpVersion, ms })), outputPrefix: "s3://b/r/1" });
      // Calls in flight at the age, calls after it: every one answered.
      const answers = await Promise.all([client.getTask(request(700)), sleep(500).then(() => client.getTask(request(0))), sleep(1300).then(() => client.getTask(request(0)))]);
      for (const answer of answers) assert.equal(answer.resource?.message, `done ${httpVersion}`);
    }
    const events = await transportEvents(service);
    assert.ok((events["goaway_sent"] ?? 0) >= 2, JSON.stringify(events));
    assert.equal(events["connection_age_closed"] ?? 0, 0);
  });
});
