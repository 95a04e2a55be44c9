// Server-side request forgery: a task (or a crafted resource meta) chooses the workspace host, and the connector
// holds the deployment's token. Every request goes through the URL policy, and the deployment's token only goes to
// workspaces the deployment chose.
import assert from "node:assert/strict";
import dns from "node:dns";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { after, afterEach, before, describe, test } from "node:test";
import { serveForTest, type TestService } from "@flyte-connectors/service/testing";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { DATABRICKS_ALLOWED_ORIGINS_ENV, DatabricksConnector, type DatabricksConnectorOptions } from "./index.js";

const A = AsyncConnectorService.method;
const category = { name: "databricks", version: 0 };
const TASK_TOKEN = "dapi-task-own-token-0001";
const DEPLOYMENT_TOKEN = "dapi-deployment-token-0002";
const encoder = new TextEncoder();

/** A minimal Jobs API 2.1 that records every request it sees (method, path, authorization). */
const seen: Array<{ method: string; path: string; authorization: string | undefined }> = [];
let server: Server;
let port: number;
/** The fake's address as a task names it. */
let instance: string;
let origin: string;

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  for await (const _ of request); // drain the body
  const url = new URL(request.url ?? "/", "http://x");
  seen.push({ method: request.method ?? "", path: url.pathname, authorization: request.headers.authorization });
  const answer = url.pathname.endsWith("/runs/submit")
    ? { run_id: 42 }
    : url.pathname.endsWith("/runs/get")
      ? { job_id: 1, run_id: 42, state: { life_cycle_state: "RUNNING", state_message: "" } }
      : {};
  response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
}

before(async () => {
  server = createServer((request, response) => void handle(request, response));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
  instance = `127.0.0.1:${port}`;
  origin = `http://${instance}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});
afterEach(() => {
  seen.length = 0;
  delete process.env["_FSEC_FLYTE_DATABRICKS_ACCESS_TOKEN"];
  delete process.env["FLYTE_DATABRICKS_INSTANCE"];
});

function createRequest(databricksInstance: string | undefined, secrets: Record<string, string> = { databricks_token: TASK_TOKEN }) {
  return {
    template: {
      id: { name: "etl" },
      type: "databricks",
      custom: {
        databricksConf: { run_name: "ssrf", existing_cluster_id: "0101-abc", notebook_task: { notebook_path: "/x" } },
        ...(databricksInstance === undefined ? {} : { databricksInstance }),
        secrets: { databricks_token: "DATABRICKS_TOKEN" },
      },
      target: { case: "container" as const, value: { image: "img", args: [] } },
    },
    outputPrefix: "s3://b/p/1",
    taskExecutionMetadata: {
      taskExecutionId: { nodeExecutionId: { nodeId: "a0", executionId: { project: "p", domain: "d", name: "r", org: "o" } }, retryAttempt: 0 },
    },
    connection: { secrets },
  };
}

const metaFor = (databricksInstance: string) => encoder.encode(JSON.stringify({ databricks_instance: databricksInstance, run_id: "42" }));

/** Serves one connector for a test and closes it afterwards. */
async function serve(t: { after: (fn: () => Promise<void>) => void }, options: DatabricksConnectorOptions = {}): Promise<TestService> {
  const service = await serveForTest([new DatabricksConnector({ insecureHttp: true, retry: { retries: 0 }, ...options })]);
  t.after(() => service.close());
  return service;
}

/** Asserts a gRPC failure with `code` whose message matches `pattern`. */
async function refused(call: Promise<unknown>, code: number, pattern: RegExp): Promise<string> {
  let details = "";
  await assert.rejects(call, (error: { code: number; details: string }) => {
    assert.equal(error.code, code, error.details);
    assert.match(error.details, pattern);
    details = error.details;
    return true;
  });
  return details;
}

const INVALID_ARGUMENT = 3;
const FAILED_PRECONDITION = 9;

describe("by default (no allowed origins), hosts of the connector itself and of cloud metadata are refused before any request", () => {
  for (const [label, named, shown] of [
    ["IPv4 loopback", () => instance, () => `http://127.0.0.1:${port}`],
    ["cloud metadata", () => "169.254.169.254", () => "http://169.254.169.254"],
    ["IPv6 loopback", () => `[::1]:${port}`, () => `http://[::1]:${port}`],
    ["IPv4-mapped IPv6 loopback", () => `[::ffff:127.0.0.1]:${port}`, () => `http://[::ffff:7f00:1]:${port}`],
    ["localhost", () => `localhost:${port}`, () => `http://localhost:${port}`],
    ["metadata.google.internal", () => "metadata.google.internal", () => "http://metadata.google.internal"],
  ] as const) {
    test(`${label}: create is INVALID_ARGUMENT naming the host; the fake sees nothing`, async (t) => {
      const service = await serve(t);
      const escaped = shown().replace(/[.[\]]/g, "\\$&");
      await refused(service.client.unary(A.createTask, createRequest(named())), INVALID_ARGUMENT, new RegExp(`custom\\.databricksInstance: the connector may not call ${escaped} \\(`));
      assert.deepEqual(seen, []);
    });
  }

  test("a host name that resolves to loopback is refused when connecting (the system resolver, /etc/hosts included)", async (t) => {
    const name = await loopbackHostName();
    // Which names /etc/hosts maps to loopback depends on the machine (a container's own name often maps to its
    // interface address); the core's url-policy tests cover connect-time refusal with an injected resolver.
    if (name === undefined) return t.skip("no host name of this machine resolves to loopback only");
    const service = await serve(t);
    await refused(
      service.client.unary(A.createTask, createRequest(`${name}:${port}`)),
      INVALID_ARGUMENT,
      new RegExp(`custom\\.databricksInstance: .*may not call ${name.replace(/\./g, "\\.")}: it resolves to 127\\.`),
    );
    // A crafted meta naming it is refused the same way at get.
    await refused(
      service.client.unary(A.getTask, { taskCategory: category, resourceMeta: metaFor(`${name}:${port}`), connection: { secrets: { databricks_token: TASK_TOKEN } } }),
      INVALID_ARGUMENT,
      /resource meta's databricks_instance: .*resolves to 127\./,
    );
    assert.deepEqual(seen, [], "no request reached the fake");
  });

  test("a crafted resource meta naming loopback or metadata is refused at get and delete; nothing is sent", async (t) => {
    const service = await serve(t);
    for (const crafted of [instance, "169.254.169.254", `[::1]:${port}`]) {
      const resourceMeta = metaFor(crafted);
      const connection = { secrets: { databricks_token: TASK_TOKEN } };
      await refused(service.client.unary(A.getTask, { taskCategory: category, resourceMeta, connection }), INVALID_ARGUMENT, /^the resource meta's databricks_instance: the connector may not call http:\/\//);
      await refused(service.client.unary(A.deleteTask, { taskCategory: category, resourceMeta, connection }), INVALID_ARGUMENT, /^the resource meta's databricks_instance: the connector may not call http:\/\//);
    }
    assert.deepEqual(seen, []);
  });
});

