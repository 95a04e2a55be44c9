// Expected links and context entries derived from flyteorg/flyte-sdk plugins/wandb/src/flyteplugins/wandb/
// _link.py (`Wandb.get_link`, `WandbSweep.get_link`) and _context.py (`wandb_config`, `_to_dict_helper`,
// `to_sweep_config`), commit 7e2d4231b559 (v2.6.5+1). No network: links are plain string building.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TaskEnvironment, runLocal, type LinkContext } from "flyte-connectors";
import { WandbLink, WandbSweepLink, wandbApiKeySecret, wandbConfig, wandbRunId, wandbSweepConfig, wandbSweepDefinition } from "./index.js";

function ctx(customContext: Record<string, string> = {}): LinkContext {
  return { runName: "r3kq9", actionName: "a2", parentActionName: "a0", taskName: "env.train", project: "p", domain: "development", customContext };
}

describe("WandbLink", () => {
  it("links to the action's own run, named <run>-<action>, when there is no parent run", () => {
    const link = new WandbLink({ project: "mnist", entity: "acme" });
    assert.equal(link.name, "Weights & Biases");
    assert.equal(link.uri(ctx()), "https://wandb.ai/acme/mnist/runs/r3kq9-a2");
    assert.equal(wandbRunId(ctx()), "r3kq9-a2");
  });

  it("auto and shared modes follow the parent's run; new mode keeps its own", () => {
    const withParent = ctx({ _wandb_run_id: "r3kq9-a0" });
    assert.equal(new WandbLink({ project: "m", entity: "e" }).uri(withParent), "https://wandb.ai/e/m/runs/r3kq9-a0");
    assert.equal(new WandbLink({ project: "m", entity: "e", runMode: "shared" }).uri(withParent), "https://wandb.ai/e/m/runs/r3kq9-a0");
    assert.equal(new WandbLink({ project: "m", entity: "e", runMode: "new" }).uri(withParent), "https://wandb.ai/e/m/runs/r3kq9-a2");
    assert.equal(new WandbLink({ project: "m", entity: "e", runMode: "shared" }).uri(ctx()), "https://wandb.ai/e/m");
  });

  it("takes project, entity, host and id from the run context (wandbConfig), the link's own settings first", () => {
    const context = ctx(wandbConfig({ project: "from-ctx", entity: "team", host: "https://wandb.acme.internal", id: "fixed" }));
    assert.equal(new WandbLink().uri(context), "https://wandb.acme.internal/team/from-ctx/runs/fixed");
    assert.equal(new WandbLink({ project: "own", id: "mine" }).uri(context), "https://wandb.acme.internal/team/own/runs/mine");
  });

  it("links to the host when project or entity is unknown", () => {
    assert.equal(new WandbLink({ project: "m" }).uri(ctx()), "https://wandb.ai");
    assert.equal(new WandbLink({ host: "https://w.example.com/" }).uri(ctx()), "https://w.example.com");
  });

  it("rejects a bad host or run mode", () => {
    assert.throws(() => new WandbLink({ host: "wandb.ai" }), /W&B host must be a URL/);
    assert.throws(() => new WandbLink({ runMode: "always" as never }), /runMode must be "auto", "new" or "shared"/);
  });

  it("is rendered with each action of a local run", async () => {
    const lines: string[] = [];
    const env = new TaskEnvironment({ name: "wb" });
    const task = env.task({ name: "train", links: [new WandbLink({ project: "m", entity: "e" })] }, async () => ({}));
    await runLocal(task, {}, { runName: "rtest", output: { write: (s: string) => lines.push(s) } });
    assert.match(lines.join(""), /https:\/\/wandb\.ai\/e\/m\/runs\/rtest-a0/);
  });
});

describe("WandbSweepLink", () => {
  it("links to the sweep from the link or the run context, else to the sweep list", () => {
    assert.equal(new WandbSweepLink({ project: "m", entity: "e", id: "abc123" }).uri(ctx()), "https://wandb.ai/e/m/sweeps/abc123");
    assert.equal(new WandbSweepLink({ project: "m", entity: "e" }).uri(ctx({ _wandb_sweep_id: "s9" })), "https://wandb.ai/e/m/sweeps/s9");
    assert.equal(new WandbSweepLink({ project: "m", entity: "e" }).uri(ctx()), "https://wandb.ai/e/m/sweeps");
    assert.equal(new WandbSweepLink().name, "Weights & Biases Sweep");
  });
});

describe("wandb run-context settings", () => {
  it("writes the same entries as Python's wandb_config", () => {
    assert.deepEqual(wandbConfig({ project: "mnist", entity: "acme", tags: ["exp-1", "cnn"], config: { lr: 0.001, layers: [64, 32] }, extra: { notes: "first" } }), {
      wandb_project: "mnist",
      wandb_entity: "acme",
      wandb_tags: '["exp-1", "cnn"]',
      wandb_config: '{"lr": 0.001, "layers": [64, 32]}',
      wandb_run_mode: "auto",
      wandb_rank_scope: "global",
      wandb_download_logs: "false",
      wandb_kwargs: '{"notes": "first"}',
    });
  });

  it("writes sweep entries as Python's wandb_sweep_config, and the sweep definition as to_sweep_config", () => {
    const options = { method: "bayes", metric: { name: "loss", goal: "minimize" }, parameters: { lr: { min: 0.0001, max: 0.1 } }, project: "m", extra: { early_terminate: { type: "hyperband" } } };
    assert.deepEqual(wandbSweepConfig(options), {
      wandb_sweep_method: "bayes",
      wandb_sweep_metric: '{"name": "loss", "goal": "minimize"}',
      wandb_sweep_parameters: '{"lr": {"min": 0.0001, "max": 0.1}}',
      wandb_sweep_project: "m",
      wandb_sweep_download_logs: "false",
      wandb_sweep_kwargs: '{"early_terminate": {"type": "hyperband"}}',
    });
    assert.deepEqual(wandbSweepDefinition(options), {
      method: "bayes",
      metric: { name: "loss", goal: "minimize" },
      parameters: { lr: { min: 0.0001, max: 0.1 } },
      early_terminate: { type: "hyperband" },
    });
  });

  it("requests the API key secret as WANDB_API_KEY", () => {
    assert.deepEqual(wandbApiKeySecret(), { key: "wandb_api_key", asEnvVar: "WANDB_API_KEY" });
  });
});
