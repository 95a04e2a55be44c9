import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DataFrame, Duration, FlyteDir, FlyteFile } from "./index.js";

describe("Duration", () => {
  it("keeps seconds and nanos exact", () => {
    const d = new Duration(86_400n, 5_000);
    assert.equal(d.seconds, 86_400n);
    assert.equal(d.nanos, 5_000);
  });

  it("builds from milliseconds and seconds, including fractions and negatives", () => {
    assert.deepEqual(Duration.fromMillis(1500), new Duration(1n, 500_000_000));
    assert.deepEqual(Duration.fromMillis(-1500.25), new Duration(-1n, -500_250_000));
    assert.deepEqual(Duration.fromSeconds(90.5), new Duration(90n, 500_000_000));
    assert.deepEqual(Duration.fromSeconds(2n ** 62n), new Duration(2n ** 62n, 0));
    assert.equal(Duration.fromMillis(1234.5).toMillis(), 1234.5);
  });

  it("normalizes so seconds and nanos share a sign", () => {
    assert.deepEqual(new Duration(1n, -1), new Duration(0n, 999_999_999));
    assert.deepEqual(new Duration(0n, 2_500_000_000), new Duration(2n, 500_000_000));
    assert.deepEqual(new Duration(-1n, 1), new Duration(0n, -999_999_999));
  });

  it("prints ISO 8601 seconds", () => {
    assert.equal(String(Duration.fromSeconds(90.5)), "PT90.5S");
    assert.equal(String(Duration.fromMillis(-1500)), "-PT1.5S");
    assert.equal(String(new Duration(0n, 1_000)), "PT0.000001S");
    assert.equal(String(new Duration(0n)), "PT0S");
  });

  it("rejects non-finite and non-integral inputs", () => {
    assert.throws(() => Duration.fromMillis(Number.NaN), RangeError);
    assert.throws(() => Duration.fromSeconds(Number.POSITIVE_INFINITY), RangeError);
    assert.throws(() => new Duration(1.5), RangeError);
  });
});

describe("file, dir and dataframe values", () => {
  it("default their format to the empty string, as Python does", () => {
    assert.equal(new FlyteFile("s3://b/k").format, "");
    assert.equal(new FlyteDir("s3://b/d/").format, "");
    assert.equal(new DataFrame("s3://b/df").format, "");
    assert.equal(new DataFrame("s3://b/df").columns, undefined);
  });
});
