/**
 * OpenAI tool calling with Flyte tasks (the TypeScript side of flyte-sdk's `flyteplugins.agents.openai.tool`):
 * {@link functionTool} describes a task as a function tool for the Chat Completions (or Responses) API, and
 * {@link runToolCall} runs the model's call of it and returns the tool message to send back.
 *
 * Shapes follow the `openai` npm package 6.x types (`ChatCompletionFunctionTool`, `FunctionDefinition`,
 * `ChatCompletionMessageFunctionToolCall`, `ChatCompletionToolMessageParam`, Responses `FunctionTool`); they are
 * declared here so this package does not depend on `openai`, and the objects are assignable to those types.
 */
import { callTask, isInRun, runLocal, type FunctionTask, type InferShape, type TypeSpecs } from "flyte-connectors";
import { ArgumentError, fromJsonArgument, isOptional, parametersSchema, strictBlocker, toJsonResult, type JsonSchema } from "./schema.js";

export { ArgumentError } from "./schema.js";
export type { JsonSchema } from "./schema.js";

/** OpenAI's function definition (`FunctionDefinition` of the `openai` package). */
export interface FunctionDefinition {
  /** `^[a-zA-Z0-9_-]{1,64}$`. */
  readonly name: string;
  readonly description?: string;
  /** JSON Schema of the arguments object. */
  readonly parameters: JsonSchema;
  readonly strict?: boolean;
}

/** A model's call of a function tool in a Chat Completions response (`ChatCompletionMessageFunctionToolCall`). */
export interface ToolCall {
  readonly id: string;
  readonly type: "function";
  readonly function: { readonly name: string; readonly arguments: string };
}

/** A model's call of a function tool in a Responses API output item (`ResponseFunctionToolCall`). */
export interface ResponsesToolCall {
  readonly type: "function_call";
  readonly call_id: string;
  readonly name: string;
  readonly arguments: string;
}

/** The input item answering a Responses API function call (`ResponseInputItem.FunctionCallOutput`). */
export interface ResponsesToolOutput {
  readonly type: "function_call_output";
  readonly call_id: string;
  /** The task's outputs as JSON text. */
  readonly output: string;
}

/** The message answering a tool call (`ChatCompletionToolMessageParam`). */
export interface ToolMessage {
  readonly role: "tool";
  readonly tool_call_id: string;
  /** The task's outputs as JSON text. */
  readonly content: string;
}

/** What {@link functionTool} takes. */
export interface FunctionToolOptions {
  /** Tool name the model calls. Default: the task's short name (its name in the environment, e.g. `get_weather`). */
  readonly name?: string;
  /** What the tool does, for the model. Default: none (give one: models choose tools by it). */
  readonly description?: string;
  /** Descriptions of the task's inputs, by input name. Default: none. */
  readonly argumentDescriptions?: Readonly<Record<string, string>>;
  /**
   * OpenAI strict mode (arguments always match the schema). Default: true when the inputs can be described
   * strictly (no maps or free-form objects), else false.
   */
  readonly strict?: boolean;
}

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * A task as an OpenAI function tool. It serializes (JSON.stringify, as the OpenAI client sends it) to
 * `{ type: "function", function: { name, description, parameters, strict } }`, so it goes straight into
 * `tools: [...]` of a Chat Completions request.
 */
export class FunctionTool<I extends TypeSpecs = TypeSpecs, O extends TypeSpecs = TypeSpecs> {
  readonly type = "function" as const;
  readonly function: FunctionDefinition;
  // Private so that it is not serialized into the request.
  readonly #task: FunctionTask<I, O>;

  constructor(task: FunctionTask<I, O>, options: FunctionToolOptions = {}) {
    if (!task || typeof task.toTaskTemplate !== "function" || typeof task.fn !== "function") {
      throw new TypeError("functionTool: expected a function task (from env.task(...))");
    }
    const name = options.name ?? task.shortName;
    if (!TOOL_NAME.test(name)) {
      throw new TypeError(`functionTool: tool name "${name}" must be 1-64 letters, digits, "_" or "-"; pass { name } to choose one`);
    }
    for (const key of Object.keys(options.argumentDescriptions ?? {})) {
      if (!(key in task.inputs)) throw new TypeError(`functionTool("${name}"): argumentDescriptions names "${key}", which is not an input of the task`);
    }
    const blocker = strictBlocker(task.inputs);
    if (options.strict && blocker) throw new TypeError(`functionTool("${name}"): strict mode is not possible: ${blocker}`);
    const strict = options.strict ?? !blocker;
    let parameters: JsonSchema;
    try {
      parameters = parametersSchema(task.inputs, strict, options.argumentDescriptions ?? {});
    } catch (error) {
      throw new TypeError(`functionTool("${name}"): ${(error as Error).message}`);
    }
    this.function = Object.freeze({ name, ...(options.description ? { description: options.description } : {}), parameters, strict });
    this.#task = task;
    Object.freeze(this);
  }

  /** The task the tool runs. */
  get task(): FunctionTask<I, O> {
    return this.#task;
  }

  /** The same tool in the Responses API's flat shape: `{ type: "function", name, description, parameters, strict }`. */
  toResponsesTool(): { type: "function"; name: string; description?: string; parameters: JsonSchema; strict: boolean } {
    const { name, description, parameters, strict } = this.function;
    return { type: "function", name, ...(description ? { description } : {}), parameters, strict: strict ?? false };
  }

