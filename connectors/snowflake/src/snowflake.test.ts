import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, randomUUID, verify, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { ConnectorRegistry, DataFrame, Phase, encodeInputs, runTask, TaskFailedError, types } from "flyte-connectors";
import { flyte1Client, serveForTest, type Flyte1Client, type TestService } from "@flyte-connectors/service/testing";
import { create as createMessage } from "@bufbuild/protobuf";
import { TaskTemplateSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { SimpleType } from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import connectors from "./connectors.js";
import { SnowflakeConnector, SnowflakeJobMetadata, SnowflakeTask } from "./index.js";
import { jwtAccount } from "./auth.js";

// ---------------------------------------------------------------------------------------------------------------
// A local fake of the Snowflake SQL API v2, following the documented request/response shapes of
// "Snowflake SQL API" OpenAPI 2.0.0 (snowflakedb/snowflake-rest-api-specs, specifications/sqlapi.yaml, commit
// 47b9a0d2) and docs.snowflake.com/en/developer-guide/sql-api (reference, submitting-requests, handling-responses,
// handling-errors; key-pair authentication), as read in November 2026:
// - POST /api/v2/statements?async=true&requestId=<uuid>&retry=true → 202 QueryStatus {code "333334", message,
//   statementHandle, statementStatusUrl}; a known requestId returns the statement it started (no second run).
// - GET /api/v2/statements/{handle} → 202 QueryStatus while in progress, 200 ResultSet when done, 422
//   QueryFailureStatus {code, sqlState, message, statementHandle} on error, 408 QueryStatus on statement timeout.
// - POST /api/v2/statements/{handle}/cancel → 200 CancelStatus; 422 when it cannot be cancelled (finished).
// - Every request carries `Authorization: Bearer <JWT>` + `X-Snowflake-Authorization-Token-Type: KEYPAIR_JWT` and a
//   User-Agent; a JWT that does not verify with the user's registered public key → 401 {code "390144"}.
// Statement behaviour is chosen by the SQL text: FOREVER (always running), NO_SUCH_TABLE (422 at the first poll),
// SYNTAX (422 at submit), INCIDENT (422, SQL state XX000), TOO_SLOW (408); anything else runs for one poll, then 200.
// ---------------------------------------------------------------------------------------------------------------

const ACCOUNT = "myorg-myaccount";
const USER = "flyte_user";
const ASYNC_MESSAGE = "Asynchronous execution in progress. Use provided query id to perform query monitoring and management.";

interface FakeStatement {
  handle: string;
  body: Record<string, unknown>;
  polls: number;
  cancels: number;
  state: "running" | "done" | "failed" | "cancelled";
}

interface Claims {
  iss: string;
  sub: string;
  iat: number;
  exp: number;
}

/** The fingerprint Snowflake stores for a registered key (RSA_PUBLIC_KEY_FP): SHA-256 of the DER SubjectPublicKeyInfo. */
function fingerprint(publicKey: KeyObject): string {
  return `SHA256:${createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("base64")}`;
}

class FakeSnowflake {
  readonly statements = new Map<string, FakeStatement>();
  readonly byRequestId = new Map<string, string>();
  readonly requests: Array<{ method: string; path: string; query: URLSearchParams; headers: IncomingMessage["headers"] }> = [];
  readonly claims: Claims[] = [];
  /** HTTP statuses to answer the next requests with, before any normal handling (transient faults). */
  readonly faults: number[] = [];
  /** Answer every request with 503 while set. */
  down = false;
  /** Refuse this many otherwise valid JWTs (as after a clock skew) before accepting. */
  refuseTokens = 0;
  #server: Server;
  url = "";

  constructor(readonly publicKey: KeyObject) {
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        console.error("fake failed:", error);
        response.writeHead(500).end(String(error));
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  close(): void {
    this.#server.closeAllConnections();
    this.#server.close();
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  statementWith(text: string): FakeStatement {
    const found = [...this.statements.values()].filter((s) => String(s.body["statement"]).includes(text));
    assert.equal(found.length, 1, `one statement containing ${text}, found ${found.length}`);
    return found[0]!;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://fake");
    this.requests.push({ method: request.method ?? "", path: url.pathname, query: url.searchParams, headers: request.headers });
    let text = "";
    for await (const chunk of request) text += String(chunk);
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    };
    const fault = this.faults.shift();
    if (fault !== undefined) return send(fault, { message: "fault injected by the test", code: "000000" });
    if (this.down) return send(503, { message: "Service Unavailable" });
    if (!this.#authorized(request)) return send(401, { code: "390144", message: "JWT token is invalid." });
    if (this.refuseTokens > 0) {
      this.refuseTokens--;
      return send(401, { code: "390144", message: "JWT token is invalid." });
    }

    if (request.method === "POST" && url.pathname === "/api/v2/statements") {
      assert.equal(request.headers["content-type"], "application/json");
      const requestId = url.searchParams.get("requestId") ?? randomUUID();
      const known = this.byRequestId.get(requestId);
      const statement = known ? this.statements.get(known)! : this.#submit(requestId, JSON.parse(text) as Record<string, unknown>);
      if (String(statement.body["statement"]).includes("SYNTAX")) return send(422, this.#syntaxError(statement));
      return send(202, this.#queryStatus(statement));
    }
    const match = /^\/api\/v2\/statements\/([^/]+)(\/cancel)?$/.exec(url.pathname);
    const statement = match ? this.statements.get(decodeURIComponent(match[1]!)) : undefined;
    if (match && !statement) {
      return send(422, { code: "000709", sqlState: "02000", message: `Statement ${match[1]} not found`, statementHandle: match[1] });
    }
    if (statement && request.method === "POST" && match?.[2]) {
      statement.cancels++;
      if (statement.state !== "running") return send(422, { statementHandle: statement.handle, message: "Statement cannot be canceled: it has already completed." });
      statement.state = "cancelled";
      return send(200, { statementHandle: statement.handle, message: "successfully canceled", statementStatusUrl: `/api/v2/statements/${statement.handle}` });
    }
    if (statement && request.method === "GET" && !match?.[2]) return this.#status(statement, send);
    send(405, { message: "Method Not Allowed" });
  }

  #submit(requestId: string, body: Record<string, unknown>): FakeStatement {
    const statement: FakeStatement = { handle: randomUUID(), body, polls: 0, cancels: 0, state: "running" };
    this.statements.set(statement.handle, statement);
    this.byRequestId.set(requestId, statement.handle);
    return statement;
  }

  #status(statement: FakeStatement, send: (status: number, body: unknown) => void): void {
    statement.polls++;
    const sql = String(statement.body["statement"]);
    if (statement.state === "cancelled") return send(422, this.#failure(statement, "000604", "57014", "SQL execution canceled"));
    if (sql.includes("FOREVER")) return send(202, this.#queryStatus(statement));
    if (sql.includes("SYNTAX")) return send(422, this.#syntaxError(statement));
    if (sql.includes("NO_SUCH_TABLE")) {
      statement.state = "failed";
      return send(422, this.#failure(statement, "002003", "42S02", "SQL compilation error:\nObject 'NO_SUCH_TABLE' does not exist or not authorized."));
    }
    if (sql.includes("INCIDENT")) return send(422, this.#failure(statement, "000603", "XX000", "SQL execution internal error: Processing aborted due to error 300005:4035105366"));
    if (sql.includes("TOO_SLOW")) return send(408, { ...this.#queryStatus(statement), code: "000630", sqlState: "57014", message: "Statement reached its statement or warehouse timeout of 1 second(s) and was canceled." });
    if (statement.polls < 2) return send(202, this.#queryStatus(statement));
    if (sql.includes("HUGE")) {
      // A large result: its first partition (about 4 MB of JSON) comes with the status.
      statement.state = "done";
      const rows = 250_000;
      return send(200, {
        resultSetMetaData: { numRows: rows, format: "jsonv2", rowType: [{ name: "V", type: "text", nullable: false }], partitionInfo: [{ rowCount: rows, uncompressedSize: rows * 16 }] },
        data: Array.from({ length: rows }, (_, i) => [`value-${String(i).padStart(6, "0")}`]),
        code: "090001",
        sqlState: "00000",
        statementHandle: statement.handle,
        message: "Statement executed successfully.",
      });
    }
    statement.state = "done";
    send(200, {
      resultSetMetaData: { numRows: 1, format: "jsonv2", rowType: [{ name: "COUNT(*)", type: "fixed", nullable: false, precision: 18, scale: 0 }], partitionInfo: [{ rowCount: 1, uncompressedSize: 8 }] },
      data: [["42"]],
      code: "090001",
      statementStatusUrl: `/api/v2/statements/${statement.handle}?requestId=${randomUUID()}`,
      sqlState: "00000",
      statementHandle: statement.handle,
      message: "Statement executed successfully.",
      createdOn: Date.now(),
    });
  }

  #queryStatus(statement: FakeStatement) {
    return { code: "333334", message: ASYNC_MESSAGE, statementHandle: statement.handle, statementStatusUrl: `/api/v2/statements/${statement.handle}` };
  }

  #syntaxError(statement: FakeStatement) {
    statement.state = "failed";
    return this.#failure(statement, "001003", "42000", "SQL compilation error:\nsyntax error line 1 at position 0 unexpected 'SYNTAX'.");
  }

  #failure(statement: FakeStatement, code: string, sqlState: string, message: string) {
    return { code, sqlState, message, statementHandle: statement.handle, createdOn: Date.now(), statementStatusUrl: `/api/v2/statements/${statement.handle}` };
  }

  /** Checks the request's key-pair JWT as Snowflake does: headers, RS256 signature with the user's key, claims. */
  #authorized(request: IncomingMessage): boolean {
    if (request.headers["x-snowflake-authorization-token-type"] !== "KEYPAIR_JWT") return false;
    if (!request.headers["user-agent"]) return false;
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];
    const [header, payload, signature] = token?.split(".") ?? [];
    if (!header || !payload || !signature) return false;
    const ok = verify("sha256", Buffer.from(`${header}.${payload}`), this.publicKey, Buffer.from(signature, "base64url"));
    if (!ok || JSON.parse(Buffer.from(header, "base64url").toString()).alg !== "RS256") return false;
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Claims;
    this.claims.push(claims);
    const subject = `${ACCOUNT.toUpperCase()}.${USER.toUpperCase()}`;
    const now = Date.now() / 1000;
    return (
      claims.sub === subject &&
      claims.iss === `${subject}.${fingerprint(this.publicKey)}` &&
      claims.iat <= now + 5 &&
      claims.exp > now &&
      claims.exp - claims.iat <= 3600
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------

const A = AsyncConnectorService.method;
const PASSPHRASE = "correct horse battery staple";
const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
const privatePem = keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const encryptedPem = keys.privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: PASSPHRASE }).toString();
const otherPem = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const SECRETS = { snowflake_private_key: privatePem };

let fake: FakeSnowflake;
let service: TestService;

before(async () => {
  fake = new FakeSnowflake(keys.publicKey);
  await fake.start();
  // Quick back-off so the retry tests take milliseconds; the fake listens on loopback, which the URL policy refuses
  // unless the operator lists it.
  service = await serveForTest([new SnowflakeConnector({ attemptTimeout: 2000, retry: { minDelay: 5, maxDelay: 20 }, allowedOrigins: [fake.url] })]);
});

after(async () => {
  await service.close();
  fake.close();
});

/** A Snowflake task pointed at the fake through the Python plugin's host/port/protocol connection kwargs. */
function snowflakeTask<R extends boolean = false>(query: string, options: { outputDataFrame?: R; role?: string } = {}) {
  return new SnowflakeTask({
    name: "count_users",
    queryTemplate: query,
    config: {
      account: ACCOUNT,
      user: USER,
      database: "ANALYTICS",
      schema: "PUBLIC",
      warehouse: "COMPUTE_WH",
      connectionKwargs: { host: "127.0.0.1", port: fake.port, protocol: "http", ...(options.role ? { role: options.role } : {}) },
    },
    inputs: { min_age: types.int, name: types.string },
    ...(options.outputDataFrame !== undefined ? { outputDataFrame: options.outputDataFrame } : {}),
    snowflakePrivateKey: "snowflake-pk",
  });
}

let attempts = 0;
async function createRequest(query: string, extra: { outputDataFrame?: boolean; secrets?: Record<string, string>; attempt?: number; run?: string } = {}) {
  const task = snowflakeTask(query, { outputDataFrame: extra.outputDataFrame ?? false, role: "ANALYST" });
  const template = task.toTaskTemplate();
  return {
    template,
    inputs: await encodeInputs({ min_age: 21, name: "ann" }, task.inputs),
    outputPrefix: "s3://bucket/shard/run/action/1",
    taskExecutionMetadata: {
      taskExecutionId: {
        taskId: template.id,
        nodeExecutionId: { nodeId: "a0", executionId: { project: "p", domain: "d", name: extra.run ?? `run-${++attempts}` } },
        retryAttempt: extra.attempt ?? 0,
      },
    },
    connection: { secrets: extra.secrets ?? SECRETS },
  };
}

const category = { name: "snowflake", version: 0 };

async function create(query: string, extra?: Parameters<typeof createRequest>[1]) {
  const { resourceMeta } = await service.client.unary(A.createTask, await createRequest(query, extra));
  return resourceMeta;
}

async function get(resourceMeta: Uint8Array, secrets: Record<string, string> = SECRETS) {
  const { resource } = await service.client.unary(A.getTask, { taskCategory: category, resourceMeta, outputPrefix: "s3://bucket/out", connection: { secrets } });
  assert.ok(resource);
  return resource;
}

function del(resourceMeta: Uint8Array, secrets: Record<string, string> = SECRETS) {
  return service.client.unary(A.deleteTask, { taskCategory: category, resourceMeta, connection: { secrets } });
}

function meta(bytes: Uint8Array): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
}

/** gRPC status codes the tests expect. */
const grpcStatus = { INVALID_ARGUMENT: 3, FAILED_PRECONDITION: 9, UNAVAILABLE: 14 } as const;

async function rejects(promise: Promise<unknown>, name: keyof typeof grpcStatus, pattern?: RegExp): Promise<{ code: number; details: string }> {
  const error = (await promise.then(
    () => assert.fail(`expected ${name}, got OK`),
    (e: unknown) => e,
  )) as { code: number; details: string };
  assert.equal(error.code, grpcStatus[name], `expected ${name}, got code ${error.code}: ${error.details}`);
  if (pattern) assert.match(error.details, pattern);
  return error;
}

/** Everything a caller could see: reply bytes and texts. */
const seen: string[] = [];
function saw(...things: unknown[]) {
  for (const thing of things) seen.push(thing instanceof Uint8Array ? new TextDecoder().decode(thing) : JSON.stringify(thing, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)));
}

describe("through the gRPC service, against a fake SQL API", () => {
  test("create → get (running) → get (succeeded) returns the results DataFrame and the Snowsight link", async () => {
    const resourceMeta = await create("SELECT COUNT(*) FROM users WHERE age >= %(min_age)s AND name = %(name)s", { outputDataFrame: true });
    saw(resourceMeta);
    const statement = fake.statementWith("COUNT(*)");
    // The request: bind variables, context, async + idempotency parameters, a key-pair JWT.
    assert.deepEqual(statement.body, {
      statement: "SELECT COUNT(*) FROM users WHERE age >= ? AND name = ?",
      database: "ANALYTICS",
      schema: "PUBLIC",
      warehouse: "COMPUTE_WH",
      role: "ANALYST",
      bindings: { "1": { type: "FIXED", value: "21" }, "2": { type: "TEXT", value: "ann" } },
    });
    const submit = fake.requests.find((r) => r.method === "POST" && r.path === "/api/v2/statements")!;
    assert.equal(submit.query.get("async"), "true");
    assert.equal(submit.query.get("retry"), "true");
    assert.match(submit.query.get("requestId") ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const claims = fake.claims.at(-1)!;
    assert.equal(claims.sub, "MYORG-MYACCOUNT.FLYTE_USER");
    assert.equal(claims.iss, `MYORG-MYACCOUNT.FLYTE_USER.${fingerprint(keys.publicKey)}`);
    assert.ok(claims.exp - claims.iat <= 3600 && claims.exp * 1000 > Date.now() + 50 * 60 * 1000, `exp ${claims.exp} within the hour, well ahead`);

    assert.deepEqual(meta(resourceMeta), {
      account: ACCOUNT,
      user: USER,
      database: "ANALYTICS",
      schema: "PUBLIC",
      warehouse: "COMPUTE_WH",
      query_id: statement.handle,
      has_output: true,
      connection_kwargs: { role: "ANALYST", host: "127.0.0.1", port: fake.port, protocol: "http" },
    });

    const running = await get(resourceMeta);
    saw(running);
    assert.equal(running.phase, Phase.RUNNING);
    assert.equal(running.message, ASYNC_MESSAGE);
    const done = await get(resourceMeta);
    saw(done);
    assert.equal(done.phase, Phase.SUCCEEDED);
    assert.match(done.message, /Statement executed successfully\. 1 row\(s\)/);
    const link = done.logLinks[0]!;
    assert.equal(link.name, "Snowflake Dashboard");
    assert.equal(link.uri, `https://app.snowflake.com/myorg/myaccount/#/compute/history/queries/${statement.handle}/detail`);
    assert.equal(link.ready, true);
    const results = done.outputs?.literals.find((l) => l.name === "results")?.value;
    assert.equal(results?.value.case, "scalar");
    const scalar = results?.value.case === "scalar" ? results.value.value.value : undefined;
    assert.equal(scalar?.case, "structuredDataset");
    assert.equal(
      scalar?.case === "structuredDataset" ? scalar.value.uri : "",
      `snowflake://${USER}/${ACCOUNT}/COMPUTE_WH/ANALYTICS/PUBLIC/${statement.handle}`,
    );
    // Both polls were GETs of the handle; nothing else was needed (no session, no login).
    assert.equal(fake.requests.filter((r) => r.path === `/api/v2/statements/${statement.handle}`).length, 2);
  });

  test("a finished query with a large first result partition succeeds without its data being read", async () => {
    const resourceMeta = await create("SELECT HUGE, %(min_age)s, %(name)s", { outputDataFrame: true });
    assert.equal((await get(resourceMeta)).phase, Phase.RUNNING);
    const done = await get(resourceMeta);
    assert.equal(done.phase, Phase.SUCCEEDED);
    // The row count lives in the unread reply: only the status is reported.
    assert.equal(done.message, "Statement executed successfully.");
    assert.ok(done.outputs?.literals.some((l) => l.name === "results"));
    // The connection given up mid-reply does not disturb the next call.
    assert.equal((await get(resourceMeta)).phase, Phase.SUCCEEDED);
  });

  test("a task without outputs succeeds without outputs", async () => {
    const resourceMeta = await create("DELETE FROM users WHERE age < %(min_age)s AND name <> %(name)s");
    assert.equal(meta(resourceMeta)["has_output"], false);
    await get(resourceMeta);
    const done = await get(resourceMeta);
    assert.equal(done.phase, Phase.SUCCEEDED);
    assert.equal(done.outputs, undefined);
  });

  test("names are sent as Snowflake resolves them: unquoted upper-cased, quoted taken literally (the SQL API's fields are case-sensitive)", async () => {
    // As a Python task may write them: the Python connector's login resolves these like SQL identifiers.
    const request = await createRequest("SELECT CASED, %(min_age)s, %(name)s");
    const custom = request.template.custom as Record<string, unknown>;
    Object.assign(custom, { warehouse: "compute_wh", database: "analytics", schema: '"Mixed ""Schema"""' });
    custom["connection_kwargs"] = { ...(custom["connection_kwargs"] as object), role: "analyst" };
    const { resourceMeta } = await service.client.unary(A.createTask, request);
    const body = fake.statementWith("CASED").body;
    assert.deepEqual([body["warehouse"], body["database"], body["schema"], body["role"]], ["COMPUTE_WH", "ANALYTICS", 'Mixed "Schema"', "ANALYST"]);
    // The meta keeps the names as written: the results URI is read back by the Python plugin's own connection.
    assert.equal(meta(resourceMeta)["warehouse"], "compute_wh");
    assert.deepEqual(meta(resourceMeta)["connection_kwargs"], { role: "analyst", host: "127.0.0.1", port: fake.port, protocol: "http" });
  });

  test("a SQL error is phase FAILED with Snowflake's message, code and SQL state", async () => {
    const resourceMeta = await create("SELECT * FROM NO_SUCH_TABLE WHERE a = %(min_age)s OR b = %(name)s");
    const failed = await get(resourceMeta);
    saw(failed);
    assert.equal(failed.phase, Phase.FAILED);
    assert.match(failed.message, /Object 'NO_SUCH_TABLE' does not exist or not authorized\. \(code 002003, SQL state 42S02\)/);
    assert.equal(failed.logLinks.length, 1);
  });

  test("a compilation error at submit still creates a job whose first poll is FAILED (no retry burnt on it)", async () => {
    const resourceMeta = await create("SYNTAX %(min_age)s %(name)s");
    assert.equal(meta(resourceMeta)["query_id"], fake.statementWith("SYNTAX").handle);
    const failed = await get(resourceMeta);
    assert.equal(failed.phase, Phase.FAILED);
    assert.match(failed.message, /syntax error/);
  });

  test("an internal Snowflake incident (SQL state XX000) is RETRYABLE_FAILED; a statement timeout (408) is FAILED", async () => {
    const incident = await get(await create("SELECT INCIDENT, %(min_age)s, %(name)s"));
    assert.equal(incident.phase, Phase.RETRYABLE_FAILED);
    assert.match(incident.message, /internal error/);
    const slow = await get(await create("SELECT TOO_SLOW, %(min_age)s, %(name)s"));
    assert.equal(slow.phase, Phase.FAILED);
    assert.match(slow.message, /timed out.*code 000630/);
  });

  test("delete cancels a running statement once; the statement then reports cancelled", async () => {
    const resourceMeta = await create("SELECT FOREVER_1, %(min_age)s, %(name)s");
    assert.equal((await get(resourceMeta)).phase, Phase.RUNNING);
    await del(resourceMeta);
    const statement = fake.statementWith("FOREVER_1");
    assert.equal(statement.cancels, 1);
    assert.equal(statement.state, "cancelled");
    const after = await get(resourceMeta);
    assert.equal(after.phase, Phase.FAILED);
    assert.match(after.message, /SQL execution canceled/);
    // Deleting again (the backend retries deletes) is fine.
    await del(resourceMeta);
  });

  test("delete of a finished or unknown statement is OK", async () => {
    const finished = await create("SELECT FINISHED, %(min_age)s, %(name)s");
    await get(finished);
    assert.equal((await get(finished)).phase, Phase.SUCCEEDED);
    await del(finished);
    assert.equal(fake.statementWith("FINISHED").cancels, 1);
    const unknown = SnowflakeJobMetadata.decode(new TextEncoder().encode(JSON.stringify({ ...meta(finished), query_id: randomUUID() }))).encode();
    await del(unknown);
    const lost = await get(unknown);
    assert.equal(lost.phase, Phase.FAILED);
    assert.match(lost.message, /not found/);
  });

  test("the Snowsight link of an account locator with region names region and locator", async () => {
    const located: Record<string, unknown> = { ...meta(await create("SELECT FOREVER_5, %(min_age)s, %(name)s")), account: "xy12345.us-east-2.aws" };
    // The fake knows only myorg-myaccount: the JWT is refused (FAILED), but the link is there.
    const resource = await get(new TextEncoder().encode(JSON.stringify(located)));
    assert.equal(resource.phase, Phase.FAILED);
    assert.match(resource.message, /HTTP 401/);
    assert.equal(resource.logLinks[0]?.uri, `https://app.snowflake.com/us-east-2.aws/xy12345/#/compute/history/queries/${located["query_id"] as string}/detail`);
  });

  test("transient faults (503, 429) are retried within a call; the statement is submitted once", async () => {
    fake.faults.push(503, 429);
    const before = fake.requests.length;
    const resourceMeta = await create("SELECT RETRIED, %(min_age)s, %(name)s");
    assert.equal(fake.requests.length - before, 3, "two faults, then the submit");
    const statement = fake.statementWith("RETRIED");
    assert.equal(meta(resourceMeta)["query_id"], statement.handle);
    fake.faults.push(503);
    assert.equal((await get(resourceMeta)).phase, Phase.RUNNING);
    // A reply the documentation does not list is not a verdict: keep polling, say what happened.
    fake.faults.push(409);
    const unknown = await get(resourceMeta);
    assert.equal(unknown.phase, Phase.RUNNING);
    assert.match(unknown.message, /HTTP 409 \(not understood\); will check again/);
    fake.faults.push(502);
    assert.equal((await get(resourceMeta)).phase, Phase.SUCCEEDED);
  });

  test("a persistent outage keeps get at the last known phase with a message; create fails UNAVAILABLE", async () => {
    const resourceMeta = await create("SELECT FOREVER_2, %(min_age)s, %(name)s");
    assert.equal((await get(resourceMeta)).phase, Phase.RUNNING);
    fake.down = true;
    try {
      const during = await get(resourceMeta);
      saw(during);
      assert.equal(during.phase, Phase.RUNNING);
      assert.match(during.message, /temporarily unavailable.*503/);
      assert.equal(during.logLinks.length, 1, "the Snowsight link is still shown");
      await rejects(create("SELECT FOREVER_3, %(min_age)s, %(name)s"), "UNAVAILABLE", /Snowflake is unavailable submitting the statement: HTTP 503/);
    } finally {
      fake.down = false;
    }
    await del(resourceMeta);
  });

  test("a refused JWT is signed again and retried once", async () => {
    const resourceMeta = await create("SELECT FOREVER_4, %(min_age)s, %(name)s");
    fake.refuseTokens = 1;
    assert.equal((await get(resourceMeta)).phase, Phase.RUNNING);
    assert.equal(fake.refuseTokens, 0);
    await del(resourceMeta);
  });

  test("create is idempotent per task attempt: a repeated CreateTask returns the same statement", async () => {
    const first = await create("SELECT TWICE, %(min_age)s, %(name)s", { run: "run-twice" });
    const again = await create("SELECT TWICE, %(min_age)s, %(name)s", { run: "run-twice" });
    assert.equal(meta(again)["query_id"], meta(first)["query_id"]);
    assert.equal([...fake.statements.values()].filter((s) => String(s.body["statement"]).includes("TWICE")).length, 1);
    const retry = await create("SELECT TWICE, %(min_age)s, %(name)s", { run: "run-twice", attempt: 1 });
    assert.notEqual(meta(retry)["query_id"], meta(first)["query_id"], "a new attempt is a new statement");
  });

  test("an encrypted private key works with its passphrase", async () => {
    const secrets = { snowflake_private_key: encryptedPem, snowflake_private_key_passphrase: PASSPHRASE };
    const resourceMeta = await create("SELECT ENCRYPTED, %(min_age)s, %(name)s", { secrets });
    await get(resourceMeta, secrets);
    assert.equal((await get(resourceMeta, secrets)).phase, Phase.SUCCEEDED);
  });

  test("bad configuration and credentials are clear errors that never echo a secret", async () => {
    const errors = [
      await rejects(create("SELECT 1", { secrets: {} }), "FAILED_PRECONDITION", /no secret snowflake_private_key/),
      await rejects(create("SELECT 1", { secrets: { snowflake_private_key: "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----" } }), "FAILED_PRECONDITION", /not a readable PEM private key/),
      await rejects(create("SELECT 1", { secrets: { snowflake_private_key: encryptedPem, snowflake_private_key_passphrase: "wrong" } }), "FAILED_PRECONDITION", /with the given passphrase/),
      // A key Snowflake does not know for the user: Snowflake's own message.
      await rejects(create("SELECT 1", { secrets: { snowflake_private_key: otherPem } }), "FAILED_PRECONDITION", /HTTP 401.*JWT token is invalid.*390144/),
      await rejects(create("SELECT %(nope)s"), "INVALID_ARGUMENT", /no input "nope"/),
    ];
    const noWarehouse = await createRequest("SELECT 1");
    delete (noWarehouse.template.custom as Record<string, unknown>)["warehouse"];
    errors.push(await rejects(service.client.unary(A.createTask, noWarehouse), "INVALID_ARGUMENT", /lacks warehouse/));
    const withPassword = await createRequest("SELECT 1");
    (withPassword.template.custom as Record<string, unknown>)["connection_kwargs"] = { password: "hunter2-password" };
    errors.push(await rejects(service.client.unary(A.createTask, withPassword), "INVALID_ARGUMENT", /connection_kwargs password cannot be used/));
    saw(...errors.map((e) => e.details));
    assert.ok(!seen.some((text) => text.includes("hunter2-password")), "the password never comes back");
  });

  test("no reply, error or meta carries the private key or its passphrase", () => {
    assert.ok(seen.length > 10);
    const secretParts = [privatePem, encryptedPem, PASSPHRASE, ...privatePem.split("\n").filter((line) => line.length > 40)];
    for (const text of seen) for (const secret of secretParts) assert.ok(!text.includes(secret), `a reply contains secret material: ${text.slice(0, 200)}`);
  });
});

describe("SnowflakeTask", () => {
  test("writes the Python plugin's task template: type, sql, custom keys and secret references", () => {
    const task = new SnowflakeTask({
      name: "insert_users",
      queryTemplate: "  INSERT INTO users (id, name) -- one row per list element\n\tVALUES   (%(id)s, %(name)s)\n",
      config: { account: ACCOUNT, user: USER, database: "FLYTE", schema: "PUBLIC", warehouse: "COMPUTE_WH", connectionKwargs: { role: "ADMIN" } },
      inputs: { id: types.list(types.int), name: types.list(types.string) },
      batch: true,
      secretGroup: "snowflake",
      snowflakePrivateKey: "private-key",
      snowflakePrivateKeyPassphrase: "passphrase",
    });
    const template = task.toTaskTemplate();
    assert.equal(template.type, "snowflake");
    assert.equal(template.taskTypeVersion, 0);
    assert.equal(template.target.case, "sql");
    assert.equal(template.target.case === "sql" ? template.target.value.statement : "", "INSERT INTO users (id, name) -- one row per list element\n\tVALUES   (%(id)s, %(name)s)", "kept as written: collapsing lines would comment out the VALUES clause");
    assert.deepEqual(template.custom, {
      account: ACCOUNT,
      database: "FLYTE",
      schema: "PUBLIC",
      warehouse: "COMPUTE_WH",
      user: USER,
      batch: true,
      connection_kwargs: { role: "ADMIN" },
      secrets: { snowflake_private_key: "SNOWFLAKE_PRIVATE_KEY", snowflake_private_key_passphrase: "SNOWFLAKE_PASSPHRASE" },
    });
    assert.deepEqual(template.interface?.outputs?.variables ?? [], []);
  });

  test("runs end to end through runTask (secrets from the environment) and returns the results DataFrame", async () => {
    const registry = new ConnectorRegistry().register(new SnowflakeConnector({ retry: { minDelay: 5, maxDelay: 20 }, allowedOrigins: [fake.url] }));
    const task = snowflakeTask("SELECT LOCAL_RUN WHERE age > %(min_age)s AND name = %(name)s", { outputDataFrame: true });
    const { results } = await runTask(task, { min_age: 30, name: "bob" }, {
      registry,
      pollInterval: 5,
      quiet: true,
      handleSigint: false,
      env: { SNOWFLAKE_PK: privatePem },
    });
    const statement = fake.statementWith("LOCAL_RUN");
    assert.ok(results instanceof DataFrame);
    assert.equal(results.uri, `snowflake://${USER}/${ACCOUNT}/COMPUTE_WH/ANALYTICS/PUBLIC/${statement.handle}`);
    assert.deepEqual(statement.body["bindings"], { "1": { type: "FIXED", value: "30" }, "2": { type: "TEXT", value: "bob" } });
  });

  test("a failing statement rejects runTask with Snowflake's message", async () => {
    const registry = new ConnectorRegistry().register(new SnowflakeConnector({ allowedOrigins: [fake.url] }));
    const task = snowflakeTask("SELECT * FROM NO_SUCH_TABLE_2 WHERE a = %(min_age)s AND b = %(name)s");
    const error = await runTask(task, { min_age: 1, name: "x" }, { registry, pollInterval: 5, quiet: true, handleSigint: false, env: { SNOWFLAKE_PK: privatePem } }).catch((e: unknown) => e);
    assert.ok(error instanceof TaskFailedError);
    assert.equal(error.phase, Phase.FAILED);
    assert.match(error.reason ?? "", /does not exist or not authorized/);
  });
});

describe("account identifiers", () => {
  test("the JWT account is upper case, without region for a locator, as Snowflake's drivers write it", () => {
    assert.equal(jwtAccount("myorg-myaccount"), "MYORG-MYACCOUNT");
    assert.equal(jwtAccount("xy12345.us-east-2.aws"), "XY12345");
    assert.equal(jwtAccount("myorg-myaccount.global"), "MYORG");
  });

  test("the package's default export is the connector the service loads", () => {
    assert.equal(connectors.length, 1);
    assert.ok(connectors[0] instanceof SnowflakeConnector);
    assert.equal(connectors[0].taskTypeName, "snowflake");
  });
});

describe("Flyte 1: flytekit's SnowflakeTask template through the Flyte 1 agent services", () => {
  // flytekit's SnowflakeTask writes its settings to TaskTemplate.config (not custom) and its connector reads the
  // key from the deployment (get_connector_secret("snowflake_private_key")); Flyte 1 sends no per-request secrets.
  let flyte1: TestService;
  let client: Flyte1Client;
  const saved = process.env["SNOWFLAKE_PRIVATE_KEY"];

  before(async () => {
    process.env["SNOWFLAKE_PRIVATE_KEY"] = privatePem;
    // gRPC whatever FLYTE_CONNECTOR_TEST_PROTOCOL says: Flyte 1 backends call the Flyte 1 services over gRPC only.
    flyte1 = await serveForTest([new SnowflakeConnector({ apiEndpoint: fake.url, allowedOrigins: [fake.url], attemptTimeout: 2000, retry: { minDelay: 5, maxDelay: 20 } })], { protocol: "grpc" });
    client = flyte1Client(flyte1.handle.port);
  });

  after(async () => {
    if (saved === undefined) delete process.env["SNOWFLAKE_PRIVATE_KEY"];
    else process.env["SNOWFLAKE_PRIVATE_KEY"] = saved;
    client.close();
    await flyte1.close();
  });

  /** As flytekit serializes `SnowflakeTask(query_template=…, task_config=SnowflakeConfig(…), inputs=…, output_schema_type=…)`. */
  const flytekitTemplate = (statement: string) =>
    createMessage(TaskTemplateSchema, {
      id: { resourceType: 1, project: "flytesnacks", domain: "development", name: "wf.sf_task", version: "v1" },
      type: "snowflake",
      metadata: { runtime: { type: 1, version: "1.14.3", flavor: "python" } },
      interface: {
        inputs: { variables: [{ key: "min_age", value: { type: { type: { case: "simple", value: SimpleType.INTEGER } } } }] },
        outputs: { variables: [{ key: "results", value: { type: { type: { case: "structuredDatasetType", value: { format: "" } } } } }] },
      },
      config: { user: USER, account: ACCOUNT, database: "ANALYTICS", schema: "PUBLIC", warehouse: "COMPUTE_WH", table: "" },
      target: { case: "sql", value: { statement, dialect: 1 } },
    });

  test("create → get → delete with settings from TaskTemplate.config and the deployment's key", async () => {
    const inputs = await encodeInputs({ min_age: 30 }, { min_age: types.int });
    const { resourceMeta } = await client.createTask({
      template: flytekitTemplate("SELECT name FROM flyte1_users WHERE age >= %(min_age)s"),
      inputs: Object.fromEntries(inputs.literals.map((named) => [named.name, named.value!])),
      outputPrefix: "s3://bucket/metadata/propeller/f1/n0/data/0",
    });
    const statement = fake.statementWith("flyte1_users");
    assert.deepEqual(statement.body, {
      statement: "SELECT name FROM flyte1_users WHERE age >= ?",
      database: "ANALYTICS",
      schema: "PUBLIC",
      warehouse: "COMPUTE_WH",
      bindings: { "1": { type: "FIXED", value: "30" } },
    });
    let resource;
    for (let i = 0; i < 5 && resource?.phase !== Phase.SUCCEEDED; i++) resource = (await client.getTask("snowflake", resourceMeta)).resource;
    assert.equal(resource?.phase, Phase.SUCCEEDED);
    const results = resource?.outputs?.literals["results"];
    const scalar = results?.value.case === "scalar" ? results.value.value : undefined;
    // flytekit's Snowflake DataFrame reader splits the uri on "/", "://" and ":" (so flyte-sdk's
    // snowflake://user/account/… and flytekit's snowflake://user:account/… read the same).
    const uri = scalar?.value.case === "structuredDataset" ? scalar.value.value.uri : "";
    assert.deepEqual(uri.split(/\/|:\/\/|:/), ["snowflake", USER, ACCOUNT, "COMPUTE_WH", "ANALYTICS", "PUBLIC", statement.handle]);
    await client.deleteTask("snowflake", resourceMeta);
  });

  test("a meta written by flytekit's connector (no connection_kwargs) is polled and cancelled", async () => {
    const inputs = await encodeInputs({ min_age: 1 }, { min_age: types.int });
    const { resourceMeta } = await client.createTask({
      template: flytekitTemplate("SELECT 1 FROM flyte1_forever WHERE %(min_age)s > 0 -- FOREVER"),
      inputs: Object.fromEntries(inputs.literals.map((named) => [named.name, named.value!])),
    });
    const { query_id } = meta(resourceMeta) as { query_id: string };
    const flytekitMeta = new TextEncoder().encode(
      JSON.stringify({ user: USER, account: ACCOUNT, database: "ANALYTICS", schema: "PUBLIC", warehouse: "COMPUTE_WH", query_id, has_output: false }),
    );
    assert.equal((await client.getTask("snowflake", flytekitMeta)).resource?.phase, Phase.RUNNING);
    await client.deleteTask("snowflake", flytekitMeta);
    assert.equal(fake.statements.get(query_id)?.cancels, 1);
  });
});
