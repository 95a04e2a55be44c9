import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import zlib from "node:zlib";
import { Agent, getGlobalDispatcher, setGlobalDispatcher } from "undici";
import { ConnectorError } from "../errors.js";
import { Phase } from "../phase.js";
import { HttpError, describeFault, isTransient, parseRetryAfter, pollTolerantly, requestJson, sendRequest, statusNameForHttp, withRetries } from "./index.js";

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

  test("a followed redirect: 303 after a POST continues as a GET without body; another origin gets no authorization", async () => {
    const other = scriptedServer();
    await new Promise<void>((resolve) => other.server.listen(0, "127.0.0.1", resolve));
    try {
      other.script(json(200, { landed: true }));
      api.script((res) => res.writeHead(303, { location: other.url("/result") }).end());
      const reply = await requestJson({ url: api.url("/jobs"), body: { a: 1 }, headers: { Authorization: "Bearer SECRET", "x-trace": "t1" }, retry: false });
      assert.deepEqual(reply, { landed: true });
      assert.equal(api.seen[0]?.method, "POST");
      assert.equal(other.seen[0]?.method, "GET");
      assert.equal(other.seen[0]?.body, "");
      assert.equal(other.seen[0]?.headers["content-type"], undefined);
      assert.equal(other.seen[0]?.headers.authorization, undefined, "credentials stay with their origin");
      assert.equal(other.seen[0]?.headers["x-trace"], "t1");

      // 307 keeps the method and the body; the same origin keeps the authorization.
      api.script((res) => res.writeHead(307, { location: "/jobs-v2" }).end(), json(200, { ok: 1 }));
      await requestJson({ url: api.url("/jobs"), body: { a: 2 }, headers: { authorization: "Bearer T" }, retry: false });
      assert.deepEqual(api.seen.map((r) => [r.method, r.url, r.body, r.headers.authorization]), [
        ["POST", "/jobs", '{"a":2}', "Bearer T"],
        ["POST", "/jobs-v2", '{"a":2}', "Bearer T"],
      ]);
    } finally {
      await new Promise((resolve) => other.server.close(resolve));
    }
  });

  test("headers are merged by name whatever their case; the user agent names the SDK unless set", async () => {
    api.script(json(200, {}), json(200, {}));
    await requestJson({ url: api.url("/h"), headers: { Accept: "application/vnd.api+json" }, retry: false });
    await requestJson({ url: api.url("/h"), headers: { "User-Agent": "my-connector/1.0" }, retry: false });
    assert.equal(api.seen[0]?.headers.accept, "application/vnd.api+json");
    assert.equal(api.seen[0]?.headers["user-agent"], "flyte-connectors");
    assert.equal(api.seen[1]?.headers["user-agent"], "my-connector/1.0");
  });

  test("a reply larger than maxResponseBytes is INTERNAL naming the call, not retried, with or without a length", async () => {
    const big = JSON.stringify({ data: "x".repeat(4000) });
    const chunked = (res: http.ServerResponse) => {
      res.writeHead(200, { "content-type": "application/json" }); // no content-length: chunked
      res.write(big.slice(0, 2000));
      res.end(big.slice(2000));
    };
    for (const reply of [json(200, { data: "x".repeat(4000) }), chunked]) {
      api.script(reply);
      await assert.rejects(requestJson({ url: api.url("/big?token=SECRET"), maxResponseBytes: 1024 }), (error: unknown) => {
        assert.ok(error instanceof ConnectorError);
        assert.equal(error.code, "INTERNAL");
        assert.equal(error.message, "The reply to GET /big is larger than 1024 bytes.");
        return true;
      });
      assert.equal(api.seen.length, 1);
    }
    api.script(json(200, { data: "x".repeat(4000) }));
    assert.equal(((await requestJson({ url: api.url("/big"), maxResponseBytes: 8192 })) as { data: string }).data.length, 4000);
  });

  test("a compressed reply is decoded, and its size cap applies to the decoded bytes", async () => {
    const body = zlib.gzipSync(JSON.stringify({ data: "y".repeat(100_000) }));
    const gzipped = (res: http.ServerResponse) => res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" }).end(body);
    api.script(gzipped, gzipped);
    const reply = await requestJson<{ data: string }>({ url: api.url("/z"), headers: { "accept-encoding": "gzip" }, retry: false });
    assert.equal(reply.data.length, 100_000);
    assert.ok(body.length < 10_000, "the reply travelled compressed");
    await assert.rejects(requestJson({ url: api.url("/z"), headers: { "accept-encoding": "gzip" }, maxResponseBytes: 50_000, retry: false }), /larger than 50000 bytes/);
  });

  test("sendRequest answers any status with its headers and text; a reply over the cap has no text", async () => {
    api.script(json(202, { state: "running" }, { "retry-after": "3" }), json(200, { rows: "z".repeat(5000) }));
    const running = await sendRequest({ url: api.url("/q/1"), method: "POST", body: "{}", headers: { "Content-Type": "application/json" } });
    assert.equal(running.status, 202);
    assert.equal(running.headers["retry-after"], "3");
    assert.deepEqual(JSON.parse(running.text ?? ""), { state: "running" });
    assert.equal(api.seen[0]?.headers["content-type"], "application/json");
    const big = await sendRequest({ url: api.url("/q/1"), maxResponseBytes: 1000 });
    assert.equal(big.status, 200);
    assert.equal(big.text, undefined);
  });

  test("https: an untrusted certificate is refused (not retried); the process-wide dispatcher's CA is used", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "fc-tls-"));
    const previous = getGlobalDispatcher();
    try {
      // A self-signed certificate for 127.0.0.1, made by the openssl CLI (Debian base images have it).
      execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem"),
        "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
      const cert = readFileSync(path.join(dir, "cert.pem"));
      let calls = 0;
      const server = https.createServer({ key: readFileSync(path.join(dir, "key.pem")), cert }, (_req, res) => {
        calls++;
        res.writeHead(200, { "content-type": "application/json" }).end('{"secure":true}');
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/jobs/1`;
      try {
        const error = await requestJson({ url, retry: { minDelay: 1 } }).catch((e: unknown) => e);
        assert.equal(describeFault(error), "connection failed (DEPTH_ZERO_SELF_SIGNED_CERT)");
        assert.equal(isTransient(error), false);
        assert.equal(calls, 0);
        const trusting = new Agent({ connect: { ca: cert } });
        setGlobalDispatcher(trusting);
        assert.deepEqual(await requestJson({ url }), { secure: true });
        await trusting.close();
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    } finally {
      setGlobalDispatcher(previous);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a single attempt that times out rejects with a TimeoutError described as a timeout", async () => {
    api.script(() => {});
    const started = Date.now();
    const error = await requestJson({ url: api.url("/stuck"), timeout: 100, retry: false }).catch((e: unknown) => e);
    assert.equal((error as Error).name, "TimeoutError");
    assert.equal(isTransient(error), true);
    assert.equal(describeFault(error), "the request timed out");
    assert.ok(Date.now() - started < 5000);
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
