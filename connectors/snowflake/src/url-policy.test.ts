// Server-side request forgery: a task's account and connection_kwargs (or a crafted resource meta) choose the SQL
// API origin, and the connector may hold the deployment's key. Every request goes through the URL policy, and a JWT
// signed with the deployment's key only goes to origins the deployment chose.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import dns from "node:dns";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { after, afterEach, before, describe, test } from "node:test";
import { serveForTest, type TestService } from "@flyte-connectors/service/testing";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { SNOWFLAKE_ALLOWED_ORIGINS_ENV, SnowflakeConnector, type SnowflakeConnectorOptions } from "./index.js";

const A = AsyncConnectorService.method;
const category = { name: "snowflake", version: 0 };
const privatePem = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const SECRETS = { snowflake_private_key: privatePem };
const INVALID_ARGUMENT = 3;
const FAILED_PRECONDITION = 9;
const encoder = new TextEncoder();

/** A minimal SQL API recording every request it sees; every statement stays running. */
const seen: Array<{ method: string; path: string; authorization: string | undefined }> = [];
let server: Server;
let port: number;
let origin: string;

function handle(request: IncomingMessage, response: ServerResponse): void {
  seen.push({ method: request.method ?? "", path: new URL(request.url ?? "/", "http://x").pathname, authorization: request.headers.authorization });
  request.resume();
  request.on("end", () => {
    response.writeHead(202, { "content-type": "application/json" }).end(JSON.stringify({ code: "333334", message: "running", statementHandle: "01b2c3d4-0000-1111-0000-000000000001" }));
  });
}

before(async () => {
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});
afterEach(() => {
  seen.length = 0;
  delete process.env["_FSEC_SNOWFLAKE_PRIVATE_KEY"];
});

type Kwargs = Record<string, string | number>;

function createRequest(kwargs: Kwargs | undefined, secrets: Record<string, string> = SECRETS, account = "myorg-myaccount") {
  return {
    template: {
      id: { name: "q" },
      type: "snowflake",
      custom: { account, user: "ALICE", database: "DB", warehouse: "WH", ...(kwargs ? { connection_kwargs: kwargs } : {}) },
      target: { case: "sql" as const, value: { statement: "SELECT 1" } },
    },
    outputPrefix: "s3://b/p/1",
    taskExecutionMetadata: {
      taskExecutionId: { nodeExecutionId: { nodeId: "a0", executionId: { project: "p", domain: "d", name: "r", org: "o" } }, retryAttempt: 0 },
    },
    connection: { secrets },
  };
}

/** A resource meta as a caller could craft it, pointing the connector at `kwargs`' host. */
const metaFor = (kwargs: Kwargs) =>
  encoder.encode(JSON.stringify({ account: "myorg-myaccount", user: "ALICE", database: "DB", schema: "PUBLIC", warehouse: "WH", query_id: "01b2c3d4-0000-1111-0000-000000000001", has_output: false, connection_kwargs: kwargs }));

async function serve(t: { after: (fn: () => Promise<void>) => void }, options: SnowflakeConnectorOptions = {}): Promise<TestService> {
  const service = await serveForTest([new SnowflakeConnector({ attemptTimeout: 2000, retry: { retries: 0 }, ...options })]);
  t.after(() => service.close());
  return service;
}

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

const escape = (text: string) => text.replace(/[.[\]()]/g, "\\$&");

