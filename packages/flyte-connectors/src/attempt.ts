import { createHash } from "node:crypto";
import type { CreateRequest } from "./connector.js";

/**
 * A string naming one attempt of one task execution: the same for a repeated CreateTask of that attempt (the
 * backend retries a create whose reply it lost), different for the next attempt. Built from the task execution id
 * (org, project, domain, run, action, retry attempt) when the backend sends it, else from the output prefix
 * (`…/<run>/<action>/<attempt>`, also unique per attempt); `undefined` when the request has neither. Connectors
 * derive idempotency keys and external job ids from it so that a repeated create never starts a second job.
 */
export function attemptIdentity(request: Pick<CreateRequest, "taskExecutionMetadata" | "outputPrefix">): string | undefined {
  const id = request.taskExecutionMetadata?.taskExecutionId;
  const node = id?.nodeExecutionId;
  const run = node?.executionId;
  // Without the action (node) id, a run-wide identity would be shared by every action of the run.
  if (id && node && run && run.name && node.nodeId) return JSON.stringify(["task-execution", run.org, run.project, run.domain, run.name, node.nodeId, id.retryAttempt]);
  return request.outputPrefix ? JSON.stringify(["output-prefix", request.outputPrefix]) : undefined;
}

/**
 * {@link attemptIdentity} as an opaque idempotency key: "flyte-" and 43 characters of base64url SHA-256 (49 in
 * all, within the 64 most APIs allow), so no identifier can be read from it.
 */
export function attemptToken(request: Pick<CreateRequest, "taskExecutionMetadata" | "outputPrefix">): string | undefined {
  const identity = attemptIdentity(request);
  return identity === undefined ? undefined : `flyte-${createHash("sha256").update(identity).digest("base64url")}`;
}
