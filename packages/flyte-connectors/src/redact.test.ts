import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { CreateTaskRequestSchema, GetTaskLogsRequestSchema, GetTaskRequestSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { LiteralSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/literals_pb.js";
import { AsyncConnector, type CreateRequest, type LogsPage, type Resource } from "./connector.js";
import { ConnectorDispatcher } from "./dispatcher.js";
import { ConnectorError } from "./errors.js";
import { Phase } from "./phase.js";
import { Redactor, secretForms } from "./redact.js";
import { ConnectorRegistry } from "./registry.js";
import { ResourceMeta } from "./resource-meta.js";
import { encodeInputs, encodeLiteral, types, variableMap } from "./types/index.js";

const SECRET = 'k3y"/+\\é-0123456789';
const base64 = (text: string) => Buffer.from(text).toString("base64");
const FORMS = [SECRET, JSON.stringify(SECRET).slice(1, -1), encodeURIComponent(SECRET), base64(SECRET), Buffer.from(SECRET).toString("base64url")];

/** The forms of SECRET still in `text`, and its start (a cut-off secret). */
const leaks = (text: string) => [...FORMS.filter((form) => text.includes(form)), ...(text.includes(SECRET.slice(0, 5)) ? ["start"] : [])];

test("Redactor removes a secret as is, JSON-escaped, URL-encoded (any hex case) and base64 (also inside longer base64)", () => {
  const redactor = new Redactor([SECRET]);
  const texts = [
    ...FORMS.map((form) => `before ${form} after`),
    `{"token":${JSON.stringify(SECRET)}}`,
    `https://x/cb?token=${encodeURIComponent(SECRET).toLowerCase()}`,
    `Authorization: Basic ${base64(`user:${SECRET}`)}`,
    `Authorization: Basic ${base64(`us:${SECRET}`)}`,
    `Authorization: Basic ${base64(`u:${SECRET}`)}`,
  ];
  for (const text of texts) assert.deepEqual(leaks(redactor.redact(text)), [], `${text} → ${redactor.redact(text)}`);
  assert.equal(redactor.redact("nothing secret here"), "nothing secret here");
  assert.ok(secretForms("ab").every((form) => form.length > 0));
});

class Meta extends ResourceMeta.define({ id: "string" }) {}

/** A connector that echoes the call's secret, in several spellings, wherever it can. */
class LeakyConnector extends AsyncConnector<Meta> {
  readonly name = "Leaky";
  readonly taskTypeName = "leaky";
  readonly metadataType = Meta;
  override readonly outputTypes = {};
  async create(request: CreateRequest): Promise<Meta> {
    const token = request.secrets["token"] ?? "";
    // The vendor's long error, cut by the connector itself would be wrong; here the dispatcher must cut after redacting.
    if (request.custom["fail"]) throw new ConnectorError("FAILED_PRECONDITION", `${"x".repeat(95)} ${token} rejected`);
    return new Meta({ id: "job-1" });
  }
  async get(request: { secrets: Record<string, string> }): Promise<Resource> {
    const token = request.secrets["token"] ?? "";
    return {
      phase: Phase.RUNNING,
      message: `vendor said {"token":${JSON.stringify(token)}}`,
      logLinks: [{ name: `console ${base64(token)}`, uri: `https://console.example.com/job?key=${encodeURIComponent(token)}` }],
    };
  }
  async delete(): Promise<void> {}
  override async getLogs(): Promise<LogsPage> {
    return { lines: [`auth header Basic ${base64(`svc:${SECRET}`)}`, `token ${SECRET}`] };
  }
}

const connection = { secrets: { token: SECRET } };
const category = { name: "leaky", version: 0 };
const never = () => new AbortController().signal;

test("the dispatcher redacts every form before truncating, in errors, resource messages, log links and log lines", async () => {
  const dispatcher = new ConnectorDispatcher(new ConnectorRegistry().register(new LeakyConnector()), { maxErrorMessageLength: 100 });
  // The secret straddles the 100-character cut of the error message.
  const error = await dispatcher
    .createTask(create(CreateTaskRequestSchema, { template: { type: "leaky", custom: { fail: true } }, connection }), never())
    .catch((e: unknown) => e as ConnectorError);
  assert.ok(error instanceof ConnectorError);
  assert.deepEqual(leaks(error.message), [], error.message);
  assert.deepEqual(leaks(String((error.cause as Error).stack)), []);

  const resourceMeta = new Meta({ id: "job-1" }).encode();
  const { resource } = await dispatcher.getTask(create(GetTaskRequestSchema, { taskCategory: category, resourceMeta, connection }), never());
  assert.match(resource!.message, /"token":"\*{5}"/);
  const link = resource!.logLinks[0]!;
  assert.deepEqual(leaks(`${link.name} ${link.uri}`), [], `${link.name} ${link.uri}`);

  // A logs request carries no connection: the secrets of this replica's calls redact its lines.
  const lines: string[] = [];
  for await (const part of dispatcher.getTaskLogs(create(GetTaskLogsRequestSchema, { taskCategory: category, resourceMeta }), never())) {
    if (part.part.case === "body") lines.push(...part.part.value.lines.map((line) => line.message));
  }
  assert.equal(lines.length, 2);
  assert.deepEqual(leaks(lines.join("\n")), [], lines.join("\n"));
});

test("allowLocalFiles: false refuses offloaded literals at local paths and file:// URIs, naming the URI and the flag", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "offloaded-"));
  const file = path.join(dir, "n.pb");
  await writeFile(file, toBinary(LiteralSchema, await encodeLiteral(7, types.int.literalType)));
  const seen: unknown[] = [];
  class Echo extends LeakyConnector {
    override async create(request: CreateRequest): Promise<Meta> {
      seen.push(request.inputs["n"]);
      return new Meta({ id: "x" });
    }
  }
  const registry = new ConnectorRegistry().register(new Echo());
  const request = async (uri: string) => {
    const inputs = await encodeInputs({ n: 1 }, { n: types.int });
    inputs.literals[0]!.value = create(LiteralSchema, { value: { case: "offloadedMetadata", value: { uri } } });
    return create(CreateTaskRequestSchema, { template: { type: "leaky", interface: { inputs: variableMap({ n: types.int }) } }, inputs });
  };
  const remote = new ConnectorDispatcher(registry, { allowLocalFiles: false });
  for (const uri of [file, pathToFileURL(file).href, "file:///etc/passwd", "/etc/passwd"]) {
    await assert.rejects(remote.createTask(await request(uri), never()), (error: unknown) => {
      assert.ok(error instanceof ConnectorError);
      assert.equal(error.code, "INVALID_ARGUMENT");
      assert.ok(error.message.includes(`"${uri}"`), error.message);
      assert.match(error.message, /--allow-local-files/);
      return true;
    });
  }
  assert.deepEqual(seen, [], "the connector never ran");
  // The local executor's default: local files are read.
  await new ConnectorDispatcher(registry).createTask(await request(file), never());
  assert.deepEqual(seen, [7]);
});
