// flytekit's config templating, reproduced: the expected texts are what CPython 3 (repr/str, flytekit's
// sorted_dict_str and replace_placeholder) and python-xxhash 3.2.0 give for the same values, computed outside the test.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConnectorError, Duration, Float64, FlyteFile, pythonFloatRepr, pythonStr, types } from "flyte-connectors";
import { formatConfig, inputRepr, renderCall, sortedDictStr, type PyValue } from "./templating.js";
import { xxh64Hex } from "./xxh64.js";

test("xxh64 matches python-xxhash on short, 31/32-byte boundary and non-ASCII inputs", () => {
  const vectors: Array<[string, string]> = [
    ["", "ef46db3751d8e999"],
    ["a", "d24ec4f1a98c6e5b"],
    ["abc", "44bc2cf5ad770999"],
    ["x".repeat(31), "60dd0d01083b99f0"],
    ["y".repeat(32), "64da1f1d3495ce66"],
    ["héllo wörld — ünïcode ✓ ".repeat(5), "8ad078857d427b6b"],
    ["0123456789abcdefghijklmnopqrstuvwxyz0123", "8df6b75c7d2f9d11"],
  ];
  for (const [text, hex] of vectors) assert.equal(xxh64Hex(text), hex, JSON.stringify(text));
});

test("Python float repr and str of nested values", () => {
  const floats: Array<[number, string]> = [[1, "1.0"], [0.1, "0.1"], [1e-5, "1e-05"], [1e16, "1e+16"], [123456789012345.6, "123456789012345.6"], [-0, "-0.0"], [2.5e-4, "0.00025"], [1e22, "1e+22"], [0.0001, "0.0001"], [Infinity, "inf"]];
  for (const [value, text] of floats) assert.equal(pythonFloatRepr(value), text, String(value));
  assert.equal(pythonStr([1, new Float64(2), "a'b", { k: null, t: true }, 'x"y', 'it\'s "q"']), `[1, 2.0, "a'b", {'k': None, 't': True}, 'x"y', 'it\\'s "q"']`);
  assert.equal(sortedDictStr({ b: [3, new Float64(1.5), "z", { y: 1 }, [2, 1]], a: { d: null, c: false } }), "{a: {c: False, d: None}, b: [1.5, 3, [1, 2], z, {y: 1}]}");
});

test("placeholders: a whole-string reference keeps the value's type, spliced ones are Python str(); others stay", () => {
  const args = { inputs: { n: 3, f: new Float64(2), flag: true, name: "ep", tags: ["a", "b"] } as Record<string, PyValue> };
  const rendered = formatConfig("sagemaker", { Count: "{inputs.n}", Text: "n={inputs.n} f={inputs.f} flag={inputs.flag} {inputs.tags}", Keep: "{not_a_reference} {x}", Nested: [{ Name: "{inputs.name}" }] }, args, undefined);
  assert.deepEqual(rendered, { Count: 3, Text: "n=3 f=2.0 flag=True ['a', 'b']", Keep: "{not_a_reference} {x}", Nested: [{ Name: "ep" }] });
  // A JSON text may hold references (flytekit's wider pattern fails on it; where flytekit succeeds, results match).
  assert.deepEqual(formatConfig("sagemaker", '{"x": {inputs.n}}', args, undefined), '{"x": 3}');
  assert.throws(() => formatConfig("sagemaker", { A: "{inputs.missing}" }, args, undefined), (error: ConnectorError) => {
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.match(error.message, /^config\.A: \{inputs\.missing\} has no value: there is no "missing" in inputs \(it has "n", "f", "flag", "name", "tags"\)$/);
    return true;
  });
});

test("idempotence tokens are cut so a SageMaker name stays within 63 characters (Python slicing, negative too)", () => {
  const token = "0123456789abcdef";
  const cut = (prefix: string) => formatConfig("sagemaker", `${prefix}-{idempotence_token}`, {}, token);
  assert.equal(cut("a".repeat(50)), `${"a".repeat(50)}-0123456789ab`);
  assert.equal(cut("a".repeat(70)), `${"a".repeat(70)}-01234567`);
  assert.equal(cut("a".repeat(60)), `${"a".repeat(60)}-01`);
  assert.equal(formatConfig("s3", `${"a".repeat(60)}-{idempotence_token}`, {}, token), `${"a".repeat(60)}-${token}`, "only SageMaker names are cut");
});

test("renderCall: region from the `region` input, else custom.region; the token hashes the first-pass config", () => {
  const config = { EndpointName: "xgboost-{idempotence_token}", EndpointConfigName: "xgboost-2628575deb6043ab" };
  const call = renderCall({ service: "sagemaker", config, inputs: {}, region: "us-east-2" });
  assert.deepEqual(call, { config: { EndpointName: "xgboost-47443d3846290641", EndpointConfigName: "xgboost-2628575deb6043ab" }, region: "us-east-2", idempotenceToken: "47443d3846290641" });
  assert.equal(renderCall({ service: "sagemaker", config: { A: "b" }, inputs: { region: "eu-west-1" }, region: "us-east-2" }).region, "eu-west-1");
  assert.equal(renderCall({ service: "sagemaker", config: { A: "b" }, inputs: { region: "" }, region: "us-east-2" }).region, "us-east-2", "Python's `or`: an empty input falls through");
  assert.equal(renderCall({ service: "sagemaker", config: { A: "b" }, inputs: {}, region: "us-east-2" }).idempotenceToken, "", "no token asked for, none made");
  assert.throws(() => renderCall({ service: "sagemaker", config: {}, inputs: undefined, region: undefined }), /Region parameter is required/);
  assert.throws(
    () => renderCall({ service: "sagemaker", config: { Image: "{images.i}" }, inputs: {}, region: "us-gov-west-1", images: { i: "{account_id}.dkr.ecr.{region}.{base}/sagemaker-tritonserver:23.12-py3" } }),
    /no SageMaker Triton image account is known for region "us-gov-west-1"/,
  );
  const cn = renderCall({ service: "sagemaker", config: { Image: "{images.i}" }, inputs: {}, region: "cn-north-1", images: { i: "{account_id}.dkr.ecr.{region}.{base}/sagemaker-tritonserver:23.12-py3" } });
  assert.deepEqual(cn.config, { Image: "472730292857.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-tritonserver:23.12-py3" });
});

test("inputs as flytekit's literal_string_repr: floats by declared type, files as URIs, untyped dicts as JSON text, datetimes as isoformat", () => {
  assert.ok(inputRepr(2, types.float.literalType) instanceof Float64);
  assert.equal(inputRepr(2, types.int.literalType), 2);
  assert.equal(inputRepr(new FlyteFile("s3://b/model.tar.gz"), types.file.literalType), "s3://b/model.tar.gz");
  assert.equal(inputRepr({ a: 1, b: "é" }, types.struct.literalType), '{"a": 1, "b": "\\u00e9"}');
  assert.deepEqual(inputRepr({ a: "x" }, types.map(types.string).literalType), { a: "x" });
  assert.equal(inputRepr(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)), types.datetime.literalType), "2024-01-02T03:04:05.678000+00:00");
  assert.equal(inputRepr(new Date(Date.UTC(2024, 0, 2, 3, 4, 5)), types.datetime.literalType), "2024-01-02T03:04:05+00:00");
  assert.equal(pythonStr(inputRepr(new Duration(90, 500_000_000), types.duration.literalType)), "90.5");
  assert.deepEqual(pythonStr(inputRepr([1, 2], types.list(types.float).literalType)), "[1.0, 2.0]");
});
