// Expected JSON derived from flyteorg/flyte-sdk plugins/pytorch/src/flyteplugins/pytorch/task.py (commit
// 7e2d4231b559, v2.6.5+1: `TorchFunctionTask.custom_config` / `__post_init__`, nnodes parsed by
// torch.distributed.run.parse_min_max_nnodes) and the field names of flyteidl2/plugins/kubeflow/{pytorch,common}.proto.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Elastic } from "./config.js";

describe("Elastic (PyTorch) config", () => {
  it("serializes a fixed node count with Python's defaults", () => {
    const elastic = new Elastic({ nnodes: 2, nprocPerNode: 4 });
    assert.deepEqual(elastic.toCustom(), {
      workerReplicas: { replicas: 2 },
      elasticConfig: { rdzvBackend: "c10d", minReplicas: 2, maxReplicas: 2, nprocPerNode: 4, maxRestarts: 3 },
    });
    assert.equal(elastic.taskType, "pytorch");
  });

  it("serializes an elastic range and a run policy", () => {
    const elastic = new Elastic({
      nnodes: "1:4",
      nprocPerNode: 8,
      rdzvBackend: "etcd",
      maxRestarts: 0,
      runPolicy: { cleanPodPolicy: "all", ttlSecondsAfterFinished: 600, activeDeadlineSeconds: 7200, backoffLimit: 2 },
    });
    assert.deepEqual(elastic.toCustom(), {
      workerReplicas: { replicas: 4 },
      runPolicy: { cleanPodPolicy: "CLEANPOD_POLICY_ALL", ttlSecondsAfterFinished: 600, activeDeadlineSeconds: 7200, backoffLimit: 2 },
      elasticConfig: { rdzvBackend: "etcd", minReplicas: 1, maxReplicas: 4, nprocPerNode: 8 },
    });
    assert.equal(elastic.taskType, "pytorch");
  });

  it("writes an empty run policy when one is given without fields, and leaves out the zero-valued 'None' policy", () => {
    assert.deepEqual(new Elastic({ nnodes: 2, nprocPerNode: 1, runPolicy: { cleanPodPolicy: "None" } }).toCustom()["runPolicy"], {});
  });

  it("uses task type python-task for the node count 1, as Python does", () => {
    assert.equal(new Elastic({ nnodes: 1, nprocPerNode: 2 }).taskType, "python-task");
    assert.equal(new Elastic({ nnodes: "1:1", nprocPerNode: 2 }).taskType, "pytorch");
  });

  it("rejects bad node ranges and process counts", () => {
    assert.throws(() => new Elastic({ nnodes: "4:2", nprocPerNode: 1 }), /nnodes .*"4:2" has min \(4\) > max \(2\)/);
    assert.throws(() => new Elastic({ nnodes: "1:2:3", nprocPerNode: 1 }), /more than one ':'/);
    assert.throws(() => new Elastic({ nnodes: "two", nprocPerNode: 1 }), /nnodes must be a node count/);
    assert.throws(() => new Elastic({ nnodes: 0, nprocPerNode: 1 }), /nnodes/);
    assert.throws(() => new Elastic({ nnodes: 2, nprocPerNode: 0 }), /nprocPerNode must be a whole number ≥ 1, got 0/);
    assert.throws(() => new Elastic({ nnodes: 2, nprocPerNode: 1, rdzvBackend: "gloo" as never }), /rdzvBackend/);
    assert.throws(() => new Elastic({ nnodes: 2, nprocPerNode: 1, runPolicy: { cleanPodPolicy: "none" as never } }), /cleanPodPolicy/);
  });
});
