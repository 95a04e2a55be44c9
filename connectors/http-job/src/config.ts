import { ConnectorError, Phase } from "flyte-connectors";
import { referencesIn, referencesInJson } from "./template.js";

/** Phase names a status may map to. */
export type PhaseName = "QUEUED" | "INITIALIZING" | "WAITING_FOR_RESOURCES" | "RUNNING" | "SUCCEEDED" | "FAILED" | "RETRYABLE_FAILED" | "ABORTED";
/** How an output's JSON value is read. `json`: as is (object → struct, number → int or float by value). */
export type OutputKind = "string" | "int" | "float" | "bool" | "file" | "dir" | "json";

/** One HTTP request of the job service; strings may hold `{{ … }}` references. */
export interface HttpRequestConfig {
  /** `http(s)://…`; references are percent-encoded. */
  url: string;
  /** Default: `POST` for submit, `GET` for status, `DELETE` for cancel. */
  method?: string;
  /** Extra headers (values may hold references). Credentials go in `auth`, never here. Default: none. */
  headers?: Record<string, string>;
  /** JSON body; its strings may hold references. Default: none. */
  body?: unknown;
}

/** The task's `custom` config: what the connector needs to run a job on the service. JSON, camelCase keys. */
export interface HttpJobConfig {
  /** Starts a job. References: `{{ inputs.<name>[.<field>…] }}`, `{{ idempotencyKey }}`. */
  submit: HttpRequestConfig;
  /** Where the job id is in the submit response: a JSON Pointer (`/id`) or dotted path (`job.id`). Default: `/id`. */
  jobIdPath?: string;
  /** Polls a job. References: `{{ jobId }}`. */
  status: HttpRequestConfig & {
    /** Where the job's status word is in the status response. Default: `/status`. */
    statePath?: string;
    /** Where an error message is in the status response (read when the job failed). Default: `/error`. */
    messagePath?: string;
    /** Status word (case-insensitive) → phase, over the defaults (queued, running, succeeded, failed, …). */
    phases?: Record<string, PhaseName>;
  };
  /** Output name → where its value is in the final status response (a path, or `{ path, type }`). Default: none. */
  outputs?: Record<string, string | { path: string; type?: OutputKind }>;
  /** Cancels a job (`{{ jobId }}`). Default: none (delete does nothing). */
  cancel?: HttpRequestConfig;
  /** Sends a secret as a header: `{ header: "Authorization", secret: "api_token", scheme: "Bearer" }`. Default: none. */
  auth?: { header?: string; secret: string; scheme?: string };
  /** Links shown in the Flyte UI (`{{ jobId }}`). Default: none. */
  logLinks?: Array<{ name: string; url: string }>;
  /** Header carrying a key unique per task attempt, or `false`. Default: `{ header: "Idempotency-Key" }`. */
  idempotency?: { header?: string } | false;
}

/** The part of the config `get` and `delete` need, validated and with defaults; stored in the resource meta. */
export interface PollSpec {
  status: { url: string; method: string; headers: Record<string, string>; body?: unknown; statePath: string; messagePath: string; phases: Record<string, PhaseName> };
  outputs: Record<string, { path: string; type: OutputKind }>;
  cancel: { url: string; method: string; headers: Record<string, string>; body?: unknown } | null;
  auth: { header: string; secret: string; scheme: string } | null;
  logLinks: Array<{ name: string; url: string }>;
}

/** The whole config, validated, with defaults. */
export interface ValidConfig extends PollSpec {
  submit: { url: string; method: string; headers: Record<string, string>; body?: unknown };
  jobIdPath: string;
  idempotencyHeader: string | null;
}

export const PHASE_NAMES: Readonly<Record<PhaseName, Phase>> = {
  QUEUED: Phase.QUEUED,
  INITIALIZING: Phase.INITIALIZING,
  WAITING_FOR_RESOURCES: Phase.WAITING_FOR_RESOURCES,
  RUNNING: Phase.RUNNING,
  SUCCEEDED: Phase.SUCCEEDED,
  FAILED: Phase.FAILED,
  RETRYABLE_FAILED: Phase.RETRYABLE_FAILED,
  ABORTED: Phase.ABORTED,
};

const OUTPUT_KINDS: ReadonlySet<string> = new Set(["string", "int", "float", "bool", "file", "dir", "json"]);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/; // RFC 9110 token: header names and methods
// Headers that carry credentials: they belong in `auth` (secret), never in the task config (which is not secret).
const CREDENTIAL_HEADERS = new Set(["authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"]);

