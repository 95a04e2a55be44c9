/** A stored meta that parses as JSON but holds contents create could not have written is INVALID_ARGUMENT (issue 12 item 5). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ConnectorDispatcher, ConnectorRegistry } from "flyte-connectors";
import { DeleteTaskRequestSchema, GetTaskRequestSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { BigQueryConnector, BigQueryMetadata } from "./index.js";

const good = { job_id: "flyte_abc-1", project: "example.com:my-project", location: "europe-west1", user_agent: "flyte-connectors/1.0" };
const bad: Record<string, unknown>[] = [{ job_id: "a/b" }, { job_id: "" }, { project: "p/../../x" }, { location: "eu?x=1" }, { user_agent: "ua\r\nX-Evil: 1" }];

test("bigquery_query_job_task metas: contents are checked on decode; invalid ones are INVALID_ARGUMENT on get and ignored (OK) on delete", async () => {
  const bytes = (meta: unknown) => new TextEncoder().encode(JSON.stringify(meta));
  assert.deepEqual({ ...BigQueryMetadata.decode(bytes(good)) }, good);
  const dispatcher = new ConnectorDispatcher(new ConnectorRegistry().register(new BigQueryConnector()));
  const taskCategory = { name: "bigquery_query_job_task", version: 0 };
  for (const fields of bad) {
    const resourceMeta = bytes({ ...good, ...fields });
    await assert.rejects(
      dispatcher.getTask(create(GetTaskRequestSchema, { taskCategory, resourceMeta }), new AbortController().signal),
      { code: "INVALID_ARGUMENT", message: /^Cannot decode resource meta as BigQueryMetadata: / },
      JSON.stringify(fields),
    );
    await dispatcher.deleteTask(create(DeleteTaskRequestSchema, { taskCategory, resourceMeta }), new AbortController().signal);
  }
});
