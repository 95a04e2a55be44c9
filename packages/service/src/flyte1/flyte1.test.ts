// Flyte 1's agent services on the service's gRPC port, called by Python grpcio with flyteidl v1 messages built
// from the official .proto sources (the descriptors of @flyteorg/flyteidl, as compiled into this repo's package).
// Needs /usr/bin/python3 with grpcio (Debian python3-grpcio); skipped without it, a failure under CI=true.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary, type DescFile } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { ConnectorRegistry, Phase, SyncConnector, type CreateRequest, type Resource } from "flyte-connectors";
import { EchoConnector } from "flyte-connectors/builtin";
import { file_flyteidl_service_agent } from "@flyte-connectors/flyteidl/flyteidl/service/agent_pb.js";
import { startConnectorService, type ConnectorServiceHandle } from "../service.js";
import { TestConnector } from "../testing/fixture-connectors.js";
import { testTransport } from "../testing/transport.js";
import { DEFAULT_TRANSPORT } from "../transport/index.js";

const PYTHON = process.env["GRPCIO_PYTHON"] ?? "/usr/bin/python3";

/** A sync connector: greets its `name` input. */
class GreetConnector extends SyncConnector {
  readonly name = "Greeter";
  readonly taskTypeName = "flyte1_greet";
  async do({ inputs }: CreateRequest): Promise<Resource> {
    return { phase: Phase.SUCCEEDED, outputs: { greeting: `hello ${String(inputs["name"])}` } };
  }
}

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

function pythonGrpcMissing(): string | undefined {
  const probe = spawnSync(PYTHON, ["-c", "import grpc, google.protobuf"], { encoding: "utf8" });
  if (probe.status === 0) return undefined;
  return `${PYTHON} with grpcio is not installed (apt-get install python3-grpcio): ${probe.error?.message ?? probe.stderr.trim()}`;
}

const missing = pythonGrpcMissing();
if (missing && process.env["CI"] === "true") {
  test("Python grpcio is installed (required under CI)", () => assert.fail(missing));
}

// The transport FLYTE_CONNECTOR_TEST_TRANSPORT names (scripts/test.mjs runs the service tests on each).
const transport = testTransport() ?? DEFAULT_TRANSPORT;

