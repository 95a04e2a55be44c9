import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type OpenAI from "openai";
import {
  ConnectorError,
  ConnectorTask,
  Phase,
  SyncConnector,
  types,
  type ConnectorTaskOptions,
  type CreateRequest,
  type Resource,
} from "flyte-connectors";
import { call, openAIClient, requestOptions, resolveApiKey, type OpenAIConnectionOptions } from "./client.js";

/** Task type of the Python `ChatGPTTask` (flytekitplugins.openai). */
export const CHATGPT_TASK_TYPE = "chatgpt";

const inputs = { message: types.string };
const outputs = { o0: types.string };

/**
 * Parameters of a chat completion (`POST /v1/chat/completions`) except `messages`, which the task's `message`
 * input provides. `model` is required.
 */
export type ChatGPTConfig = { model: string } & { [key: string]: JsonValue };

export interface ChatGPTTaskOptions
  extends Pick<ConnectorTaskOptions<typeof inputs, typeof outputs>, "secrets" | "project" | "domain" | "version"> {
  name: string;
  /** The completion's parameters, e.g. `{ model: "gpt-4o-mini", temperature: 0.2 }`. */
  chatgptConfig: ChatGPTConfig;
  /** OpenAI organization the request is billed to (`OpenAI-Organization` header). Default: the key's default. */
  openaiOrganization?: string;
}

/**
 * One chat completion, run by {@link ChatGPTConnector}: input `message` (sent as the single user message),
 * output `o0` (the reply's text). Writes the same `TaskTemplate.custom` as Python's `ChatGPTTask`:
 * `{ openai_organization, chatgpt_config }`.
 *
 * ```ts
 * const ask = new ChatGPTTask({ name: "ask", chatgptConfig: { model: "gpt-4o-mini" }, secrets: { openai_api_key: "OPENAI_API_KEY" } });
 * const { o0 } = await runTask(ask, { message: "Say hi" }, { registry });
 * ```
 */
export class ChatGPTTask extends ConnectorTask<typeof inputs, typeof outputs> {
  static readonly TASK_TYPE = CHATGPT_TASK_TYPE;
  readonly chatgptConfig: ChatGPTConfig;
  readonly openaiOrganization: string | undefined;

  constructor({ chatgptConfig, openaiOrganization, ...options }: ChatGPTTaskOptions) {
    // Same check (and the same text) as the Python task.
    if (typeof chatgptConfig?.model !== "string" || !chatgptConfig.model) {
      throw new TypeError("The 'model' configuration variable is required in chatgpt_config");
    }
    super({ ...options, taskType: CHATGPT_TASK_TYPE, inputs, outputs });
    this.chatgptConfig = chatgptConfig;
    this.openaiOrganization = openaiOrganization;
  }

  protected override customConfig(): JsonObject {
    // Python's ChatGPTTask defaults the organization to "" (no header); keep the key so the Struct matches.
    return { openai_organization: this.openaiOrganization ?? "", chatgpt_config: this.chatgptConfig };
  }
}

/**
 * Sync connector for task type `chatgpt`: one `POST /v1/chat/completions` with `chatgpt_config` plus the
 * `message` input as the only message, answering `o0` = the first choice's text. Python-serialized
 * `ChatGPTTask`s run unchanged.
 */
export class ChatGPTConnector extends SyncConnector {
  readonly name = "ChatGPT Connector";
  readonly taskTypeName = CHATGPT_TASK_TYPE;
  override readonly outputTypes = outputs;
  readonly #options: OpenAIConnectionOptions;

  constructor(options: OpenAIConnectionOptions = {}) {
    super();
    this.#options = { ...options };
  }

  async do(request: CreateRequest): Promise<Resource> {
    const { custom, inputs: values, signal } = request;
    const config = custom["chatgpt_config"];
    if (config === null || typeof config !== "object" || Array.isArray(config)) {
      throw new ConnectorError("INVALID_ARGUMENT", "The task's custom config has no chatgpt_config object.");
    }
    if (typeof config["model"] !== "string" || !config["model"]) {
      throw new ConnectorError("INVALID_ARGUMENT", "The 'model' configuration variable is required in chatgpt_config.");
    }
    if (config["stream"] === true) {
      throw new ConnectorError("INVALID_ARGUMENT", "chatgpt_config.stream must not be true: the task returns the whole reply as one string.");
    }
    const organization = custom["openai_organization"];
    if (organization !== undefined && organization !== null && typeof organization !== "string") {
      throw new ConnectorError("INVALID_ARGUMENT", "openai_organization must be a string.");
    }
    const message = values["message"];
    if (typeof message !== "string") throw new ConnectorError("INVALID_ARGUMENT", "The task needs a string input named message.");

    const client = openAIClient(await resolveApiKey(request, this.#options), this.#options);
    // As Python: the input is the conversation; any `messages` in the config are replaced.
    const body = { ...config, stream: false, messages: [{ role: "user", content: message }] } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming;
    const completion = await call("the chat completion", () => client.chat.completions.create(body, requestOptions(signal, organization)));

    const choice = completion.choices?.[0];
    const customInfo: JsonObject = { id: completion.id, model: completion.model, ...(completion.usage ? { usage: completion.usage as unknown as JsonObject } : {}) };
    if (!choice) return { phase: Phase.FAILED, message: "OpenAI answered without any choice.", customInfo };
    const content = choice.message?.content;
    if (typeof content !== "string") {
      const refusal = choice.message?.refusal;
      return {
        phase: Phase.FAILED,
        message: refusal ? `The model refused: ${refusal}` : `The reply has no text (finish_reason: ${choice.finish_reason}).`,
        customInfo,
      };
    }
    return { phase: Phase.SUCCEEDED, outputs: { o0: content }, customInfo };
  }
}
