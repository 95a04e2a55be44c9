// Flyte 1: task templates exactly as flytekit's WebhookTask (flytekit/extras/webhook) writes them, through the
// service's Flyte 1 agent services as Flyte 1's propeller calls them: ExecuteTaskSync (ListAgents marks the
// connector sync), and CreateTask/GetTask. A real HTTP server on 127.0.0.1 answers. flytekit has no webhook secrets;
// a `{secrets.<key>}` here is read from the connector deployment, only for keys the operator lists.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { TaskTemplateSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { SimpleType } from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import { decodeOutputs, encodeInputs, Phase, types, type TypeSpecs } from "flyte-connectors";
import { flyte1Client, flyte2Outputs, serveForTest, type Flyte1Client, type TestService } from "@flyte-connectors/service/testing";
import { WebhookConnector, WEBHOOK_OUTPUTS, type WebhookInfo } from "./index.js";

const TOKEN = "xoxb-flyte1-deployment-0123456789";
const ENV = "_FSEC_SLACK_TOKEN";
const UNLISTED_ENV = "_FSEC_OTHER_TOKEN";
const seen: Array<{ method: string; url: string; authorization: string | undefined; body: string }> = [];
let server: Server;
let base: string;
let service: TestService;
let client: Flyte1Client;
const saved = [process.env[ENV], process.env[UNLISTED_ENV]];

