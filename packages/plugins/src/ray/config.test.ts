// Expected JSON derived from flyteorg/flyte-sdk plugins/ray/src/flyteplugins/ray/task.py (commit 7e2d4231b559,
// v2.6.5+1: `RayFunctionTask.custom_config`, `_build_node_pod_template`), src/flyte/_resources.py
// (`pod_spec_from_resources`), src/flyte/_pod.py (`PodTemplate.to_k8s_pod`) and the field names of
// flyteidl2/plugins/ray.proto. The runtime_env strings are what Python 3 / PyYAML 6.0.3 print for
// `base64.b64encode(json.dumps(env).encode())` and `yaml.dump(env)`.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { RayJobConfig } from "./config.js";

const RUNTIME_ENV = { pip: ["numpy==1.26.4", "pandas"], env_vars: { LOG_LEVEL: "debug", RETRIES: "3", FLAG: "yes" } };
// json.dumps(RUNTIME_ENV) = '{"pip": ["numpy==1.26.4", "pandas"], "env_vars": {"LOG_LEVEL": "debug", "RETRIES": "3", "FLAG": "yes"}}'
const RUNTIME_ENV_B64 =
  "eyJwaXAiOiBbIm51bXB5PT0xLjI2LjQiLCAicGFuZGFzIl0sICJlbnZfdmFycyI6IHsiTE9HX0xFVkVMIjogImRlYnVnIiwgIlJFVFJJRVMiOiAiMyIsICJGTEFHIjogInllcyJ9fQ==";
const RUNTIME_ENV_YAML = "env_vars:\n  FLAG: 'yes'\n  LOG_LEVEL: debug\n  RETRIES: '3'\npip:\n- numpy==1.26.4\n- pandas\n";

