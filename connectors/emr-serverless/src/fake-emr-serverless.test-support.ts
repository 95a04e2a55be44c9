/**
 * A FAKE of the Amazon EMR Serverless API for the tests (loopback only) — not AWS. It follows the documented shapes
 * of the API (API version 2021-07-13, protocol restJson1; EMR Serverless API Reference: StartJobRun, GetJobRun,
 * CancelJobRun, GetDashboardForJobRun; the Smithy model the AWS SDK v3 client is generated from):
 * - POST /applications/{applicationId}/jobruns {clientToken, executionRoleArn, jobDriver, configurationOverrides,
 *   tags, executionTimeoutMinutes, name, retryPolicy} → {applicationId, jobRunId, arn}. A repeated clientToken
 *   returns the run it started ("idempotency token"), without starting another.
 * - GET /applications/{applicationId}/jobruns/{jobRunId} → {jobRun: {applicationId, jobRunId, arn, createdBy,
 *   createdAt, updatedAt, executionRole, state, stateDetails, releaseLabel, jobDriver, name, tags, …}}.
 * - DELETE /applications/{applicationId}/jobruns/{jobRunId} → {applicationId, jobRunId}.
 * - GET /applications/{applicationId}/jobruns/{jobRunId}/dashboard → {url}.
 * - GET /applications?states=…&maxResults=…&nextToken=… → {applications: [{id, name, arn, releaseLabel, type, state,
 *   createdAt, updatedAt}], nextToken} (pages of `maxResults`).
 * - Errors: the HTTP status, header `x-amzn-errortype: <Code>:<namespace>` and body `{"message": "…"}`
 *   (ValidationException 400, AccessDeniedException 403, ResourceNotFoundException 404, ConflictException 409,
 *   ThrottlingException 429, InternalServerException 500). A bad access key is 403 UnrecognizedClientException.
 * Assumed where the documentation is silent: CancelJobRun of a finished run is a 400 ValidationException; a
 * cancelled run reports CANCELLING once, then CANCELLED.
 *
 * Requests must be SigV4-signed (`Authorization: AWS4-HMAC-SHA256 Credential=<key id>/…/emr-serverless/aws4_request`)
 * with the fake's access key id; the signature itself is not verified. A run's `name` scripts its course (one step
 * per GetJobRun): default SUBMITTED → PENDING → SCHEDULED → RUNNING → SUCCESS; "fail" ends FAILED with stateDetails;
 * "queued" waits in QUEUED twice; "forever" stays RUNNING until cancelled; "echo" is refused with a message that
 * repeats the request's credentials (a careless upstream).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export type Operation = "StartJobRun" | "GetJobRun" | "CancelJobRun" | "GetDashboardForJobRun" | "ListApplications";

export interface RecordedRequest {
  operation: Operation | "unknown";
  method: string;
  path: string;
  body: Json | undefined;
  authorization: string | undefined;
  securityToken: string | undefined;
}

export interface FakeJobRun {
  applicationId: string;
  jobRunId: string;
  request: Json;
  state: string;
  stateDetails: string;
  polls: number;
  cancels: number;
}

interface Fault {
  operation: Operation;
  status: number;
  code: string;
  message: string;
  remaining: number;
}

const ROLE_ARN = /^arn:(aws[a-zA-Z0-9-]*):iam::(\d{12})?:(role((\u002F)|(\u002F[\u0021-\u007F]+\u002F))[\w+=,.@-]+)$/;
const CLIENT_TOKEN = /^[A-Za-z0-9._-]+$/;
const FINAL = new Set(["SUCCESS", "FAILED", "CANCELLED"]);
const COURSE: Record<string, string[]> = {
  default: ["SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "SUCCESS"],
  fail: ["SUBMITTED", "PENDING", "RUNNING", "FAILED"],
  queued: ["SUBMITTED", "QUEUED", "QUEUED", "RUNNING", "SUCCESS"],
  forever: ["SUBMITTED", "RUNNING"],
};
export const FAILURE_DETAILS = "Job failed, please check complete logs in configured logging destination. ExitCode: 1. Last few exceptions: ZeroDivisionError: division by zero";

export interface FakeOptions {
  accessKeyId: string;
  region: string;
  /** Applications that exist. */
  applications: readonly string[];
  /** Applications the caller may not use (AccessDeniedException). Default: none. */
  denied?: readonly string[];
  /** Names and states of applications (id → {name, state}); an application not listed is STARTED and nameless. */
  described?: Readonly<Record<string, { name: string; state: string }>>;
}

export class FakeEmrServerless {
  readonly runs = new Map<string, FakeJobRun>();
  readonly requests: RecordedRequest[] = [];
  readonly #tokens = new Map<string, string>();
  #faults: Fault[] = [];
  readonly #server: Server;
  readonly #options: FakeOptions;
  endpoint = "";

  private constructor(options: FakeOptions) {
    this.#options = options;
    this.#server = createServer((request, response) => void this.#handle(request, response));
  }

