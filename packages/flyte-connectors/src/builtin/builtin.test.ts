import assert from "node:assert/strict";
import { test } from "node:test";
import { create, equals } from "@bufbuild/protobuf";
import { CreateTaskRequestSchema, DeleteTaskRequestSchema, GetTaskRequestSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { InputsSchema } from "@flyte-connectors/flyteidl2/flyteidl2/task/common_pb.js";
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

test("echo get with a corrupt inner payload is INVALID_ARGUMENT naming the problem, never INTERNAL", async () => {
  const dispatcher = new ConnectorDispatcher(new ConnectorRegistry().register(builtinConnectors[0]!));
  const get = (meta: string) =>
    dispatcher.getTask(create(GetTaskRequestSchema, { taskCategory: { name: "echo" }, resourceMeta: new TextEncoder().encode(meta) }), signal());
  await assert.rejects(get('{"inputs":"/w=="}'), {
    code: "INVALID_ARGUMENT",
    message: /^Cannot decode resource meta as EchoMeta: field "inputs" is not a serialized flyteidl2\.task\.Inputs/,
  });
  await assert.rejects(get('{"inputs":"not base64!"}'), { code: "INVALID_ARGUMENT", message: /field "inputs" is not base64/ });
  // Delete of such a meta is OK (the backend would retry a failed delete forever).
  await dispatcher.deleteTask(create(DeleteTaskRequestSchema, { taskCategory: { name: "echo" }, resourceMeta: new TextEncoder().encode('{"inputs":"/w=="}') }), signal());
});

test("echo returns a datetime with microseconds and a dict with whole floats exactly as sent", async () => {
  const dispatcher = new ConnectorDispatcher(new ConnectorRegistry().register(builtinConnectors[0]!));
  // As flyte-sdk writes them: Timestamp with microseconds, msgpack float64 2.0.
  const when = create(LiteralSchema, {
    value: { case: "scalar", value: { value: { case: "primitive", value: { value: { case: "datetime", value: { seconds: 1_767_323_045n, nanos: 123_456_000 } } } } } },
  });
  const PY_RATIO = Uint8Array.from([0x81, 0xa5, ...Buffer.from("ratio"), 0xcb, 0x40, 0, 0, 0, 0, 0, 0, 0]);
  const config = create(LiteralSchema, { value: { case: "scalar", value: { value: { case: "binary", value: { value: PY_RATIO, tag: "msgpack" } } } } });
  const inputTypes = { when: types.datetime, config: types.struct };
  const inputs = create(InputsSchema, { literals: [{ name: "when", value: when }, { name: "config", value: config }] });
  const { resourceMeta } = await dispatcher.createTask(
    create(CreateTaskRequestSchema, { template: { type: "echo", interface: { inputs: variableMap(inputTypes) } }, inputs }),
    signal(),
  );
  const { resource } = await dispatcher.getTask(create(GetTaskRequestSchema, { taskCategory: { name: "echo" }, resourceMeta }), signal());
  const got = Object.fromEntries(resource!.outputs!.literals.map((l) => [l.name, l.value]));
  assert.ok(equals(LiteralSchema, got["when"]!, when), "the datetime keeps its microseconds");
  assert.ok(equals(LiteralSchema, got["config"]!, config), "2.0 stays a msgpack float64");
});
