import assert from "node:assert/strict";
import { test } from "node:test";
import { ConnectorError, Duration, FlyteDatetime } from "flyte-connectors";
import { bindStatement } from "./statement.js";

function rejectsWith(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConnectorError, `expected a ConnectorError, got ${String(error)}`);
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.match(error.message, pattern);
    return true;
  });
}

test("without inputs the template is sent unchanged, % signs included (as Python sends it)", () => {
  const template = "SELECT * FROM t WHERE name LIKE 'a%' AND x = '%(y)s'";
  assert.deepEqual(bindStatement(template, {}), { statement: template, bindings: {} });
});

test("%(name)s placeholders become typed bind variables in order; %% becomes %", () => {
  const when = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678));
  const bound = bindStatement(
    "SELECT %(id)s, %(ratio)s, %(name)s, %(flag)s, %(when)s, %(big)s, %(missing)s, %(id)s WHERE s LIKE 'x%%'",
    { id: 7, ratio: 0.5, name: "o'hara; DROP TABLE t", flag: true, when, big: 2n ** 70n, missing: null },
  );
  assert.equal(bound.statement, "SELECT ?, ?, ?, ?, ?, ?, NULL, ? WHERE s LIKE 'x%'");
  assert.deepEqual(bound.bindings, {
    "1": { type: "FIXED", value: "7" },
    "2": { type: "REAL", value: "0.5" },
    "3": { type: "TEXT", value: "o'hara; DROP TABLE t" },
    "4": { type: "BOOLEAN", value: "true" },
    "5": { type: "TEXT", value: "2024-01-02 03:04:05.678000+00:00" },
    "6": { type: "FIXED", value: "1180591620717411303424" },
    "7": { type: "FIXED", value: "7" },
  });
});

test("lists expand to (?, ?, …) for IN clauses; dicts bind as JSON text; timedeltas as Python writes them", () => {
  const bound = bindStatement("SELECT PARSE_JSON(%(doc)s), %(wait)s FROM t WHERE id IN %(ids)s", {
    ids: [1, 2, 3],
    doc: { a: [1, "x"], n: 5n },
    wait: new Duration(90061, 500_000_000),
  });
  assert.equal(bound.statement, "SELECT PARSE_JSON(?), ? FROM t WHERE id IN (?, ?, ?)");
  assert.deepEqual(Object.values(bound.bindings), [
    { type: "TEXT", value: '{"a":[1,"x"],"n":"5"}' },
    { type: "TEXT", value: "25:01:01.500000" },
    { type: "FIXED", value: "1" },
    { type: "FIXED", value: "2" },
    { type: "FIXED", value: "3" },
  ]);
});

test("batch mode repeats the VALUES clause once per row, as the Python plugin expands it", () => {
  const bound = bindStatement(
    "INSERT INTO users (id, name) VALUES (%(id)s, UPPER(%(name)s)) -- 100%%",
    { id: [1, 2], name: ["ann", "bob"] },
    true,
  );
  assert.equal(bound.statement, "INSERT INTO users (id, name) VALUES (?, UPPER(?)), (?, UPPER(?)) -- 100%");
  assert.deepEqual(Object.values(bound.bindings).map((b) => b.value), ["1", "ann", "2", "bob"]);
});

test("bad templates and inputs are INVALID_ARGUMENT naming the problem", () => {
  rejectsWith(() => bindStatement("SELECT %(nope)s", { id: 1 }), /no input "nope"/);
  rejectsWith(() => bindStatement("SELECT 100% FROM t WHERE id = %(id)s", { id: 1 }), /"%%"/);
  rejectsWith(() => bindStatement("SELECT %(id)d", { id: 1 }), /not a %\(name\)s placeholder/);
  rejectsWith(() => bindStatement("SELECT * FROM t WHERE id IN %(ids)s", { ids: [] }), /empty list/);
  rejectsWith(() => bindStatement("SELECT %(f)s", { f: new Uint8Array(2) }), /Uint8Array, which cannot be bound/);
  rejectsWith(() => bindStatement("INSERT INTO t VALUES (%(a)s)", { a: [1], b: [1, 2] }, true), /same length/);
  rejectsWith(() => bindStatement("INSERT INTO t VALUES (%(a)s)", { a: 1 }, true), /"a" is not/);
  rejectsWith(() => bindStatement("INSERT INTO t SELECT %(a)s", { a: [1] }, true), /VALUES/);
  rejectsWith(() => bindStatement("INSERT INTO t VALUES (%(a)s); INSERT INTO u VALUES (%(a)s)", { a: [1] }, true), /exactly one/);
  rejectsWith(() => bindStatement("INSERT INTO t VALUES (%(a)s) WHERE %(a)s", { a: [1] }, true), /no input "a"/);
});

test("a datetime input keeps its microseconds in the bound text, as Python's str(datetime) writes them", () => {
  const when = FlyteDatetime.fromISOString("2024-01-02T03:04:05.678901Z");
  assert.deepEqual(bindStatement("SELECT %(when)s", { when }).bindings, { "1": { type: "TEXT", value: "2024-01-02 03:04:05.678901+00:00" } });
});