  static async start(options: FakeOptions): Promise<FakeEmrServerless> {
    const fake = new FakeEmrServerless(options);
    await new Promise<void>((resolve) => fake.#server.listen(0, "127.0.0.1", resolve));
    fake.endpoint = `http://127.0.0.1:${(fake.#server.address() as AddressInfo).port}`;
    return fake;
  }

  close(): void {
    this.#server.closeAllConnections();
    this.#server.close();
  }

  /** Answers the next `count` calls of `operation` with this error before handling them. */
  fail(operation: Operation, status: number, code: string, message: string, count = 1): void {
    this.#faults.push({ operation, status, code, message, remaining: count });
  }

  clearFaults(): void {
    this.#faults = [];
  }

  count(operation: Operation): number {
    return this.requests.filter((request) => request.operation === operation).length;
  }

  #send(response: ServerResponse, status: number, body: unknown, code?: string): void {
    const headers: Record<string, string> = { "content-type": "application/json", "x-amzn-requestid": `req-${this.requests.length}` };
    if (code) headers["x-amzn-errortype"] = `${code}:http://internal.amazon.com/coral/com.amazonaws.emrserverless/`;
    response.writeHead(status, headers).end(JSON.stringify(body));
  }

  #error(response: ServerResponse, status: number, code: string, message: string): void {
    this.#send(response, status, { message }, code);
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let text = "";
    for await (const chunk of request) text += String(chunk);
    const url = new URL(request.url ?? "/", "http://fake");
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const method = request.method ?? "";
    let operation: Operation | "unknown" = "unknown";
    if (parts.length === 1 && parts[0] === "applications" && method === "GET") operation = "ListApplications";
    if (parts[0] === "applications" && parts[2] === "jobruns") {
      if (parts.length === 3 && method === "POST") operation = "StartJobRun";
      else if (parts.length === 4 && method === "GET") operation = "GetJobRun";
      else if (parts.length === 4 && method === "DELETE") operation = "CancelJobRun";
      else if (parts.length === 5 && parts[4] === "dashboard" && method === "GET") operation = "GetDashboardForJobRun";
    }
    let body: Json | undefined;
    try {
      body = text ? (JSON.parse(text) as Json) : undefined;
    } catch {
      return this.#error(response, 400, "SerializationException", "Request body is not JSON");
    }
    const authorization = request.headers.authorization;
    const securityToken = request.headers["x-amz-security-token"] as string | undefined;
    this.requests.push({ operation, method, path: url.pathname, body, authorization, securityToken });

    const fault = this.#faults.find((f) => f.operation === operation && f.remaining > 0);
    if (fault) {
      fault.remaining--;
      return this.#error(response, fault.status, fault.code, fault.message);
    }
    const credential = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/emr-serverless\/aws4_request, SignedHeaders=[^,]+, Signature=[0-9a-f]{64}$/.exec(authorization ?? "");
    if (!credential) return this.#error(response, 403, "MissingAuthenticationTokenException", "Missing Authentication Token");
    if (credential[1] !== this.#options.accessKeyId) return this.#error(response, 403, "UnrecognizedClientException", "The security token included in the request is invalid.");
    if (operation === "unknown") return this.#error(response, 404, "UnknownOperationException", `No operation for ${method} ${url.pathname}`);
    if (operation === "ListApplications") return this.#list(response, url.searchParams);

    const applicationId = parts[1]!;
    if (!this.#options.applications.includes(applicationId)) return this.#error(response, 404, "ResourceNotFoundException", `Application ${applicationId} does not exist`);
    if (this.#options.denied?.includes(applicationId)) {
      return this.#error(
        response,
        403,
        "AccessDeniedException",
        `User: arn:aws:sts::123456789012:assumed-role/flyte-connector/pod is not authorized to perform: emr-serverless:${operation} on resource: arn:aws:emr-serverless:${this.#options.region}:123456789012:/applications/${applicationId}`,
      );
    }

    if (operation === "StartJobRun") return this.#start(response, applicationId, body ?? {}, authorization, securityToken);
    const run = this.runs.get(parts[3]!);
    if (!run || run.applicationId !== applicationId) return this.#error(response, 404, "ResourceNotFoundException", `Job run ${parts[3]} does not exist`);
    if (operation === "GetJobRun") {
      const reported = { ...run };
      this.#advance(run);
      run.polls++;
      return this.#send(response, 200, { jobRun: this.#jobRun(reported) });
    }
    if (operation === "CancelJobRun") {
      run.cancels++;
      if (FINAL.has(run.state)) return this.#error(response, 400, "ValidationException", `Job run ${run.jobRunId} cannot be cancelled because it is in state ${run.state}`);
      run.state = "CANCELLING";
      run.stateDetails = "Job run cancellation requested";
      return this.#send(response, 200, { applicationId, jobRunId: run.jobRunId });
    }
    return this.#send(response, 200, { url: `https://p-${run.jobRunId}-${applicationId}.emrappui-prod.${this.#options.region}.amazonaws.com/shs/?authToken=fake-${run.jobRunId}` });
  }

