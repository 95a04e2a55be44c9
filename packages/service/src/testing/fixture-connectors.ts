// Connectors for the service's tests. Also loaded by the CLI tests with `--modules` (a TypeScript file, no build step).
import { AsyncConnector, ConnectorError, Phase, ResourceMeta, type CreateRequest, type LogsPage, type LogsRequest, type MetricsResult, type Resource, type ResourceRequest } from "flyte-connectors";

export class TestMeta extends ResourceMeta.define({ id: "string", ms: "number" }) {}

/** What the tests observe from inside connector calls. */
export const observed: { abortReasons: unknown[]; lastCreateInputSize: number; floodsClosed: number } = { abortReasons: [], lastCreateInputSize: 0, floodsClosed: 0 };

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      observed.abortReasons.push(signal.reason);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Task type "test". `custom.mode` picks create's behaviour: "wait" (until the signal fires), "invalid"
 * (INVALID_ARGUMENT), "internal" (a plain Error naming the secret "token", 20 KB long); otherwise it returns a meta
 * whose `ms` (from `custom.ms`) is how long get takes.
 */
export class TestConnector extends AsyncConnector<TestMeta> {
  readonly name = "Test Connector";
  readonly taskTypeName = "test";
  readonly metadataType = TestMeta;

  async create({ custom, inputs, secrets, signal }: CreateRequest): Promise<TestMeta> {
    observed.lastCreateInputSize = JSON.stringify(inputs).length;
    switch (custom["mode"]) {
      case "wait":
        await sleep(60_000, signal);
        break;
      case "invalid":
        throw new ConnectorError("INVALID_ARGUMENT", "mode invalid: bad input");
      case "internal":
        throw new Error(`upstream rejected token ${secrets["token"] ?? ""}: ${"x".repeat(20_000)}`);
    }
    return new TestMeta({ id: `job-${observed.lastCreateInputSize}`, ms: Number(custom["ms"] ?? 0) });
  }

  async get({ resourceMeta, signal }: ResourceRequest<TestMeta>): Promise<Resource> {
    if (resourceMeta.ms > 0) await sleep(resourceMeta.ms, signal);
    return { phase: Phase.SUCCEEDED, message: `done ${resourceMeta.id}` };
  }

  async delete(): Promise<void> {}

  override async getMetrics(): Promise<MetricsResult> {
    return { results: [] };
  }

  /** Meta id "flood": pages of 64 KiB, without end (counts `observed.floodsClosed` when the stream stops). */
  override getLogs({ resourceMeta }: LogsRequest<TestMeta>): Promise<LogsPage> | AsyncIterable<LogsPage> {
    if (resourceMeta.id === "flood") return flood();
    return Promise.resolve({ lines: ["line 1", "line 2"], token: "next-page" });
  }
}

async function* flood(): AsyncGenerator<LogsPage> {
  const lines = Array.from({ length: 64 }, (_, i) => `${i} ${"x".repeat(1000)}`);
  try {
    for (;;) yield { lines };
  } finally {
    observed.floodsClosed++;
  }
}

export default [new TestConnector()];
