// A local fake of the OpenAI REST API for this package's tests (not published: package.json "files" leaves
// dist/testing out).
//
// Shapes follow the OpenAI API reference (platform.openai.com/docs/api-reference, as of 2025-2026, the API the
// `openai` npm client v6.49 is generated from): chat completion object, file object, batch object
// (status validating → in_progress → finalizing → completed, request_counts, errors.data[] with code/message/line,
// output_file_id/error_file_id, metadata), list objects `{object: "list", data, first_id, last_id, has_more}`,
// and error replies `{error: {message, type, param, code}}` (401 `invalid_api_key` echoing a masked key, 400
// `invalid_request_error`). Cancelling a finished batch is answered 409 with an error object (the reference does not
// document this case; the connector accepts any 400/409 there). Each GET of a batch advances it one status.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A fault to inject: requests matching `method` and `path` get `status` (`times` times, or forever). */
export interface Fault {
  method: string;
  path: RegExp;
  status: number;
  /** Default: forever (until `clearFaults`). */
  times?: number;
  /** Perform the request first, then answer the error (a lost reply). Default: false. */
  afterEffect?: boolean;
  /** Never answer (a server that hangs); `status` is then ignored. Default: false. */
  hang?: boolean;
  headers?: Record<string, string>;
  /** Error object to answer. Default: a rate-limit error for 429, a server error otherwise. */
  error?: { message: string; type: string; code: string | null };
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: unknown;
}

interface FakeBatch {
  [key: string]: unknown;
  id: string;
  status: string;
  metadata: Record<string, string> | null;
}

export class FakeOpenAI {
  readonly validKeys = new Set<string>();
  readonly requests: RecordedRequest[] = [];
  readonly files = new Map<string, { filename: string; purpose: string; content: string }>();
  readonly batches = new Map<string, FakeBatch>();
  readonly cancels: string[] = [];
  #faults: Fault[] = [];
  #server: Server | undefined;
  #ids = 0;
  baseURL = "";

