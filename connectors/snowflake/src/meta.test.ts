/** A stored meta that parses as JSON but holds contents create could not have written is INVALID_ARGUMENT (issue 12 item 5). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ConnectorDispatcher, ConnectorRegistry } from "flyte-connectors";
import { DeleteTaskRequestSchema, GetTaskRequestSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { SnowflakeConnector, SnowflakeJobMetadata } from "./index.js";

const good = { account: "xy12345.us-east-1", user: "ALICE", database: "DB", schema: "PUBLIC", warehouse: "WH", query_id: "01b2c3d4-0000-1111-0000-000000000001", has_output: true, connection_kwargs: { role: "R" } };
const bad: Record<string, unknown>[] = [{ account: "evil.com/x" }, { account: "" }, { user: "" }, { query_id: "../cancel" }, { connection_kwargs: { host: "bad host", port: 1 } }];

test("snowflake metas: contents are checked on decode; invalid ones are INVALID_ARGUMENT on get and ignored (OK) on delete", async () => {
  const bytes = (meta: unknown) => new TextEncoder().encode(JSON.stringify(meta));
  assert.deepEqual({ ...SnowflakeJobMetadata.decode(bytes(good)) }, good);
  const dispatcher = new ConnectorDispatcher(new ConnectorRegistry().register(new SnowflakeConnector()));
  const taskCategory = { name: "snowflake", version: 0 };
  for (const fields of bad) {
    const resourceMeta = bytes({ ...good, ...fields });
    await assert.rejects(
      dispatcher.getTask(create(GetTaskRequestSchema, { taskCategory, resourceMeta }), new AbortController().signal),
      { code: "INVALID_ARGUMENT", message: /^Cannot decode resource meta as SnowflakeJobMetadata: / },
      JSON.stringify(fields),
    );
    await dispatcher.deleteTask(create(DeleteTaskRequestSchema, { taskCategory, resourceMeta }), new AbortController().signal);
  }
});
