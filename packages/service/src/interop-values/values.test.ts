// Values and statuses as a Python caller sees them (issue 12 items 1-3, 5, 6): Python grpcio with literals built as
// flyte-sdk builds them. Needs /usr/bin/python3 with grpcio (Debian python3-grpcio); skipped without it outside CI,
// a failure under CI=true.
import { before, after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary, type DescFile } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { ConnectorRegistry } from "flyte-connectors";
import { EchoConnector } from "flyte-connectors/builtin";
import { file_flyteidl2_connector_service } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { startConnectorService, type ConnectorServiceHandle } from "../service.js";

const PYTHON = process.env["FLYTE_PYTHON"] ?? "/usr/bin/python3";

/** The descriptors of `root` and everything it imports, dependencies first. */
function fileDescriptorSet(root: DescFile): Uint8Array {
  const files: DescFile[] = [];
  const visit = (file: DescFile) => {
    if (files.includes(file)) return;
    file.dependencies.forEach(visit);
    files.push(file);
  };
  visit(root);
  return toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: files.map((file) => file.proto) }));
}

const probe = spawnSync(PYTHON, ["-c", "import grpc, google.protobuf"], { encoding: "utf8" });
const missing = probe.status === 0 ? undefined : `${PYTHON} with grpcio is not installed (apt-get install python3-grpcio): ${probe.error?.message ?? probe.stderr.trim()}`;
if (missing && process.env["CI"] === "true") {
  test("Python grpcio is installed (required under CI)", () => assert.fail(missing));
}

describe("values and statuses as a Python grpcio caller sees them", { skip: missing }, () => {
  let service: ConnectorServiceHandle;
  let dir: string;
  const steps = new Map<string, Record<string, unknown>>();

  before(async () => {
    const registry = new ConnectorRegistry().register(new EchoConnector());
    service = await startConnectorService({ port: 0, host: "127.0.0.1", prometheusPort: null, registry, builtins: false, discover: false, logLevel: "silent" });
    dir = mkdtempSync(join(tmpdir(), "values-"));
    const descriptors = join(dir, "flyteidl2.binpb");
    writeFileSync(descriptors, fileDescriptorSet(file_flyteidl2_connector_service));
    const run = await promisify(execFile)(PYTHON, [join(import.meta.dirname, "python_values_client.py"), descriptors, `127.0.0.1:${service.port}`], { encoding: "utf8", timeout: 60_000 }).then(
      ({ stdout, stderr }) => ({ stdout, stderr, status: 0 as unknown }),
      (error: { stdout?: string; stderr?: string; code?: unknown }) => ({ stdout: error.stdout ?? "", stderr: error.stderr ?? String(error), status: error.code }),
    );
    for (const line of run.stdout.split("\n").filter(Boolean)) {
      const step = JSON.parse(line) as { step: string };
      steps.set(step.step, step);
    }
    assert.ok(steps.has("done"), `the Python client stopped early (status ${String(run.status)}): ${run.stderr.slice(-3000)}`);
  });

  after(async () => {
    await service?.forceClose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("echo returns a datetime with microseconds and a dict with a whole float exactly as Python sent them", () => {
    const echo = steps.get("echo")!;
    assert.equal(echo["phase"], 3);
    assert.equal(echo["when"], "2026-01-02T03:04:05.123456+00:00");
    assert.equal(echo["same_when"], true);
    assert.equal(echo["config_hex"], `82a5726174696fcb4000000000000000a5636f756e7402`);
    assert.equal(echo["same_config"], true);
  });

  test("inputs that do not match the interface are INVALID_ARGUMENT naming the input", () => {
    assert.deepEqual(steps.get("missing"), { step: "missing", code: "INVALID_ARGUMENT", details: "n: missing input of type int: the task's interface declares it and the request has no value for it" });
    assert.equal(steps.get("extra")!["code"], "INVALID_ARGUMENT");
    assert.match(String(steps.get("extra")!["details"]), /^other: unexpected input: the task's interface does not declare it \(declared inputs: when\)/);
  });

  test("a corrupt echo payload is INVALID_ARGUMENT; an unknown task type NOT_FOUND with the version and what is served", () => {
    assert.equal(steps.get("corrupt")!["code"], "INVALID_ARGUMENT");
    assert.match(String(steps.get("corrupt")!["details"]), /^Cannot decode resource meta as EchoMeta: field "inputs" is not a serialized flyteidl2\.task\.Inputs/);
    assert.deepEqual(steps.get("unknown"), {
      step: "unknown",
      code: "NOT_FOUND",
      details: "Cannot find connector for task type: no_such_type. Asked for version 0; this service serves: echo v0.",
    });
  });
});