function fail(key: string, problem: string): never {
  throw new ConnectorError("INVALID_ARGUMENT", `custom.${key} ${problem}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalString(value: unknown, key: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") fail(key, "must be a string.");
  return value;
}

function checkReferences(references: string[], key: string, allowed: readonly string[], inputNames: ReadonlySet<string> | undefined): void {
  for (const reference of references) {
    const [root, name] = reference.split(".");
    if (root === "inputs" && allowed.includes("inputs")) {
      if (!name) fail(key, `references {{ inputs }}: name an input, e.g. {{ inputs.epochs }}.`);
      if (inputNames && !inputNames.has(name)) fail(key, `references {{ ${reference} }}, but the task has no input "${name}".`);
      continue;
    }
    if (allowed.includes(reference)) continue;
    fail(key, `references {{ ${reference} }}; here only ${allowed.map((a) => (a === "inputs" ? "inputs.<name>" : a)).join(", ")} can be used.`);
  }
}

function request(value: unknown, key: string, defaultMethod: string, allowed: readonly string[], inputNames: ReadonlySet<string> | undefined) {
  if (!isObject(value)) fail(key, "is missing or not an object (needs at least a url).");
  const url = optionalString(value["url"], `${key}.url`);
  if (!url) fail(`${key}.url`, "is missing.");
  if (!/^https?:\/\/[^/?#{}\s]+/i.test(url)) fail(`${key}.url`, `must be an http:// or https:// URL with a fixed host, got ${JSON.stringify(url.slice(0, 100))}.`);
  checkReferences(referencesIn(url, `custom.${key}.url`), `${key}.url`, allowed, inputNames);
  const method = (optionalString(value["method"], `${key}.method`) ?? defaultMethod).toUpperCase();
  if (!TOKEN.test(method)) fail(`${key}.method`, `is not an HTTP method: ${JSON.stringify(method)}.`);
  const headers: Record<string, string> = {};
  if (value["headers"] !== undefined && value["headers"] !== null) {
    if (!isObject(value["headers"])) fail(`${key}.headers`, "must map header names to strings.");
    for (const [name, header] of Object.entries(value["headers"])) {
      if (!TOKEN.test(name)) fail(`${key}.headers`, `has an invalid header name ${JSON.stringify(name)}.`);
      if (CREDENTIAL_HEADERS.has(name.toLowerCase())) fail(`${key}.headers.${name}`, "would put a credential in the task config: use custom.auth with a secret.");
      if (typeof header !== "string" || /[\r\n]/.test(header)) fail(`${key}.headers.${name}`, "must be a one-line string.");
      checkReferences(referencesIn(header, `custom.${key}.headers.${name}`), `${key}.headers.${name}`, allowed, inputNames);
      headers[name] = header;
    }
  }
  const body = value["body"];
  if (body !== undefined && body !== null) checkReferences(referencesInJson(body, `custom.${key}.body`), `${key}.body`, allowed, inputNames);
  return { url, method, headers, ...(body !== undefined && body !== null ? { body } : {}) };
}

function path(value: unknown, key: string, fallback: string): string {
  return optionalString(value, key) ?? fallback;
}

/**
 * Validates a task's `custom` config up front. Errors are INVALID_ARGUMENT naming the key. With `inputNames`
 * (the task interface's inputs), references to inputs the task does not have are refused too.
 */
export function parseConfig(custom: Record<string, unknown>, inputNames?: ReadonlySet<string>): ValidConfig {
  const submit = request(custom["submit"], "submit", "POST", ["inputs", "idempotencyKey"], inputNames);
  const statusValue = custom["status"];
  const status = request(statusValue, "status", "GET", ["jobId"], inputNames);
  const statusObject = statusValue as Record<string, unknown>;
  const namesJob = [...referencesIn(status.url, "custom.status.url"), ...referencesInJson(status.body, "custom.status.body")].includes("jobId");
  if (!namesJob) fail("status.url", "must contain {{ jobId }} (or status.body must name the job).");
  const phases: Record<string, PhaseName> = {};
  if (statusObject["phases"] !== undefined && statusObject["phases"] !== null) {
    if (!isObject(statusObject["phases"])) fail("status.phases", "must map status words to phase names.");
    for (const [word, phase] of Object.entries(statusObject["phases"])) {
      if (typeof phase !== "string" || !Object.hasOwn(PHASE_NAMES, phase.toUpperCase())) {
        fail(`status.phases.${word}`, `must be one of ${Object.keys(PHASE_NAMES).join(", ")}, got ${JSON.stringify(phase)}.`);
      }
      phases[word.trim().toLowerCase()] = phase.toUpperCase() as PhaseName;
    }
  }

  const outputs: Record<string, { path: string; type: OutputKind }> = {};
  if (custom["outputs"] !== undefined && custom["outputs"] !== null) {
    if (!isObject(custom["outputs"])) fail("outputs", "must map output names to paths in the status response.");
    for (const [name, spec] of Object.entries(custom["outputs"])) {
      if (typeof spec === "string") {
        outputs[name] = { path: spec, type: "json" };
      } else if (isObject(spec) && typeof spec["path"] === "string") {
        const type = spec["type"] ?? "json";
        if (typeof type !== "string" || !OUTPUT_KINDS.has(type)) fail(`outputs.${name}.type`, `must be one of ${[...OUTPUT_KINDS].join(", ")}.`);
        outputs[name] = { path: spec["path"], type: type as OutputKind };
      } else {
        fail(`outputs.${name}`, 'must be a path ("/result/uri") or { path, type }.');
      }
    }
  }

  let cancel: PollSpec["cancel"] = null;
  if (custom["cancel"] !== undefined && custom["cancel"] !== null) cancel = request(custom["cancel"], "cancel", "DELETE", ["jobId"], inputNames);

  let auth: PollSpec["auth"] = null;
  if (custom["auth"] !== undefined && custom["auth"] !== null) {
    const value = custom["auth"];
    if (!isObject(value)) fail("auth", "must be an object { header, secret, scheme }.");
    const secret = optionalString(value["secret"], "auth.secret");
    if (!secret) fail("auth.secret", "is missing: name the secret (a key of custom.secrets) to send.");
    const header = optionalString(value["header"], "auth.header") ?? "Authorization";
    if (!TOKEN.test(header)) fail("auth.header", `is not a header name: ${JSON.stringify(header)}.`);
    const scheme = optionalString(value["scheme"], "auth.scheme") ?? (header.toLowerCase() === "authorization" ? "Bearer" : "");
    if (/[\r\n]/.test(scheme)) fail("auth.scheme", "must be one line.");
    auth = { header, secret, scheme };
  }

  const logLinks: PollSpec["logLinks"] = [];
  if (custom["logLinks"] !== undefined && custom["logLinks"] !== null) {
    if (!Array.isArray(custom["logLinks"])) fail("logLinks", "must be a list of { name, url }.");
    custom["logLinks"].forEach((link, i) => {
      if (!isObject(link) || typeof link["name"] !== "string" || typeof link["url"] !== "string") fail(`logLinks[${i}]`, "must be { name, url }.");
      if (!/^https?:\/\//i.test(link["url"])) fail(`logLinks[${i}].url`, "must be an http:// or https:// URL.");
      checkReferences(referencesIn(link["url"], `custom.logLinks[${i}].url`), `logLinks[${i}].url`, ["jobId"], inputNames);
      logLinks.push({ name: link["name"], url: link["url"] });
    });
  }

  let idempotencyHeader: string | null = "Idempotency-Key";
  const idempotency = custom["idempotency"];
  if (idempotency === false) idempotencyHeader = null;
  else if (idempotency !== undefined && idempotency !== null) {
    if (!isObject(idempotency)) fail("idempotency", 'must be false or { header: "Idempotency-Key" }.');
    idempotencyHeader = optionalString(idempotency["header"], "idempotency.header") ?? "Idempotency-Key";
    if (!TOKEN.test(idempotencyHeader)) fail("idempotency.header", `is not a header name: ${JSON.stringify(idempotencyHeader)}.`);
  }

  return {
    submit,
    jobIdPath: path(custom["jobIdPath"], "jobIdPath", "/id"),
    status: {
      ...status,
      statePath: path(statusObject["statePath"], "status.statePath", "/status"),
      messagePath: path(statusObject["messagePath"], "status.messagePath", "/error"),
      phases,
    },
    outputs,
    cancel,
    auth,
    logLinks,
    idempotencyHeader,
  };
}

/** Status words every config understands (case-insensitive); `status.phases` entries take precedence. */
export const DEFAULT_PHASES: Readonly<Record<string, PhaseName>> = Object.fromEntries([
  ...["queued", "submitted", "waiting", "scheduled", "created", "accepted", "new"].map((w) => [w, "QUEUED"]),
  ...["pending", "starting", "initializing", "provisioning"].map((w) => [w, "INITIALIZING"]),
  ...["running", "in_progress", "in-progress", "active", "processing", "started", "terminating", "cancelling", "canceling"].map((w) => [w, "RUNNING"]),
  ...["succeeded", "success", "successful", "completed", "complete", "done", "finished", "ok"].map((w) => [w, "SUCCEEDED"]),
  ...["failed", "failure", "error", "errored", "cancelled", "canceled", "timeout", "timed_out", "timedout", "aborted", "rejected", "killed", "skipped"].map((w) => [w, "FAILED"]),
]) as Record<string, PhaseName>;