describe("by default (no allowed origins), hosts of the connector itself and of cloud metadata are refused before any request", () => {
  for (const [label, host, shown] of [
    ["IPv4 loopback", "127.0.0.1", () => `http://127.0.0.1:${port}`],
    ["cloud metadata", "169.254.169.254", () => `http://169.254.169.254:${port}`],
    ["IPv6 loopback", "[::1]", () => `http://[::1]:${port}`],
    ["localhost", "localhost", () => `http://localhost:${port}`],
  ] as const) {
    test(`${label}: create is INVALID_ARGUMENT naming connection_kwargs.host and the origin; the fake sees nothing`, async (t) => {
      const service = await serve(t);
      await refused(
        service.client.unary(A.createTask, createRequest({ host, port, protocol: "http" })),
        INVALID_ARGUMENT,
        new RegExp(`^connection_kwargs\\.host: the connector may not call ${escape(shown())} \\(`),
      );
      assert.deepEqual(seen, []);
    });
  }

  test("an operator's apiEndpoint on loopback is refused too unless listed", async (t) => {
    const service = await serve(t, { apiEndpoint: origin });
    await refused(service.client.unary(A.createTask, createRequest(undefined)), INVALID_ARGUMENT, /^the connector's apiEndpoint: the connector may not call http:\/\/127\.0\.0\.1:\d+ \(loopback/);
    assert.deepEqual(seen, []);
  });

  test("a host name that resolves to loopback is refused when connecting (the system resolver, /etc/hosts included)", async (t) => {
    const name = await loopbackHostName();
    // Which names /etc/hosts maps to loopback depends on the machine (a container's own name often maps to its
    // interface address); the core's url-policy tests cover connect-time refusal with an injected resolver.
    if (name === undefined) return t.skip("no host name of this machine resolves to loopback only");
    const service = await serve(t);
    await refused(
      service.client.unary(A.createTask, createRequest({ host: name, port, protocol: "http" })),
      INVALID_ARGUMENT,
      new RegExp(`^connection_kwargs\\.host: .*may not call ${escape(name)}: it resolves to 127\\.`),
    );
    const connection = { secrets: SECRETS };
    await refused(
      service.client.unary(A.getTask, { taskCategory: category, resourceMeta: metaFor({ host: name, port, protocol: "http" }), connection }),
      INVALID_ARGUMENT,
      /^the resource meta's connection_kwargs\.host: .*resolves to 127\./,
    );
    assert.deepEqual(seen, []);
  });

  test("a crafted resource meta naming loopback or metadata is refused at get and delete; nothing is sent", async (t) => {
    const service = await serve(t);
    const connection = { secrets: SECRETS };
    for (const host of ["127.0.0.1", "169.254.169.254", "[::1]"]) {
      const resourceMeta = metaFor({ host, port, protocol: "http" });
      await refused(service.client.unary(A.getTask, { taskCategory: category, resourceMeta, connection }), INVALID_ARGUMENT, /^the resource meta's connection_kwargs\.host: the connector may not call http:\/\//);
      await refused(service.client.unary(A.deleteTask, { taskCategory: category, resourceMeta, connection }), INVALID_ARGUMENT, /^the resource meta's connection_kwargs\.host: the connector may not call http:\/\//);
    }
    assert.deepEqual(seen, []);
  });

  test("an account that is not an account identifier cannot choose the host (it is part of the host name)", async (t) => {
    const service = await serve(t);
    await refused(service.client.unary(A.createTask, createRequest(undefined, SECRETS, `127.0.0.1:${port}/#`)), INVALID_ARGUMENT, /account "127\.0\.0\.1:\d+\/#" is not an account identifier/);
    assert.deepEqual(seen, []);
  });
});

describe("an operator's allowed origins", () => {
  test("a listed loopback fake may be called: create, get and delete reach it", async (t) => {
    const service = await serve(t, { allowedOrigins: [origin] });
    const kwargs = { host: "127.0.0.1", port, protocol: "http" };
    const { resourceMeta } = await service.client.unary(A.createTask, createRequest(kwargs));
    await service.client.unary(A.getTask, { taskCategory: category, resourceMeta, connection: { secrets: SECRETS } });
    await service.client.unary(A.deleteTask, { taskCategory: category, resourceMeta, connection: { secrets: SECRETS } });
    assert.deepEqual(seen.map((r) => `${r.method} ${r.path}`), [
      "POST /api/v2/statements",
      "GET /api/v2/statements/01b2c3d4-0000-1111-0000-000000000001",
      "POST /api/v2/statements/01b2c3d4-0000-1111-0000-000000000001/cancel",
    ]);
  });

  test("with allowed origins every other origin is refused, Snowflake's default host and a crafted meta too", async (t) => {
    const service = await serve(t, { allowedOrigins: [origin] });
    await refused(service.client.unary(A.createTask, createRequest(undefined)), INVALID_ARGUMENT, /^account: the connector may not call https:\/\/myorg-myaccount\.snowflakecomputing\.com \(not in allowedOrigins\)/);
    await refused(service.client.unary(A.createTask, createRequest({ host: "127.0.0.1", port: port + 1, protocol: "http" })), INVALID_ARGUMENT, /not in allowedOrigins/);
    await refused(service.client.unary(A.getTask, { taskCategory: category, resourceMeta: metaFor({ host: "10.1.2.3" }), connection: { secrets: SECRETS } }), INVALID_ARGUMENT, /not in allowedOrigins/);
    assert.deepEqual(seen, []);
  });

  test(`${SNOWFLAKE_ALLOWED_ORIGINS_ENV} lists them when the option is not set`, async (t) => {
    process.env[SNOWFLAKE_ALLOWED_ORIGINS_ENV] = ` https://x.snowflakecomputing.com , ${origin}`;
    t.after(() => delete process.env[SNOWFLAKE_ALLOWED_ORIGINS_ENV]);
    const service = await serve(t);
    await service.client.unary(A.createTask, createRequest({ host: "127.0.0.1", port, protocol: "http" }));
    assert.equal(seen.length, 1);
    process.env[SNOWFLAKE_ALLOWED_ORIGINS_ENV] = "nope";
    assert.throws(() => new SnowflakeConnector(), new RegExp(`${SNOWFLAKE_ALLOWED_ORIGINS_ENV}: "nope" is not an origin`));
  });
});

describe("the deployment's key is only used for origins the deployment chose", () => {
  test("an allowed origin is the deployment's choice: a call without a key of its own is signed with the deployment's", async (t) => {
    process.env["_FSEC_SNOWFLAKE_PRIVATE_KEY"] = privatePem;
    const service = await serve(t, { allowedOrigins: [origin] });
    await service.client.unary(A.createTask, createRequest({ host: "127.0.0.1", port, protocol: "http" }, {}));
    assert.equal(seen.length, 1);
    assert.match(seen[0]?.authorization ?? "", /^Bearer ey/);
  });

  test("hosts the policy allows but the deployment did not choose: without the task's own key FAILED_PRECONDITION, nothing sent", async (t) => {
    process.env["_FSEC_SNOWFLAKE_PRIVATE_KEY"] = privatePem;
    const service = await serve(t);
    for (const [kwargs, shown] of [
      [{ host: "10.20.30.40", port: 8443 }, "https://10.20.30.40:8443"],
      // Not Snowflake's domain, however it starts.
      [{ host: "myorg.snowflakecomputing.com.attacker.example" }, "https://myorg.snowflakecomputing.com.attacker.example"],
      // Snowflake's domain, but in clear text.
      [{ host: "myorg.snowflakecomputing.com", protocol: "http" }, "http://myorg.snowflakecomputing.com"],
    ] as const) {
      const details = await refused(
        service.client.unary(A.createTask, createRequest(kwargs, {})),
        FAILED_PRECONDITION,
        new RegExp(`^connection_kwargs\\.host leads to ${escape(shown)}, an SQL API origin the connector deployment did not choose: .*${SNOWFLAKE_ALLOWED_ORIGINS_ENV}.*task's own secret snowflake_private_key`),
      );
      assert.ok(!details.includes("PRIVATE KEY"));
      // The same for a crafted meta at get and delete (Flyte 1 backends send no per-request secrets).
      const resourceMeta = metaFor(kwargs);
      await refused(service.client.unary(A.getTask, { taskCategory: category, resourceMeta }), FAILED_PRECONDITION, /^the resource meta's connection_kwargs\.host leads to .*did not choose/);
      await refused(service.client.unary(A.deleteTask, { taskCategory: category, resourceMeta }), FAILED_PRECONDITION, /did not choose/);
    }
    assert.deepEqual(seen, []);
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
