// The Flyte 1 adapter decodes flyteidl.admin agent requests as their flyteidl2.connector counterparts and encodes
// flyteidl2 answers as Flyte 1 messages, relying on equal field numbers and kinds. This checks that, field by
// field through every nested message, so an upstream change that breaks it fails here, not in production.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { DescField, DescMessage } from "@bufbuild/protobuf";
import * as v1 from "@flyte-connectors/flyteidl/flyteidl/admin/agent_pb.js";
import { LiteralMapSchema } from "@flyte-connectors/flyteidl/flyteidl/core/literals_pb.js";
import * as v2 from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { InputsSchema, OutputsSchema } from "@flyte-connectors/flyteidl2/flyteidl2/task/common_pb.js";

/** A field's wire shape; a map is written as repeated {1: key, 2: value} entries, the same bytes as a list of such messages. */
function shape(field: DescField): string {
  switch (field.fieldKind) {
    case "scalar":
      return `scalar ${field.scalar}`;
    case "enum":
      return "enum";
    case "message":
      return "message";
    case "list":
      return field.listKind === "scalar" ? `list scalar ${field.scalar}` : `list ${field.listKind}`;
    case "map":
      return "list message";
  }
}

/** Entry messages of a map field: key, then value (a message or a scalar). */
function mapValue(field: DescField): DescMessage | undefined {
  return field.fieldKind === "map" && field.mapKind === "message" ? field.message : undefined;
}

/** Fields of `from` that `to` reads differently (fields only `to` has are fine: proto3 defaults). */
function mismatches(from: DescMessage, to: DescMessage, path: string, seen = new Set<string>()): string[] {
  const key = `${from.typeName}>${to.typeName}`;
  if (seen.has(key)) return [];
  seen.add(key);
  const out: string[] = [];
  for (const field of from.fields) {
    const other = to.fields.find((candidate) => candidate.number === field.number);
    if (!other) continue; // kept as an unknown field (e.g. the deprecated task_type), ignored by the reader
    const where = `${path}.${field.name}#${field.number}`;
    if (shape(field) !== shape(other)) {
      out.push(`${where}: ${shape(field)} vs ${shape(other)}`);
      continue;
    }
    // A map<string, M> against a repeated {name/key = 1, value = 2} entry message.
    if (field.fieldKind === "map" && other.fieldKind === "list" && other.listKind === "message") {
      const entry = other.message;
      const keyField = entry.fields.find((f) => f.number === 1);
      const valueField = entry.fields.find((f) => f.number === 2);
      if (keyField?.fieldKind !== "scalar" || keyField.scalar !== field.mapKey) out.push(`${where}: map key vs ${entry.typeName}.1`);
      const value = mapValue(field);
      if (value && valueField?.fieldKind === "message") out.push(...mismatches(value, valueField.message, `${where}[]`, seen));
      else if (value) out.push(`${where}: map value vs ${entry.typeName}.2`);
      continue;
    }
    // The other direction: repeated entry messages read as a map.
    if (field.fieldKind === "list" && field.listKind === "message" && other.fieldKind === "map") {
      const entry = field.message;
      const keyField = entry.fields.find((f) => f.number === 1);
      const valueField = entry.fields.find((f) => f.number === 2);
      if (keyField?.fieldKind !== "scalar" || keyField.scalar !== other.mapKey) out.push(`${where}: ${entry.typeName}.1 vs map key`);
      const value = mapValue(other);
      if (value && valueField?.fieldKind === "message") out.push(...mismatches(valueField.message, value, `${where}[]`, seen));
      else if (value) out.push(`${where}: ${entry.typeName}.2 vs map value`);
      continue;
    }
    const a = field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message") ? field.message : mapValue(field);
    const b = other.fieldKind === "message" || (other.fieldKind === "list" && other.listKind === "message") ? other.message : mapValue(other);
    if (a && b) out.push(...mismatches(a, b, where, seen));
  }
  return out;
}

const pairs: [string, DescMessage, DescMessage][] = [
  ["CreateTaskRequest (v1 → v2)", v1.CreateTaskRequestSchema, v2.CreateTaskRequestSchema],
  ["GetTaskRequest (v1 → v2)", v1.GetTaskRequestSchema, v2.GetTaskRequestSchema],
  ["DeleteTaskRequest (v1 → v2)", v1.DeleteTaskRequestSchema, v2.DeleteTaskRequestSchema],
  ["GetTaskMetricsRequest (v1 → v2)", v1.GetTaskMetricsRequestSchema, v2.GetTaskMetricsRequestSchema],
  ["GetTaskLogsRequest (v1 → v2)", v1.GetTaskLogsRequestSchema, v2.GetTaskLogsRequestSchema],
  ["core.LiteralMap → task.Inputs", LiteralMapSchema, InputsSchema],
  ["CreateTaskResponse (v2 → v1)", v2.CreateTaskResponseSchema, v1.CreateTaskResponseSchema],
  ["GetTaskResponse (v2 → v1)", v2.GetTaskResponseSchema, v1.GetTaskResponseSchema],
  ["GetTaskMetricsResponse (v2 → v1)", v2.GetTaskMetricsResponseSchema, v1.GetTaskMetricsResponseSchema],
  ["GetTaskLogsResponse (v2 → v1)", v2.GetTaskLogsResponseSchema, v1.GetTaskLogsResponseSchema],
  ["task.Outputs → core.LiteralMap", OutputsSchema, LiteralMapSchema],
];

for (const [name, from, to] of pairs) {
  test(`Flyte 1 ↔ flyteidl2 wire compatibility: ${name}`, () => {
    assert.deepEqual(mismatches(from, to, from.typeName), []);
  });
}

test("the checker finds a real difference (GetTaskRequest's task_type #1 against CreateTaskRequest's inputs #1)", () => {
  assert.notDeepEqual(mismatches(v1.GetTaskRequestSchema, v2.CreateTaskRequestSchema, "x"), []);
});
