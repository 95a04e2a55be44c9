/** A stored meta that parses as JSON but holds contents create could not have written is INVALID_ARGUMENT on get, ignored on delete. */
process.env["AWS_EC2_METADATA_DISABLED"] = "true";

import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ConnectorDispatcher, ConnectorRegistry } from "flyte-connectors";
import { DeleteTaskRequestSchema, GetTaskRequestSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { EmrServerlessConnector, EmrServerlessJobMetadata } from "./index.js";

const good = { application_id: "00fapp0000000001", job_run_id: "00f0000000000001", region: "us-east-1", created_application: false, is_script_mode: true, pending_job_request: null };
const bad: Record<string, unknown>[] = [
  { application_id: "../../x" },
  { application_id: "" },
  { job_run_id: "1/../2" },
  { job_run_id: "" }, // and no pending request
  { region: "evil.example.com#" },
  { region: "" },
  { job_run_id: 42 },
];

test("emr_serverless metas: Python's bytes decode; invalid ones are INVALID_ARGUMENT on get and ignored (OK) on delete", async () => {
  const bytes = (meta: unknown) => new TextEncoder().encode(JSON.stringify(meta));
  assert.deepEqual({ ...EmrServerlessJobMetadata.decode(bytes(good)) }, good);
  // The merged flytekit connector's meta had only four fields; the newer ones are optional.
  const older = { application_id: good.application_id, job_run_id: good.job_run_id, region: good.region, created_application: false };
  assert.deepEqual({ ...EmrServerlessJobMetadata.decode(bytes(older)) }, older);
  // No endpoint and no credentials are needed: nothing is sent for these.
  const dispatcher = new ConnectorDispatcher(new ConnectorRegistry().register(new EmrServerlessConnector({ endpoint: "http://127.0.0.1:9", credentials: { accessKeyId: "AKIDX", secretAccessKey: "x" } })));
  const taskCategory = { name: "emr_serverless", version: 0 };
  for (const fields of bad) {
    const resourceMeta = bytes({ ...good, ...fields });
    await assert.rejects(
      dispatcher.getTask(create(GetTaskRequestSchema, { taskCategory, resourceMeta }), new AbortController().signal),
      { code: "INVALID_ARGUMENT", message: /^Cannot decode resource meta as EmrServerlessJobMetadata: / },
      JSON.stringify(fields),
    );
    await dispatcher.deleteTask(create(DeleteTaskRequestSchema, { taskCategory, resourceMeta }), new AbortController().signal);
  }
});
