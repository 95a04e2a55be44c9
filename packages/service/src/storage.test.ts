// Object storage end to end through the gRPC service, against s3rver (a real S3-compatible server): an offloaded
// input on S3 decoded by a connector, a File input on S3 read by a connector, its result File uploaded under the
// output prefix, and a local File path refused for a remote caller.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { LiteralSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/literals_pb.js";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { decodeOutputs, encodeInputs, encodeLiteral, FlyteFile, ObjectStore, Phase, SyncConnector, types, variableMap, type CreateRequest, type Resource } from "flyte-connectors";
import { isolateFromCloud, startS3Server, type S3TestServer } from "flyte-connectors/testing/storage";
import { serveForTest, type TestService } from "./testing/index.js";

isolateFromCloud();

const inputs = { data: types.file, factor: types.int };
const outputs = { summary: types.file, lines: types.int };

/** Counts the lines of its File input, multiplies by its (offloaded) factor, uploads a summary File. */
class LineCounter extends SyncConnector {
  readonly name = "Line counter";
  readonly taskTypeName = "line-counter";
  override readonly outputTypes = outputs;

  async do(request: CreateRequest): Promise<Resource> {
    const text = await (request.inputs["data"] as FlyteFile).text({ signal: request.signal });
    const lines = text.split("\n").filter(Boolean).length * (request.inputs["factor"] as number);
    const summary = await FlyteFile.fromBytes(`lines=${lines}\n`, { prefix: request.outputPrefix, name: "summary.txt", storage: request.storage!, signal: request.signal });
    return { phase: Phase.SUCCEEDED, outputs: { summary, lines } };
  }
}

describe("storage through the gRPC service (S3)", () => {
  let s3: S3TestServer;
  let store: ObjectStore;
  let service: TestService;

  before(async () => {
    s3 = await startS3Server();
    store = new ObjectStore({ s3: { endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, retries: 1, backoffMs: 50 });
    // As `serve` runs it: local files off.
    service = await serveForTest([new LineCounter()], { dispatcherOptions: { storage: store } });
  });
  after(async () => {
    await service?.close();
    await s3?.close();
  });

  async function request(dataUri: string, factorUri: string) {
    const literals = await encodeInputs({ data: new FlyteFile(dataUri), factor: 0 }, inputs);
    literals.literals[1]!.value = create(LiteralSchema, { value: { case: "offloadedMetadata", value: { uri: factorUri } } });
    return {
      template: { type: "line-counter", interface: { inputs: variableMap(inputs), outputs: variableMap(outputs) } },
      inputs: literals,
      outputPrefix: `s3://${s3.bucket}/metadata/run-1/a0/0`,
    };
  }

  test("a connector reads an offloaded input and a File on S3 and returns a File it uploaded", async () => {
    await store.put(`s3://${s3.bucket}/data/lines.txt`, "a\nb\nc\n");
    await store.put(`s3://${s3.bucket}/offloaded/factor.pb`, toBinary(LiteralSchema, await encodeLiteral(7, types.int.literalType)));
    const created = await service.client.unary(AsyncConnectorService.method.createTask, await request(`s3://${s3.bucket}/data/lines.txt`, `s3://${s3.bucket}/offloaded/factor.pb`));
    const { resource } = await service.client.unary(AsyncConnectorService.method.getTask, {
      taskCategory: { name: "line-counter", version: 0 },
      resourceMeta: created.resourceMeta,
    });
    assert.equal(resource?.phase, Phase.SUCCEEDED);
    const result = await decodeOutputs(resource!.outputs!, variableMap(outputs), { storage: store });
    assert.equal(result["lines"], 21);
    const summary = result["summary"] as FlyteFile;
    assert.ok(summary.uri.startsWith(`s3://${s3.bucket}/metadata/run-1/a0/0/`), summary.uri);
    assert.equal(await summary.text(), "lines=21\n");
  });

  test("a missing offloaded input is INVALID_ARGUMENT naming its URI", async () => {
    await store.put(`s3://${s3.bucket}/data/lines.txt`, "a\n");
    const uri = `s3://${s3.bucket}/offloaded/missing.pb`;
    await assert.rejects(service.client.unary(AsyncConnectorService.method.createTask, await request(`s3://${s3.bucket}/data/lines.txt`, uri)), (error: { code: number; details: string }) => {
      assert.equal(error.code, 3, error.details);
      assert.ok(error.details.includes(`"${uri}"`), error.details);
      assert.match(error.details, /not found/);
      return true;
    });
  });

  test("a File input at a service-local path is refused (no --allow-local-files)", async () => {
    await store.put(`s3://${s3.bucket}/offloaded/one.pb`, toBinary(LiteralSchema, await encodeLiteral(1, types.int.literalType)));
    await assert.rejects(service.client.unary(AsyncConnectorService.method.createTask, await request("/etc/hostname", `s3://${s3.bucket}/offloaded/one.pb`)), (error: { code: number; details: string }) => {
      assert.ok(error.details.includes('"/etc/hostname"'), error.details);
      assert.match(error.details, /--allow-local-files/);
      return true;
    });
  });
});
