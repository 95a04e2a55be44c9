// Expected JSON derived from flyteorg/flyte-sdk plugins/spark/src/flyteplugins/spark/task.py (commit
// 7e2d4231b559, v2.6.5+1: `PysparkFunctionTask.custom_config`), src/flyte/models.py (SerializationContext
// default interpreter_path "/opt/venv/bin/python", get_entrypoint_path → "<dir>/runtime.py"), src/flyte/_pod.py
// (`to_k8s_pod`) and the field names of flyteidl2/plugins/spark.proto. `applicationType` PYTHON is the enum's
// zero value, so MessageToDict leaves it out.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Spark } from "./config.js";

describe("Spark config", () => {
  it("defaults to flyte-sdk's entry point and interpreter", () => {
    assert.deepEqual(new Spark().toCustom(), {
      mainApplicationFile: "local:///opt/venv/bin/runtime.py",
      executorPath: "/opt/venv/bin/python",
    });
  });

  it("serializes conf, paths and pod templates", () => {
    const spark = new Spark({
      sparkConf: { "spark.executor.instances": "2", "spark.driver.memory": "1g" },
      hadoopConf: { "fs.s3a.path.style.access": "true" },
      executorPath: "/usr/bin/python3",
      applicationsPath: "local:///app/main.py",
      driverPod: { podSpec: { containers: [{ name: "primary", resources: { requests: { cpu: "1" } } }] }, annotations: { a: "b" } },
      executorPod: {},
    });
    assert.deepEqual(spark.toCustom(), {
      mainApplicationFile: "local:///app/main.py",
      sparkConf: { "spark.executor.instances": "2", "spark.driver.memory": "1g" },
      hadoopConf: { "fs.s3a.path.style.access": "true" },
      executorPath: "/usr/bin/python3",
      driverPod: {
        metadata: { annotations: { a: "b" } },
        podSpec: { containers: [{ name: "primary", resources: { requests: { cpu: "1" } } }] },
        primaryContainerName: "primary",
      },
      executorPod: { metadata: {}, podSpec: {}, primaryContainerName: "primary" },
    });
  });

  it("keeps the default application file when only executorPath is set, as Python does", () => {
    assert.equal(new Spark({ executorPath: "/usr/bin/python3" }).toCustom()["mainApplicationFile"], "local:///opt/venv/bin/runtime.py");
  });

  it("rejects non-string settings with the key's name", () => {
    assert.throws(() => new Spark({ sparkConf: { "spark.executor.instances": 2 as never } }), /sparkConf\["spark\.executor\.instances"\] must be a string.*write "2"/);
    assert.throws(() => new Spark({ driverPod: { podSpec: { containers: {} } } }), /driverPod\.podSpec\.containers must be an array/);
    assert.throws(() => new Spark({ executorPath: "" }), /executorPath/);
  });
});
