// Storage used by the dispatcher, File/Dir values and runTask, against s3rver (a real S3-compatible server).
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { CreateTaskRequestSchema, GetTaskRequestSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { LiteralSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/literals_pb.js";
import { OutputsSchema } from "@flyte-connectors/flyteidl2/flyteidl2/task/common_pb.js";
import { AsyncConnector, SyncConnector, type CreateRequest, type Resource } from "../connector.js";
import { ConnectorDispatcher } from "../dispatcher.js";
import { ConnectorError } from "../errors.js";
import { runTask } from "../executor/index.js";
import { Phase } from "../phase.js";
import { ConnectorRegistry } from "../registry.js";
import { ResourceMeta } from "../resource-meta.js";
import { ConnectorTask } from "../task/index.js";
import { decodeOutputs, encodeInputs, encodeLiteral, encodeOutputs, FlyteDir, FlyteFile, types, variableMap } from "../types/index.js";
import { ObjectStore } from "./object-store.js";
import { isolateFromCloud, startS3Server, type S3TestServer } from "./test-servers.js";

isolateFromCloud();

/** Reads its File input and its offloaded number, uploads a report under the output prefix and returns it. */
class ReportConnector extends SyncConnector {
  readonly name = "Report";
  readonly taskTypeName = "report";
  override readonly outputTypes = { report: types.file, text: types.string, total: types.int };

  async do(request: CreateRequest): Promise<Resource> {
    const data = request.inputs["data"] as FlyteFile;
    const n = request.inputs["n"] as number;
    const text = await data.text({ signal: request.signal });
    const report = await FlyteFile.fromBytes(`${text.toUpperCase()} x${n}`, { prefix: request.outputPrefix, name: "report.txt", storage: request.storage!, signal: request.signal });
    return { phase: Phase.SUCCEEDED, outputs: { report, text, total: n * 2 } };
  }
}

const reportInputs = { data: types.file, n: types.int };

describe("storage through the dispatcher, File values and runTask (S3)", () => {
  let s3: S3TestServer;
  let store: ObjectStore;
  let local: string;

  before(async () => {
    s3 = await startS3Server();
    store = new ObjectStore({ s3: { endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, retries: 0 });
    local = await mkdtemp(join(tmpdir(), "storage-it-"));
  });
  after(async () => {
    await s3?.close();
    await rm(local, { recursive: true, force: true });
  });

  async function reportRequest(dataUri: string, offloadedN: string) {
    const inputs = await encodeInputs({ data: new FlyteFile(dataUri), n: 0 }, reportInputs);
    inputs.literals[1]!.value = create(LiteralSchema, { value: { case: "offloadedMetadata", value: { uri: offloadedN } } });
    return create(CreateTaskRequestSchema, {
      template: { type: "report", interface: { inputs: variableMap(reportInputs) } },
      inputs,
      outputPrefix: `s3://${s3.bucket}/runs/r1/a0/0`,
    });
  }

  it("a service dispatcher reads an offloaded input and a File on S3, and the connector's upload lands under the output prefix", async () => {
    const registry = new ConnectorRegistry().register(new ReportConnector());
    const dispatcher = new ConnectorDispatcher(registry, { storage: store, allowLocalFiles: false });
    await store.put(`s3://${s3.bucket}/inputs/data.txt`, "hello storage");
    await store.put(`s3://${s3.bucket}/inputs/n.pb`, toBinary(LiteralSchema, await encodeLiteral(21, types.int.literalType)));

    const { resourceMeta } = await dispatcher.createTask(await reportRequest(`s3://${s3.bucket}/inputs/data.txt`, `s3://${s3.bucket}/inputs/n.pb`), AbortSignal.timeout(20_000));
    const { resource } = await dispatcher.getTask(create(GetTaskRequestSchema, { taskCategory: { name: "report", version: 0 }, resourceMeta }), AbortSignal.timeout(20_000));
    const outputs = await decodeOutputs(resource!.outputs!, variableMap(new ReportConnector().outputTypes), { storage: store });
    assert.equal(outputs["text"], "hello storage");
    assert.equal(outputs["total"], 42);
    const report = outputs["report"] as FlyteFile;
    assert.match(report.uri, new RegExp(`^s3://${s3.bucket}/runs/r1/a0/0/[0-9a-f]{16}/report\\.txt$`));
    assert.equal(await report.text(), "HELLO STORAGE x21");
  });

  it("a service dispatcher refuses a File at a local path when the connector reads it; a local one reads it", async () => {
    const secret = join(local, "secret.txt");
    await writeFile(secret, "do not serve");
    await store.put(`s3://${s3.bucket}/inputs/n2.pb`, toBinary(LiteralSchema, await encodeLiteral(1, types.int.literalType)));
    const registry = new ConnectorRegistry().register(new ReportConnector());
    const remote = new ConnectorDispatcher(registry, { storage: store, allowLocalFiles: false });
    await assert.rejects(remote.createTask(await reportRequest(secret, `s3://${s3.bucket}/inputs/n2.pb`), AbortSignal.timeout(20_000)), (error: unknown) => {
      assert.ok(error instanceof ConnectorError);
      assert.ok(error.message.includes(secret), error.message);
      assert.match(error.message, /--allow-local-files/);
      assert.ok(!error.message.includes("do not serve"));
      return true;
    });
    const localDispatcher = new ConnectorDispatcher(registry, { storage: store });
    await localDispatcher.createTask(await reportRequest(secret, `s3://${s3.bucket}/inputs/n2.pb`), AbortSignal.timeout(20_000));
  });

  it("runTask reads the outputs.pb a job wrote to an s3:// output prefix", async () => {
    class JobMeta extends ResourceMeta.define({ job: "string" }) {}
    const outputSpecs = { rows: types.int, table: types.dir };
    class WritingJob extends AsyncConnector<JobMeta> {
      readonly name = "Writing job";
      readonly taskTypeName = "writing-job";
      readonly metadataType = JobMeta;
      async create(request: CreateRequest): Promise<JobMeta> {
        // The "job" writes its outputs itself, as a Spark or Databricks job would, then reports SUCCEEDED.
        const table = await FlyteDir.fromLocal(tableDir, { prefix: request.outputPrefix, storage: request.storage! });
        const outputs = await encodeOutputs({ rows: 3, table }, outputSpecs);
        await request.storage!.put(`${request.outputPrefix}/outputs.pb`, toBinary(OutputsSchema, outputs));
        return new JobMeta({ job: "j1" });
      }
      async get(): Promise<Resource> {
        return { phase: Phase.SUCCEEDED };
      }
      async delete(): Promise<void> {}
    }
    const tableDir = join(local, "table");
    await mkdir(join(tableDir, "part"), { recursive: true });
    await writeFile(join(tableDir, "a.csv"), "1,2\n");
    await writeFile(join(tableDir, "part", "b.csv"), "3\n");
    const task = new ConnectorTask({ name: "writing_job", taskType: "writing-job", outputs: outputSpecs });
    const outputPrefix = `s3://${s3.bucket}/runs/r2/a0/0`;
    const outputs = await runTask(task, {}, { registry: new ConnectorRegistry().register(new WritingJob()), storage: store, outputPrefix, quiet: true, pollInterval: 10 });
    assert.equal(outputs.rows, 3);
    assert.ok(outputs.table.uri.startsWith(`${outputPrefix}/`), outputs.table.uri);
    // The Dir's contents come back through the same storage.
    const files: string[] = [];
    for await (const file of outputs.table.files()) files.push(file.uri.slice(outputs.table.uri.length));
    assert.deepEqual(files.sort(), ["/a.csv", "/part/b.csv"]);
    const copy = await outputs.table.download(join(local, "copy"));
    assert.equal(await readFile(join(copy, "part", "b.csv"), "utf8"), "3\n");
  });

  it("FlyteFile.fromLocal streams a local file up; open, read with a range, download bring it back", async () => {
    const source = join(local, "source.bin");
    const bytes = Buffer.from(Array.from({ length: 3 * 1024 * 1024 + 17 }, (_, i) => (i * 7) % 251));
    await writeFile(source, bytes);
    const file = await FlyteFile.fromLocal(source, { prefix: `s3://${s3.bucket}/raw`, storage: store, format: "bin" });
    assert.match(file.uri, new RegExp(`^s3://${s3.bucket}/raw/[0-9a-f]{16}/source\\.bin$`));
    assert.equal(file.format, "bin");
    assert.deepEqual(Buffer.from(await file.read({ range: { offset: 1000, length: 5 } })), bytes.subarray(1000, 1005));
    let streamed = 0;
    for await (const chunk of await file.open()) streamed += (chunk as Buffer).length;
    assert.equal(streamed, bytes.length);
    const copy = await file.download(join(local, "copies", "copy.bin"));
    assert.deepEqual(await readFile(copy), bytes);
    // A File that is not there names its URI.
    await assert.rejects(new FlyteFile(`s3://${s3.bucket}/raw/none.bin`, "", undefined, { storage: store }).read(), (e: Error & { code?: string }) => e.code === "NOT_FOUND" && e.message.includes(`s3://${s3.bucket}/raw/none.bin`));
  });

  it("runTask names the URI when outputs.pb cannot be read (wrong credentials)", async () => {
    class Done extends SyncConnector {
      readonly name = "Done";
      readonly taskTypeName = "done";
      async do(): Promise<Resource> {
        return { phase: Phase.SUCCEEDED };
      }
    }
    const wrong = new ObjectStore({ s3: { endpoint: s3.endpoint, accessKeyId: "NOPE", secretAccessKey: "nope-secret" }, retries: 0 });
    const task = new ConnectorTask({ name: "done", taskType: "done", outputs: { n: types.int } });
    const prefix = `s3://${s3.bucket}/runs/r3`;
    await assert.rejects(runTask(task, {}, { registry: new ConnectorRegistry().register(new Done()), storage: wrong, outputPrefix: prefix, quiet: true }), (error: unknown) => {
      assert.ok(error instanceof ConnectorError, String(error));
      assert.ok(error.message.includes(`${prefix}/outputs.pb`), error.message);
      assert.ok(!error.message.includes("nope-secret"));
      return true;
    });
  });
});
