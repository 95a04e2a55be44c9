import assert from "node:assert/strict";
import { test } from "node:test";
import { Duration, FlyteDatetime, FlyteDir, types } from "flyte-connectors";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { InputError, outputsToJson, parseInputs, parseValue } from "./inputs.js";

// A folder that exists wherever the tests run (local paths of File and Dir inputs must exist).
const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

const cwd = "/work";

test("durations: seconds, compact units and ISO 8601", () => {
  const seconds = (text: string) => (parseValue(text, types.duration.literalType, cwd) as Duration).toMillis() / 1000;
  assert.equal(seconds("90"), 90);
  assert.equal(seconds("1.5"), 1.5);
  assert.equal(seconds("1h30m"), 5400);
  assert.equal(seconds("2m3s"), 123);
  assert.equal(seconds("250ms"), 0.25);
  assert.equal(seconds("PT1H"), 3600);
  assert.equal(seconds("P1DT1S"), 86401);
  assert.equal(seconds("-10s"), -10);
  for (const bad of ["", "1x", "h", "PT", "1h 30m"]) assert.throws(() => parseValue(bad, types.duration.literalType, cwd), /expected a duration/, bad);
});

test("--dataset-uri matches an input named dataset_uri; --no-<bool> is false; unions try their variants", () => {
  const inputs = { dataset_uri: types.string, dry_run: types.boolean, limit: types.union(types.int, types.string), dir: types.dir };
  const values = parseInputs(["--dataset-uri", "gs://b/d.csv", "--no-dry-run", "--limit", "ten", "--dir", "src"], inputs, "t", here);
  assert.deepEqual(values, { dataset_uri: "gs://b/d.csv", dry_run: false, limit: "ten", dir: new FlyteDir(path.join(here, "src")) });
  assert.equal(parseInputs(["--limit", "10", "--dataset_uri", "x", "--dry_run", "--dir", "s3://b/"], inputs, "t", cwd)["limit"], 10);
});

test("problems are InputErrors that list the inputs", () => {
  const inputs = { n: types.int, when: types.datetime };
  const attempt = (args: string[]) => {
    try {
      parseInputs(args, inputs, "my.task", cwd);
    } catch (error) {
      assert.ok(error instanceof InputError);
      assert.match(error.message, /Inputs of my\.task:\n {2}--n <int> +e\.g\. 42\n {2}--when <datetime> +e\.g\. /);
      return error.message.split("\n")[0];
    }
    assert.fail("no error");
  };
  assert.equal(attempt(["--n", "1"]), "missing input --when.");
  assert.equal(attempt(["--n", "1", "--n", "2", "--when", "2026-01-01"]), "--n is given twice.");
  assert.equal(attempt(["--n"]), "--n needs a value (int).");
  assert.equal(attempt(["n", "1"]), 'unexpected argument "n": give inputs as --<name> <value>.');
  assert.match(attempt(["--n", "1", "--when", "yesterday"])!, /bad value for --when \(datetime\): "yesterday"/);
});

test("outputs JSON keeps big integers exact and writes files and durations as text", () => {
  const json = outputsToJson({ big: 2n ** 64n, d: Duration.fromSeconds(90), s: "\u0000bigint0\u0000" });
  assert.equal(json, '{\n  "big": 18446744073709551616,\n  "d": "PT90S",\n  "s": "\\u0000bigint0\\u0000"\n}');
});

test("date-times: ISO 8601 only; without a zone the time is UTC (as flyte-sdk stores naive datetimes)", () => {
  const iso = (text: string) => (parseValue(text, types.datetime.literalType, cwd) as Date).toISOString();
  assert.equal(iso("2026-01-31"), "2026-01-31T00:00:00.000Z");
  assert.equal(iso("2026-01-31T12:30"), "2026-01-31T12:30:00.000Z");
  assert.equal(iso("2026-01-31 12:30:15.25"), "2026-01-31T12:30:15.250Z");
  assert.equal(iso("2026-01-31T12:00:00+02:00"), "2026-01-31T10:00:00.000Z");
  for (const bad of ["5", "March 3", "2026-13-01", "yesterday", "2026-01-31T25:00"]) {
    assert.throws(() => parseValue(bad, types.datetime.literalType, cwd), /expected an ISO 8601 date-time/, bad);
  }
});

test("a File or Dir input given as a local path must exist; URIs are taken as they are", () => {
  const inputs = { data: types.file, out: types.dir };
  assert.throws(() => parseInputs(["--data", "no-such.csv", "--out", "s3://b/o"], inputs, "t", here), (error: unknown) => {
    assert.ok(error instanceof InputError);
    assert.match(error.message, /bad value for --data \(file\): "no-such\.csv": no such local file: .*no-such\.csv/);
    return true;
  });
  assert.throws(() => parseInputs(["--data", "package.json", "--out", "missing-dir"], inputs, "t", here), /no such local directory/);
  assert.deepEqual(parseInputs(["--data", "package.json", "--out", "s3://b/o"], inputs, "t", here)["out"], new FlyteDir("s3://b/o"));
});

test("date-times keep their microseconds (and nanoseconds) to the task and back to the outputs JSON", () => {
  const when = parseValue("2026-01-31T12:30:15.123456", types.datetime.literalType, cwd);
  assert.ok(when instanceof FlyteDatetime);
  assert.equal(when.nanos, 123_456_000);
  assert.equal(outputsToJson({ when }), '{\n  "when": "2026-01-31T12:30:15.123456Z"\n}');
});

test("a dataclass input missing a required field is refused, naming the input and the field", () => {
  const job = types.dataclass({
    title: "Job",
    type: "object",
    properties: { id: { type: "string" }, inner: { $ref: "#/$defs/Inner" } },
    required: ["id"],
    $defs: { Inner: { title: "Inner", type: "object", properties: { n: { type: "integer" } }, required: ["n"] } },
  });
  assert.throws(() => parseInputs(["--job", '{"inner": {"n": 1}}'], { job }, "t", cwd), (error: unknown) => {
    assert.ok(error instanceof InputError);
    assert.match(error.message, /^bad value for --job \(.*\): .*missing required field "id" of Job\./);
    return true;
  });
  assert.throws(() => parseInputs(["--job", '{"id": "a", "inner": {}}'], { job }, "t", cwd), /at \.inner: missing required field "n" of Inner/);
  assert.deepEqual(parseInputs(["--job", '{"id": "a"}'], { job }, "t", cwd), { job: { id: "a" } });
});
