// The tool definition, tool call and tool message follow the `openai` npm package 6.49.0 types
// (resources/chat/completions: ChatCompletionFunctionTool, ChatCompletionMessageFunctionToolCall,
// ChatCompletionToolMessageParam; resources/shared: FunctionDefinition; resources/responses: FunctionTool),
// checked below at compile time. Tool calls are fakes in that documented shape; no network.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ChatCompletionFunctionTool, ChatCompletionMessageFunctionToolCall, ChatCompletionToolMessageParam } from "openai/resources/chat/completions";
import type { FunctionTool as ResponsesFunctionTool, ResponseFunctionToolCall, ResponseInputItem } from "openai/resources/responses/responses";
import { Duration, FlyteDatetime, FlyteFile, TaskEnvironment, runLocal, types } from "flyte-connectors";
import { ArgumentError, functionTool, runToolCall } from "./index.js";

const env = new TaskEnvironment({ name: "agent_tools" });
const seen: unknown[] = [];
const getWeather = env.task(
  {
    name: "get_weather",
    inputs: {
      city: types.string,
      days: types.int,
      unit: types.enum("celsius", "fahrenheit"),
      when: types.optional(types.datetime),
    },
    outputs: { forecast: types.list(types.float), city: types.string },
  },
  async ({ city, days, unit, when }) => {
    seen.push(when);
    return { forecast: Array.from({ length: Number(days) }, (_, i) => (unit === "celsius" ? 20 + i : 68 + i)), city };
  },
);
const summarize = env.task(
  { name: "summarize", inputs: { doc: types.file, tags: types.map(types.string), wait: types.duration }, outputs: { uri: types.file, took: types.duration } },
  async ({ doc, wait }) => ({ uri: new FlyteFile(`${doc.uri}.summary`), took: wait }),
);

function call(name: string, args: unknown, id = "call_abc123"): ChatCompletionMessageFunctionToolCall {
  return { id, type: "function", function: { name, arguments: typeof args === "string" ? args : JSON.stringify(args) } };
}

describe("functionTool", () => {
  it("describes a task in the Chat Completions tool shape, strict, with the JSON Schema of its inputs", () => {
    const tool = functionTool(getWeather, { description: "Weather forecast for a city", argumentDescriptions: { city: "City name" } });
    const wire: ChatCompletionFunctionTool = tool; // assignable to the openai type
    assert.deepEqual(JSON.parse(JSON.stringify(wire)), {
      type: "function",
      function: {
        name: "get_weather",
        description: "Weather forecast for a city",
        parameters: {
          type: "object",
          properties: {
            city: { type: "string", description: "City name" },
            days: { type: "integer" },
            unit: { type: "string", enum: ["celsius", "fahrenheit"] },
            when: { anyOf: [{ type: "string", format: "date-time" }, { type: "null" }] },
          },
          required: ["city", "days", "unit", "when"],
          additionalProperties: false,
        },
        strict: true,
      },
    });
    const responses: ResponsesFunctionTool = tool.toResponsesTool();
    assert.equal(responses.name, "get_weather");
    assert.equal(responses.strict, true);
  });

  it("is not strict when inputs include a map, and leaves optional inputs out of required then", () => {
    const tool = functionTool(summarize);
    assert.equal(tool.function.strict, false);
    assert.deepEqual(tool.function.parameters["properties"], {
      doc: { type: "string", description: "URI of a file" },
      tags: { type: "object", additionalProperties: { type: "string" } },
      wait: { type: "number", description: "duration in seconds" },
    });
    assert.throws(() => functionTool(summarize, { strict: true }), /strict mode is not possible: input "tags" is a map/);
  });

  it("needs a valid tool name", () => {
    assert.throws(() => functionTool(getWeather, { name: "get weather" }), /tool name "get weather" must be 1-64 letters/);
    assert.throws(() => functionTool(getWeather, { argumentDescriptions: { town: "x" } }), /"town", which is not an input/);
  });
});

