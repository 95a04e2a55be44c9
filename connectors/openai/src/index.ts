// Public API of @flyte-connectors/openai.
export { ChatGPTConnector, ChatGPTTask, CHATGPT_TASK_TYPE, type ChatGPTConfig, type ChatGPTTaskOptions } from "./chatgpt.js";
export {
  BatchEndpointConnector,
  BatchEndpointMeta,
  BatchEndpointTask,
  IDEMPOTENCY_METADATA_KEY,
  OPENAI_BATCH_TASK_TYPE,
  type BatchConfig,
  type BatchEndpointTaskOptions,
  type BatchInput,
} from "./batch.js";
export { BatchResultsConnector, BatchResultsTask, OPENAI_BATCH_RESULTS_TASK_TYPE, type BatchResultsTaskOptions } from "./batch-results.js";
export { API_KEY_SECRET, CONNECTOR_SECRET_NAME, type OpenAIConnectionOptions } from "./client.js";