  /**
   * The task's inputs from a call's JSON arguments: parsed, checked against the input types, converted
   * (date-times to Date, file URIs to FlyteFile, …).
   * @throws ArgumentError naming the argument that does not fit.
   */
  parseArguments(argumentsJson: string): InferShape<I> {
    let args: unknown;
    try {
      args = argumentsJson.trim() === "" ? {} : JSON.parse(argumentsJson);
    } catch (error) {
      throw new ArgumentError(`tool "${this.function.name}": arguments are not valid JSON (${(error as Error).message})`);
    }
    if (typeof args !== "object" || args === null || Array.isArray(args)) {
      throw new ArgumentError(`tool "${this.function.name}": arguments must be a JSON object`);
    }
    const given = args as Record<string, unknown>;
    const inputs: Record<string, unknown> = {};
    for (const key of Object.keys(given)) {
      if (!(key in this.#task.inputs)) throw new ArgumentError(`tool "${this.function.name}": unknown argument "${key}"`);
    }
    for (const [key, spec] of Object.entries(this.#task.inputs)) {
      if (!(key in given) || given[key] === undefined) {
        if (isOptional(spec.literalType)) {
          inputs[key] = null;
          continue;
        }
        throw new ArgumentError(`tool "${this.function.name}": missing argument "${key}"`);
      }
      try {
        inputs[key] = fromJsonArgument(spec.literalType, given[key], key);
      } catch (error) {
        if (error instanceof ArgumentError) throw new ArgumentError(`tool "${this.function.name}": ${error.message}`);
        throw error;
      }
    }
    return inputs as InferShape<I>;
  }
}

/** Describes a task as an OpenAI function tool (see {@link FunctionTool}). @throws TypeError for a bad name or inputs. */
export function functionTool<I extends TypeSpecs, O extends TypeSpecs>(task: FunctionTask<I, O>, options?: FunctionToolOptions): FunctionTool<I, O> {
  return new FunctionTool(task, options);
}

/** What {@link runToolCall} takes besides the tools and the call. */
export interface RunToolCallOptions {
  /**
   * Runs the task. Default: inside a run (a task started with `runLocal`), as a new action of it
   * (`callTask`); outside one, as a run of its own (`runLocal`, quiet).
   */
  readonly run?: (task: FunctionTask<TypeSpecs, TypeSpecs>, inputs: Record<string, unknown>) => Promise<Record<string, unknown>>;
}

/**
 * Runs a model's tool call: finds the tool by name, checks the arguments against the task's inputs, runs the
 * task and returns its outputs as JSON in the answer the API expects, ready to append to the conversation: a
 * `{ role: "tool", tool_call_id, content }` message for a Chat Completions tool call, a
 * `{ type: "function_call_output", call_id, output }` item for a Responses API `function_call`.
 *
 * @throws ArgumentError when the tool is unknown or an argument does not fit (its message names it: send it
 *   back to the model as the tool answer's content to let it retry); the task's own error when it fails.
 */
// `any`: tools for tasks of different input and output types go in one list; each checks its own arguments.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function runToolCall(tools: readonly FunctionTool<any, any>[], toolCall: ToolCall, options?: RunToolCallOptions): Promise<ToolMessage>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function runToolCall(tools: readonly FunctionTool<any, any>[], toolCall: ResponsesToolCall, options?: RunToolCallOptions): Promise<ResponsesToolOutput>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function runToolCall(tools: readonly FunctionTool<any, any>[], toolCall: ToolCall | ResponsesToolCall, options: RunToolCallOptions = {}): Promise<ToolMessage | ResponsesToolOutput> {
  const call =
    toolCall?.type === "function" && typeof toolCall.function?.name === "string"
      ? { name: toolCall.function.name, arguments: toolCall.function.arguments }
      : toolCall?.type === "function_call" && typeof toolCall.name === "string"
        ? { name: toolCall.name, arguments: toolCall.arguments }
        : undefined;
  if (!call) {
    throw new ArgumentError(
      `runToolCall: expected a function tool call ({ id, type: "function", function: { name, arguments } }, or a Responses { type: "function_call", call_id, name, arguments })`,
    );
  }
  const tool = tools.find((t) => t.function.name === call.name);
  if (!tool) {
    throw new ArgumentError(`unknown tool "${call.name}" (tools: ${tools.map((t) => t.function.name).join(", ") || "none"})`);
  }
  const inputs = tool.parseArguments(call.arguments ?? "");
  const outputs = await (options.run ?? runTask)(tool.task as FunctionTask<TypeSpecs, TypeSpecs>, inputs);
  const json = JSON.stringify(outputs, toJsonResult);
  return toolCall.type === "function"
    ? { role: "tool", tool_call_id: toolCall.id, content: json }
    : { type: "function_call_output", call_id: toolCall.call_id, output: json };
}

async function runTask(task: FunctionTask<TypeSpecs, TypeSpecs>, inputs: Record<string, unknown>): Promise<Record<string, unknown>> {
  // Inside a run the call is an action of it; outside, a run of its own.
  return isInRun() ? callTask(task, inputs) : runLocal(task, inputs, { quiet: true, handleSigint: false });
}
