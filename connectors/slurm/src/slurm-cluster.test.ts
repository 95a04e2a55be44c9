// The Slurm connector driven directly (runTask and SshConnection, no gRPC service: this file runs once in npm test)
// against the REAL single-node cluster of ./testing/cluster.ts: a local run with secrets from the environment, a job
// over its time limit (TIMEOUT: slurmctld checks limits every 30 s), a preempted job, and the SSH channel bound
// against sshd's MaxSessions.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { ConnectorRegistry, Phase, runTask, TaskFailedError, types } from "flyte-connectors";
import { SlurmClients, SlurmConnector, SlurmScriptTask } from "./index.js";
import { SshConnection } from "./ssh.js";
import { slurmClusterUnavailable, startSlurmCluster, type SlurmTestCluster } from "./testing/cluster.js";

const unavailable = slurmClusterUnavailable();
const skip = unavailable && process.env["CI"] !== "true" ? `no Slurm test cluster: ${unavailable}` : false;

describe("Slurm connector on a real cluster, without the service", { skip }, () => {
  let cluster: SlurmTestCluster;
  let clients: SlurmClients;
  let registry: ConnectorRegistry;
  before(async () => {
    if (unavailable) throw new Error(`CI=true needs the Slurm test cluster: ${unavailable}`);
    cluster = await startSlurmCluster();
    clients = new SlurmClients();
    registry = new ConnectorRegistry().register(new SlurmConnector({ taskType: "slurm_script", clients }));
    // Local runs read each secret from the environment variable its reference names.
    process.env["SLURM_TEST_KEY"] = cluster.privateKey;
    process.env["SLURM_TEST_KNOWN_HOSTS"] = cluster.knownHosts;
  });
  after(async () => {
    clients?.close();
    await cluster?.stop();
  });
  const slurm = () => ({ host: cluster.host, port: cluster.port, username: cluster.username, ssh_private_key: "SLURM_TEST_KEY", known_hosts_secret: "SLURM_TEST_KNOWN_HOSTS" });

  test("runTask: a script task with a File output, secrets from the environment", async () => {
    const task = new SlurmScriptTask({ name: "local", inputs: { who: types.string }, outputs: { greeting: types.file }, script: '#!/bin/bash\necho "hello $FLYTE_INPUT_WHO" > "$FLYTE_OUTPUT_GREETING"\n', slurm: slurm() });
    const { greeting } = await runTask(task, { who: "world" }, { registry, pollInterval: 250 });
    assert.equal(await greeting.text(), "hello world\n");
  });

  test("a local run's process exits once runTask is done (an idle SSH connection does not hold it open)", async () => {
    const index = fileURLToPath(new URL("./index.ts", import.meta.url));
    const code = `
      const { ConnectorRegistry, runTask } = await import("flyte-connectors");
      const { SlurmConnector, SlurmScriptTask } = await import(${JSON.stringify(index)});
      const task = new SlurmScriptTask({ name: "quick", script: "#!/bin/bash\\ntrue\\n", slurm: ${JSON.stringify(slurm())} });
      await runTask(task, {}, { registry: new ConnectorRegistry().register(new SlurmConnector({ taskType: "slurm_script" })), pollInterval: 200, quiet: true });
      console.log("done");`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { cwd: fileURLToPath(new URL("..", import.meta.url)), env: process.env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let doneAt = 0;
    child.stdout.on("data", (chunk: Buffer) => {
      output += String(chunk);
      if (output.includes("done") && !doneAt) doneAt = Date.now();
    });
    child.stderr.on("data", (chunk: Buffer) => (output += String(chunk)));
    const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const exitCode = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    clearTimeout(killer);
    assert.equal(exitCode, 0, output);
    assert.ok(doneAt > 0, output);
    assert.ok(Date.now() - doneAt < 5000, `the process lived ${Date.now() - doneAt} ms after runTask returned`);
  });

  /** The id of the running job whose name starts with `flyte-<name>-`, once Slurm runs it. */
  async function runningJob(name: string): Promise<string> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { stdout } = await cluster.exec("squeue -h -t RUNNING -o '%i %j'");
      const line = stdout.split("\n").find((l) => l.split(" ")[1]?.startsWith(`flyte-${name}-`));
      if (line) return line.split(" ")[0]!;
      if (Date.now() > deadline) assert.fail(`no running job flyte-${name}-*: ${stdout}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  test("a job over its time limit: TIMEOUT is FAILED with Slurm's state and the tail of stderr", { timeout: 120_000 }, async () => {
    const task = new SlurmScriptTask({ name: "slow", script: "#!/bin/bash\necho 'working hard' >&2\nsleep 600\n", slurm: slurm() });
    const running = runTask(task, {}, { registry, pollInterval: 1000 });
    const jobId = await runningJob("slow");
    await cluster.timeOutJob(jobId);
    await assert.rejects(running, (error: unknown) => {
      assert.ok(error instanceof TaskFailedError, String(error));
      assert.equal(error.phase, Phase.FAILED);
      assert.match(error.reason, new RegExp(`^Slurm job ${jobId} is TIMEOUT`));
      assert.match(error.reason, /--- stderr \(last 30 lines\) ---\nworking hard/);
      return true;
    });
  });

  test("a preempted job is RETRYABLE_FAILED", { timeout: 120_000 }, async () => {
    const task = new SlurmScriptTask({ name: "victim", script: "#!/bin/bash\nsleep 600\n", slurm: slurm() });
    const running = runTask(task, {}, { registry, pollInterval: 500 });
    const jobId = await runningJob("victim");
    await cluster.preemptJob(jobId);
    await assert.rejects(running, (error: unknown) => {
      assert.ok(error instanceof TaskFailedError, String(error));
      assert.equal(error.phase, Phase.RETRYABLE_FAILED);
      assert.match(error.reason, new RegExp(`^Slurm job ${jobId} is PREEMPTED`));
      return true;
    });
  });

  test("channels per connection stay within sshd's MaxSessions: 30 concurrent commands all succeed with the bound, not without it", async () => {
    const target = { host: cluster.host, port: cluster.port, username: cluster.username, privateKey: cluster.privateKey, knownHosts: cluster.knownHosts, knownHostsSource: "test" };
    const bounded = new SshConnection(target);
    const unbounded = new SshConnection(target, { maxChannels: 30 });
    try {
      const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => bounded.exec(`sleep 0.3; echo ${i}`)));
      assert.deepEqual(results.map((r) => (r.status === "fulfilled" ? r.value.stdout.trim() : String(r.reason))), Array.from({ length: 30 }, (_, i) => String(i)));
      assert.equal(bounded.stats.peakChannels, 8);
      assert.equal(bounded.stats.connects, 1);
      // Sessions held longer than the refused channel's retries (about 1.6 s) last.
      const without = await Promise.allSettled(Array.from({ length: 30 }, () => unbounded.exec("sleep 3")));
      assert.ok(without.some((r) => r.status === "rejected" && /open failed/i.test(String(r.reason))), "without the bound sshd refuses channels beyond MaxSessions");
      const idle = new SshConnection(target, { idleTimeout: 300 });
      await idle.exec("true");
      await new Promise((resolve) => setTimeout(resolve, 800));
      assert.equal((await idle.exec("echo again")).stdout, "again\n");
      assert.equal(idle.stats.connects, 2, "closed when idle, reopened on the next call");
      idle.close();
    } finally {
      bounded.close();
      unbounded.close();
    }
  });
});
