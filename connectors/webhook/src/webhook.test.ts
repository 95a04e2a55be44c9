// The webhook connector through the service's gRPC API (CreateTask → GetTask, as the Flyte 2 backend runs a sync
// task), against a real HTTP server on 127.0.0.1 (this file's own; its routes are described at `handle`).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { after, before, beforeEach, describe, test } from "node:test";
import { pino } from "pino";
import { toJson } from "@bufbuild/protobuf";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { TaskTemplateSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { ConnectorRegistry, decodeOutputs, Duration, encodeInputs, Float64, FlyteDatetime, FlyteFile, Phase, runTask, TaskFailedError, types, type TypeSpecs } from "flyte-connectors";
import { serveForTest, type TestService } from "@flyte-connectors/service/testing";
import connectors from "./connectors.js";
import { WEBHOOK_ALLOWED_ORIGINS_ENV, WebhookConnector, WebhookTask, WEBHOOK_OUTPUTS, type WebhookInfo, type WebhookTaskOptions } from "./index.js";
import { jsonBody } from "./python-text.js";
import { pythonView, renderData, renderUrl, type TemplateScope } from "./template.js";

const A = AsyncConnectorService.method;
const TOKEN = 'hook"TOKEN/+\\0123456789-abcdef';
const STATUS = { INVALID_ARGUMENT: 3, FAILED_PRECONDITION: 9 };

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}
const seen: Seen[] = [];
let server: Server;
let base: string;

/**
 * Routes: `/echo…` answers 200 with the request as JSON (method, url, headers, body), so a test sees what was sent
 * and a leaking echo (the Authorization header) comes back in the response; `/status/<n>` answers n with a text
 * body naming it; `/slow` answers after 3 s; `/big/<bytes>` answers that many bytes; `/redirect` answers 302.
 */
async function handle(request: IncomingMessage, response: ServerResponse) {
  let body = "";
  for await (const chunk of request) body += String(chunk);
  const url = request.url ?? "";
  seen.push({ method: request.method ?? "", url, headers: request.headers, body });
  const status = /^\/status\/(\d+)/.exec(url);
  if (status) return response.writeHead(Number(status[1]), { "content-type": "text/plain" }).end(`status ${status[1]} for you; you sent ${request.headers.authorization ?? "no auth"}`);
  if (url === "/slow") return void setTimeout(() => response.writeHead(200).end("late"), 3000).unref();
  const big = /^\/big\/(\d+)/.exec(url);
  if (big) return response.writeHead(200, { "content-type": "text/plain" }).end("x".repeat(Number(big[1])));
  if (url === "/redirect") return response.writeHead(302, { location: `/echo?token=${TOKEN}` }).end();
  response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ method: request.method, url, headers: request.headers, body }));
}

before(async () => {
  server = createServer((request, response) => void handle(request, response));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});
beforeEach(() => {
  seen.length = 0;
});

/** The service's log lines (level debug: everything it would log). */
const logLines: string[] = [];
const logger = pino({ level: "debug" }, new Writable({ write: (chunk, _encoding, done) => (logLines.push(String(chunk)), done()) }));

const inputs = { run: types.string, count: types.int, ratio: types.float, ok: types.boolean, tags: types.list(types.string) };
const values = { run: "r 1/a?b", count: 3, ratio: 2, ok: true, tags: ["a", "b"] };

function webhook<I extends TypeSpecs = typeof inputs>(options: Partial<WebhookTaskOptions<I>> = {}) {
  return new WebhookTask<I>({
    name: "notify",
    url: `${base}/echo/{inputs.run}?n={inputs.count}`,
    headers: { "Content-Type": "application/json", Authorization: "Bearer {secrets.hook_token}", "X-Run": "run {inputs.run}" },
    data: { text: "Run {inputs.run} done: {inputs.ok}", count: "{inputs.count}", ratio: "{inputs.ratio}", tags: "{inputs.tags}", fixed: 3, nested: { again: "{inputs.tags.1}" } },
    inputs: inputs as unknown as I,
    secrets: { hook_token: "HOOK_TOKEN" },
    showData: true,
    showUrl: true,
    ...options,
  } as WebhookTaskOptions<I>);
}

