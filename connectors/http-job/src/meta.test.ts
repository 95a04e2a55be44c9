/** A stored meta that parses as JSON but holds an invalid spec is the caller's INVALID_ARGUMENT (issue 12 item 5). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ConnectorDispatcher, ConnectorRegistry, ResourceMetaDecodeError } from "flyte-connectors";
import { GetTaskRequestSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { parseConfig } from "./config.js";
import { HttpJobConnector, HttpJobMeta } from "./index.js";

const config = parseConfig({
  submit: { url: "https://jobs.example.com/jobs" },
  status: { url: "https://jobs.example.com/jobs/{{ jobId }}" },
  cancel: { url: "https://jobs.example.com/jobs/{{ jobId }}" },
  auth: { secret: "token" },
  logLinks: [{ name: "ui", url: "https://jobs.example.com/ui/{{ jobId }}" }],
  outputs: { n: { path: "/n", type: "int" } },
});
const spec = { status: config.status, outputs: config.outputs, cancel: config.cancel, auth: config.auth, logLinks: config.logLinks };
const bytes = (meta: unknown) => new TextEncoder().encode(JSON.stringify(meta));

test("http_job metas: a stored spec is checked on decode; an invalid one is INVALID_ARGUMENT, also through GetTask", async () => {
  assert.deepEqual(HttpJobMeta.decode(new HttpJobMeta({ job_id: "7", spec }).encode()).spec, JSON.parse(JSON.stringify(spec)));
  const bad: Record<string, unknown>[] = [
    {},
    { ...spec, status: { ...spec.status, url: "file:///etc/passwd" } },
    { ...spec, status: { ...spec.status, url: "https://jobs.example.com/{{ secrets.token }}" } },
    { ...spec, outputs: { n: { path: 1 } } },
    { ...spec, logLinks: "x" },
    { ...spec, auth: { secret: "token", header: "Bad Header" } },
  ];
  for (const s of bad) {
    assert.throws(() => HttpJobMeta.decode(bytes({ job_id: "7", spec: s })), (error: unknown) => error instanceof ResourceMetaDecodeError && error.code === "INVALID_ARGUMENT", JSON.stringify(s));
  }
  const dispatcher = new ConnectorDispatcher(new ConnectorRegistry().register(new HttpJobConnector()));
  await assert.rejects(
    dispatcher.getTask(create(GetTaskRequestSchema, { taskCategory: { name: "http_job", version: 0 }, resourceMeta: bytes({ job_id: "7", spec: {} }) }), new AbortController().signal),
    { code: "INVALID_ARGUMENT", message: /^Cannot decode resource meta as HttpJobMeta: .*status/ },
  );
});
