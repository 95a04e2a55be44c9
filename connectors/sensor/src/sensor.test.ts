// The FileSensor connector through the gRPC service (serveForTest), against real local storage servers: s3rver
// (an S3-compatible server from npm) behind a counting pass-through proxy, Azurite (Microsoft's Azure Storage
// emulator) and, since no GCS emulator installs from npm or Debian, flyte-connectors' local server following the
// GCS JSON API's documented shapes (storage/fake-gcs.ts); plus file:// on a temporary directory.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, test } from "node:test";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import type { TaskTemplate } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { encodeInputs, ObjectStore, Phase, phaseName, types } from "flyte-connectors";
import { isolateFromCloud, startAzurite, startFakeGcs, startS3Server, type AzuriteServer, type FakeGcs, type S3TestServer } from "flyte-connectors/testing/storage";
import { serveForTest, type TestService } from "@flyte-connectors/service/testing";
import connectors from "./connectors.js";
import { FileSensorConnector, FileSensorTask, SensorMetadata } from "./index.js";

isolateFromCloud();

const A = AsyncConnectorService.method;
const INVALID_ARGUMENT = 3;
const task = new FileSensorTask({ name: "wait_for_data" });

/** A pass-through HTTP proxy in front of s3rver that records every request and counts TCP connections. */
async function startCountingProxy(target: string): Promise<{ endpoint: string; requests: Array<{ method: string; path: string }>; connections: () => number; close(): Promise<void> }> {
  const requests: Array<{ method: string; path: string }> = [];
  let connections = 0;
  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? "", path: req.url ?? "" });
    const upstream = httpRequest(new URL(req.url ?? "/", target), { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    connections: () => connections,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A loopback port nothing listens on: a storage server that is down. */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

async function createSensor(service: TestService, path: unknown, template: TaskTemplate = task.toTaskTemplate()): Promise<Uint8Array> {
  const inputs = path === undefined ? undefined : await encodeInputs({ path }, typeof path === "string" ? { path: types.string } : undefined);
  const { resourceMeta } = await service.client.unary(A.createTask, { template, ...(inputs ? { inputs } : {}), outputPrefix: "s3://flyte-test/out/run/a0/1" });
  return resourceMeta;
}

async function poll(service: TestService, resourceMeta: Uint8Array) {
  const { resource } = await service.client.unary(A.getTask, { taskCategory: { name: "sensor", version: 0 }, resourceMeta, outputPrefix: "s3://flyte-test/out/run/a0/1" });
  assert.ok(resource, "GetTask answers a resource");
  return resource;
}

function rejectsInvalid(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  return assert.rejects(promise, (error: { code?: number; details?: string }) => {
    assert.equal(error.code, INVALID_ARGUMENT, `INVALID_ARGUMENT, got ${error.code}: ${error.details}`);
    assert.match(error.details ?? "", pattern);
    return true;
  });
}

let s3: S3TestServer;
let proxy: Awaited<ReturnType<typeof startCountingProxy>>;
let azurite: AzuriteServer;
let gcs: FakeGcs;
let dir: string;
let store: ObjectStore;
const abfsBase = "abfs://flyte@devstoreaccount1.dfs.core.windows.net";

before(async () => {
  [s3, azurite, gcs, dir] = await Promise.all([startS3Server(), startAzurite(), startFakeGcs(), mkdtemp(join(tmpdir(), "sensor-test-"))]);
  proxy = await startCountingProxy(s3.endpoint);
  gcs.createBucket("flyte");
  // The container is created with the SDK directly: ObjectStore, like flyte-sdk, writes into existing containers.
  const { BlobServiceClient, StorageSharedKeyCredential } = await import("@azure/storage-blob");
  await new BlobServiceClient(azurite.endpoint.replace("{account}", azurite.accountName), new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey))
    .getContainerClient("flyte")
    .create();
  store = new ObjectStore({
    s3: { endpoint: proxy.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, addressingStyle: "path" },
    azure: { endpoint: azurite.endpoint, accountName: azurite.accountName, accountKey: azurite.accountKey },
    gcs: { endpoint: gcs.endpoint },
    retries: 0,
  });
});

after(async () => {
  await Promise.all([proxy?.close(), s3?.close(), azurite?.close(), gcs?.close(), dir ? rm(dir, { recursive: true, force: true }) : undefined]);
});

describe("the service's storage (every scheme, local files allowed)", () => {
  let service: TestService;
  before(async () => {
    // The package's default export, as `serve` discovers it: the store is the service's own (dispatcherOptions).
    service = await serveForTest(connectors, { allowLocalFiles: true, dispatcherOptions: { storage: store } });
  });
  after(() => service?.close());

  const schemes: Array<[string, () => string]> = [
    ["s3://", () => `s3://${s3.bucket}/landing/export.csv`],
    ["abfs:// (container@account form)", () => `${abfsBase}/landing/export.csv`],
    ["abfss:// (bare container, the configured account)", () => "abfss://flyte/landing/bare.csv"],
    ["gs://", () => "gs://flyte/landing/export.csv"],
    ["file://", () => pathToFileURL(join(dir, "landing", "export.csv")).href],
    ["a plain local path", () => join(dir, "plain.csv")],
  ];
  for (const [scheme, pathOf] of schemes) {
    test(`${scheme}: RUNNING while the path does not exist, SUCCEEDED once it does`, async () => {
      const path = pathOf();
      const meta = await createSensor(service, path);
      const waiting = await poll(service, meta);
      assert.equal(phaseName(waiting.phase), "RUNNING");
      assert.ok(waiting.message.includes(path) && /does not exist yet/.test(waiting.message), waiting.message);
      await store.put(path, "a,b\n1,2\n");
      const found = await poll(service, meta);
      assert.equal(phaseName(found.phase), "SUCCEEDED", found.message);
      assert.equal(found.message, `Found ${path} (8 bytes).`);
    });
  }

  test("a missing bucket or container is \"not there yet\", not a failure", async () => {
    for (const path of ["s3://no-such-bucket/k.csv", `abfs://nocontainer@${azurite.accountName}.dfs.core.windows.net/k.csv`, "gs://no-such-bucket/k.csv"]) {
      const resource = await poll(service, await createSensor(service, path));
      assert.equal(phaseName(resource.phase), "RUNNING", `${path}: ${resource.message}`);
      assert.match(resource.message, /does not exist yet/);
    }
  });

  test("one HEAD per poll on the object itself (no listing), over one reused connection", async () => {
    const path = `s3://${s3.bucket}/big/prefix/_SUCCESS`;
    // A prefix holding many objects: a listing would show; a HEAD of the key does not care.
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.put(`s3://${s3.bucket}/big/prefix/part-${i}`, "x")));
    const meta = await createSensor(service, path);
    const before = proxy.requests.length;
    const connectionsBefore = proxy.connections();
    for (let i = 0; i < 5; i++) assert.equal((await poll(service, meta)).phase, Phase.RUNNING);
    const made = proxy.requests.slice(before);
    assert.deepEqual(made, Array.from({ length: 5 }, () => ({ method: "HEAD", path: `/${s3.bucket}/big/prefix/_SUCCESS` })));
    assert.ok(proxy.connections() - connectionsBefore <= 1, `the S3 client is reused across polls (${proxy.connections() - connectionsBefore} new connections)`);
  });

  test("create does no storage I/O: it records what to watch", async () => {
    const before = proxy.requests.length;
    await createSensor(service, `s3://${s3.bucket}/landing/not-yet`);
    assert.equal(proxy.requests.length, before);
  });

  test("the task's timeout: FAILED naming the path and the timeout once it has passed", async () => {
    const path = `s3://${s3.bucket}/landing/never.csv`;
    const template = new FileSensorTask({ name: "impatient", timeout: 0.4 }).toTaskTemplate();
    const meta = await createSensor(service, path, template);
    const decoded = SensorMetadata.decode(meta);
    assert.equal(decoded.timeout_seconds, 0.4);
    assert.ok(Math.abs(decoded.created_at! - Date.now() / 1000) < 30, "created_at is the time of create");
    const first = await poll(service, meta);
    assert.equal(phaseName(first.phase), "RUNNING");
    assert.match(first.message, /of 0\.4 s\)/);
    await new Promise((resolve) => setTimeout(resolve, 450));
    const late = await poll(service, meta);
    assert.equal(phaseName(late.phase), "FAILED");
    assert.equal(late.message, `FileSensor timed out after 0.4 s (the task's timeout): ${path} does not exist yet.`);
  });

  test("a file that exists at the first poll after the deadline still succeeds", async () => {
    const path = `${abfsBase}/landing/just-in-time.csv`;
    const meta = await createSensor(service, path, new FileSensorTask({ name: "tight", timeout: 0.2 }).toTaskTemplate());
    await store.put(path, "x");
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal(phaseName((await poll(service, meta)).phase), "SUCCEEDED");
  });

  test("another sensor class: INVALID_ARGUMENT naming it", async () => {
    const template = task.toTaskTemplate();
    template.custom = { ...template.custom, sensor_module: "my_company.sensors", sensor_name: "QueueSensor" };
    await rejectsInvalid(createSensor(service, `s3://${s3.bucket}/k`, template), /my_company\.sensors\.QueueSensor.*FileSensor/);
    // A resource meta naming another sensor (a caller's bytes) is refused the same way on GetTask.
    const meta = new TextEncoder().encode(JSON.stringify({ sensor_module: "my_company.sensors", sensor_name: "QueueSensor", sensor_config: null, inputs: { path: "s3://b/k" } }));
    await rejectsInvalid(poll(service, meta), /QueueSensor/);
  });

  test("paths no poll could check: INVALID_ARGUMENT at create, naming the problem", async () => {
    await rejectsInvalid(createSensor(service, `s3://${s3.bucket}/exports/2026-12-04/`), /ends with "\/".*not a directory.*_SUCCESS/);
    await rejectsInvalid(createSensor(service, `s3://${s3.bucket}`), /names a bucket, not an object/);
    await rejectsInvalid(createSensor(service, "ftp://host/file"), /not a storage URI.*"ftp" is not supported/);
    await rejectsInvalid(createSensor(service, ""), /input path is empty/);
    // The interface declares `path`: the service refuses a request without it (or of another type) before the connector runs.
    await rejectsInvalid(createSensor(service, undefined), /path: missing input/);
    await rejectsInvalid(createSensor(service, 42), /path/);
    // Without `path` in the interface, custom.inputs.path (flytekit's SensorMetadata.inputs) is the fallback.
    const fixed = task.toTaskTemplate();
    fixed.interface = undefined;
    await rejectsInvalid(createSensor(service, undefined, fixed), /input path \(or custom\.inputs\.path\) is required/);
    fixed.custom = { ...fixed.custom, inputs: { path: 7 } };
    await rejectsInvalid(createSensor(service, undefined, fixed), /must be a string/);
  });
});