describe(`Flyte 1 agent services (Python grpcio, flyteidl v1 messages; ${transport} transport)`, { skip: missing }, () => {
  let service: ConnectorServiceHandle;
  let dir: string;
  const steps = new Map<string, Record<string, unknown>>();

  before(async () => {
    const registry = new ConnectorRegistry();
    registry.register(new EchoConnector()).register(new TestConnector()).register(new GreetConnector());
    service = await startConnectorService({ port: 0, host: "127.0.0.1", prometheusPort: 0, connectPort: null, transport, registry, builtins: false, discover: false, logLevel: "silent" });
    dir = mkdtempSync(join(tmpdir(), "flyte1-"));
    const descriptors = join(dir, "flyteidl.binpb");
    writeFileSync(descriptors, fileDescriptorSet(file_flyteidl_service_agent));
    // Asynchronously: the service runs in this process.
    const run = await promisify(execFile)(PYTHON, [join(import.meta.dirname, "python_client.py"), descriptors, `127.0.0.1:${service.port}`], { encoding: "utf8", timeout: 120_000 }).then(
      ({ stdout, stderr }) => ({ stdout, stderr, status: 0 }),
      (error: { stdout?: string; stderr?: string; code?: unknown }) => ({ stdout: error.stdout ?? "", stderr: error.stderr ?? String(error), status: error.code }),
    );
    for (const line of run.stdout.split("\n").filter(Boolean)) {
      const step = JSON.parse(line) as { step: string };
      steps.set(step.step, step);
    }
    assert.ok(steps.has("done"), `the Python client stopped early (status ${String(run.status)}): ${run.stderr.slice(-3000)}`);
  });

  after(async () => {
    await service?.close({ gracePeriodMs: 0 });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const step = (name: string) => {
    const found = steps.get(name);
    assert.ok(found, `no step ${name}`);
    return found;
  };

  test("ListAgents: one row per connector, sync connectors with is_sync; GetAgent of an unknown name is NOT_FOUND", () => {
    const agents = step("list_agents")["agents"] as { name: string; is_sync: boolean; types: string[]; categories: [string, number][] }[];
    assert.deepEqual(
      agents.map((agent) => [agent.name, agent.is_sync, agent.types, agent.categories]),
      [
        ["Echo Connector", false, ["echo"], [["echo", 0]]],
        ["Test Connector", false, ["test"], [["test", 0]]],
        ["Greeter", true, ["flyte1_greet"], [["flyte1_greet", 0]]],
      ],
    );
    assert.deepEqual(step("get_agent_unknown"), { step: "get_agent_unknown", code: "NOT_FOUND", details: "Cannot find connector for name: nobody." });
  });

  test("create → get → delete with core.LiteralMap inputs; outputs come back as a LiteralMap", () => {
    assert.ok((step("create")["meta_len"] as number) > 0);
    assert.deepEqual(step("get"), { step: "get", phase: 3, outputs: { x: { integer: "42" }, s: { stringValue: "hi" } }, has_outputs: true });
    assert.deepEqual(step("get_by_task_type")["outputs"], { x: { integer: "42" }, s: { stringValue: "hi" } });
    assert.equal(step("delete")["code"], "OK");
    assert.equal(step("delete_undecodable")["code"], "OK", "an undecodable meta must not block propeller's finalizer");
  });

  test("errors: unknown task type NOT_FOUND (flytekit's message), connector errors keep their status, deadlines DEADLINE_EXCEEDED", () => {
    assert.equal(step("create_unknown")["code"], "NOT_FOUND");
    assert.match(step("create_unknown")["details"] as string, /^Cannot find connector for task type: nope\./);
    assert.equal(step("get_no_category")["code"], "INVALID_ARGUMENT");
    assert.deepEqual(step("create_invalid"), { step: "create_invalid", code: "INVALID_ARGUMENT", details: "mode invalid: bad input" });
    assert.equal(step("create_deadline")["code"], "DEADLINE_EXCEEDED");
  });

  test("a 6 MiB CreateTask request is served", () => {
    const meta = JSON.parse(step("create_6mib")["meta"] as string) as { id: string };
    assert.ok(Number(meta.id.replace("job-", "")) > 6 * 1024 * 1024, meta.id);
  });

  test("GetTaskLogs streams header and body parts; GetTaskMetrics answers", () => {
    assert.deepEqual(step("logs")["parts"], [{ header: "next-page" }, { body: ["line 1", "line 2"] }]);
    assert.equal(step("metrics")["results"], 0);
  });

  test("ExecuteTaskSync: a header with the resource, outputs inline; async and unknown connectors refused", () => {
    assert.deepEqual(step("sync"), { step: "sync", count: 1, kind: "header", phase: 3, outputs: { greeting: { stringValue: "hello Ada" } } });
    assert.equal(step("sync_async_connector")["code"], "FAILED_PRECONDITION");
    assert.match(step("sync_async_connector")["details"] as string, /asynchronous/);
    assert.equal(step("sync_unknown")["code"], "NOT_FOUND");
    assert.match(step("sync_unknown")["details"] as string, /^Cannot find connector for task type: nope\./);
  });

  test("ExecuteTaskSync answers before the half-close (older propellers wait for the answer, then close)", () => {
    assert.deepEqual(step("sync_no_half_close"), { step: "sync_no_half_close", count: 1, kind: "header", phase: 3, outputs: { greeting: { stringValue: "hello Ada" } } });
  });

  test("metrics: flytekit's names; ExecuteTaskSync counted as operation do", async () => {
    const all = await (await fetch(`http://127.0.0.1:${service.prometheusPort}/metrics`)).text();
    const text = all.split("\n").filter((line) => line.startsWith("flyte_connector_")).join("\n");
    assert.match(text, /flyte_connector_requests_success_total\{task_type="flyte1_greet",operation="do"\} 2/);
    assert.match(text, /flyte_connector_requests_failure_total\{task_type="echo",operation="do",error_code="\d+"\} 1/);
    assert.match(text, /flyte_connector_requests_success_total\{task_type="echo",operation="create"\} 1/);
    assert.match(text, /flyte_connector_requests_success_total\{task_type="echo",operation="get"\} 2/);
    assert.match(text, /flyte_connector_input_literal_bytes_count\{task_type="echo"\} 1/);
  });
});
