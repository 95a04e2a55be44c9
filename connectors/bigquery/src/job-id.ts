import { createHash, randomUUID } from "node:crypto";
import { attemptIdentity } from "flyte-connectors";
import type { TaskExecutionMetadata } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";

/** BigQuery's limit on job ids (letters, digits, `_`, `-`; at most 1024 characters). */
const MAX_JOB_ID = 1024;
/** Length of each readable part, so the id stays short enough to read in the console. */
const MAX_PART = 120;

const sanitize = (text: string) => text.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, MAX_PART);

/**
 * The BigQuery job id of one task attempt: the same (org, project, domain, run, action, attempt) always gives the
 * same id, so a repeated CreateTask finds the job the first one started (BigQuery answers 409) instead of starting
 * a second. Readable parts first (sanitized to BigQuery's charset), then a hash of the exact identity, so two
 * identities that sanitize alike still get different ids. Without execution metadata (a direct call), a random id.
 */
export function jobIdFor(metadata: TaskExecutionMetadata | undefined): string {
  const id = metadata?.taskExecutionId;
  const node = id?.nodeExecutionId;
  const execution = node?.executionId;
  if (!id || !node || !execution || !execution.name) return `flyte_${randomUUID().replace(/-/g, "")}`;
  const hash = createHash("sha256").update(attemptIdentity({ taskExecutionMetadata: metadata, outputPrefix: "" })!).digest("hex").slice(0, 16);
  const readable = [execution.project, execution.domain, execution.name, node.nodeId].map(sanitize).join("_");
  return `flyte_${readable}_${id.retryAttempt}_${hash}`.slice(-MAX_JOB_ID);
}
