/** A stored meta that parses as JSON but holds contents create could not have written is INVALID_ARGUMENT (issue 12 item 5). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ConnectorDispatcher, ConnectorRegistry } from "flyte-connectors";
import { DeleteTaskRequestSchema, GetTaskRequestSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { DatabricksConnector, DatabricksJobMetadata } from "./index.js";

const good = { databricks_instance: "myorg.cloud.databricks.com", run_id: "123456" };
const bad: Record<string, unknown>[] = [{ run_id: "1/../../2" }, { run_id: "" }, { databricks_instance: "" }, { databricks_instance: "a b" }];

test("databricks metas: contents are checked on decode; invalid ones are INVALID_ARGUMENT on get and ignored (OK) on delete", async () => {
  const bytes = (meta: unknown) => new TextEncoder().encode(JSON.stringify(meta));
  assert.deepEqual({ ...DatabricksJobMetadata.decode(bytes(good)) }, good);
  const dispatcher = new ConnectorDispatcher(new ConnectorRegistry().register(new DatabricksConnector()));
  const taskCategory = { name: "databricks", version: 0 };
  for (const fields of bad) {
    const resourceMeta = bytes({ ...good, ...fields });
    await assert.rejects(
      dispatcher.getTask(create(GetTaskRequestSchema, { taskCategory, resourceMeta }), new AbortController().signal),
      { code: "INVALID_ARGUMENT", message: /^Cannot decode resource meta as DatabricksJobMetadata: / },
      JSON.stringify(fields),
    );
    await dispatcher.deleteTask(create(DeleteTaskRequestSchema, { taskCategory, resourceMeta }), new AbortController().signal);
  }
});
