import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Phase } from "../phase.js";
import { HttpError, describeFault, isTransient, parseRetryAfter, pollTolerantly, requestJson, statusNameForHttp, withRetries } from "./index.js";

/** A local HTTP server whose replies are scripted per test: each request takes the next reply. */
function scriptedServer() {
  let replies: Array<(res: http.ServerResponse) => void> = [];
  const seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }> = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      const reply = replies.shift();
      if (reply) reply(res);
      else res.writeHead(500).end();
    });
  });
  return {
    server,
    seen,
    script(...next: Array<(res: http.ServerResponse) => void>) {
      replies = next;
      seen.length = 0;
    },
    url: (path: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
  };
}

const json = (status: number, value: unknown, headers: Record<string, string> = {}) => (res: http.ServerResponse) =>
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(value));

describe("flyte-connectors/http", () => {
  const api = scriptedServer();
  before(() => new Promise<void>((resolve) => api.server.listen(0, "127.0.0.1", resolve)));
  after(() => new Promise<void>((resolve) => api.server.close(() => resolve())));

  test("requestJson sends JSON and parses the reply", async () => {
    api.script(json(200, { id: "job-1" }));
    const reply = await requestJson<{ id: string }>({ url: api.url("/jobs?x=1"), body: { epochs: 3 }, headers: { authorization: "Bearer t" } });
    assert.deepEqual(reply, { id: "job-1" });
    assert.equal(api.seen[0]?.method, "POST");
    assert.equal(api.seen[0]?.headers["content-type"], "application/json");
    assert.equal(api.seen[0]?.body, '{"epochs":3}');
  });

  test("429 and 503 are retried (Retry-After honoured) until success", async () => {
    api.script(json(429, {}, { "retry-after": "0" }), json(503, {}), json(200, { ok: true }));
    const reply = await requestJson({ url: api.url("/status"), retry: { minDelay: 1 } });
    assert.deepEqual(reply, { ok: true });
    assert.equal(api.seen.length, 3);
  });

  test("a 400 is not retried and the error names method, path and status but not the query", async () => {
    api.script(json(400, { error: "bad epochs" }));
    await assert.rejects(requestJson({ url: api.url("/jobs?token=SECRET"), method: "POST", body: {} }), (error: unknown) => {
      assert.ok(error instanceof HttpError);
      assert.equal(error.status, 400);
      assert.equal(error.message, "HTTP 400 from POST /jobs");
      assert.match(error.body, /bad epochs/);
      assert.equal(isTransient(error), false);
      return true;
    });
    assert.equal(api.seen.length, 1);
  });

  test("retries stop after the configured count and rethrow the last fault", async () => {
    api.script(json(503, {}), json(503, {}), json(503, {}));
    await assert.rejects(requestJson({ url: api.url("/s"), retry: { retries: 2, minDelay: 1 } }), /HTTP 503 from GET \/s/);
    assert.equal(api.seen.length, 3);
  });

  test("a per-attempt timeout is transient; the caller's cancellation stops at once", async () => {
    api.script(() => {}, json(200, { late: false }));
    const reply = await requestJson({ url: api.url("/slow"), timeout: 100, retry: { minDelay: 1 } });
    assert.deepEqual(reply, { late: false });

    api.script(() => {});
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(requestJson({ url: api.url("/slow"), signal: controller.signal }), { name: "AbortError" });
    assert.equal(api.seen.length, 1);
  });

  test("a refused connection is transient and described without the URL", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await requestJson({ url: `http://127.0.0.1:${port}/x?key=SECRET`, retry: false }).catch((e: unknown) => e);
    assert.equal(isTransient(error), true);
    assert.equal(describeFault(error), "connection failed (ECONNREFUSED)");
  });

  test("withRetries retries only what shouldRetry accepts", async () => {
    let calls = 0;
    await assert.rejects(
      withRetries(
        async () => {
          calls++;
          throw new Error("definite");
        },
        { minDelay: 1 },
      ),
      /definite/,
    );
    assert.equal(calls, 1);
  });

  test("statusNameForHttp: one HTTP → gRPC status rule for every connector", () => {
    const table = Object.fromEntries([400, 401, 403, 404, 408, 409, 410, 422, 429, 500, 501, 503].map((status) => [status, statusNameForHttp(status)]));
    assert.deepEqual(table, {
      400: "INVALID_ARGUMENT",
      401: "FAILED_PRECONDITION",
      403: "FAILED_PRECONDITION",
      404: "NOT_FOUND",
      408: "UNAVAILABLE",
      409: "ALREADY_EXISTS",
      410: "NOT_FOUND",
      422: "INVALID_ARGUMENT",
      429: "UNAVAILABLE",
      500: "UNAVAILABLE",
      501: "INTERNAL",
      503: "UNAVAILABLE",
    });
  });

  test("parseRetryAfter reads seconds and HTTP dates", () => {
    assert.equal(parseRetryAfter("2"), 2000);
    assert.equal(parseRetryAfter(null), undefined);
    const inFuture = parseRetryAfter(new Date(Date.now() + 60_000).toUTCString()) ?? 0;
    assert.ok(inFuture > 50_000 && inFuture <= 60_000, String(inFuture));
  });

  test("pollTolerantly keeps the last phase seen during an outage and rethrows definite errors", async () => {
    const link = { name: "Console", uri: "https://console.example.com/jobs/7" };
    const queued = await pollTolerantly("job-7", async () => ({ phase: Phase.QUEUED, logLinks: [link] }));
    assert.equal(queued.phase, Phase.QUEUED);
    const during = await pollTolerantly("job-7", async () => {
      throw new HttpError(503, "GET", "/jobs/7", "");
    });
    assert.equal(during.phase, Phase.QUEUED);
    assert.deepEqual(during.logLinks, [link]);
    assert.match(during.message ?? "", /HTTP 503 from GET \/jobs\/7/);
    const unknownJob = await pollTolerantly("job-never-seen", async () => {
      throw new HttpError(502, "GET", "/jobs/8", "");
    });
    assert.equal(unknownJob.phase, Phase.RUNNING);
    await assert.rejects(
      pollTolerantly("job-7", async () => {
        throw new HttpError(404, "GET", "/jobs/7", "");
      }),
      HttpError,
    );
  });

  test("a redirect is followed by default; with redirect: manual it is an HttpError naming the 3xx", async () => {
    const redirect = (res: http.ServerResponse) => res.writeHead(302, { location: api.url("/elsewhere") }).end();
    api.script(redirect, json(200, { moved: true }));
    assert.deepEqual(await requestJson({ url: api.url("/jobs/1"), retry: false }), { moved: true });
    api.script(redirect, json(200, { moved: true }));
    await assert.rejects(requestJson({ url: api.url("/jobs/1"), headers: { "x-api-key": "SECRET" }, redirect: "manual" }), (error: unknown) => {
      assert.ok(error instanceof HttpError);
      assert.equal(error.status, 302);
      return true;
    });
    assert.deepEqual(api.seen.map((r) => r.url), ["/jobs/1"], "the redirect target was not called");
  });

  test("pollTolerantly answers the last phase when the poll outlasts its budget, and aborts the poll", async () => {
    await pollTolerantly("job-slow", async () => ({ phase: Phase.QUEUED }));
    let pollSignal: AbortSignal | undefined;
    const started = Date.now();
    const resource = await pollTolerantly(
      "job-slow",
      (signal) => {
        pollSignal = signal;
        return new Promise(() => {}); // a vendor that never answers
      },
      { budget: 50 },
    );
    assert.ok(Date.now() - started < 2000);
    assert.equal(resource.phase, Phase.QUEUED);
    assert.match(resource.message ?? "", /Status temporarily unavailable \(no answer within 0\.05 s\)/);
    assert.equal(pollSignal?.aborted, true, "the poll's API calls are told to stop");

    // With requestJson against a server that does not answer: same, well before the per-attempt timeout.
    api.script(() => {});
    const viaHttp = await pollTolerantly("job-slow", async (signal) => requestJson<never>({ url: api.url("/jobs/slow"), signal }), { budget: 100 });
    assert.equal(viaHttp.phase, Phase.QUEUED);
  });

  test("pollTolerantly does not mask the caller's own cancellation", async () => {
    const caller = new AbortController();
    const polling = pollTolerantly("job-cancelled", (signal) => new Promise((_resolve, reject) => signal.addEventListener("abort", () => reject(signal.reason))), {
      signal: caller.signal,
      budget: 10_000,
    });
    caller.abort(new DOMException("cancelled", "AbortError"));
    await assert.rejects(polling, { name: "AbortError" });
  });
});
