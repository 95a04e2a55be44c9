// Expected JSON derived from flyteorg/flyte-sdk plugins/dask/src/flyteplugins/dask/task.py (commit 7e2d4231b559,
// v2.6.5+1: `MessageToDict(DaskJob(scheduler=DaskScheduler(...), workers=DaskWorkerGroup(...)))`) and
// src/flyte/_internal/runtime/resources_serde.py (`get_proto_resources`), with the proto field names of
// flyteidl2/plugins/dask.proto and core/tasks.proto.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Dask } from "./config.js";

describe("Dask config", () => {
  it("defaults to an empty scheduler and one worker, as Dask() in Python", () => {
    assert.deepEqual(new Dask().toCustom(), { scheduler: {}, workers: { numberOfWorkers: 1 } });
  });

  it("serializes images and resources, ranges as request + limit", () => {
    const dask = new Dask({
      scheduler: { image: "ghcr.io/acme/dask:1", resources: { cpu: "500m", memory: "1Gi" } },
      workers: { numberOfWorkers: 4, image: "ghcr.io/acme/dask:1", resources: { cpu: [2, 4], memory: ["8Gi", "16Gi"], gpu: 1, disk: "20Gi" } },
    });
    assert.deepEqual(dask.toCustom(), {
      scheduler: {
        image: "ghcr.io/acme/dask:1",
        resources: { requests: [{ name: "CPU", value: "500m" }, { name: "MEMORY", value: "1Gi" }] },
      },
      workers: {
        numberOfWorkers: 4,
        image: "ghcr.io/acme/dask:1",
        resources: {
          requests: [
            { name: "CPU", value: "2" },
            { name: "MEMORY", value: "8Gi" },
            { name: "GPU", value: "1" },
            { name: "EPHEMERAL_STORAGE", value: "20Gi" },
          ],
          limits: [{ name: "CPU", value: "4" }, { name: "MEMORY", value: "16Gi" }],
        },
      },
    });
  });

  it("leaves out empty resources, as get_proto_resources returns None for them", () => {
    assert.deepEqual(new Dask({ workers: { numberOfWorkers: 2, resources: {} } }).toCustom(), {
      scheduler: {},
      workers: { numberOfWorkers: 2 },
    });
  });

  it("rejects bad worker counts and resources with the option's name", () => {
    assert.throws(() => new Dask({ workers: { numberOfWorkers: 0 } }), /workers\.numberOfWorkers must be a whole number ≥ 1, got 0/);
    assert.throws(() => new Dask({ workers: { numberOfWorkers: 1.5 } }), /numberOfWorkers/);
    assert.throws(() => new Dask({ workers: { resources: { memory: "lots" } } }), /workers\.resources\.memory must be a Kubernetes quantity.*"lots"/);
    assert.throws(() => new Dask({ scheduler: { resources: { cpu: -1 } } }), /scheduler\.resources\.cpu must be ≥ 0/);
    assert.throws(() => new Dask({ scheduler: { resources: { gpus: 1 } as never } }), /unknown resource "gpus"/);
    assert.throws(() => new Dask({ scheduler: { image: "" } }), /scheduler\.image/);
  });

  it("is immutable", () => {
    const dask = new Dask({ workers: { numberOfWorkers: 2 } });
    assert.throws(() => {
      (dask.workers as { numberOfWorkers: number }).numberOfWorkers = 3;
    }, TypeError);
    assert.ok(Object.isFrozen(dask));
  });
});
