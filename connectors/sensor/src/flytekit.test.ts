// Flyte 1: the task template flytekit writes for `FileSensor(name=…, timeout=…)` (flytekit/sensor/base_sensor.py:
// task type "sensor", custom = asdict(SensorMetadata(sensor_module, sensor_name, sensor_config=None, inputs=None)),
// interface from `poke(self, path: str)`, no container, the timeout in metadata.timeout), run through the service's
// Flyte 1 agent services as Flyte 1's propeller calls them. Local files (the service allows them here) keep it fast;
// the object stores are covered in sensor.test.ts.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { LiteralSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/literals_pb.js";
import { TaskTemplateSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { SimpleType } from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import { Phase, phaseName } from "flyte-connectors";
import { flyte1Client, serveForTest, type Flyte1Client, type TestService } from "@flyte-connectors/service/testing";
import { FileSensorConnector, FileSensorTask, SensorMetadata } from "./index.js";

let service: TestService;
let client: Flyte1Client;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "sensor-flytekit-"));
  // gRPC whatever FLYTE_CONNECTOR_TEST_PROTOCOL says: Flyte 1 backends call the Flyte 1 services over gRPC only.
  service = await serveForTest([new FileSensorConnector()], { protocol: "grpc", allowLocalFiles: true });
  client = flyte1Client(service.handle.port);
});

after(async () => {
  client?.close();
  await service?.close();
  await rm(dir, { recursive: true, force: true });
});

/** flytekit's serialized `FileSensor(name="wait_for_file", timeout=60)` (a datetime.timedelta or an int). */
function flytekitTemplate(custom: Record<string, unknown> = {}) {
  return create(TaskTemplateSchema, {
    id: { resourceType: 1, project: "flytesnacks", domain: "development", name: "wait_for_file", version: "v1" },
    type: "sensor",
    metadata: { runtime: { type: 1, version: "1.16.1", flavor: "python" }, timeout: { seconds: 60n }, retries: {} },
    interface: { inputs: { variables: [{ key: "path", value: { type: { type: { case: "simple", value: SimpleType.STRING } }, description: "path" } }] }, outputs: {} },
    custom: { sensor_module: "flytekit.sensor.file_sensor", sensor_name: "FileSensor", sensor_config: null, inputs: null, ...custom },
  });
}

const pathInput = (path: string) => ({ path: create(LiteralSchema, { value: { case: "scalar", value: { value: { case: "primitive", value: { value: { case: "stringValue", value: path } } } } } }) });
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

test("flytekit's FileSensor template: flytekit's meta keys first, RUNNING until the file exists, then SUCCEEDED; delete is OK", async () => {
  const path = join(dir, "export.csv");
  const { resourceMeta } = await client.createTask({ template: flytekitTemplate(), inputs: pathInput(path), outputPrefix: "s3://my-s3-bucket/metadata/propeller/p-d-abc/n0/data/0" });
  const json = text(resourceMeta);
  // Python's json.dumps(asdict(SensorMetadata)) for the first four keys, then the timeout fields.
  assert.ok(json.startsWith(`{"sensor_module": "flytekit.sensor.file_sensor", "sensor_name": "FileSensor", "sensor_config": null, "inputs": {"path": ${JSON.stringify(path)}}, "created_at": `), json);
  const meta = SensorMetadata.decode(resourceMeta);
  assert.equal(meta.timeout_seconds, 60, "flytekit's timeout (metadata.timeout) is the sensor's");

  const waiting = (await client.getTask("sensor", resourceMeta)).resource!;
  assert.equal(phaseName(waiting.phase), "RUNNING");
  assert.match(waiting.message, /^Waiting: .*export\.csv does not exist yet \(waited \d+(\.\d+)? s of 60 s\)\.$/);
  await writeFile(path, "id\n1\n");
  const found = (await client.getTask("sensor", resourceMeta)).resource!;
  assert.equal(phaseName(found.phase), "SUCCEEDED");
  assert.equal(found.outputs?.literals?.length ?? 0, 0, "a sensor has no outputs");
  await client.deleteTask("sensor", resourceMeta);
});

test("a resource meta written by flytekit's Python sensor connector is polled (no timeout fields: no connector timeout)", async () => {
  const present = join(dir, "present.csv");
  await writeFile(present, "x");
  const python = (path: string) => new TextEncoder().encode(`{"sensor_module": "flytekit.sensor.file_sensor", "sensor_name": "FileSensor", "sensor_config": null, "inputs": {"path": ${JSON.stringify(path)}}}`);
  assert.equal((await client.getTask("sensor", python(present))).resource!.phase, Phase.SUCCEEDED);
  const missing = (await client.getTask("sensor", python(join(dir, "missing.csv")))).resource!;
  assert.equal(phaseName(missing.phase), "RUNNING");
  assert.match(missing.message, /missing\.csv does not exist yet\.$/);
  await client.deleteTask("sensor", python(present));
});

test("as flytekit's SensorEngine: the task's inputs win over custom.inputs; custom.inputs is used without them", async () => {
  const fromInput = join(dir, "from-input.csv");
  const fromCustom = join(dir, "from-custom.csv");
  const both = await client.createTask({ template: flytekitTemplate({ inputs: { path: fromCustom } }), inputs: pathInput(fromInput) });
  assert.equal(SensorMetadata.decode(both.resourceMeta).path, fromInput);
  const template = flytekitTemplate({ inputs: { path: fromCustom } });
  template.interface = undefined;
  const fixed = await client.createTask({ template });
  assert.equal(SensorMetadata.decode(fixed.resourceMeta).path, fromCustom);
});

test("another flytekit sensor (a BaseSensor subclass): INVALID_ARGUMENT naming it", async () => {
  await assert.rejects(
    client.createTask({ template: flytekitTemplate({ sensor_module: "workflows.sensors", sensor_name: "BigQuerySensor", sensor_config: { project: "p" } }), inputs: pathInput("s3://b/k") }),
    (error: { code?: number; details?: string }) => {
      assert.equal(error.code, 3);
      assert.match(error.details ?? "", /names the sensor workflows\.sensors\.BigQuerySensor, which this connector does not run/);
      return true;
    },
  );
});

test("ListAgents lists the sensor task type as asynchronous", async () => {
  const { agents } = await client.listAgents();
  const agent = agents.find((a) => a.supportedTaskCategories.some((c) => c.name === "sensor"));
  assert.ok(agent, "the sensor connector is listed");
  assert.equal(agent.isSync, false);
});

test("FileSensorTask writes flytekit's template: type, custom, interface and timeout", () => {
  const ours = new FileSensorTask({ name: "wait_for_file", timeout: 60 }).toTaskTemplate();
  const theirs = flytekitTemplate();
  assert.equal(ours.type, theirs.type);
  assert.equal(ours.taskTypeVersion, theirs.taskTypeVersion);
  assert.deepEqual(ours.custom, theirs.custom);
  assert.deepEqual(ours.metadata?.timeout, theirs.metadata?.timeout);
  const vars = (t: typeof ours) => t.interface?.inputs?.variables.map((v) => [v.key, v.value?.type?.type]);
  assert.deepEqual(vars(ours), vars(theirs));
  assert.equal(ours.interface?.outputs?.variables.length ?? 0, 0);
  assert.equal(new FileSensorTask({ name: "forever" }).toTaskTemplate().metadata?.timeout, undefined, "no timeout unless given");
});
