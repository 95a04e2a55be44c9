/**
 * A response the service cannot encode reaches the client as INTERNAL (never a bare stream reset) and is
 * counted as a failure, not a success; a sync connector's stored result that would make such a response is the
 * caller's INVALID_ARGUMENT (issue 12 item 4).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { AsyncConnector, ConnectorRegistry, Phase, ResourceMeta, SyncConnector, type Resource, type TaskLogInit } from "flyte-connectors";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { startConnectorService } from "./service.js";
import { testClient } from "./testing/client.js";
import { testTransport } from "./testing/transport.js";

const A = AsyncConnectorService.method;

class JobMeta extends ResourceMeta.define({ job_id: "string" }) {}

/** Answers get with a log link whose enum field is out of int32 range: the GetTask response cannot be encoded. */
class BrokenLinkConnector extends AsyncConnector<JobMeta> {
  readonly name = "Broken Link";
  readonly taskTypeName = "broken_link";
  readonly metadataType = JobMeta;
  async create(): Promise<JobMeta> {
    return new JobMeta({ job_id: "j" });
  }
  async get(): Promise<Resource> {
    return { phase: Phase.RUNNING, logLinks: [{ name: "log", uri: "https://x", messageFormat: 1e300 } as unknown as TaskLogInit] };
  }
  async delete(): Promise<void> {}
}

class Answer extends SyncConnector {
  readonly name = "Answer";
  readonly taskTypeName = "answer";
  async do(): Promise<Resource> {
    return { phase: Phase.SUCCEEDED };
  }
}

test("an unencodable response is INTERNAL to the client and a failure in the metrics; an impossible sync meta is INVALID_ARGUMENT", async () => {
  const registry = new ConnectorRegistry().register(new BrokenLinkConnector()).register(new Answer());
  const service = await startConnectorService({ transport: testTransport(), port: 0, prometheusPort: 0, host: "127.0.0.1", discover: false, logLevel: "silent", registry });
  const client = testClient(service.port);
  const code = async (call: Promise<unknown>) => {
    try {
      await call;
      return grpc.status.OK;
    } catch (error) {
      return (error as grpc.ServiceError).code;
    }
  };
  try {
    const meta = new JobMeta({ job_id: "j" }).encode();
    assert.equal(await code(client.unary(A.getTask, { taskCategory: { name: "broken_link", version: 0 }, resourceMeta: meta })), grpc.status.INTERNAL);
    // The reported case: a sync connector's (`chatgpt`'s) stored result with phase 1e300.
    const phase = new TextEncoder().encode('{"phase":1e300}');
    assert.equal(await code(client.unary(A.getTask, { taskCategory: { name: "answer", version: 0 }, resourceMeta: phase })), grpc.status.INVALID_ARGUMENT);
    const text = await (await fetch(`http://127.0.0.1:${service.prometheusPort}/metrics`)).text();
    assert.match(text, /flyte_connector_requests_failure_total\{task_type="broken_link",operation="get",error_code="500"\} 1\n/);
    assert.doesNotMatch(text, /flyte_connector_requests_success_total\{task_type="broken_link",operation="get"\}/);
  } finally {
    client.close();
    await service.forceClose();
  }
});
