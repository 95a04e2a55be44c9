/**
 * A local fake of the BigQuery REST API v2 for the tests: jobs.insert, jobs.get and jobs.cancel only.
 *
 * Request/response shapes follow the BigQuery API v2 reference (https://cloud.google.com/bigquery/docs/reference/rest/v2/jobs,
 * Job, JobReference, JobStatus, ErrorProto, QueryParameter) at discovery revision 20260328, the revision of the
 * types shipped in @google-cloud/bigquery 8.3.1; errors use Google's JSON error format
 * (`{ error: { code, message, errors: [{ message, domain, reason }], status } }`). Behaviour modelled on the real
 * service: job ids unique per project (409 "duplicate" on a second insert), a job looked up in another location
 * is not found (404), jobs.cancel of a finished job answers 200, cancelled jobs end DONE with reason "stopped".
 *
 * Auth: every request must carry `Authorization: Bearer <JWT>` signed with the fake's service-account key (RS256,
 * verified with the public key). The key's `universe_domain` is not googleapis.com, which makes google-auth-library
 * sign that JWT itself instead of exchanging it at oauth2.googleapis.com, so the tests need no network.
 *
 * How a job runs is picked by a marker comment in its query: default PENDING → RUNNING → DONE with a destination
 * table (one step per jobs.get); `/*fail*\/` DONE with an invalidQuery error; `/*backend-error*\/` DONE with a
 * backendError; `/*forever*\/` RUNNING until cancelled; `/*ddl*\/` DONE without a destination table.
 */