describe("an operator's allowed origins", () => {
  test("a listed loopback fake may be called: create, get and delete reach it", async (t) => {
    const service = await serve(t, { allowedOrigins: [origin] });
    const { resourceMeta } = await service.client.unary(A.createTask, createRequest(instance));
    const connection = { secrets: { databricks_token: TASK_TOKEN } };
    await service.client.unary(A.getTask, { taskCategory: category, resourceMeta, connection });
    await service.client.unary(A.deleteTask, { taskCategory: category, resourceMeta, connection });
    assert.deepEqual(seen.map((r) => r.path), ["/api/2.1/jobs/runs/submit", "/api/2.1/jobs/runs/get", "/api/2.1/jobs/runs/cancel"]);
    assert.ok(seen.every((r) => r.authorization === `Bearer ${TASK_TOKEN}`));
  });

  test("with allowed origins every other origin is refused, private and public ones too, and a crafted meta too", async (t) => {
    const service = await serve(t, { allowedOrigins: [origin] });
    await refused(service.client.unary(A.createTask, createRequest("10.1.2.3")), INVALID_ARGUMENT, /may not call http:\/\/10\.1\.2\.3 \(not in allowedOrigins\)/);
    await refused(service.client.unary(A.createTask, createRequest(`127.0.0.1:${port + 1}`)), INVALID_ARGUMENT, /not in allowedOrigins/);
    const connection = { secrets: { databricks_token: TASK_TOKEN } };
    await refused(service.client.unary(A.getTask, { taskCategory: category, resourceMeta: metaFor("10.1.2.3"), connection }), INVALID_ARGUMENT, /not in allowedOrigins/);
    assert.deepEqual(seen, []);
  });

  test(`${DATABRICKS_ALLOWED_ORIGINS_ENV} lists them when the option is not set`, async (t) => {
    process.env[DATABRICKS_ALLOWED_ORIGINS_ENV] = ` https://other.example.com , ${origin}`;
    t.after(() => delete process.env[DATABRICKS_ALLOWED_ORIGINS_ENV]);
    const service = await serve(t);
    await service.client.unary(A.createTask, createRequest(instance));
    assert.equal(seen.length, 1);
    process.env[DATABRICKS_ALLOWED_ORIGINS_ENV] = "not an origin";
    assert.throws(() => new DatabricksConnector(), new RegExp(`${DATABRICKS_ALLOWED_ORIGINS_ENV}: "not an origin" is not an origin`));
  });
});

