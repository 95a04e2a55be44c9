import assert from "node:assert/strict";
import { test } from "node:test";
import { AsyncConnector, SyncConnector, type CreateRequest, type Resource } from "../connector.js";
import { Phase } from "../phase.js";
import { ConnectorRegistry } from "../registry.js";
import { ResourceMeta } from "../resource-meta.js";
import { TaskFailedError } from "../executor/index.js";
import { ConnectorTask } from "../task/index.js";
import { FlyteFile, types } from "../types/index.js";
import { ActionFailedError, callTask, runLocal, TaskEnvironment, type LinkContext, type TaskLink } from "./index.js";

/** Upper-cases its input; fails for "boom". */
class UpperConnector extends SyncConnector {
  readonly name = "Upper";
  readonly taskTypeName = "upper";
  async do({ inputs }: CreateRequest): Promise<Resource> {
    if (inputs["text"] === "boom") return { phase: Phase.FAILED, message: "cannot shout boom" };
    return {
      phase: Phase.SUCCEEDED,
      outputs: { text: String(inputs["text"]).toUpperCase() },
      logLinks: [{ name: "upper-console", uri: "https://upper.example.com/job/1" }],
    };
  }
}
const upper = new ConnectorTask({ name: "upper", taskType: "upper", inputs: { text: types.string }, outputs: { text: types.string } });

class JobMeta extends ResourceMeta.define({ job: "string" }) {}
/** Never finishes; counts deletes. */
class ForeverConnector extends AsyncConnector<JobMeta> {
  readonly name = "Forever";
  readonly taskTypeName = "forever";
  readonly metadataType = JobMeta;
  deletes = 0;
  async create() {
    return new JobMeta({ job: "j" });
  }
  async get(): Promise<Resource> {
    return { phase: Phase.RUNNING };
  }
  async delete() {
    this.deletes++;
  }
}

function capture() {
  let text = "";
  return { stream: { isTTY: true, write: (chunk: string) => (text += chunk) }, text: () => text };
}

const registry = () => new ConnectorRegistry().register(new UpperConnector());
const quiet = { quiet: true, handleSigint: false, pollInterval: 5 } as const;

test("function tasks call function and connector tasks; outputs are typed and each action is reported", async () => {
  const env = new TaskEnvironment({ name: "wf" });
  const greet = env.task({ name: "greet", inputs: { who: types.string }, outputs: { text: types.string } }, ({ who }) => ({ text: `hello ${who}` }));
  const link: TaskLink = { name: "tracker", uri: (c: LinkContext) => `https://tracker.example.com/${c.runName}/${c.actionName}?parent=${c.parentActionName}` };
  const main = env.task(
    { name: "main", inputs: { who: types.string, times: types.int }, outputs: { text: types.string, count: types.int }, links: [link] },
    async ({ who, times }) => {
      const { text } = await callTask(greet, { who });
      const loud = await callTask(upper, { text });
      return { text: loud.text.repeat(Number(times)), count: times };
    },
  );
  const out = capture();
  const outputs = await runLocal(main, { who: "flyte", times: 2 }, { registry: registry(), output: out.stream, runName: "r1", handleSigint: false, pollInterval: 5 });
  const text: string = outputs.text;
  assert.equal(text, "HELLO FLYTEHELLO FLYTE");
  assert.equal(outputs.count, 2);
  const lines = out.text().split("\n");
  // whole lines only, even on a TTY: several actions share the output
  assert.ok(!out.text().includes("\r"), out.text());
  assert.match(out.text(), /^\[a0 wf\.main\] RUNNING/m);
  assert.ok(lines.includes("[a0 wf.main] tracker: https://tracker.example.com/r1/a0?parent="), out.text());
  assert.match(out.text(), /^\[a1 wf\.greet\] SUCCEEDED/m);
  assert.ok(lines.includes("[a2 upper] upper-console: https://upper.example.com/job/1"), out.text());
  assert.match(out.text(), /^\[a0 wf\.main\] SUCCEEDED/m);
});

test("a failing connector task fails the run with an ActionFailedError naming that action", async () => {
  const env = new TaskEnvironment({ name: "wf" });
  const inner = env.task({ name: "inner", inputs: { text: types.string } }, async ({ text }) => {
    await callTask(upper, { text });
    return {};
  });
  const outer = env.task({ name: "outer" }, async () => {
    await callTask(inner, { text: "fine" });
    await callTask(inner, { text: "boom" });
    return {};
  });
  const out = capture();
  const error = await runLocal(outer, {}, { registry: registry(), output: out.stream, handleSigint: false, pollInterval: 5 }).catch((e: unknown) => e);
  assert.ok(error instanceof ActionFailedError);
  // a0 outer, a1 inner, a2 upper, a3 inner, a4 upper (the failing one)
  assert.equal(error.actionName, "a4");
  assert.equal(error.taskName, "upper");
  assert.deepEqual(error.callPath, ["wf.outer", "wf.inner", "upper"]);
  assert.ok(error.cause instanceof TaskFailedError);
  assert.match(error.message, /^Action a4 \(task "upper"\) \(called via wf\.outer → wf\.inner\) failed: .*cannot shout boom/);
  assert.match(out.text(), /^\[a4 upper\] FAILED - cannot shout boom/m);
  assert.match(out.text(), /^\[a0 wf\.outer\] FAILED - action a4 failed/m);
});