import { createPublicKey, generateKeyPairSync, verify, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface RecordedRequest {
  method: string;
  path: string;
  search: URLSearchParams;
  body: Json | undefined;
  authorization: string | undefined;
  userAgent: string | undefined;
}

export type Operation = "insert" | "get" | "cancel";

interface Fault {
  operation: Operation;
  status: number;
  reason: string;
  remaining: number;
  /** insert only: create the job, then answer with the fault (a reply lost on the way back). */
  afterApplying: boolean;
}

interface FakeJob {
  resource: Json;
  polls: number;
  cancels: number;
}

/** Fields of JobConfigurationQuery the fake accepts; the real API rejects unknown names with 400 invalid. */
const QUERY_FIELDS = new Set([
  "query", "useLegacySql", "parameterMode", "queryParameters", "destinationTable", "writeDisposition", "createDisposition",
  "useQueryCache", "priority", "maximumBytesBilled", "defaultDataset", "labels", "timePartitioning", "clustering",
  "allowLargeResults", "flattenResults", "schemaUpdateOptions", "destinationEncryptionConfiguration", "createSession",
  "connectionProperties", "rangePartitioning", "scriptOptions", "tableDefinitions", "userDefinedFunctionResources",
  "maximumBillingTier", "preserveNulls", "continuous", "writeIncrementalResults", "systemVariables",
]);

const STATUS_NAMES: Record<number, string> = { 400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE" };

function decodeJwtPart(part: string): Json {
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Json;
}

export class FakeBigQuery {
  readonly requests: RecordedRequest[] = [];
  readonly jobs = new Map<string, FakeJob>();
  /** The service-account JSON key (as a secret value) whose JWTs the fake accepts. */
  readonly serviceAccountKey: string;
  readonly #publicKey: KeyObject;
  readonly #clientEmail = "flyte-connector@fake-project.iam.gserviceaccount.com";
  #faults: Fault[] = [];
  #server!: Server;
  url = "";

  private constructor() {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    this.#publicKey = createPublicKey(publicKey.export({ type: "spki", format: "pem" }));
    this.serviceAccountKey = JSON.stringify({
      type: "service_account",
      project_id: "fake-project",
      private_key_id: "4f1c0ffee4f1c0ffee4f1c0ffee4f1c0ffee0001",
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }),
      client_email: this.#clientEmail,
      client_id: "100000000000000000001",
      token_uri: "https://oauth2.googleapis.com/token",
      universe_domain: "fake-universe.test",
    });
  }

  static async start(): Promise<FakeBigQuery> {
    const fake = new FakeBigQuery();
    fake.#server = createServer((request, response) => void fake.#handle(request, response));
    await new Promise<void>((resolve) => fake.#server.listen(0, "127.0.0.1", resolve));
    fake.url = `http://127.0.0.1:${(fake.#server.address() as AddressInfo).port}`;
    return fake;
  }

  /** The next `times` calls of `operation` answer `status` (Google error JSON with `reason`); status 0: never answer. */
  fail(operation: Operation, status: number, times: number, options: { reason?: string; afterApplying?: boolean } = {}): void {
    this.#faults.push({ operation, status, reason: options.reason ?? "backendError", remaining: times, afterApplying: options.afterApplying ?? false });
  }

  clearFaults(): void {
    this.#faults = [];
  }

  /** Requests of one operation, e.g. every jobs.insert. */
  calls(operation: Operation): RecordedRequest[] {
    return this.requests.filter((r) => operationOf(r.method, r.path) === operation);
  }

  job(project: string, jobId: string): FakeJob | undefined {
    return this.jobs.get(`${project}/${jobId}`);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #takeFault(operation: Operation): Fault | undefined {
    const fault = this.#faults.find((f) => f.operation === operation && f.remaining > 0);
    if (fault) fault.remaining--;
    return fault;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let text = "";
    for await (const chunk of request) text += String(chunk);
    const url = new URL(request.url ?? "/", "http://fake");
    const path = url.pathname.replace(/^\/bigquery\/v2/, "");
    const recorded: RecordedRequest = {
      method: request.method ?? "GET",
      path,
      search: url.searchParams,
      body: text ? (JSON.parse(text) as Json) : undefined,
      authorization: request.headers.authorization,
      userAgent: request.headers["user-agent"],
    };
    this.requests.push(recorded);
    const send = (status: number, body: Json): void => {
      response.writeHead(status, { "content-type": "application/json; charset=UTF-8" }).end(JSON.stringify(body));
    };
    const error = (status: number, reason: string, message: string): void =>
      send(status, { error: { code: status, message, errors: [{ message, domain: "global", reason }], status: STATUS_NAMES[status] ?? "UNKNOWN" } });

    if (!this.#authorized(recorded.authorization)) {
      return error(401, "authError", "Request had invalid authentication credentials. Expected OAuth 2 access token.");
    }
    const operation = operationOf(recorded.method, path);
    const match = /^\/projects\/([^/]+)\/jobs(?:\/([^/]+))?/.exec(path);
    if (!operation || !match) return error(404, "notFound", `Not found: URL ${path}`);
    const project = decodeURIComponent(match[1]!);
    const fault = this.#takeFault(operation);
    if (fault?.status === 0) return; // a hung server: the client's deadline must end the call
    if (fault && !fault.afterApplying) return error(fault.status, fault.reason, `Injected fault ${fault.status}`);

    if (operation === "insert") {
      const body = recorded.body ?? {};
      const jobId = String(body["jobReference"]?.jobId ?? "");
      const location = String(body["jobReference"]?.location ?? "US");
      const query = body["configuration"]?.query as Json | undefined;
      if (!/^[A-Za-z0-9_-]{1,1024}$/.test(jobId)) return error(400, "invalid", `Invalid job ID "${jobId}".`);
      if (!query?.["query"]) return error(400, "invalid", "Job configuration must contain exactly one job-specific configuration object (e.g., query, load, extract, spreadsheetExtract), but there were 0:");
      const unknown = Object.keys(query).find((key) => !QUERY_FIELDS.has(key));
      if (unknown) return error(400, "invalid", `Invalid JSON payload received. Unknown name "${unknown}" at 'job.configuration.query': Cannot find field.`);
      const key = `${project}/${jobId}`;
      if (this.jobs.has(key)) return error(409, "duplicate", `Already Exists: Job ${project}:${location}.${jobId}`);
      const resource: Json = {
        kind: "bigquery#job",
        id: `${project}:${location}.${jobId}`,
        selfLink: `${this.url}/bigquery/v2/projects/${project}/jobs/${jobId}?location=${location}`,
        user_email: this.#clientEmail,
        jobReference: { projectId: project, jobId, location },
        configuration: { jobType: "QUERY", ...body["configuration"] },
        status: { state: "PENDING" },
        statistics: { creationTime: String(Date.now()) },
      };
      this.jobs.set(key, { resource, polls: 0, cancels: 0 });
      if (fault) return error(fault.status, fault.reason, `Injected fault ${fault.status}`);
      return send(200, resource);
    }

    const job = this.jobs.get(`${project}/${decodeURIComponent(match[2] ?? "")}`);
    const location = recorded.search.get("location");
    if (!job || (location !== null && location !== job.resource["jobReference"].location)) {
      return error(404, "notFound", `Not found: Job ${project}:${location ?? "US"}.${match[2]}`);
    }
    if (operation === "get") {
      job.polls++;
      this.#advance(job);
      return send(200, job.resource);
    }
    job.cancels++;
    if (job.resource["status"].state !== "DONE") {
      const stopped = { reason: "stopped", message: "Job execution was cancelled: User requested cancellation" };
      job.resource["status"] = { state: "DONE", errorResult: stopped, errors: [stopped] };
    }
    return send(200, { kind: "bigquery#jobCancelResponse", job: job.resource });
  }

  #authorized(authorization: string | undefined): boolean {
    const token = /^Bearer (.+)$/.exec(authorization ?? "")?.[1];
    const [header, payload, signature] = token?.split(".") ?? [];
    if (!header || !payload || !signature) return false;
    if (!verify("RSA-SHA256", Buffer.from(`${header}.${payload}`), this.#publicKey, Buffer.from(signature, "base64url"))) return false;
    const claims = decodeJwtPart(payload);
    return claims["iss"] === this.#clientEmail && typeof claims["exp"] === "number" && claims["exp"] * 1000 > Date.now();
  }

  /** One step of a job's life per jobs.get, as its query's marker says. */
  #advance(job: FakeJob): void {
    const status = job.resource["status"] as Json;
    if (status["state"] === "DONE") return;
    const query = String(job.resource["configuration"].query.query);
    if (job.polls === 1 || query.includes("/*forever*/")) {
      status["state"] = job.polls === 1 ? "PENDING" : "RUNNING";
      return;
    }
    if (job.polls === 2) {
      status["state"] = "RUNNING";
      return;
    }
    if (query.includes("/*fail*/")) {
      const error = { reason: "invalidQuery", location: "query", message: "Unrecognized name: nope at [1:8]" };
      job.resource["status"] = { state: "DONE", errorResult: error, errors: [error] };
      return;
    }
    if (query.includes("/*backend-error*/")) {
      const error = { reason: "backendError", message: "Error encountered during execution. Retrying may solve the problem." };
      job.resource["status"] = { state: "DONE", errorResult: error, errors: [error] };
      return;
    }
    job.resource["status"] = { state: "DONE" };
    const query_ = job.resource["configuration"].query as Json;
    if (!query.includes("/*ddl*/") && !query_["destinationTable"]) {
      // BigQuery writes query results to an anonymous table and reports it as the destination.
      const reference = job.resource["jobReference"] as Json;
      query_["destinationTable"] = { projectId: reference["projectId"], datasetId: "_8f2a_anonymous", tableId: `anon_${reference["jobId"]}`.slice(0, 60) };
    }
  }
}

function operationOf(method: string, path: string): Operation | undefined {
  if (method === "POST" && /^\/projects\/[^/]+\/jobs$/.test(path)) return "insert";
  if (method === "GET" && /^\/projects\/[^/]+\/jobs\/[^/]+$/.test(path)) return "get";
  if (method === "POST" && /^\/projects\/[^/]+\/jobs\/[^/]+\/cancel$/.test(path)) return "cancel";
  return undefined;
}
