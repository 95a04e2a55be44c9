// FileSensorTask run locally with runTask (the TypeScript form of flytekit's local sensor run), on local files.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ConnectorRegistry, ObjectStore, Phase, runTask, TaskFailedError } from "flyte-connectors";
import { isolateFromCloud, startSilentServer } from "flyte-connectors/testing/storage";
import { FileSensorConnector, FileSensorTask } from "./index.js";

isolateFromCloud();

let dir: string;
const registry = new ConnectorRegistry().register(new FileSensorConnector());

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "sensor-run-"));
});
after(() => rm(dir, { recursive: true, force: true }));

test("runTask waits until the file appears, then resolves with no outputs", async () => {
  const path = join(dir, "_SUCCESS");
  const started = performance.now();
  setTimeout(() => void writeFile(path, ""), 300);
  const outputs = await runTask(new FileSensorTask({ name: "wait_for_marker", timeout: 30 }), { path }, { registry, pollInterval: 50, quiet: true });
  assert.deepEqual(outputs, {});
  assert.ok(performance.now() - started >= 250, "it did wait for the file");
});

test("runTask fails with the sensor's timeout message when the file never appears", async () => {
  const path = join(dir, "never");
  await assert.rejects(runTask(new FileSensorTask({ name: "impatient", timeout: 0.3 }), { path }, { registry, pollInterval: 50, quiet: true }), (error: unknown) => {
    assert.ok(error instanceof TaskFailedError);
    assert.equal(error.phase, Phase.FAILED);
    assert.equal(error.reason, `FileSensor timed out after 0.3 s (the task's timeout): ${path} does not exist yet.`);
    return true;
  });
});

test("FileSensorTask refuses a timeout that is not a positive number of seconds", () => {
  for (const timeout of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => new FileSensorTask({ name: "bad", timeout }), /timeout must be a positive number of seconds/);
  }
});

test("FileSensorConnector refuses a checkTimeout that is not positive", () => {
  assert.throws(() => new FileSensorConnector({ checkTimeout: 0 }), RangeError);
});

test("allowedPrefixes: paths outside them are INVALID_ARGUMENT at create, compared after normalization", async () => {
  const allowed = join(dir, "allowed");
  const narrowed = new ConnectorRegistry().register(new FileSensorConnector({ allowedPrefixes: [`file://${allowed}/`] }));
  const inside = join(allowed, "ready");
  await writeFile(join(dir, "secret"), "x");
  await mkdir(allowed, { recursive: true });
  await writeFile(inside, "x");
  const sensor = new FileSensorTask({ name: "narrow", timeout: 5 });
  // A plain path inside the file:// prefix is inside.
  assert.deepEqual(await runTask(sensor, { path: inside }, { registry: narrowed, pollInterval: 50, quiet: true }), {});
  for (const outside of [join(dir, "secret"), `${allowed}/../secret`, `file://${allowed}/../secret`, `${allowed}-sibling/x`]) {
    await assert.rejects(runTask(sensor, { path: outside }, { registry: narrowed, pollInterval: 50, quiet: true }), (error: { code?: string; message?: string }) => {
      assert.equal(error.code, "INVALID_ARGUMENT", `${outside}: ${error.message}`);
      assert.match(error.message ?? "", /is outside the prefixes this connector may watch/);
      return true;
    });
  }
});

test("allowedPrefixes default: FLYTE_SENSOR_ALLOWED_PREFIXES (comma-separated), for the connector `serve` discovers", async () => {
  const saved = process.env["FLYTE_SENSOR_ALLOWED_PREFIXES"];
  process.env["FLYTE_SENSOR_ALLOWED_PREFIXES"] = ` s3://landing/ , file://${dir}/env-allowed/ `;
  let fromEnv: FileSensorConnector;
  try {
    fromEnv = new FileSensorConnector();
  } finally {
    if (saved === undefined) delete process.env["FLYTE_SENSOR_ALLOWED_PREFIXES"];
    else process.env["FLYTE_SENSOR_ALLOWED_PREFIXES"] = saved;
  }
  const env = new ConnectorRegistry().register(fromEnv);
  await mkdir(join(dir, "env-allowed"), { recursive: true });
  await writeFile(join(dir, "env-allowed", "ok"), "");
  const sensor = new FileSensorTask({ name: "env" });
  assert.deepEqual(await runTask(sensor, { path: join(dir, "env-allowed", "ok") }, { registry: env, pollInterval: 50, quiet: true }), {});
  await assert.rejects(runTask(sensor, { path: join(dir, "secret") }, { registry: env, pollInterval: 50, quiet: true }), /outside the prefixes this connector may watch \(s3:\/\/landing\/, file:\/\//);
});

test("a store that does not answer: each poll ends after checkTimeout as RUNNING, and the timeout still ends the task", async () => {
  const silent = await startSilentServer();
  try {
    const storage = new ObjectStore({ s3: { endpoint: silent.endpoint, accessKeyId: "k", secretAccessKey: "s", addressingStyle: "path" }, retries: 0 });
    const patient = new ConnectorRegistry().register(new FileSensorConnector({ checkTimeout: 150 }));
    const started = performance.now();
    await assert.rejects(runTask(new FileSensorTask({ name: "silent", timeout: 0.6 }), { path: "s3://bucket/k" }, { registry: patient, storage, pollInterval: 20, quiet: true }), (error: unknown) => {
      assert.ok(error instanceof TaskFailedError);
      assert.equal(error.phase, Phase.FAILED);
      assert.equal(error.reason, "FileSensor timed out after 0.6 s (the task's timeout): cannot check s3://bucket/k right now (the store did not answer within 0.15 s); checking again at the next poll.");
      return true;
    });
    const elapsed = performance.now() - started;
    assert.ok(silent.requests() >= 2, `several polls reached the store (${silent.requests()})`);
    assert.ok(elapsed < 5000, `no poll waited for the store beyond checkTimeout (${Math.round(elapsed)} ms)`);
  } finally {
    await silent.close();
  }
});