describe("webhook connector through the gRPC service", () => {
  let service: TestService;
  before(async () => {
    // The test server is on loopback, which the connector refuses unless an operator lists it.
    service = await serveForTest([new WebhookConnector({ allowedOrigins: [base], maxResponseBytes: 64 * 1024 })], { logger });
  });
  after(() => service.close());

  const category = { name: "webhook", version: 0 };
  /** CreateTask then GetTask, as the backend runs a sync task. */
  async function call<I extends TypeSpecs>(task: WebhookTask<I>, input: Record<string, unknown> = values, secrets: Record<string, string> = { hook_token: TOKEN }) {
    const { resourceMeta } = await service.client.unary(A.createTask, {
      template: task.toTaskTemplate(),
      inputs: await encodeInputs(input, task.inputs),
      outputPrefix: "s3://bucket/shard/run/a0/1",
      connection: { secrets },
    });
    return (await service.client.unary(A.getTask, { taskCategory: category, resourceMeta, connection: { secrets } })).resource!;
  }
  const info = async (resource: Awaited<ReturnType<typeof call>>) => (await decodeOutputs(resource.outputs!, WEBHOOK_OUTPUTS)).info as WebhookInfo;
  const rejects = async (promise: Promise<unknown>, code: number, pattern: RegExp) =>
    assert.rejects(promise, (e: { code: number; details: string }) => {
      assert.equal(e.code, code, e.details);
      assert.match(e.details, pattern);
      return true;
    });

  test("POST: URL, headers and JSON body rendered from inputs and secrets; info as flytekit builds it", async () => {
    const resource = await call(webhook());
    assert.equal(resource.phase, Phase.SUCCEEDED, resource.message);
    assert.equal(resource.message, "Webhook was successfully invoked!");
    assert.equal(seen.length, 1);
    const request = seen[0]!;
    assert.equal(request.method, "POST");
    // In the path a value may span segments but cannot start a query; in the query it is encoded whole.
    assert.equal(request.url, "/echo/r%201/a%3Fb?n=3");
    assert.equal(request.headers.authorization, `Bearer ${TOKEN}`, "the secret is sent");
    assert.equal(request.headers["x-run"], "run r 1/a?b");
    assert.equal(request.headers["content-type"], "application/json");
    // Whole references keep their type (the float input as 2.0, as Python writes it); inline ones are Python's str().
    assert.equal(request.body, '{"text":"Run r 1/a?b done: True","count":3,"ratio":2.0,"tags":["a","b"],"fixed":3.0,"nested":{"again":"b"}}');
    const out = await info(resource);
    assert.equal(out.status_code, 200);
    assert.equal(out.url, `${base}/echo/r%201/a%3Fb?n=3`, "the rendered URL, as sent");
    assert.deepEqual(out.input_data, { text: "Run r 1/a?b done: True", count: 3, ratio: 2, tags: ["a", "b"], fixed: 3, nested: { again: "b" } });
    // The server echoed the request, Authorization header included: the output shows it redacted.
    const echoed = JSON.parse(out.response_data) as { headers: Record<string, string> };
    assert.equal(echoed.headers["authorization"], "Bearer *****");
    assert.ok(!JSON.stringify(resource.outputs, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)).includes("0123456789"));
  });

  test("GET: data becomes query parameters merged into the URL's (httpx params=), no body; show_* off by default", async () => {
    const task = webhook({
      method: "GET",
      url: `${base}/echo?keep=1&n=old`,
      data: { n: "{inputs.count}", flag: "{inputs.ok}", none: null, many: "{inputs.tags}", ratio: "{inputs.ratio}", q: "{inputs.run}" },
      showData: false,
      showUrl: false,
    });
    const resource = await call(task);
    assert.equal(resource.phase, Phase.SUCCEEDED, resource.message);
    const request = seen[0]!;
    assert.equal(request.method, "GET");
    assert.equal(request.body, "");
    const query = new URL(request.url, base).searchParams;
    assert.deepEqual([...query], [["keep", "1"], ["n", "3"], ["flag", "true"], ["none", ""], ["many", "a"], ["many", "b"], ["ratio", "2.0"], ["q", "r 1/a?b"]]);
    assert.deepEqual(Object.keys(await info(resource)), ["status_code", "response_data"]);
  });

  test("any 2xx succeeds (flytekit fails on all but 200); other statuses fail with flytekit's message, redacted", async () => {
    const created = await call(webhook({ url: `${base}/status/201` }));
    assert.equal(created.phase, Phase.SUCCEEDED);
    assert.equal((await info(created)).status_code, 201);

    const failed = await call(webhook({ url: `${base}/status/500` }));
    assert.equal(failed.phase, Phase.FAILED);
    assert.equal(failed.message, "Webhook failed with status code 500, response: status 500 for you; you sent Bearer *****");
    assert.equal(failed.outputs, undefined);

    const busy = await call(webhook({ url: `${base}/status/503` }));
    assert.equal(busy.phase, Phase.RETRYABLE_FAILED, "503: not processed, may be sent again");
    assert.equal((await call(webhook({ url: `${base}/status/404` }))).phase, Phase.FAILED);

    const redirect = await call(webhook({ url: `${base}/redirect` }));
    assert.equal(redirect.phase, Phase.FAILED);
    assert.match(redirect.message, /status code 302.*redirects are not followed/);
    assert.equal(seen.filter((r) => r.url.startsWith("/echo")).length, 0, "the redirect was not followed");
  });

  test("PUT sends the JSON body; a connection that cannot be made is RETRYABLE_FAILED (nothing reached a server)", async () => {
    const put = await call(webhook({ method: "PUT", data: { n: "{inputs.count}" } }));
    assert.equal(put.phase, Phase.SUCCEEDED);
    assert.deepEqual([seen[0]!.method, seen[0]!.body], ["PUT", '{"n":3}']);
    // A port nobody listens on (listed, so the policy lets it through).
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const dead = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const direct = new WebhookConnector({ allowedOrigins: [dead] });
    const template = webhook({ url: `${dead}/hook` }).toTaskTemplate();
    const resource = await direct.do({
      taskTemplate: template,
      custom: template.custom ?? {},
      inputs: values,
      outputPrefix: "s3://b/dead/1",
      taskExecutionMetadata: undefined,
      secrets: { hook_token: TOKEN },
      configs: {},
      signal: AbortSignal.timeout(5000),
    });
    assert.equal(resource.phase, Phase.RETRYABLE_FAILED);
    assert.equal(resource.message, `Webhook request to ${dead} failed: connection failed (ECONNREFUSED).`);
  });

  test("timeout_sec: a server that does not answer in time fails the task with a clear message", async () => {
    const started = Date.now();
    const resource = await call(webhook({ url: `${base}/slow`, timeout: 0.3 }));
    assert.ok(Date.now() - started < 2500, "well before the server's answer");
    assert.equal(resource.phase, Phase.FAILED);
    assert.equal(resource.message, `Webhook request to ${base} timed out after 0.3 s (custom.timeout_sec).`);
  });

  test("a response larger than maxResponseBytes fails the task, naming the limit", async () => {
    const ok = await call(webhook({ url: `${base}/big/${60 * 1024}` }));
    assert.equal(ok.phase, Phase.SUCCEEDED);
    assert.equal((await info(ok)).response_data.length, 60 * 1024);
    const big = await call(webhook({ url: `${base}/big/${5 * 1024 * 1024}` }));
    assert.equal(big.phase, Phase.FAILED);
    assert.equal(big.message, "The webhook answered HTTP 200 with a response larger than 65536 bytes (the connector's maxResponseBytes); it was not read further.");
  });

  test("bad config is INVALID_ARGUMENT naming the key, before anything is sent", async () => {
    const template = webhook().toTaskTemplate();
    const bad = async (custom: Record<string, unknown>, pattern: RegExp) => {
      const request = {
        template: { ...template, custom: { ...(template.custom as Record<string, unknown>), ...custom } },
        inputs: await encodeInputs(values, inputs),
        outputPrefix: "s3://b/bad/1",
        connection: { secrets: { hook_token: TOKEN } },
      };
      await rejects(service.client.unary(A.createTask, request as never), STATUS.INVALID_ARGUMENT, pattern);
    };
    await bad({ url: null }, /^custom\.url is missing\.$/);
    await bad({ url: "ftp://files.example.com/x" }, /^custom\.url must be an http:\/\/ or https:\/\/ URL/);
    await bad({ method: "TRACE" }, /^custom\.method must be one of GET, POST, PUT, PATCH, DELETE, got "TRACE"\./);
    await bad({ headers: { "X-N": 5 } }, /^custom\.headers\.X-N must be a string\./);
    await bad({ headers: { "bad name": "x" } }, /^custom\.headers has an invalid header name "bad name"\./);
    await bad({ timeout_sec: -1 }, /^custom\.timeout_sec must be a positive number of seconds, got -1\./);
    await bad({ show_data: "yes" }, /^custom\.show_data must be true or false/);
    await bad({ data: { x: "{{ inputs.run }}" } }, /^custom\.data\.x has \{\{ inputs\.run \}, which is not a reference: write \{inputs\.<name>\}/);
    await bad({ data: { x: "{ inputs.run }" } }, /^custom\.data\.x has \{ inputs\.run \}, which is not a reference/);
    await bad({ url: `${base}/{inputs.nope}` }, /^custom\.url references \{inputs\.nope\}, but the task has no input "nope"\./);
    await bad({ data: { x: "{inputs.tags.7}" } }, /^custom\.data\.x references \{inputs\.tags\.7\}, which the input's value does not have\./);
    await bad({ method: "GET", data: ["a"] }, /^custom\.data must be an object of query parameters for GET\./);
    await bad({ method: "GET", data: { q: { deep: 1 } } }, /^custom\.data\.q is an object, which a query parameter cannot hold\./);
    await bad({ url: "{inputs.run}" }, /^custom\.url is not a valid URL after rendering\./);
    assert.equal(seen.length, 0, "nothing was sent");
    // Braces without a dot are text, as in flytekit.
    await call(webhook({ data: { text: "{} {id} {inputs.count}" } }));
    assert.equal(JSON.parse(seen[0]!.body).text, "{} {id} 3");
  });

  test("a referenced secret the call lacks is FAILED_PRECONDITION naming it; nothing is sent", async () => {
    await rejects(call(webhook(), values, {}), STATUS.FAILED_PRECONDITION, /^Secret "hook_token" \(\{secrets\.hook_token\}\) is missing: reference it in custom\.secrets\.hook_token\.$/);
    assert.equal(seen.length, 0);
  });

  test("the secret never appears in replies, errors, outputs or logs, in any form", async () => {
    logLines.length = 0;
    const forms = [TOKEN, JSON.stringify(TOKEN).slice(1, -1), encodeURIComponent(TOKEN), Buffer.from(TOKEN).toString("base64")];
    const texts: string[] = [];
    const keep = (value: unknown) => texts.push(JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)));
    // In a header, the URL and the data; echoed back by the server; in a failure; in a refused URL.
    const everywhere = webhook({ url: `${base}/echo/{secrets.hook_token}`, data: { t: "{secrets.hook_token}", s: "token={secrets.hook_token}" } });
    const ok = await call(everywhere);
    keep(ok);
    keep(await info(ok));
    assert.equal(ok.phase, Phase.SUCCEEDED);
    assert.equal(seen.at(-1)!.url, `/echo/${encodeURIComponent(TOKEN)}`, "sent, encoded as one path segment");
    assert.deepEqual(JSON.parse(seen.at(-1)!.body), { t: TOKEN, s: `token=${TOKEN}` }, "sent in the body");
    assert.deepEqual((await info(ok)).input_data, { t: "*****", s: "token=*****" });
    keep(await call(webhook({ url: `${base}/status/401` })));
    for (const url of [`${base}/redirect`, "http://169.254.169.254/{secrets.hook_token}"]) {
      keep(await call(webhook({ url })).catch((e: unknown) => (e as { details: string }).details));
    }
    const all = [...texts, ...logLines].join("\n");
    assert.ok(logLines.length > 0, "the service logged the calls");
    assert.deepEqual(forms.filter((form) => all.includes(form)), []);
    assert.ok(!all.includes("0123456789-abc"), `not even part of it: ${all.slice(Math.max(0, all.indexOf("0123456789-abc") - 300), all.indexOf("0123456789-abc") + 50)}`);
  });

  test("SSRF: by default loopback, link-local and metadata addresses are refused (INVALID_ARGUMENT), nothing is sent", async () => {
    const guarded = await serveForTest([new WebhookConnector()]);
    try {
      const port = new URL(base).port;
      const hosts = ["127.0.0.1", "127.1", "localhost", "[::1]", "0.0.0.0", "[::ffff:127.0.0.1]", "169.254.169.254", "[fe80::1]", "metadata.google.internal", "[::ffff:169.254.169.254]"];
      for (const host of hosts) {
        const task = webhook({ url: `http://${host}:${port}/echo` });
        await rejects(
          guarded.client.unary(A.createTask, { template: task.toTaskTemplate(), inputs: await encodeInputs(values, inputs), outputPrefix: "s3://b/ssrf/1", connection: { secrets: { hook_token: TOKEN } } }),
          STATUS.INVALID_ARGUMENT,
          /^custom\.url: the connector may not call http:\/\/\S+ \((loopback|unspecified|link-local|cloud metadata)/,
        );
      }
      // A whole URL from an input is checked the same way once rendered.
      const fromInput = new WebhookTask({ name: "x", url: "{inputs.target}", inputs: { target: types.string } });
      await rejects(
        guarded.client.unary(A.createTask, { template: fromInput.toTaskTemplate(), inputs: await encodeInputs({ target: `${base}/echo` }, fromInput.inputs), outputPrefix: "s3://b/ssrf/2" }),
        STATUS.INVALID_ARGUMENT,
        /^custom\.url: the connector may not call http:\/\/127\.0\.0\.1:\d+ \(loopback/,
      );
      assert.equal(seen.length, 0, "no request reached the connector pod's own loopback");
    } finally {
      await guarded.close();
    }
    // Allowed when the operator lists the loopback origin (the service of this describe block).
    assert.equal((await call(webhook())).phase, Phase.SUCCEEDED);
  });
});

describe("WebhookTask", () => {
  test("writes flytekit's task type, custom keys and interface (output info: a msgpack STRUCT)", () => {
    const task = new WebhookTask({
      name: "get-with-params",
      url: "http://hooks.example.com/items/{inputs.item_id}",
      method: "GET",
      headers: { "Content-Type": "application/json" },
      inputs: { s: types.string, item_id: types.int },
      showData: true,
      showUrl: true,
      description: "Test Webhook Task",
      data: { q: "{inputs.s}" },
      timeout: new Duration(60),
    });
    const template = toJson(TaskTemplateSchema, task.toTaskTemplate()) as Record<string, any>;
    assert.equal(template["type"], "webhook");
    assert.deepEqual(template["custom"], {
      url: "http://hooks.example.com/items/{inputs.item_id}",
      method: "GET",
      headers: { "Content-Type": "application/json" },
      data: { q: "{inputs.s}" },
      show_data: true,
      show_url: true,
      timeout_sec: 60,
    });
    assert.deepEqual(template["interface"].outputs, {
      variables: [{ key: "info", value: { type: { simple: "STRUCT", annotation: { annotations: { "cache-key-metadata": { "serialization-format": "msgpack" } } } } } }],
    });
    assert.deepEqual(template["interface"].inputs.variables.map((v: { key: string }) => v.key), ["item_id", "s"]);
    assert.equal(task.description, "Test Webhook Task");
    // flytekit's defaults: POST, empty headers and data, show_* false, 10 s.
    const plain = toJson(TaskTemplateSchema, new WebhookTask({ name: "p", url: "https://hooks.example.com/x" }).toTaskTemplate()) as Record<string, any>;
    assert.deepEqual(plain["custom"], { url: "https://hooks.example.com/x", method: "POST", headers: {}, data: {}, show_data: false, show_url: false, timeout_sec: 10 });
  });

  test("validates the config when declared", () => {
    assert.throws(() => new WebhookTask({ name: "x", url: "ftp://x/y" }), /custom\.url must be an http/);
    assert.throws(() => new WebhookTask({ name: "x", url: "https://h/{inputs.n}" }), /custom\.url references \{inputs\.n\}, but the task has no input "n"/);
    assert.throws(() => new WebhookTask({ name: "x", url: "https://h/", headers: { A: "{secrets.tok}" } }), /custom\.headers\.A references \{secrets\.tok\}, but the task names no secret "tok"/);
    assert.throws(() => new WebhookTask({ name: "x", url: "https://h/", method: "TRACE" as never }), /custom\.method must be one of/);
  });

  test("the package's default export serves task type webhook as a sync connector", () => {
    assert.deepEqual(connectors.map((c) => [c.taskTypeName, c.kind, c.name]), [["webhook", "sync", "Webhook Connector"]]);
  });

  test("without the option, FLYTE_WEBHOOK_ALLOWED_ORIGINS lists the origins the connector may call", async () => {
    process.env[WEBHOOK_ALLOWED_ORIGINS_ENV] = `https://hooks.example.com,${base}`;
    process.env["HOOK_TOKEN"] = TOKEN;
    try {
      const registry = new ConnectorRegistry().register(new WebhookConnector());
      const { info } = await runTask(webhook(), values, { registry, quiet: true, handleSigint: false });
      assert.equal(info.status_code, 200);
      process.env[WEBHOOK_ALLOWED_ORIGINS_ENV] = "https://hooks.example.com";
      const refused = new ConnectorRegistry().register(new WebhookConnector());
      const error = await runTask(webhook(), values, { registry: refused, quiet: true, handleSigint: false }).catch((e: unknown) => e);
      assert.match(String((error as Error).message), /custom\.url: the connector may not call http:\/\/127\.0\.0\.1:\d+ \(not in allowedOrigins/);
    } finally {
      delete process.env[WEBHOOK_ALLOWED_ORIGINS_ENV];
      delete process.env["HOOK_TOKEN"];
    }
  });

  test("runs locally through runTask, the secret from the environment variable its reference names", async () => {
    process.env["HOOK_TOKEN"] = TOKEN;
    try {
      const registry = new ConnectorRegistry().register(new WebhookConnector({ allowedOrigins: [base] }));
      const { info } = await runTask(webhook(), values, { registry, quiet: true, handleSigint: false });
      assert.equal(info.status_code, 200);
      assert.equal(seen.at(-1)!.headers.authorization, `Bearer ${TOKEN}`);
      const error = await runTask(webhook({ url: `${base}/status/418` }), values, { registry, quiet: true, handleSigint: false }).catch((e: unknown) => e);
      assert.ok(error instanceof TaskFailedError);
      assert.match(error.reason ?? "", /Webhook failed with status code 418/);
    } finally {
      delete process.env["HOOK_TOKEN"];
    }
  });
});

describe("templating: the text flytekit's Python makes", () => {
  const python = "/usr/bin/python3";
  /** Datetimes as the real Python prints them (`isoformat`); floats and reprs are the core's, checked against CPython there. */
  test("datetimes match CPython's isoformat", (t) => {
    let available = true;
    try {
      execFileSync(python, ["-c", "pass"]);
    } catch {
      available = false;
    }
    if (!available) {
      if (process.env["CI"] === "true") assert.fail(`${python} is needed to compare with CPython`);
      return t.skip(`${python} not found`);
    }
    const iso = execFileSync(python, ["-c", "from datetime import datetime, timezone\nprint(datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc).isoformat()); print(datetime(2026, 1, 2, tzinfo=timezone.utc).isoformat())"]).toString().trim().split("\n");
    assert.deepEqual([pythonView(new FlyteDatetime(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000, 123456789), types.datetime.literalType), pythonView(new Date(Date.UTC(2026, 0, 2)), undefined)], iso);
  });

  test("inline and whole references, per type, as flytekit's literal_map_string_repr reads them", () => {
    const scope: TemplateScope = {
      inputs: { f: 2, d: { a: 1, b: [true] }, m: { x: 1 }, file: new FlyteFile("s3://b/k.csv"), dur: new Duration(90, 500_000_000), none: null },
      inputTypes: new Map([
        ["f", types.float.literalType],
        ["d", types.struct.literalType],
        ["m", types.map(types.int).literalType],
      ]),
      secrets: new Map(),
    };
    // A dict input (msgpack STRUCT) is its json.dumps text in flytekit; its fields may be named here.
    assert.deepEqual(renderData({ f: "{inputs.f}", d: "{inputs.d}", da: "{inputs.d.a}", m: "{inputs.m}", file: "{inputs.file}", dur: "{inputs.dur}", none: "{inputs.none}", text: "{inputs.f}|{inputs.none}|{inputs.m}|{inputs.dur}" }, scope, "custom.data"), {
      f: new Float64(2),
      d: '{"a": 1, "b": [true]}',
      da: 1,
      m: { x: 1 },
      file: "s3://b/k.csv",
      dur: new Float64(90.5),
      none: null,
      text: "2.0|None|{'x': 1}|90.5",
    });
    assert.equal(jsonBody({ f: new Float64(2), n: 3, big: 2n ** 60n, s: "é" }), '{"f":2.0,"n":3,"big":1152921504606846976,"s":"é"}');
    assert.throws(() => jsonBody({ f: new Float64(Infinity) }), /has no JSON form/);
    assert.equal(renderUrl("https://h/{inputs.file}?u={inputs.file}#{inputs.f}", scope, "custom.url"), "https://h/s3%3A//b/k.csv?u=s3%3A%2F%2Fb%2Fk.csv#2.0");
  });
});
