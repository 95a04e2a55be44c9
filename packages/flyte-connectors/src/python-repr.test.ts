// The Python spellings are checked against a real CPython (Debian's /usr/bin/python3, which .ci/run installs with
// grpcio): the same values are printed by Python and by these functions.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { Float64 } from "./types/native.js";
import { pythonFloatRepr, pythonRepr, pythonStr, pythonStrRepr } from "./python-repr.js";

const PYTHON = "/usr/bin/python3";
const missing = existsSync(PYTHON) ? undefined : `${PYTHON} is not installed (apt-get install python3)`;
const skip = missing && process.env["CI"] !== "true" ? missing : false;

function python(script: string, input: unknown): unknown {
  if (missing) throw new Error(missing);
  return JSON.parse(execFileSync(PYTHON, ["-c", script], { input: JSON.stringify(input), encoding: "utf8" }));
}

const FLOATS = [0.1, 1, 2.5, -0, 1e16, 1e15, 123456789012345680, 1e-4, 9.99e-5, 1e-7, 5e-324, 1.7976931348623157e308, -3.14159, 100, 0.30000000000000004, 1234.5e10, NaN, Infinity, -Infinity];

test("floats are spelled as Python's repr(float)", { skip }, () => {
  // JSON has no NaN/Infinity: send them as text and let Python make the float.
  const expected = python("import json,sys; print(json.dumps([repr(float(x)) for x in json.load(sys.stdin)]))", FLOATS.map((x) => (Object.is(x, -0) ? "-0.0" : String(x)))) as string[];
  assert.deepEqual(FLOATS.map(pythonFloatRepr), expected);
});

const STRINGS = ["plain", "it's", 'say "hi"', `both ' and "`, "back\\slash", "tab\tnew\nline\rret", "\x00\x07\x1b\x7f", "\x85\xa0\xad", "é ü 日本", "\u2028\u2029\u200b\ufeff", "😀 \u{1F600}", "\u{E000}\u{10FFFF}", "\u0378"];

test("strings are quoted and escaped as Python's repr(str)", { skip }, () => {
  const expected = python("import json,sys; print(json.dumps([repr(s) for s in json.load(sys.stdin)]))", STRINGS) as string[];
  assert.deepEqual(STRINGS.map(pythonStrRepr), expected);
});

test("JSON-like values are spelled as Python's repr and str", { skip }, () => {
  const value = { name: "x", count: 3, ratio: 0.5, whole: new Float64(2), ok: true, none: null, list: [1, "a", false], nested: { k: "it's" } };
  // Python side: the same structure, with `whole` a float.
  const expected = python(
    "import json,sys; v=json.load(sys.stdin); v['whole']=float(v['whole']); print(json.dumps([repr(v), str(v), str('text'), str(None), str(1.0)]))",
    { ...value, whole: 2 },
  ) as string[];
  assert.deepEqual([pythonRepr(value), pythonStr(value), pythonStr("text"), pythonStr(null), pythonStr(new Float64(1))], expected);
});

test("a value Python has no literal for is refused, naming its type", () => {
  assert.throws(() => pythonRepr(() => 1), /no Python repr for a function/);
});