  #start(response: ServerResponse, applicationId: string, body: Json, authorization: string | undefined, securityToken: string | undefined): void {
    const problems: string[] = [];
    if (typeof body["executionRoleArn"] !== "string" || !ROLE_ARN.test(body["executionRoleArn"])) {
      problems.push(`Value '${String(body["executionRoleArn"])}' at 'executionRoleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: ${ROLE_ARN.source}`);
    }
    const token = body["clientToken"];
    if (typeof token !== "string" || token.length < 1 || token.length > 64 || !CLIENT_TOKEN.test(token)) {
      problems.push(`Value '${String(token)}' at 'clientToken' failed to satisfy constraint: Member must have length less than or equal to 64 and match pattern ${CLIENT_TOKEN.source}`);
    }
    const timeout = body["executionTimeoutMinutes"];
    if (timeout !== undefined && (!Number.isInteger(timeout) || timeout < 0 || timeout > 1_000_000)) {
      problems.push(`Value '${String(timeout)}' at 'executionTimeoutMinutes' failed to satisfy constraint: Member must have value less than or equal to 1000000`);
    }
    if (problems.length) return this.#error(response, 400, "ValidationException", `${problems.length} validation error${problems.length > 1 ? "s" : ""} detected: ${problems.join("; ")}`);
    const driver = body["jobDriver"] as Json | undefined;
    if (!driver || (driver["sparkSubmit"] === undefined) === (driver["hive"] === undefined)) return this.#error(response, 400, "ValidationException", "Job driver must specify exactly one of sparkSubmit or hive");
    if (driver["sparkSubmit"] && typeof driver["sparkSubmit"]["entryPoint"] !== "string") return this.#error(response, 400, "ValidationException", "Entry point must be specified for sparkSubmit");
    if (body["name"] === "echo") {
      return this.#error(response, 400, "ValidationException", `Request signed with ${authorization ?? ""} and session ${securityToken ?? ""} is not valid`);
    }
    const existing = this.#tokens.get(`${applicationId}/${token as string}`);
    if (existing) return this.#send(response, 200, { applicationId, jobRunId: existing, arn: this.#arn(applicationId, existing) });
    const jobRunId = `00f${String(this.runs.size + 1).padStart(13, "0")}`;
    this.runs.set(jobRunId, { applicationId, jobRunId, request: body, state: "SUBMITTED", stateDetails: "", polls: 0, cancels: 0 });
    this.#tokens.set(`${applicationId}/${token as string}`, jobRunId);
    this.#send(response, 200, { applicationId, jobRunId, arn: this.#arn(applicationId, jobRunId) });
  }

  #list(response: ServerResponse, query: URLSearchParams): void {
    const states = query.getAll("states");
    const pageSize = Number(query.get("maxResults") ?? 50);
    const start = Number(query.get("nextToken") ?? 0);
    const now = Math.floor(Date.now() / 1000);
    const all = this.#options.applications
      .map((id) => ({ id, ...(this.#options.described?.[id] ?? { name: undefined, state: "STARTED" }) }))
      .filter((application) => states.length === 0 || states.includes(application.state));
    const page = all.slice(start, start + pageSize).map(({ id, name, state }) => ({
      id,
      ...(name ? { name } : {}),
      arn: `arn:aws:emr-serverless:${this.#options.region}:123456789012:/applications/${id}`,
      releaseLabel: "emr-7.0.0",
      type: "Spark",
      state,
      createdAt: now - 3600,
      updatedAt: now,
    }));
    this.#send(response, 200, { applications: page, ...(start + pageSize < all.length ? { nextToken: String(start + pageSize) } : {}) });
  }

  #advance(run: FakeJobRun): void {
    if (run.state === "CANCELLING") {
      run.state = "CANCELLED";
      return;
    }
    if (FINAL.has(run.state)) return;
    const course = COURSE[String(run.request["name"])] ?? COURSE["default"]!;
    const next = course[Math.min(run.polls + 1, course.length - 1)]!;
    run.state = next;
    run.stateDetails = next === "FAILED" ? FAILURE_DETAILS : "";
  }

  #arn(applicationId: string, jobRunId: string): string {
    return `arn:aws:emr-serverless:${this.#options.region}:123456789012:/applications/${applicationId}/jobruns/${jobRunId}`;
  }

  #jobRun(run: FakeJobRun): Json {
    const now = Math.floor(Date.now() / 1000);
    return {
      applicationId: run.applicationId,
      jobRunId: run.jobRunId,
      arn: this.#arn(run.applicationId, run.jobRunId),
      createdBy: "arn:aws:sts::123456789012:assumed-role/flyte-connector/pod",
      createdAt: now - 60,
      updatedAt: now,
      executionRole: run.request["executionRoleArn"],
      state: run.state,
      stateDetails: run.stateDetails,
      releaseLabel: "emr-7.0.0",
      jobDriver: run.request["jobDriver"],
      ...(run.request["name"] ? { name: run.request["name"] } : {}),
      tags: run.request["tags"] ?? {},
      executionTimeoutMinutes: run.request["executionTimeoutMinutes"] ?? 720,
    };
  }
}