describe("runToolCall", () => {
  const tools = [functionTool(getWeather), functionTool(summarize)];

  it("runs the task with the model's arguments and answers with a tool message holding its outputs", async () => {
    const message: ChatCompletionToolMessageParam = await runToolCall(tools, call("get_weather", { city: "Lyon", days: 2, unit: "celsius", when: "2026-03-01T09:00:00Z" }));
    assert.deepEqual(message, { role: "tool", tool_call_id: "call_abc123", content: '{"forecast":[20,21],"city":"Lyon"}' });
    assert.deepEqual(seen.at(-1), FlyteDatetime.fromISOString("2026-03-01T09:00:00Z"));
    assert.ok(seen.at(-1) instanceof Date, "still a Date");
  });

  it("answers a Responses API function_call with a function_call_output item", async () => {
    // The output item shape of a Responses API reply (openai 6.49.0 `ResponseFunctionToolCall`).
    const item: ResponseFunctionToolCall = {
      type: "function_call",
      id: "fc_1",
      call_id: "call_resp_1",
      name: "get_weather",
      arguments: JSON.stringify({ city: "Lima", days: 1, unit: "celsius", when: null }),
      status: "completed",
    };
    const answer: ResponseInputItem.FunctionCallOutput = await runToolCall(tools, item);
    assert.deepEqual(answer, { type: "function_call_output", call_id: "call_resp_1", output: '{"forecast":[20],"city":"Lima"}' });
    await assert.rejects(runToolCall(tools, { ...item, name: "nope" }), /unknown tool "nope"/);
  });

  it("converts files and durations both ways", async () => {
    const message = await runToolCall(tools, call("summarize", { doc: "s3://b/doc.txt", tags: { lang: "en" }, wait: 1.5 }, "call_2"));
    assert.deepEqual(JSON.parse(message.content), { uri: "s3://b/doc.txt.summary", took: 1.5 });
  });

  it("passes null for a left-out optional argument", async () => {
    await runToolCall(tools, call("get_weather", { city: "Oslo", days: 1, unit: "celsius" }));
    assert.equal(seen.at(-1), null);
  });

  it("rejects bad arguments with an error naming the argument", async () => {
    const cases: [unknown, RegExp][] = [
      [{ city: "Lyon", days: 2.5, unit: "celsius" }, /tool "get_weather": argument "days": expected an integer, got 2.5/],
      [{ city: "Lyon", days: 2, unit: "kelvin" }, /argument "unit": expected one of "celsius", "fahrenheit", got "kelvin"/],
      [{ city: "Lyon", days: 2, unit: "celsius", when: "tomorrow" }, /argument "when": matches none of its types/],
      [{ days: 2, unit: "celsius" }, /missing argument "city"/],
      [{ city: "Lyon", days: 2, unit: "celsius", country: "FR" }, /unknown argument "country"/],
      ["{not json", /arguments are not valid JSON/],
    ];
    for (const [args, error] of cases) {
      await assert.rejects(runToolCall(tools, call("get_weather", args)), (e: Error) => e instanceof ArgumentError && error.test(e.message));
    }
    await assert.rejects(runToolCall(tools, call("summarize", { doc: "s3://d", tags: { a: 1 }, wait: 1 })), /argument "tags\.a": expected a string, got 1/);
    await assert.rejects(runToolCall(tools, call("get_forecast", {})), /unknown tool "get_forecast" \(tools: get_weather, summarize\)/);
  });

  it("runs the tool as an action of the current run when called inside one", async () => {
    const agent = env.task({ name: "agent", outputs: { answer: types.string } }, async () => {
      const reply = await runToolCall(tools, call("get_weather", { city: "Kyoto", days: 1, unit: "fahrenheit", when: null }));
      return { answer: reply.content };
    });
    const lines: string[] = [];
    const out = await runLocal(agent, {}, { output: { write: (s: string) => lines.push(s) } });
    assert.equal(out.answer, '{"forecast":[68],"city":"Kyoto"}');
    // The tool ran as an action of the agent's run (a separate run would be quiet and write nothing here).
    assert.match(lines.join(""), /^\[a1 agent_tools\.get_weather\] SUCCEEDED/m);
  });

  it("uses a custom runner when given one", async () => {
    const calls: unknown[] = [];
    const message = await runToolCall(tools, call("summarize", { doc: "gs://x", tags: {}, wait: 0 }), {
      run: async (task, inputs) => (calls.push([task.name, inputs]), { uri: new FlyteFile("gs://y"), took: Duration.fromSeconds(2) }),
    });
    assert.equal(message.content, '{"uri":"gs://y","took":2}');
    assert.deepEqual(calls, [["agent_tools.summarize", { doc: new FlyteFile("gs://x", ""), tags: {}, wait: Duration.fromSeconds(0) }]]);
  });
});