  async start(): Promise<this> {
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => send(response, 500, apiError(String(error), "server_error")));
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    this.baseURL = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/v1`;
    return this;
  }

  async close(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }

  fault(fault: Fault): void {
    this.#faults.push({ ...fault });
  }

  clearFaults(): void {
    this.#faults = [];
  }

  /** Requests seen for a method and path pattern. */
  seen(method: string, path: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && path.test(r.path));
  }

  /** Adds a file as if uploaded earlier; returns its id. */
  addFile(content: string, filename = "input.jsonl"): string {
    const id = `file-${++this.#ids}`;
    this.files.set(id, { filename, purpose: "batch", content });
    return id;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://fake");
    const method = request.method ?? "GET";
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const contentType = request.headers["content-type"] ?? "";
    let body: unknown = undefined;
    if (contentType.startsWith("application/json") && raw.length) body = JSON.parse(raw.toString("utf8"));
    else if (contentType.startsWith("multipart/form-data")) {
      const form = await new Response(raw, { headers: { "content-type": contentType } }).formData();
      const file = form.get("file") as File;
      body = { purpose: form.get("purpose"), filename: file.name, content: await file.text() };
    }
    this.requests.push({ method, path: url.pathname, headers: request.headers, body });

    const key = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1] ?? "";
    if (!this.validKeys.has(key)) {
      // As OpenAI does: the message names a masked form of the key.
      const masked = `${key.slice(0, 6)}***${key.slice(-4)}`;
      return send(response, 401, apiError(`Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`, "invalid_request_error", "invalid_api_key"));
    }
    const fault = this.#faults.find((f) => f.method === method && f.path.test(url.pathname) && (f.times ?? 1) > 0);
    if (fault && !fault.afterEffect) return this.#fail(response, fault);
    // GET /v1/files/{file_id}/content: the file's bytes as they were uploaded (not JSON).
    const contentOf = method === "GET" ? /^\/v1\/files\/([^/]+)\/content$/.exec(url.pathname)?.[1] : undefined;
    if (contentOf !== undefined && !fault) {
      const file = this.files.get(contentOf);
      if (!file) return send(response, 404, apiError(`No such File object: ${contentOf}`, "invalid_request_error"));
      response.writeHead(200, { "content-type": "application/octet-stream" }).end(file.content);
      return;
    }
    const reply = this.#route(method, url, body);
    if (fault) return this.#fail(response, fault);
    send(response, reply.status, reply.body);
  }

  #fail(response: ServerResponse, fault: Fault): void {
    if (fault.times !== undefined) fault.times--;
    if (fault.hang) return;
    const body = fault.error ? { error: { ...fault.error, param: null } } : fault.status === 429 ? apiError("Rate limit reached for requests", "requests", "rate_limit_exceeded") : apiError("The server is overloaded.", "server_error");
    send(response, fault.status, body, fault.headers);
  }

  #route(method: string, url: URL, body: unknown): { status: number; body: unknown } {
    const path = url.pathname;
    if (method === "POST" && path === "/v1/chat/completions") return this.#chat(body as Record<string, unknown>);
    if (method === "POST" && path === "/v1/files") {
      const { purpose, filename, content } = body as { purpose: string; filename: string; content: string };
      const id = `file-${++this.#ids}`;
      this.files.set(id, { filename, purpose, content });
      return { status: 200, body: { id, object: "file", bytes: Buffer.byteLength(content), created_at: now(), filename, purpose, status: "processed" } };
    }
    const fileId = /^\/v1\/files\/([^/]+)$/.exec(path)?.[1];
    if (method === "DELETE" && fileId) {
      if (!this.files.delete(fileId)) return { status: 404, body: apiError(`No such File object: ${fileId}`, "invalid_request_error") };
      return { status: 200, body: { id: fileId, object: "file", deleted: true } };
    }
    if (method === "POST" && path === "/v1/batches") return this.#createBatch(body as Record<string, unknown>);
    if (method === "GET" && path === "/v1/batches") {
      const limit = Number(url.searchParams.get("limit") ?? 20);
      const data = [...this.batches.values()].reverse().slice(0, limit);
      return { status: 200, body: { object: "list", data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: this.batches.size > limit } };
    }
    const batchId = /^\/v1\/batches\/([^/]+)(\/cancel)?$/.exec(path);
    if (batchId) {
      const batch = this.batches.get(batchId[1]!);
      if (!batch) return { status: 404, body: apiError(`No batch found with id '${batchId[1]}'.`, "invalid_request_error") };
      if (method === "POST" && batchId[2]) {
        this.cancels.push(batch.id);
        if (["completed", "failed", "expired", "cancelled"].includes(batch.status)) {
          return { status: 409, body: apiError(`Cannot cancel a batch with status '${batch.status}'.`, "invalid_request_error") };
        }
        batch.status = "cancelling";
        batch["cancelling_at"] = now();
        return { status: 200, body: batch };
      }
      if (method === "GET" && !batchId[2]) {
        advance(batch, this);
        return { status: 200, body: batch };
      }
    }
    return { status: 404, body: apiError(`Unknown request URL: ${method} ${path}.`, "invalid_request_error", "unknown_url") };
  }

  #chat(body: Record<string, unknown>): { status: number; body: unknown } {
    const messages = body["messages"] as Array<{ role: string; content: string }>;
    const model = String(body["model"]);
    if (model === "unknown-model") {
      return { status: 404, body: apiError(`The model \`${model}\` does not exist or you do not have access to it.`, "invalid_request_error", "model_not_found") };
    }
    const text = messages.at(-1)?.content ?? "";
    if (text.includes("forbidden")) {
      return { status: 400, body: apiError("Your request was rejected as a result of our safety system.", "invalid_request_error", "content_policy_violation") };
    }
    const refused = text.includes("refuse");
    return {
      status: 200,
      body: {
        id: `chatcmpl-${++this.#ids}`,
        object: "chat.completion",
        created: now(),
        model,
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: refused ? null : `echo: ${text}`, refusal: refused ? "I can't help with that." : null },
            logprobs: null,
            finish_reason: "stop",
          },
        ],
        usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
      },
    };
  }

  #createBatch(body: Record<string, unknown>): { status: number; body: unknown } {
    if (!String(body["endpoint"]).startsWith("/v1/")) {
      return { status: 400, body: apiError(`Invalid value for 'endpoint': '${String(body["endpoint"])}'.`, "invalid_request_error", "invalid_value") };
    }
    const inputFileId = String(body["input_file_id"]);
    if (!this.files.has(inputFileId)) return { status: 400, body: apiError(`Invalid 'input_file_id': '${inputFileId}'.`, "invalid_request_error") };
    const lines = this.files.get(inputFileId)!.content.split("\n").filter(Boolean).length;
    const id = `batch_${++this.#ids}`;
    const batch: FakeBatch = {
      id,
      object: "batch",
      endpoint: body["endpoint"],
      errors: null,
      input_file_id: inputFileId,
      completion_window: body["completion_window"],
      status: "validating",
      output_file_id: null,
      error_file_id: null,
      created_at: now(),
      in_progress_at: null,
      expires_at: now() + 86_400,
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: lines, completed: 0, failed: 0 },
      metadata: (body["metadata"] as Record<string, string> | undefined) ?? null,
    };
    this.batches.set(id, batch);
    return { status: 200, body: batch };
  }
}

/** One step of a batch's life per poll; `metadata.scenario` picks "fail", "forever", "expire" or "weird". */
function advance(batch: FakeBatch, fake: FakeOpenAI): void {
  const scenario = batch.metadata?.["scenario"];
  const counts = batch["request_counts"] as { total: number; completed: number; failed: number };
  switch (batch.status) {
    case "validating":
      if (scenario === "fail") {
        batch.status = "failed";
        batch["failed_at"] = now();
        batch["errors"] = { object: "list", data: [{ code: "invalid_json_line", message: "This line is not parseable as valid JSON.", param: null, line: 1 }] };
      } else if (scenario === "weird") {
        batch.status = "paused";
      } else {
        batch.status = "in_progress";
        batch["in_progress_at"] = now();
      }
      return;
    case "in_progress":
      if (scenario === "forever") return;
      if (scenario === "expire") {
        batch.status = "expired";
        batch["expired_at"] = now();
        return;
      }
      batch.status = "finalizing";
      batch["finalizing_at"] = now();
      counts.completed = counts.total;
      return;
    case "finalizing":
      batch.status = "completed";
      batch["completed_at"] = now();
      batch["output_file_id"] = fake.addFile('{"id":"batch_req_1","custom_id":"request-0","response":{"status_code":200}}\n', "output.jsonl");
      return;
    case "cancelling":
      batch.status = "cancelled";
      batch["cancelled_at"] = now();
      return;
  }
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

function apiError(message: string, type: string, code: string | null = null) {
  return { error: { message, type, param: null, code } };
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}