describe("faults of the store", () => {
  let service: TestService;
  const wrongS3Secret = "wrong-secret-for-the-sensor-4d1c";
  const wrongAzureKey = Buffer.from("not-the-account-key-of-the-sensor").toString("base64");
  before(async () => {
    const down = await closedPort();
    const faulty = new ObjectStore({
      s3: { endpoint: s3.endpoint, accessKeyId: "NOT-A-KEY-ID", secretAccessKey: wrongS3Secret, addressingStyle: "path" },
      azure: { endpoint: azurite.endpoint, accountName: azurite.accountName, accountKey: wrongAzureKey },
      gcs: { endpoint: down },
      retries: 0,
    });
    // Local files not allowed (serve's default); the connector's own store for the object stores.
    service = await serveForTest([new FileSensorConnector({ storage: faulty, checkTimeout: 3000 })]);
  });
  after(() => service?.close());

  test("storage server down: a non-terminal poll with a message, not an error", async () => {
    const meta = await createSensor(service, "gs://flyte/landing/x.csv");
    const resource = await poll(service, meta);
    assert.equal(phaseName(resource.phase), "RUNNING");
    assert.match(resource.message, /^Waiting: cannot check gs:\/\/flyte\/landing\/x\.csv right now \(.*ECONNREFUSED.*\); checking again at the next poll/);
  });

  test("storage down past the timeout: FAILED as timed out, with the last fault", async () => {
    const meta = await createSensor(service, "gs://flyte/landing/y.csv", new FileSensorTask({ name: "t", timeout: 0.05 }).toTaskTemplate());
    await new Promise((resolve) => setTimeout(resolve, 80));
    const resource = await poll(service, meta);
    assert.equal(phaseName(resource.phase), "FAILED");
    assert.match(resource.message, /^FileSensor timed out after 0\.05 s .*cannot check gs:\/\/flyte\/landing\/y\.csv right now/);
  });

  for (const [scheme, path, secret] of [
    ["s3://", () => `s3://${s3.bucket}/landing/x.csv`, wrongS3Secret],
    ["abfs://", () => `${abfsBase}/landing/x.csv`, wrongAzureKey],
  ] as const) {
    test(`${scheme} wrong credentials: FAILED naming the path, without the secret`, async () => {
      const meta = await createSensor(service, path());
      const resource = await poll(service, meta);
      assert.equal(phaseName(resource.phase), "FAILED");
      assert.ok(resource.message.startsWith(`FileSensor cannot check ${path()}: `), resource.message);
      assert.match(resource.message, /refused the credentials/);
      assert.ok(!resource.message.includes(secret), "no secret in the message");
      assert.ok(!resource.message.includes(secret.slice(0, 12)), "no part of the secret in the message");
    });
  }

  test("local paths are refused for a remote caller (serve without --allow-local-files), at create and on a crafted GetTask", async () => {
    const path = join(dir, "secret-of-the-pod");
    await writeFile(path, "x");
    await rejectsInvalid(createSensor(service, path), /connector's own disk.*--allow-local-files/);
    await rejectsInvalid(createSensor(service, pathToFileURL(path).href), /--allow-local-files/);
    const crafted = new SensorMetadata({ sensor_module: "flytekit.sensor.file_sensor", sensor_name: "FileSensor", inputs: { path } }).encode();
    await rejectsInvalid(poll(service, crafted), /--allow-local-files/);
  });
});
