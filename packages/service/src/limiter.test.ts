import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { AsyncConnector, ConnectorRegistry, Phase, ResourceMeta, type ResourceRequest } from "flyte-connectors";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { startConnectorService, type ConnectorServiceOptions } from "./service.js";
import { testClient } from "./testing/client.js";
import { testTransport } from "./testing/transport.js";
import { Limiter } from "./limiter.js";

const A = AsyncConnectorService.method;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class WaitMeta extends ResourceMeta.define({ ms: "integer" }) {}

/** `get` waits `ms` (from the meta) and counts how many of its calls run at once; `honours` says whether it stops on its signal. */
class CountingConnector extends AsyncConnector<WaitMeta> {
  name: string;
  taskTypeName: string;
  metadataType = WaitMeta;
  override readonly maxConcurrency: number | undefined;
  running = 0;
  maxRunning = 0;
  finished = 0;
  readonly #honours: boolean;

  constructor(taskType: string, { honours = true, maxConcurrency }: { honours?: boolean; maxConcurrency?: number } = {}) {
    super();
    this.name = taskType;
    this.taskTypeName = taskType;
    this.maxConcurrency = maxConcurrency;
    this.#honours = honours;
  }

  async create(): Promise<WaitMeta> {
    return new WaitMeta({ ms: 0 });
  }

  async get({ resourceMeta, signal }: ResourceRequest<WaitMeta>) {
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, resourceMeta.ms);
        if (this.#honours) signal.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)), { once: true });
      });
    } finally {
      this.running--;
      this.finished++;
    }
    return { phase: Phase.SUCCEEDED };
  }

  async delete(): Promise<void> {}
}

const getRequest = (taskType: string, ms: number) => ({
  taskCategory: { name: taskType, version: 0 },
  resourceMeta: new TextEncoder().encode(JSON.stringify({ ms })),
});

function logSink() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: "info" }, stream) };
}

async function serve(connectors: AsyncConnector[], options: ConnectorServiceOptions = {}) {
  const registry = new ConnectorRegistry();
  for (const connector of connectors) registry.register(connector);
  const service = await startConnectorService({ transport: testTransport(), port: 0, prometheusPort: 0, host: "127.0.0.1", discover: false, builtins: false, logLevel: "silent", registry, ...options });
  return { service, client: testClient(service.port) };
}

const settle = (promises: Array<Promise<unknown>>) => Promise.allSettled(promises);