test("an exception in a function task names its action; the original error is the cause", async () => {
  const env = new TaskEnvironment({ name: "wf" });
  const bad = env.task({ name: "bad" }, () => {
    throw new RangeError("out of range");
  });
  const error = await runLocal(bad, {}, quiet).catch((e: unknown) => e);
  assert.ok(error instanceof ActionFailedError);
  assert.equal(error.actionName, "a0");
  assert.ok(error.cause instanceof RangeError);
  assert.match(error.message, /task "wf\.bad"\) failed: out of range/);
});

test("inputs and outputs are checked against the declared types, naming the variable", async () => {
  const env = new TaskEnvironment({ name: "wf" });
  const typed = env.task({ name: "typed", inputs: { n: types.int }, outputs: { file: types.file } }, ({ n }) => ({ file: new FlyteFile(`s3://b/${n}`) }));
  const badInput = await runLocal(typed, { n: "three" as unknown as number }, quiet).catch((e: unknown) => e);
  assert.ok(badInput instanceof ActionFailedError);
  assert.match(badInput.message, /n/);
  assert.match(badInput.message, /cannot encode/);
  const liar = env.task({ name: "liar", outputs: { file: types.file } }, () => ({ file: "not a file" }) as never);
  const badOutput = await runLocal(liar, {}, quiet).catch((e: unknown) => e);
  assert.ok(badOutput instanceof ActionFailedError);
  assert.match(badOutput.message, /file/);
  const missing = env.task({ name: "missing", outputs: { file: types.file } }, () => undefined as never);
  await assert.rejects(runLocal(missing, {}, quiet), /returned undefined, expected an object of outputs/);
});

test("a task without outputs may return nothing (as JavaScript callers write it)", async () => {
  const env = new TaskEnvironment({ name: "wf" });
  let ran = false;
  const sideEffect = env.task({ name: "side_effect", inputs: { n: types.int } }, (async () => {
    ran = true;
  }) as unknown as () => Promise<Record<never, never>>);
  assert.deepEqual(await runLocal(sideEffect, { n: 1 }, quiet), {});
  assert.ok(ran);
});

test("two calls of one task are told apart by their action names in the output", async () => {
  const env = new TaskEnvironment({ name: "wf" });
  const twice = env.task({ name: "twice" }, async () => {
    await Promise.all([callTask(upper, { text: "a" }), callTask(upper, { text: "b" })]);
    return {};
  });
  const out = capture();
  await runLocal(twice, {}, { registry: registry(), output: out.stream, handleSigint: false, pollInterval: 5 });
  const lines = out.text().split("\n");
  assert.ok(lines.includes("[a1 upper] upper-console: https://upper.example.com/job/1"), out.text());
  assert.ok(lines.some((line) => line.startsWith("[a2 upper] SUCCEEDED")), out.text());
  assert.ok(lines.some((line) => line.startsWith("[a0 wf.twice] SUCCEEDED")), out.text());
});

test("calling a task outside a run is a clear error", async () => {
  await assert.rejects(callTask(upper, { text: "x" }), /outside a run.*runLocal/);
});

test("cancelling the run deletes the connector job in flight and fails the run as aborted", async () => {
  const forever = new ForeverConnector();
  const waitTask = new ConnectorTask({ name: "wait", taskType: "forever" });
  const env = new TaskEnvironment({ name: "wf" });
  const main = env.task({ name: "main" }, async () => {
    await callTask(waitTask, {});
    return {};
  });
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 50);
  const error = await runLocal(main, {}, { ...quiet, registry: new ConnectorRegistry().register(forever), signal: controller.signal }).catch((e: unknown) => e);
  assert.ok(error instanceof ActionFailedError);
  assert.equal(error.taskName, "wait");
  assert.ok(error.cause instanceof TaskFailedError);
  assert.equal(error.cause.phase, Phase.ABORTED);
  assert.equal(forever.deletes, 1);
});

test("actions called concurrently each get their own name", async () => {
  const env = new TaskEnvironment({ name: "wf" });
  const seen: string[] = [];
  const link: TaskLink = { name: "l", uri: (c) => (seen.push(`${c.parentActionName}>${c.actionName}`), "https://x") };
  const leaf = env.task({ name: "leaf", inputs: { i: types.int }, outputs: { i: types.int }, links: [link] }, async ({ i }) => ({ i }));
  const fan = env.task({ name: "fan", outputs: { sum: types.int } }, async () => {
    const results = await Promise.all([1, 2, 3].map((i) => callTask(leaf, { i })));
    return { sum: results.reduce((a, r) => a + Number(r.i), 0) };
  });
  assert.deepEqual(await runLocal(fan, {}, quiet), { sum: 6 });
  assert.deepEqual(seen.sort(), ["a0>a1", "a0>a2", "a0>a3"]);
});
