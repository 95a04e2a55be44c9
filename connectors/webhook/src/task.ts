import type { JsonObject } from "@bufbuild/protobuf";
import { ConnectorTask, Duration, type ConnectorTaskOptions, type TypeSpecs } from "flyte-connectors";
import { DEFAULT_TIMEOUT_SECONDS, parseConfig, type WebhookMethod } from "./config.js";
import { WEBHOOK_OUTPUTS, WEBHOOK_TASK_TYPE } from "./connector.js";

/** What `new WebhookTask(...)` takes: flytekit's `WebhookTask(...)` arguments, camelCase. */
export interface WebhookTaskOptions<I extends TypeSpecs> extends Pick<ConnectorTaskOptions<I, typeof WEBHOOK_OUTPUTS>, "secrets" | "project" | "domain" | "version"> {
  name: string;
  /** The URL to call; may hold `{inputs.<name>}` and `{secrets.<name>}`. */
  url: string;
  /** Default: `"POST"` (flytekit's default). */
  method?: WebhookMethod;
  /** Request headers; values may hold references. Default: none. */
  headers?: Record<string, string>;
  /** The JSON body (POST, PUT, PATCH) or the query parameters (GET, DELETE); strings may hold references. Default: none. */
  data?: JsonObject;
  /** The task's inputs, referenced as `{inputs.<name>}` (flytekit's `dynamic_inputs`). Default: none. */
  inputs?: I;
  /** Put the rendered `data` in the output as `input_data`. Default: false. */
  showData?: boolean;
  /** Put the rendered `url` in the output as `url`. Default: false. */
  showUrl?: boolean;
  /** A short description (flytekit puts it in the task's docs, not in the template). Default: none. */
  description?: string;
  /** The request's deadline, in seconds or as a Duration. Default: 10 seconds. */
  timeout?: number | Duration;
}

/**
 * One HTTP request, run by {@link WebhookConnector}: the TypeScript form of flytekit's `WebhookTask`, writing the
 * same task type (`webhook`), `custom` keys and interface (`inputs` → output `info`).
 *
 * ```ts
 * const notify = new WebhookTask({
 *   name: "notify",
 *   url: "https://hooks.example.com/runs/{inputs.run}",
 *   headers: { Authorization: "Bearer {secrets.hook_token}" },
 *   data: { text: "Run {inputs.run} finished" },
 *   inputs: { run: types.string },
 *   secrets: { hook_token: "HOOK_TOKEN" },
 * });
 * ```
 */
export class WebhookTask<I extends TypeSpecs = Record<never, never>> extends ConnectorTask<I, typeof WEBHOOK_OUTPUTS> {
  static readonly TASK_TYPE = WEBHOOK_TASK_TYPE;
  readonly description: string | undefined;
  readonly #config: JsonObject;

  constructor({ url, method = "POST", headers, data, showData = false, showUrl = false, description, timeout, ...options }: WebhookTaskOptions<I>) {
    super({ ...options, taskType: WEBHOOK_TASK_TYPE, outputs: WEBHOOK_OUTPUTS });
    const seconds = timeout === undefined ? DEFAULT_TIMEOUT_SECONDS : timeout instanceof Duration ? Number(timeout.seconds) + timeout.nanos / 1e9 : timeout;
    // The keys and defaults flytekit's WebhookTask.get_custom writes.
    const config: JsonObject = {
      url,
      method,
      headers: { ...headers },
      data: structuredClone(data ?? {}),
      show_data: showData,
      show_url: showUrl,
      timeout_sec: seconds,
    };
    // The connector's checks, at declaration time (a ConnectorError INVALID_ARGUMENT naming the key).
    parseConfig(config, new Set(Object.keys(this.inputs)), new Set(Object.keys(this.secrets)));
    this.description = description;
    this.#config = config;
  }

  protected override customConfig(): JsonObject {
    return structuredClone(this.#config);
  }
}