describe("--worker and per-connector concurrency", () => {
  test("--worker 2: a connector that ignores its signal never runs more than 2 at once; overdue calls are logged and counted", async () => {
    const stubborn = new CountingConnector("stubborn", { honours: false });
    const polite = new CountingConnector("polite");
    const logs = logSink();
    const { service, client } = await serve([stubborn, polite], { worker: 2, logger: logs.logger });
    try {
      // A connector that stops on its signal is not overdue.
      await assert.rejects(client.unary(A.getTask, getRequest("polite", 5000), { deadline: Date.now() + 100 }), (e: grpc.ServiceError) => e.code === grpc.status.DEADLINE_EXCEEDED);
      // Each call's deadline passes long before the connector returns; it keeps running regardless.
      const calls = Array.from({ length: 12 }, () => client.unary(A.getTask, getRequest("stubborn", 300), { deadline: Date.now() + 100 }));
      const results = await settle(calls);
      for (const result of results) {
        assert.equal(result.status, "rejected");
        assert.equal((result.reason as grpc.ServiceError).code, grpc.status.DEADLINE_EXCEEDED);
      }
      // Let whatever was started finish.
      for (let i = 0; i < 100 && stubborn.running > 0; i++) await sleep(20);
      assert.ok(stubborn.maxRunning <= 2, `ran ${stubborn.maxRunning} at once under --worker 2`);
      assert.ok(stubborn.finished >= 1, "some calls did run");
      const text = await (await fetch(`http://127.0.0.1:${service.prometheusPort}/metrics`)).text();
      const overdue = /flyte_connector_overdue_calls_total\{task_type="stubborn",operation="get"\} (\d+)/.exec(text);
      assert.ok(overdue, `no overdue counter in:\n${text.slice(0, 2000)}`);
      assert.equal(Number(overdue[1]), stubborn.finished, "every call that outlived its deadline is counted");
      const logged = logs.lines.filter((line) => line.msg === "connector call outlived its deadline or cancel");
      assert.equal(logged.length, stubborn.finished);
      assert.equal(logged[0]?.taskType, "stubborn");
      assert.doesNotMatch(text, /flyte_connector_overdue_calls_total\{task_type="polite"/);
    } finally {
      client.close();
      await service.forceClose();
    }
  });

  test("default settings: no global cap queues latency-bound calls (300 slow polls run at once)", async () => {
    const slow = new CountingConnector("slow");
    const { service, client } = await serve([slow]);
    try {
      await Promise.all(Array.from({ length: 300 }, () => client.unary(A.getTask, getRequest("slow", 300))));
      // All 300 ran at once (the old default, --worker 100, ran at most 100 and queued the rest).
      assert.equal(slow.maxRunning, 300);
    } finally {
      client.close();
      await service.forceClose();
    }
  });

  test("a connector's maxConcurrency queues its own calls only; calls over it end at their deadline while waiting", async () => {
    const vendor = new CountingConnector("vendor", { maxConcurrency: 2 });
    const other = new CountingConnector("other");
    const { service, client } = await serve([vendor, other]);
    try {
      const vendorCalls = Array.from({ length: 4 }, () => client.unary(A.getTask, getRequest("vendor", 800)));
      for (const call of vendorCalls) call.catch(() => {});
      await sleep(50);
      // The other connector is not held up by the vendor's queue.
      await Promise.all(Array.from({ length: 20 }, () => client.unary(A.getTask, getRequest("other", 0))));
      assert.equal(vendor.finished, 0, "the other connector's calls finished while the vendor's first two still ran");
      assert.equal(vendor.running, 2);
      // A vendor call waiting behind the others ends at its deadline (it never ran).
      await assert.rejects(client.unary(A.getTask, getRequest("vendor", 0), { deadline: Date.now() + 100 }), (e: grpc.ServiceError) => e.code === grpc.status.DEADLINE_EXCEEDED);
      await Promise.all(vendorCalls);
      assert.equal(vendor.maxRunning, 2);
      assert.equal(vendor.finished, 4, "the timed-out waiter never ran");
    } finally {
      client.close();
      await service.forceClose();
    }
  });
});

test("a maxConcurrency that is not a positive integer fails the call with INTERNAL naming the setting", async () => {
  const broken = new CountingConnector("broken", { maxConcurrency: 0 });
  const { service, client } = await serve([broken]);
  try {
    await assert.rejects(client.unary(A.getTask, getRequest("broken", 0)), (e: grpc.ServiceError) => e.code === grpc.status.INTERNAL && /maxConcurrency 0/.test(e.details));
    assert.equal(broken.finished, 0);
  } finally {
    client.close();
    await service.forceClose();
  }
});

describe("Limiter", () => {
  test("FIFO grants; a waiter whose signal fires leaves the queue", async () => {
    const limiter = new Limiter(1);
    const order: number[] = [];
    assert.equal(limiter.acquire(new AbortController().signal), undefined);
    const gone = new AbortController();
    const first = limiter.acquire(new AbortController().signal)!.then(() => order.push(1));
    const dropped = limiter.acquire(gone.signal)!;
    const second = limiter.acquire(new AbortController().signal)!.then(() => order.push(2));
    gone.abort(new Error("cancelled"));
    await assert.rejects(dropped, /cancelled/);
    limiter.release();
    await first;
    limiter.release();
    await second;
    assert.deepEqual(order, [1, 2]);
    assert.equal(limiter.running, 1);
    assert.equal(limiter.waiting, 0);
  });
});
