import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { TaskExecutionMetadataSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { attemptIdentity, attemptToken } from "./attempt.js";

const metadata = (attempt: number, run = "r1") =>
  create(TaskExecutionMetadataSchema, {
    taskExecutionId: { retryAttempt: attempt, nodeExecutionId: { nodeId: "a0", executionId: { org: "o", project: "p", domain: "d", name: run } } },
  });

test("attemptToken: same attempt, same token; next attempt or another run, another token", () => {
  const first = attemptToken({ taskExecutionMetadata: metadata(0), outputPrefix: "s3://b/x" });
  assert.match(first ?? "", /^flyte-[A-Za-z0-9_-]{43}$/);
  assert.equal(attemptToken({ taskExecutionMetadata: metadata(0), outputPrefix: "s3://b/other" }), first);
  assert.notEqual(attemptToken({ taskExecutionMetadata: metadata(1), outputPrefix: "s3://b/x" }), first);
  assert.notEqual(attemptToken({ taskExecutionMetadata: metadata(0, "r2"), outputPrefix: "s3://b/x" }), first);
});

test("attemptIdentity falls back to the output prefix, and is undefined without either", () => {
  assert.equal(attemptIdentity({ taskExecutionMetadata: undefined, outputPrefix: "s3://b/run/a0/1" }), '["output-prefix","s3://b/run/a0/1"]');
  assert.equal(attemptIdentity({ taskExecutionMetadata: undefined, outputPrefix: "" }), undefined);
  assert.equal(attemptToken({ taskExecutionMetadata: undefined, outputPrefix: "" }), undefined);
});

test("attemptIdentity: two actions of one run differ; without an action id the output prefix is used", () => {
  const action = (nodeId: string) =>
    create(TaskExecutionMetadataSchema, {
      taskExecutionId: { retryAttempt: 0, nodeExecutionId: { nodeId, executionId: { org: "o", project: "p", domain: "d", name: "r1" } } },
    });
  assert.notEqual(attemptIdentity({ taskExecutionMetadata: action("a0"), outputPrefix: "" }), attemptIdentity({ taskExecutionMetadata: action("a1"), outputPrefix: "" }));
  assert.equal(attemptIdentity({ taskExecutionMetadata: action(""), outputPrefix: "s3://b/r1/a1/0" }), '["output-prefix","s3://b/r1/a1/0"]');
  assert.equal(attemptIdentity({ taskExecutionMetadata: action(""), outputPrefix: "" }), undefined);
});
