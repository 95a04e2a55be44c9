// The ChatGPT connector through the service's gRPC API, with the real `openai` client against a local fake of the
// OpenAI REST API (see testing/fake-openai.ts for the documentation version its shapes follow).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Writable } from "node:stream";
import { pino } from "pino";
import { toJson } from "@bufbuild/protobuf";
import { TaskTemplateSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { ConnectorRegistry, Phase, runTask } from "flyte-connectors";
import { serveForTest, type TestService } from "@flyte-connectors/service/testing";
import connectors from "./connectors.js";
import { BatchEndpointConnector, ChatGPTConnector, ChatGPTTask } from "./index.js";
import { FakeOpenAI } from "./testing/fake-openai.js";
import { createTaskRequest, rejectsWith, outputsOf, recording, Transcript } from "./testing/grpc-helpers.js";

const KEY = "sk-test-Ch4tKey0123456789abcdef";
const SECRETS = { openai_api_key: KEY };
const STATUS = { INVALID_ARGUMENT: 3, FAILED_PRECONDITION: 9, INTERNAL: 13, UNAVAILABLE: 14 };

let fake: FakeOpenAI;
let service: TestService;
const transcript = new Transcript();
/** The service's log lines (level debug: everything it would log). */
const logLines: string[] = [];
const logger = pino({ level: "debug" }, new Writable({ write: (chunk, _encoding, done) => (logLines.push(String(chunk)), done()) }));
let rpc: ReturnType<typeof recording>;

before(async () => {
  fake = await new FakeOpenAI().start();
  fake.validKeys.add(KEY);
  service = await serveForTest([new ChatGPTConnector({ baseURL: fake.baseURL })], { logger });
  rpc = recording(service.client, transcript);
});

after(async () => {
  await service.close();
  await fake.close();
});

const task = (config: Record<string, unknown> = {}) =>
  new ChatGPTTask({ name: "ask", chatgptConfig: { model: "gpt-4o-mini", temperature: 0.2, ...config }, openaiOrganization: "org-flyte", secrets: { openai_api_key: "OPENAI_KEY_ENV" } });

/** CreateTask then GetTask, as the backend runs a sync task. */
async function ask(message: string, t = task(), secrets: Record<string, string> = SECRETS) {
  const { resourceMeta } = await rpc.create(await createTaskRequest(t, { message }, secrets));
  return (await rpc.get("chatgpt", resourceMeta, secrets)).resource!;
}

describe("ChatGPTTask", () => {
  test("writes the Python ChatGPTTask's task type, custom config and interface", () => {
    const template = toJson(TaskTemplateSchema, task().toTaskTemplate()) as Record<string, any>;
    assert.equal(template["type"], "chatgpt");
    assert.deepEqual(template["custom"], {
      openai_organization: "org-flyte",
      chatgpt_config: { model: "gpt-4o-mini", temperature: 0.2 },
      secrets: { openai_api_key: "OPENAI_KEY_ENV" },
    });
    const names = (vars: { key: string }[]) => vars.map((v) => v.key);
    assert.deepEqual(names(template["interface"].inputs.variables), ["message"]);
    assert.deepEqual(names(template["interface"].outputs.variables), ["o0"]);
    // Python's ChatGPTTask writes "" for a missing organization (its default).
    assert.deepEqual((toJson(TaskTemplateSchema, new ChatGPTTask({ name: "x", chatgptConfig: { model: "m" } }).toTaskTemplate()) as Record<string, any>)["custom"], {
      openai_organization: "",
      chatgpt_config: { model: "m" },
    });
    assert.throws(() => new ChatGPTTask({ name: "x", chatgptConfig: {} as never }), /'model' configuration variable is required/);
  });

  test("the package's default export hosts the chat, batch and batch-results connectors", () => {
    assert.deepEqual(
      connectors.map((c) => [c.taskTypeName, c.kind]),
      [
        ["chatgpt", "sync"],
        ["openai-batch", "async"],
        ["openai-batch-results", "sync"],
      ],
    );
    assert.ok(connectors[0] instanceof ChatGPTConnector && connectors[1] instanceof BatchEndpointConnector);
  });
});

describe("ChatGPT connector over gRPC", () => {
  test("answers o0 with the reply, sending the config, the message and the organization", async () => {
    const resource = await ask("Say hi");
    assert.equal(resource.phase, Phase.SUCCEEDED);
    assert.deepEqual(await outputsOf(resource), { o0: "echo: Say hi" });
    const [request] = fake.seen("POST", /chat\/completions/).slice(-1);
    assert.deepEqual(request!.body, { model: "gpt-4o-mini", temperature: 0.2, stream: false, messages: [{ role: "user", content: "Say hi" }] });
    assert.equal(request!.headers["openai-organization"], "org-flyte");
    assert.equal(request!.headers.authorization, `Bearer ${KEY}`);
    assert.equal((resource.customInfo as { usage?: { total_tokens?: number } } | undefined)?.usage?.total_tokens, 8);
  });

  test("a task serialized by Python (no secrets in custom) uses the deployment's FLYTE_OPENAI_API_KEY", async () => {
    const deploymentKey = "sk-deploy-Key9876543210zyxw";
    fake.validKeys.add(deploymentKey);
    process.env["FLYTE_OPENAI_API_KEY"] = deploymentKey;
    try {
      // Exactly the custom Python's ChatGPTTask.get_custom writes.
      const python = new ChatGPTTask({ name: "py", chatgptConfig: { model: "gpt-4o-mini", messages: [{ role: "system", content: "ignored as in Python" }] } });
      const resource = await ask("from python", python, {});
      assert.equal(resource.phase, Phase.SUCCEEDED);
      assert.deepEqual(await outputsOf(resource), { o0: "echo: from python" });
      const [request] = fake.seen("POST", /chat\/completions/).slice(-1);
      assert.equal(request!.headers.authorization, `Bearer ${deploymentKey}`);
      assert.equal(request!.headers["openai-organization"], undefined);
      assert.deepEqual((request!.body as { messages: unknown }).messages, [{ role: "user", content: "from python" }]);
      assert.ok(!transcript.text().includes(deploymentKey));
    } finally {
      delete process.env["FLYTE_OPENAI_API_KEY"];
    }
  });

  test("a 429 is retried by the client, then the call succeeds", async () => {
    const before = fake.seen("POST", /chat\/completions/).length;
    fake.fault({ method: "POST", path: /chat\/completions/, status: 429, times: 1, headers: { "retry-after-ms": "20" } });
    const resource = await ask("after a rate limit");
    assert.equal(resource.phase, Phase.SUCCEEDED);
    assert.deepEqual(await outputsOf(resource), { o0: "echo: after a rate limit" });
    assert.equal(fake.seen("POST", /chat\/completions/).length - before, 2);
  });

  test("persistent 503s end in UNAVAILABLE after the client's retries", async () => {
    const before = fake.seen("POST", /chat\/completions/).length;
    fake.fault({ method: "POST", path: /chat\/completions/, status: 503, headers: { "retry-after-ms": "5" } });
    try {
      const details = await rejectsWith(rpc.create(await createTaskRequest(task(), { message: "hello?" }, SECRETS)), STATUS.UNAVAILABLE);
      assert.match(details, /HTTP 503/);
      assert.equal(fake.seen("POST", /chat\/completions/).length - before, 4, "one attempt and 3 retries");
    } finally {
      fake.clearFaults();
    }
  });

  test("statuses flyte-connectors/http does not retry (501) are not retried by the client either", async () => {
    const before = fake.seen("POST", /chat\/completions/).length;
    fake.fault({ method: "POST", path: /chat\/completions/, status: 501, times: 1 });
    try {
      const details = await rejectsWith(rpc.create(await createTaskRequest(task(), { message: "x" }, SECRETS)), STATUS.INTERNAL);
      assert.match(details, /HTTP 501/);
      assert.equal(fake.seen("POST", /chat\/completions/).length - before, 1);
    } finally {
      fake.clearFaults();
    }
  });

  test("a 429 for an exhausted quota is FAILED_PRECONDITION at once, not retried", async () => {
    const before = fake.seen("POST", /chat\/completions/).length;
    const error = { message: "You exceeded your current quota, please check your plan and billing details.", type: "insufficient_quota", code: "insufficient_quota" };
    fake.fault({ method: "POST", path: /chat\/completions/, status: 429, times: 1, error });
    try {
      const details = await rejectsWith(rpc.create(await createTaskRequest(task(), { message: "x" }, SECRETS)), STATUS.FAILED_PRECONDITION);
      assert.match(details, /HTTP 429 \[insufficient_quota\]\): You exceeded your current quota/);
      assert.equal(fake.seen("POST", /chat\/completions/).length - before, 1);
    } finally {
      fake.clearFaults();
    }
  });

  test("a wrong API key is FAILED_PRECONDITION, without any part of the key", async () => {
    const wrong = "sk-wrong-SecretValue42424242";
    const details = await rejectsWith(rpc.create(await createTaskRequest(task(), { message: "hi" }, { openai_api_key: wrong })), STATUS.FAILED_PRECONDITION);
    assert.match(details, /rejected the API key \(HTTP 401 \[invalid_api_key\]\)/);
    assert.ok(!details.includes("sk-wro") && !details.includes("4242"), details);
    assert.ok(!transcript.text().includes("sk-wrong"));
    const logs = logLines.join("");
    assert.match(logs, /rejected the API key/, "the failure is logged");
    assert.ok(!logs.includes("sk-wro") && !logs.includes("4242"), "nor in the service's logs (with the error's cause)");
  });

  test("a request OpenAI rejects is INVALID_ARGUMENT with OpenAI's message", async () => {
    const details = await rejectsWith(rpc.create(await createTaskRequest(task(), { message: "something forbidden" }, SECRETS)), STATUS.INVALID_ARGUMENT);
    assert.match(details, /HTTP 400 \[content_policy_violation\]\): Your request was rejected as a result of our safety system/);
    const unknown = await rejectsWith(rpc.create(await createTaskRequest(task({ model: "unknown-model" }), { message: "x" }, SECRETS)), STATUS.INVALID_ARGUMENT);
    assert.match(unknown, /model `unknown-model` does not exist/);
  });

  test("bad task config is INVALID_ARGUMENT before any request", async () => {
    const count = fake.requests.length;
    const streaming = await rejectsWith(rpc.create(await createTaskRequest(task({ stream: true }), { message: "x" }, SECRETS)), STATUS.INVALID_ARGUMENT);
    assert.match(streaming, /stream must not be true/);
    const request = await createTaskRequest(task(), { message: "x" }, SECRETS);
    request.template.custom = { chatgpt_config: { temperature: 1 } };
    assert.match(await rejectsWith(rpc.create(request), STATUS.INVALID_ARGUMENT), /'model' configuration variable is required/);
    assert.equal(fake.requests.length, count);
  });

  test("a refusal is a FAILED task with the model's words", async () => {
    const resource = await ask("please refuse");
    assert.equal(resource.phase, Phase.FAILED);
    assert.equal(resource.message, "The model refused: I can't help with that.");
  });

  test("no API key anywhere is FAILED_PRECONDITION naming where to put one", async () => {
    const previous = process.env["FLYTE_SECRETS_DEFAULT_DIR"];
    process.env["FLYTE_SECRETS_DEFAULT_DIR"] = "/nonexistent-dir";
    try {
      const details = await rejectsWith(rpc.create(await createTaskRequest(task(), { message: "x" }, {})), STATUS.FAILED_PRECONDITION);
      assert.match(details, /No OpenAI API key: pass one as the task secret "openai_api_key"/);
    } finally {
      if (previous === undefined) delete process.env["FLYTE_SECRETS_DEFAULT_DIR"];
      else process.env["FLYTE_SECRETS_DEFAULT_DIR"] = previous;
    }
  });

  test("the API key never appears in any reply, error, resource meta or log line", () => {
    assert.ok(transcript.entries.length > 10);
    assert.ok(!transcript.text().includes(KEY));
    assert.ok(logLines.length > 0 && !logLines.join("").includes(KEY));
    assert.ok(!/sk-[a-z]+-[A-Za-z0-9]{4}/.test(transcript.text()), "no key-like text");
  });
});

test("runTask runs a ChatGPTTask locally, reading the key from the environment variable the task names", async () => {
  const registry = new ConnectorRegistry().register(new ChatGPTConnector({ baseURL: fake.baseURL }));
  const { o0 } = await runTask(task(), { message: "local" }, { registry, env: { OPENAI_KEY_ENV: KEY }, quiet: true, handleSigint: false, pollInterval: 1 });
  assert.equal(o0, "echo: local");
});
