// Public API of @flyte-connectors/webhook.
export { WebhookConnector, WEBHOOK_TASK_TYPE, WEBHOOK_OUTPUTS, WEBHOOK_ALLOWED_ORIGINS_ENV, type WebhookConnectorOptions, type WebhookInfo } from "./connector.js";
export { WebhookTask, type WebhookTaskOptions } from "./task.js";
export { WEBHOOK_METHODS, DEFAULT_TIMEOUT_SECONDS, type WebhookConfig, type WebhookMethod } from "./config.js";