describe("the deployment's token goes only to workspaces the deployment chose", () => {
  test("an allowed origin is the deployment's choice: a task naming it without a token of its own gets the deployment's", async (t) => {
    process.env["_FSEC_FLYTE_DATABRICKS_ACCESS_TOKEN"] = DEPLOYMENT_TOKEN;
    const service = await serve(t, { allowedOrigins: [origin] });
    await service.client.unary(A.createTask, createRequest(instance, {}));
    assert.deepEqual(seen.map((r) => r.authorization), [`Bearer ${DEPLOYMENT_TOKEN}`]);
  });

  test("a host the policy allows but the deployment did not choose: without the task's own token FAILED_PRECONDITION, nothing sent", async (t) => {
    process.env["_FSEC_FLYTE_DATABRICKS_ACCESS_TOKEN"] = DEPLOYMENT_TOKEN;
    process.env["FLYTE_DATABRICKS_INSTANCE"] = "myorg.cloud.databricks.com";
    // No allowed origins: a private in-cluster address passes the default policy, but only the default instance
    // (myorg.cloud.databricks.com) may receive the deployment's token. Refused before any connection is made.
    const service = await serve(t);
    const details = await refused(
      service.client.unary(A.createTask, createRequest("10.20.30.40:8443", {})),
      FAILED_PRECONDITION,
      /^custom\.databricksInstance names http:\/\/10\.20\.30\.40:8443, a workspace the connector deployment did not choose: its FLYTE_DATABRICKS_ACCESS_TOKEN is only sent to FLYTE_DATABRICKS_INSTANCE .*FLYTE_DATABRICKS_ALLOWED_ORIGINS .*custom\.secrets\.databricks_token/,
    );
    assert.ok(!details.includes(DEPLOYMENT_TOKEN));
    // The same for a crafted meta at get and delete (Flyte 1 backends send no per-request secrets).
    const resourceMeta = metaFor("10.20.30.40:8443");
    await refused(service.client.unary(A.getTask, { taskCategory: category, resourceMeta }), FAILED_PRECONDITION, /^the resource meta's databricks_instance names http:\/\/10\.20\.30\.40:8443, a workspace the connector deployment did not choose/);
    await refused(service.client.unary(A.deleteTask, { taskCategory: category, resourceMeta }), FAILED_PRECONDITION, /did not choose/);
    assert.deepEqual(seen, []);
  });

  test("the deployment's default instance (option or FLYTE_DATABRICKS_INSTANCE) is chosen; an unlisted loopback default is still refused by the policy", async (t) => {
    process.env["_FSEC_FLYTE_DATABRICKS_ACCESS_TOKEN"] = DEPLOYMENT_TOKEN;
    // The default instance passes the token rule; the policy then refuses loopback, since it is not listed:
    // INVALID_ARGUMENT from the policy, not FAILED_PRECONDITION from the token rule.
    const service = await serve(t, { defaultInstance: origin });
    await refused(service.client.unary(A.createTask, createRequest(undefined, {})), INVALID_ARGUMENT, /^the connector's default instance: the connector may not call http:\/\/127\.0\.0\.1:\d+ \(loopback/);
    const listed = await serve(t, { defaultInstance: origin, allowedOrigins: [origin] });
    await listed.client.unary(A.createTask, createRequest(undefined, {}));
    assert.deepEqual(seen.map((r) => r.authorization), [`Bearer ${DEPLOYMENT_TOKEN}`]);
  });
});

/** A host name the system resolver maps to loopback only (this machine's own name, or Debian's ip6-localhost), if any. */
async function loopbackHostName(): Promise<string | undefined> {
  for (const name of [os.hostname(), "ip6-localhost", "ip6-loopback"]) {
    const addresses = await dns.promises.lookup(name, { all: true }).catch(() => []);
    if (addresses.length > 0 && addresses.every((a) => a.address.startsWith("127.") || a.address === "::1")) return name;
  }
  return undefined;
}