describe("RayJobConfig", () => {
  it("serializes worker groups with resource pod specs, head, runtime env and ttl", () => {
    const ray = new RayJobConfig({
      head: { rayStartParams: { "dashboard-host": "0.0.0.0" }, requests: { cpu: 1, memory: "2Gi" } },
      workers: [
        { groupName: "cpu", replicas: 2, minReplicas: 1, maxReplicas: 4, requests: { cpu: "2" }, limits: { cpu: "4", gpu: 1 } },
        { groupName: "small", replicas: 1 },
      ],
      enableAutoscaling: true,
      runtimeEnv: RUNTIME_ENV,
      shutdownAfterJobFinishes: true,
      ttlSecondsAfterFinished: 3600,
    });
    assert.deepEqual(ray.toCustom(), {
      rayCluster: {
        headGroupSpec: {
          rayStartParams: { "dashboard-host": "0.0.0.0" },
          k8sPod: {
            metadata: {},
            // limits default to the requests (pod_spec_from_resources: `limits = limits or requests`)
            podSpec: { containers: [{ name: "ray-head", resources: { requests: { cpu: 1, memory: "2Gi" }, limits: { cpu: 1, memory: "2Gi" } } }] },
            primaryContainerName: "ray-head",
          },
        },
        workerGroupSpec: [
          {
            groupName: "cpu",
            replicas: 2,
            minReplicas: 1,
            maxReplicas: 4,
            k8sPod: {
              metadata: {},
              podSpec: { containers: [{ name: "ray-worker", resources: { requests: { cpu: "2" }, limits: { cpu: "4", "nvidia.com/gpu": "1" } } }] },
              primaryContainerName: "ray-worker",
            },
          },
          { groupName: "small", replicas: 1 },
        ],
        enableAutoscaling: true,
      },
      runtimeEnv: RUNTIME_ENV_B64,
      shutdownAfterJobFinishes: true,
      ttlSecondsAfterFinished: 3600,
      runtimeEnvYaml: RUNTIME_ENV_YAML,
    });
  });

  it("leaves out defaults: no head, autoscaling off, no runtime env", () => {
    assert.deepEqual(new RayJobConfig({ workers: [{ groupName: "g", replicas: 3 }] }).toCustom(), {
      rayCluster: { workerGroupSpec: [{ groupName: "g", replicas: 3 }] },
    });
  });

  it("a pod template without a pod spec gets the resource-only spec and keeps its labels and primary container name", () => {
    // _build_node_pod_template: PodTemplate(pod_spec=<from resources>, primary_container_name=pod_template.primary_container_name, labels=…)
    const ray = new RayJobConfig({ workers: [{ groupName: "g", replicas: 1, podTemplate: { labels: { team: "ml" } }, requests: { cpu: 2 } }] });
    const group = (ray.toCustom()["rayCluster"] as { workerGroupSpec: unknown[] }).workerGroupSpec[0];
    assert.deepEqual(group, {
      groupName: "g",
      replicas: 1,
      k8sPod: {
        metadata: { labels: { team: "ml" } },
        podSpec: { containers: [{ name: "ray-worker", resources: { requests: { cpu: 2 }, limits: { cpu: 2 } } }] },
        primaryContainerName: "primary",
      },
    });
  });

  it("merges resources into the ray container of a user pod template and keeps its other fields", () => {
    const ray = new RayJobConfig({
      workers: [
        {
          groupName: "gpu",
          replicas: 1,
          podTemplate: {
            labels: { team: "ml" },
            podSpec: {
              containers: [{ name: "sidecar", image: "busybox" }, { name: "ray-worker", env: [{ name: "A", value: "1" }], resources: { requests: { memory: "1Gi" } } }],
              tolerations: [{ key: "gpu", operator: "Exists" }],
            },
          },
          requests: { cpu: 8 },
        },
      ],
    });
    const group = (ray.toCustom()["rayCluster"] as { workerGroupSpec: unknown[] }).workerGroupSpec[0];
    assert.deepEqual(group, {
      groupName: "gpu",
      replicas: 1,
      k8sPod: {
        metadata: { labels: { team: "ml" } },
        podSpec: {
          containers: [
            { name: "sidecar", image: "busybox" },
            { name: "ray-worker", env: [{ name: "A", value: "1" }], resources: { requests: { memory: "1Gi", cpu: 8 }, limits: { cpu: 8 } } },
          ],
          tolerations: [{ key: "gpu", operator: "Exists" }],
        },
        primaryContainerName: "primary",
      },
    });
  });

  it("writes runtimeEnvYaml that reads back as the runtime env", () => {
    const env = { working_dir: ".", conda: { dependencies: ["python=3.11", { pip: ["ray[default]"] }] }, config: { eager_install: true } };
    const custom = new RayJobConfig({ workers: [], runtimeEnv: env }).toCustom();
    assert.deepEqual(parseYaml(custom["runtimeEnvYaml"] as string), env);
    assert.deepEqual(JSON.parse(Buffer.from(custom["runtimeEnv"] as string, "base64").toString()), env);
  });

  it("encodes runtimeEnv as Python's json.dumps does: spaced separators, non-ASCII escaped", () => {
    const custom = new RayJobConfig({ workers: [], runtimeEnv: { env_vars: { GREETING: "café ☕" }, n: 2 } }).toCustom();
    // python3 -c 'import json; print(json.dumps({"env_vars": {"GREETING": "café ☕"}, "n": 2}))'
    assert.equal(Buffer.from(custom["runtimeEnv"] as string, "base64").toString(), '{"env_vars": {"GREETING": "caf\\u00e9 \\u2615"}, "n": 2}');
  });

  it("rejects inconsistent replica counts and duplicate groups with the group's name", () => {
    const group = { groupName: "g", replicas: 2 };
    assert.throws(() => new RayJobConfig({ workers: [{ ...group, minReplicas: 3, maxReplicas: 1 }] }), /worker group "g": minReplicas \(3\) must be ≤ maxReplicas \(1\)/);
    assert.throws(() => new RayJobConfig({ workers: [{ ...group, maxReplicas: 1 }] }), /replicas \(2\) must be ≤ maxReplicas \(1\)/);
    assert.throws(() => new RayJobConfig({ workers: [{ ...group, minReplicas: 3 }] }), /replicas \(2\) must be ≥ minReplicas \(3\)/);
    assert.throws(() => new RayJobConfig({ workers: [{ ...group, replicas: -1 }] }), /replicas must be a whole number ≥ 0, got -1/);
    assert.throws(() => new RayJobConfig({ workers: [group, group] }), /workers\[1\]\.groupName "g" is used by another group/);
    assert.throws(() => new RayJobConfig({ workers: [{ ...group, requests: { cpu: [1, 2] } }] }), /requests\.cpu cannot be a \[request, limit\] pair/);
    assert.throws(() => new RayJobConfig({ workers: [], ttlSecondsAfterFinished: 1.5 }), /ttlSecondsAfterFinished/);
    assert.throws(() => new RayJobConfig({} as never), /workers must be an array/);
  });

  it("is immutable, and copies the runtime env it was given", () => {
    const env: Record<string, unknown> = { pip: ["a"] };
    const ray = new RayJobConfig({ workers: [], runtimeEnv: env });
    env["pip"] = ["b"];
    assert.deepEqual(ray.runtimeEnv, { pip: ["a"] });
    assert.ok(Object.isFrozen(ray) && Object.isFrozen(ray.workers));
  });
});