before(async () => {
  // Answers "Hello" to everything but /fail (HTTP 500), recording each request.
  server = createServer(async (request: IncomingMessage, response) => {
    let body = "";
    for await (const chunk of request) body += String(chunk);
    seen.push({ method: request.method ?? "", url: request.url ?? "", authorization: request.headers.authorization, body });
    if (request.url === "/fail") return response.writeHead(500).end("Internal Server Error");
    if (request.url === "/echo-auth") return response.writeHead(200).end(`you sent ${request.headers.authorization}`);
    response.writeHead(200, { "content-type": "text/plain" }).end("Hello");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env[ENV] = TOKEN;
  process.env[UNLISTED_ENV] = "never-sent-0123456789";
  // gRPC whatever FLYTE_CONNECTOR_TEST_PROTOCOL says: Flyte 1 backends call the Flyte 1 services over gRPC only.
  service = await serveForTest([new WebhookConnector({ allowedOrigins: [base], deploymentSecrets: ["slack_token"] })], { protocol: "grpc" });
  client = flyte1Client(service.handle.port);
});

after(async () => {
  [ENV, UNLISTED_ENV].forEach((name, i) => (saved[i] === undefined ? delete process.env[name] : (process.env[name] = saved[i])));
  client.close();
  await service.close();
  server.close();
});

beforeEach(() => {
  seen.length = 0;
});

const simple = (type: SimpleType) => ({ type: { case: "simple" as const, value: type } });

/**
 * The template flytekit 1.16 serializes for a WebhookTask: type "webhook", no container, custom = get_custom()
 * (a Struct: numbers are doubles), inputs = dynamic_inputs, outputs = {"info": dict} (a msgpack STRUCT).
 */
function flytekitTemplate(name: string, custom: Record<string, unknown>, inputs: Record<string, SimpleType>) {
  return create(TaskTemplateSchema, {
    id: { resourceType: 1, project: "flytesnacks", domain: "development", name, version: "v1" },
    type: "webhook",
    metadata: { runtime: { type: 1, version: "1.16.0", flavor: "python" }, retries: {} },
    interface: {
      inputs: { variables: Object.entries(inputs).map(([key, type]) => ({ key, value: { type: simple(type) } })) },
      outputs: {
        variables: [
          {
            key: "info",
            value: { type: { type: { case: "simple", value: SimpleType.STRUCT }, annotation: { annotations: { "cache-key-metadata": { "serialization-format": "msgpack" } } } } },
          },
        ],
      },
    },
    custom: custom as never,
  });
}

/** flytekit's own example (`get_with_params` in WebhookTask's docstring), pointed at the local server. */
const getWithParams = () =>
  flytekitTemplate(
    "get-with-params",
    {
      url: `${base}/items/{inputs.item_id}`,
      method: "GET",
      headers: { "Content-Type": "application/json" },
      data: { q: "{inputs.s}" },
      show_data: true,
      show_url: true,
      timeout_sec: 10,
    },
    { item_id: SimpleType.INTEGER, s: SimpleType.STRING },
  );

const literals = async (values: Record<string, unknown>, specs: TypeSpecs) =>
  Object.fromEntries((await encodeInputs(values, specs)).literals.map((named) => [named.name, named.value!]));

test("ListAgents marks the webhook connector sync", async () => {
  const { agents } = await client.listAgents();
  assert.deepEqual(agents.map((agent) => [agent.name, agent.supportedTaskTypes, agent.isSync]), [["Webhook Connector", ["webhook"], true]]);
});

test("ExecuteTaskSync runs flytekit's get_with_params template and answers info as flytekit's test expects it", async () => {
  const answers = await client.executeTaskSync({ template: getWithParams(), outputPrefix: "s3://b/out/0" }, await literals({ s: "Hello world", item_id: 10 }, { s: types.string, item_id: types.int }));
  assert.equal(answers.length, 1);
  const header = answers[0]!.res.case === "header" ? answers[0]!.res.value : undefined;
  assert.equal(header?.resource?.phase, Phase.SUCCEEDED, header?.resource?.message);
  assert.equal(header?.resource?.message, "Webhook was successfully invoked!");
  const { info } = await decodeOutputs(flyte2Outputs(header?.resource?.outputs), WEBHOOK_OUTPUTS);
  // flytekit's test_end_to_end: {"status_code": 200, "response_data": "Hello", "input_data": {"q": "Hello world"}, "url": ".../items/10"}
  assert.deepEqual(info, { status_code: 200, response_data: "Hello", input_data: { q: "Hello world" }, url: `${base}/items/10` } satisfies WebhookInfo);
  assert.deepEqual(seen, [{ method: "GET", url: "/items/10?q=Hello+world", authorization: undefined, body: "" }]);
});

test("CreateTask/GetTask too, with flytekit's POST (invoke-slack) template and a deployment secret in a header", async () => {
  const template = flytekitTemplate(
    "invoke-slack",
    {
      url: `${base}/services/test/test/test`,
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer {secrets.slack_token}" },
      data: { text: "{inputs.s}", attempt: 1 },
      show_data: true,
      show_url: true,
      timeout_sec: 10,
    },
    { s: SimpleType.STRING },
  );
  const { resourceMeta } = await client.createTask({ template, inputs: await literals({ s: "Hello world" }, { s: types.string }), outputPrefix: "s3://b/out/1" });
  const { resource } = await client.getTask("webhook", resourceMeta);
  assert.equal(resource?.phase, Phase.SUCCEEDED, resource?.message);
  const { info } = await decodeOutputs(flyte2Outputs(resource?.outputs), WEBHOOK_OUTPUTS);
  // A whole number in custom is a Struct double: Python sends it as 1.0 and echoes it as a float.
  assert.deepEqual(info, { status_code: 200, response_data: "Hello", input_data: { text: "Hello world", attempt: 1 }, url: `${base}/services/test/test/test` });
  assert.deepEqual(seen, [{ method: "POST", url: "/services/test/test/test", authorization: `Bearer ${TOKEN}`, body: '{"text":"Hello world","attempt":1.0}' }]);
  assert.ok(!new TextDecoder().decode(resourceMeta).includes(TOKEN), "the stored result holds no secret");

  // A server that echoes the header: the deployment secret (which the call does not carry) is redacted too.
  const echo = flytekitTemplate("echo", { url: `${base}/echo-auth`, method: "POST", headers: { Authorization: "Bearer {secrets.slack_token}" }, data: {}, show_data: false, show_url: false, timeout_sec: 10 }, {});
  const answers = await client.executeTaskSync({ template: echo, outputPrefix: "s3://b/out/4" });
  const header = answers[0]!.res.case === "header" ? answers[0]!.res.value : undefined;
  const echoed = await decodeOutputs(flyte2Outputs(header?.resource?.outputs), WEBHOOK_OUTPUTS);
  assert.equal((echoed.info as WebhookInfo).response_data, "you sent Bearer *****");
  assert.equal(seen.at(-1)?.authorization, `Bearer ${TOKEN}`);
});

test("a non-2xx answer is a FAILED task with flytekit's message; an unlisted deployment secret is never read", async () => {
  const failing = flytekitTemplate("fail", { url: `${base}/fail`, method: "POST", headers: {}, data: {}, show_data: false, show_url: false, timeout_sec: 10 }, {});
  const answers = await client.executeTaskSync({ template: failing, outputPrefix: "s3://b/out/2" });
  const header = answers[0]!.res.case === "header" ? answers[0]!.res.value : undefined;
  assert.equal(header?.resource?.phase, Phase.FAILED);
  assert.equal(header?.resource?.message, "Webhook failed with status code 500, response: Internal Server Error");
  assert.equal(seen[0]?.body, "{}", "flytekit posts its default data {}");

  const unlisted = flytekitTemplate("unlisted", { url: `${base}/x`, method: "POST", headers: { "X-Token": "{secrets.other_token}" }, data: {}, show_data: false, show_url: false, timeout_sec: 10 }, {});
  await assert.rejects(client.executeTaskSync({ template: unlisted, outputPrefix: "s3://b/out/3" }), (e: { code: number; details: string }) => {
    assert.equal(e.code, 9, e.details); // FAILED_PRECONDITION
    assert.match(e.details, /^Secret "other_token" \(\{secrets\.other_token\}\) is missing: reference it in custom\.secrets\.other_token\.$/);
    return true;
  });
  assert.equal(seen.length, 1, "nothing was sent for the unlisted secret");
});
