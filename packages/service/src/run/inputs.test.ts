import assert from "node:assert/strict";
import { test } from "node:test";
import { Duration, FlyteDir, types } from "flyte-connectors";
import { InputError, outputsToJson, parseInputs, parseValue } from "./inputs.js";

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
  const values = parseInputs(["--dataset-uri", "gs://b/d.csv", "--no-dry-run", "--limit", "ten", "--dir", "out"], inputs, "t", cwd);
  assert.deepEqual(values, { dataset_uri: "gs://b/d.csv", dry_run: false, limit: "ten", dir: new FlyteDir("/work/out") });
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
