import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { TaskExecutionMetadataSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { jobIdFor } from "./job-id.js";

const metadata = (name: string, nodeId = "a0", retryAttempt = 0, project = "proj") =>
  create(TaskExecutionMetadataSchema, {
    taskExecutionId: { nodeExecutionId: { nodeId, executionId: { project, domain: "development", name, org: "" } }, retryAttempt },
  });

test("job ids: one per attempt, in BigQuery's charset, distinct when identities only sanitize alike", () => {
  assert.equal(jobIdFor(metadata("run.1")), jobIdFor(metadata("run.1")));
  assert.notEqual(jobIdFor(metadata("run.1")), jobIdFor(metadata("run_1")), "'.' and '_' sanitize alike; the hash tells them apart");
  assert.notEqual(jobIdFor(metadata("run.1", "a0", 0)), jobIdFor(metadata("run.1", "a0", 1)));
  assert.match(jobIdFor(metadata("run.1")), /^flyte_proj_development_run_1_a0_0_[0-9a-f]{16}$/);
  const long = jobIdFor(metadata("r".repeat(5000), "n/ö".repeat(2000), 7, "p:q".repeat(1000)));
  assert.match(long, /^[A-Za-z0-9_-]+$/);
  assert.ok(long.length <= 1024);
  const random = [jobIdFor(undefined), jobIdFor(undefined)];
  assert.notEqual(random[0], random[1]);
  assert.match(random[0]!, /^flyte_[0-9a-f]{32}$/);
});
