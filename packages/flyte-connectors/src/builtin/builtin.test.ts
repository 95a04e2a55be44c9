import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { CreateTaskRequestSchema, GetTaskRequestSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { LiteralSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/literals_pb.js";
import { ConnectorDispatcher } from "../dispatcher.js";
import { Phase } from "../phase.js";
import { ConnectorRegistry } from "../registry.js";
import { Duration, encodeInputs, types, variableMap } from "../types/index.js";
import { builtinConnectors, SleepConnector } from "./index.js";

const signal = () => new AbortController().signal;

test("echo succeeds on the first poll with outputs equal to its inputs", async () => {
  const dispatcher = new ConnectorDispatcher(new ConnectorRegistry().register(builtinConnectors[0]!));
  const inputTypes = { ratio: types.float, count: types.int, tags: types.list(types.string), when: types.datetime };
  const inputs = await encodeInputs({ ratio: 2, count: 2, tags: ["a", "b"], when: new Date("2026-01-02T03:04:05Z") }, inputTypes);
  const { resourceMeta } = await dispatcher.createTask(
    create(CreateTaskRequestSchema, { template: { type: "echo", interface: { inputs: variableMap(inputTypes) } }, inputs }),
    signal(),
  );
  const { resource } = await dispatcher.getTask(create(GetTaskRequestSchema, { taskCategory: { name: "echo" }, resourceMeta }), signal());
  assert.equal(resource?.phase, Phase.SUCCEEDED);
  const byName = (list: { name: string; value?: unknown }[]) => Object.fromEntries(list.map((l) => [l.name, l.value]));
  const sent = byName(inputs.literals);
  const got = byName(resource!.outputs!.literals);
  assert.deepEqual(Object.keys(got).sort(), ["count", "ratio", "tags", "when"]);
  for (const name of Object.keys(sent)) {
    // The same literal: a float 2.0 stays a float, an int stays an int.
    assert.deepEqual(got[name], sent[name], name);
    assert.ok(got[name] && (got[name] as { $typeName?: string }).$typeName === LiteralSchema.typeName);
  }
});

test("sleep runs until its duration has passed since create, computed from the meta alone", async () => {
  let now = 1_000_000;
  const clock = () => now;
  const inputTypes = { duration: types.duration };
  const createOn = new ConnectorDispatcher(new ConnectorRegistry().register(new SleepConnector(clock)));
  const { resourceMeta } = await createOn.createTask(
    create(CreateTaskRequestSchema, {
      template: { type: "sleep", interface: { inputs: variableMap(inputTypes) } },
      inputs: await encodeInputs({ duration: Duration.fromSeconds(90) }, inputTypes),
    }),
    signal(),
  );
  // A fresh process (another dispatcher and connector) answers from the meta alone.
  const restarted = new ConnectorDispatcher(new ConnectorRegistry().register(new SleepConnector(clock)));
  const poll = async () => (await restarted.getTask(create(GetTaskRequestSchema, { taskCategory: { name: "sleep" }, resourceMeta }), signal())).resource!;
  now += 30_000;
  assert.equal((await poll()).phase, Phase.RUNNING);
  assert.match((await poll()).message, /60 s left/);
  now += 60_000;
  assert.equal((await poll()).phase, Phase.SUCCEEDED);
});

test("sleep without a duration input is INVALID_ARGUMENT", async () => {
  const dispatcher = new ConnectorDispatcher(new ConnectorRegistry().register(new SleepConnector()));
  await assert.rejects(dispatcher.createTask(create(CreateTaskRequestSchema, { template: { type: "sleep" } }), signal()), {
    code: "INVALID_ARGUMENT",
    message: /needs an input "duration"/,
  });
});

test("echo refuses inputs too large to carry in its resource meta, with an error that says why", async () => {
  const dispatcher = new ConnectorDispatcher(new ConnectorRegistry().register(builtinConnectors[0]!));
  const inputTypes = { blob: types.string };
  await assert.rejects(
    dispatcher.createTask(
      create(CreateTaskRequestSchema, {
        template: { type: "echo", interface: { inputs: variableMap(inputTypes) } },
        inputs: await encodeInputs({ blob: "x".repeat(2 * 1024 * 1024) }, inputTypes),
      }),
      signal(),
    ),
    { code: "FAILED_PRECONDITION", message: /Connector "Echo Connector" produced a resource meta of \d+ bytes, over the 1048576-byte limit/ },
  );
});
