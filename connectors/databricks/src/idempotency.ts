import { createHash } from "node:crypto";
import type { CreateRequest } from "flyte-connectors";

/**
 * A token naming one attempt of one task execution: the same for a retried CreateTask of that attempt, different
 * for the next attempt. From the task execution id (org, project, domain, run, action, retry attempt) when the
 * backend sends it, else from the output prefix (`…/<run>/<action>/<attempt>`, also unique per attempt).
 * `undefined` when the request has neither. At most 64 characters (the Jobs API's limit): "flyte-" + 43 characters
 * of base64url SHA-256, so no identifier is readable from it.
 */
export function attemptToken(request: Pick<CreateRequest, "taskExecutionMetadata" | "outputPrefix">): string | undefined {
  const id = request.taskExecutionMetadata?.taskExecutionId;
  const node = id?.nodeExecutionId;
  const run = node?.executionId;
  let identity: string | undefined;
  if (id && node && run && run.name) {
    identity = JSON.stringify(["task-execution", run.org, run.project, run.domain, run.name, node.nodeId, id.retryAttempt]);
  } else if (request.outputPrefix) {
    identity = JSON.stringify(["output-prefix", request.outputPrefix]);
  }
  return identity === undefined ? undefined : `flyte-${createHash("sha256").update(identity).digest("base64url")}`;
}
