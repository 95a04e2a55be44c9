import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { TaskTemplateSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { FlyteDatetime, types, variableMap } from "flyte-connectors";
import { queryParameters } from "./query-parameters.js";

test("a DATETIME parameter keeps the input's microseconds (BigQuery's precision)", () => {
  const template = create(TaskTemplateSchema, { interface: { inputs: variableMap({ since: types.datetime }) } });
  const [since] = queryParameters(template, { since: FlyteDatetime.fromISOString("2026-11-21T08:30:00.250123Z") });
  assert.deepEqual(since?.parameterValue, { value: "2026-11-21 08:30:00.250123" });
  const [plain] = queryParameters(template, { since: new Date("2026-11-21T08:30:00.250Z") });
  assert.deepEqual(plain?.parameterValue, { value: "2026-11-21 08:30:00.250000" });
});
