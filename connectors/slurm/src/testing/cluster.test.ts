// The test cluster itself, driven the way the connector drives it: an ssh2 client that verifies the host key against
// `knownHosts`, plain sbatch/squeue/sacct/scancel in the SSH session.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "ssh2";
import { slurmClusterUnavailable, startSlurmCluster, type SlurmTestCluster } from "./cluster.js";

const unavailable = slurmClusterUnavailable();
const underCi = process.env["CI"] === "true";

if (unavailable && underCi) {
  test("the Slurm test cluster can start under CI=true", () => {
    assert.fail(unavailable);
  });
}

/** The base64 key blob of the known_hosts line for [host]:port. */
function knownKey(knownHosts: string, host: string, port: number): Buffer {
  const line = knownHosts.split("\n").find((entry) => entry.startsWith(`[${host}]:${port} `));
  assert.ok(line, `known_hosts has a line for [${host}]:${port}`);
  return Buffer.from(line.split(/\s+/)[2] ?? "", "base64");
}

function connect(cluster: SlurmTestCluster, knownHosts = cluster.knownHosts): Promise<Client> {
  const expected = knownKey(knownHosts, cluster.host, cluster.port);
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once("ready", () => resolve(client));
    client.once("error", reject);
    client.connect({
      host: cluster.host,
      port: cluster.port,
      username: cluster.username,
      privateKey: cluster.privateKey,
      hostVerifier: (key: Buffer) => key.equals(expected),
      readyTimeout: 10_000,
    });
  });
}

function sshExec(client: Client, command: string, stdin?: string): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) return reject(error);
      let stdout = "";
      let stderr = "";
      channel.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      channel.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      channel.on("close", (code: number | null) => resolve({ stdout, stderr, code: code ?? -1 }));
      if (stdin !== undefined) channel.end(stdin);
    });
  });
}

async function sbatch(client: Client, script: string): Promise<string> {
  const result = await sshExec(client, "sbatch --parsable", script);
  assert.equal(result.code, 0, `sbatch failed: ${result.stderr}`);
  const jobId = result.stdout.trim().split(";")[0] ?? "";
  assert.match(jobId, /^\d+$/);
  return jobId;
}

async function sacct(client: Client, jobId: string): Promise<string> {
  // The records reach slurmdbd asynchronously: poll briefly until the final state is there.
  const deadline = Date.now() + 15_000;
  let line = "";
  while (Date.now() < deadline) {
    const result = await sshExec(client, `sacct -X -n -P -j ${jobId} --format=JobIDRaw,State,ExitCode,Reason`);
    assert.equal(result.code, 0, `sacct failed: ${result.stderr}`);
    line = result.stdout.trim();
    if (line && !/\|(PENDING|RUNNING|COMPLETING)\|/.test(line)) return line;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return line;
}

/** Processes whose command line or environment names a cluster directory. */
function processesOf(dir: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const state = readFileSync(`/proc/${name}/stat`, "utf8").split(") ")[1]?.[0];
      if (state === "Z") continue;
      const text = readFileSync(`/proc/${name}/cmdline`, "latin1") + readFileSync(`/proc/${name}/environ`, "latin1");
      if (text.includes(dir)) found.push(Number(name));
    } catch {
      // gone
    }
  }
  return found;
}

/** A separate test process that starts a cluster, runs a job in it, reports its directory and waits to be killed. */
async function clusterInChildProcess(): Promise<{ dir: string; kill: (signal: NodeJS.Signals) => Promise<void> }> {
  const harness = fileURLToPath(new URL(`./cluster${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
  const script = `
    import { startSlurmCluster } from ${JSON.stringify(harness)};
    const cluster = await startSlurmCluster();
    const job = await cluster.exec("sbatch --parsable --output=/dev/null --wrap 'sleep 600'");
    await cluster.waitForJobState(job.stdout.trim(), ["RUNNING"]);
    console.log(JSON.stringify({ dir: cluster.slurmConf.slice(0, -"/slurm.conf".length) }));
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("\n")) resolve(out.split("\n")[0] ?? "");
    });
    child.once("exit", (code) => reject(new Error(`child exited with ${code} before reporting its cluster`)));
  });
  const { dir } = JSON.parse(line) as { dir: string };
  return {
    dir,
    kill: async (signal) => {
      child.kill(signal);
      await exited;
    },
  };
}

async function eventually(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return check();
}

describe("Slurm test cluster cleanup", { skip: unavailable && !underCi ? unavailable : false }, () => {
  test("SIGTERM of the test process stops every daemon and job and removes the directory", { timeout: 120_000 }, async () => {
    const child = await clusterInChildProcess();
    assert.ok(processesOf(child.dir).length >= 7, "daemons and the job run");
    await child.kill("SIGTERM");
    assert.ok(await eventually(() => processesOf(child.dir).length === 0, 10_000), `left: ${processesOf(child.dir).join(" ")}`);
    assert.equal(existsSync(child.dir), false);
  });

  test("the leftovers of a killed test process are cleaned by the next start", { timeout: 120_000 }, async () => {
    const child = await clusterInChildProcess();
    await child.kill("SIGKILL");
    assert.ok(processesOf(child.dir).length >= 7, "SIGKILL leaves daemons and the job behind");
    await startSlurmCluster({ minJobAge: 60 }); // the suite below reuses this cluster
    assert.deepEqual(processesOf(child.dir), []);
    assert.equal(existsSync(child.dir), false);
  });
});

describe("Slurm test cluster", { skip: unavailable && !underCi ? unavailable : false }, () => {
  let cluster: SlurmTestCluster;
  let client: Client;

  before(async () => {
    cluster = await startSlurmCluster({ minJobAge: 60 });
    console.log(`cluster started in ${cluster.startSeconds.toFixed(1)} s`);
    client = await connect(cluster);
  });
  after(async () => {
    client?.end();
    await cluster?.stop();
  });

  test("start is idempotent within a process, also for concurrent calls", async () => {
    const again = await Promise.all([startSlurmCluster({ minJobAge: 60 }), startSlurmCluster({ minJobAge: 60 })]);
    assert.deepEqual(again, [cluster, cluster]);
  });

  test("a job submitted over SSH is seen by squeue, completes, and sacct reports COMPLETED 0:0", async () => {
    const out = `${cluster.homeDir}/cluster-test-ok-%j.out`;
    const jobId = await sbatch(client, `#!/bin/bash\n#SBATCH --output=${out}\necho "hello from $SLURM_JOB_ID"\nsleep 1\n`);
    const seen = await sshExec(client, `squeue -h -t all -j ${jobId} -o '%i %T %u'`);
    assert.match(seen.stdout, new RegExp(`^${jobId} (PENDING|RUNNING|COMPLETING|COMPLETED) ${cluster.username}`));
    assert.equal(await cluster.waitForJobState(jobId, ["COMPLETED", "FAILED"], 30_000), "COMPLETED");
    assert.equal(await sacct(client, jobId), `${jobId}|COMPLETED|0:0|None`);
    const output = await cluster.exec(`cat ${out.replace("%j", jobId)}`);
    assert.equal(output.stdout, `hello from ${jobId}\n`);
  });

  test("a failing job is FAILED with its exit code", async () => {
    const jobId = await sbatch(client, "#!/bin/bash\n#SBATCH --output=/dev/null\nexit 7\n");
    assert.equal(await cluster.waitForJobState(jobId, ["COMPLETED", "FAILED"], 30_000), "FAILED");
    assert.match(await sacct(client, jobId), new RegExp(`^${jobId}\\|FAILED\\|7:0\\|`));
  });

  test("scancel makes a running job CANCELLED", async () => {
    const jobId = await sbatch(client, "#!/bin/bash\n#SBATCH --output=/dev/null\nsleep 300\n");
    await cluster.waitForJobState(jobId, ["RUNNING"], 30_000);
    const cancelled = await sshExec(client, `scancel ${jobId}`);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.equal(await cluster.waitForJobState(jobId, ["CANCELLED"], 30_000), "CANCELLED");
    assert.match(await sacct(client, jobId), new RegExp(`^${jobId}\\|CANCELLED`));
  });

  test("the fake apptainer and the fake Pyxis srun run the container command on the host", async () => {
    const out = `${cluster.homeDir}/cluster-test-containers-%j.out`;
    const shim = `'export PATH="\${VIRTUAL_ENV:+$VIRTUAL_ENV/bin:}$PATH"; exec "$@"'`;
    const jobId = await sbatch(
      client,
      [
        "#!/bin/bash",
        `#SBATCH --output=${out}`,
        "set -euo pipefail",
        `srun --nodes=1 --ntasks=1 apptainer exec --nv --bind /tmp:/tmp --pwd /tmp docker://python:3.12-slim bash -c ${shim} -- sh -c 'echo "apptainer $FAKE_CONTAINER_IMAGE $(pwd) $1"' sh 'a b'`,
        `srun --nodes=1 --ntasks=1 --mpi=none '--container-image=ghcr.io#org/train:1' --container-mounts=/data:/data --container-workdir=/tmp bash -c ${shim} -- sh -c 'echo "pyxis $FAKE_CONTAINER_IMAGE $(pwd) $SLURM_STEP_ID"'`,
        "",
      ].join("\n"),
    );
    assert.equal(await cluster.waitForJobState(jobId, ["COMPLETED", "FAILED"], 30_000), "COMPLETED");
    const output = await cluster.exec(`cat ${out.replace("%j", jobId)}`);
    assert.equal(output.stdout, "apptainer docker://python:3.12-slim /tmp a b\npyxis ghcr.io#org/train:1 /tmp 1\n");
  });

  test("the fake apptainer refuses what Apptainer refuses", async () => {
    const unknown = await cluster.exec("apptainer exec --no-such-option img true");
    assert.equal(unknown.code, 255);
    assert.match(unknown.stderr, /unsupported option '--no-such-option'/);
    const noCommand = await cluster.exec("apptainer exec docker://img");
    assert.equal(noCommand.code, 255);
  });

  test("timeOutJob ends a running job in TIMEOUT", { timeout: 90_000 }, async () => {
    const jobId = await sbatch(client, "#!/bin/bash\n#SBATCH --output=/dev/null\n#SBATCH --time=10\nsleep 300\n");
    await cluster.waitForJobState(jobId, ["RUNNING"], 30_000);
    const started = Date.now();
    await cluster.timeOutJob(jobId);
    assert.equal(await cluster.waitForJobState(jobId, ["TIMEOUT", "COMPLETED", "FAILED", "CANCELLED"], 60_000), "TIMEOUT");
    console.log(`TIMEOUT after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.match(await sacct(client, jobId), new RegExp(`^${jobId}\\|TIMEOUT\\|`));
  });

  test("preemptJob ends a running job in PREEMPTED", async () => {
    const jobId = await sbatch(client, "#!/bin/bash\n#SBATCH --output=/dev/null\nsleep 300\n");
    await cluster.waitForJobState(jobId, ["RUNNING"], 30_000);
    const started = Date.now();
    await cluster.preemptJob(jobId);
    console.log(`PREEMPTED after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.match(await sacct(client, jobId), new RegExp(`^${jobId}\\|PREEMPTED\\|`));
  });

  test("SFTP works (the connector uploads scripts and reads outputs with it)", async () => {
    const file = `${cluster.homeDir}/cluster-test-sftp-${process.pid}.txt`;
    await new Promise<void>((resolve, reject) => {
      client.sftp((error, sftp) => {
        if (error) return reject(error);
        sftp.writeFile(file, "written over sftp\n", (writeError) => {
          sftp.end();
          if (writeError) reject(writeError);
          else resolve();
        });
      });
    });
    const read = await cluster.exec(`cat ${file} && stat -c %U ${file} && rm ${file}`);
    assert.equal(read.stdout, `written over sftp\n${cluster.username}\n`);
  });

  test("dropSshConnections drops a live connection; the listener still accepts new ones", async () => {
    const victim = await connect(cluster);
    const closed = new Promise<void>((resolve) => victim.once("close", () => resolve()));
    await cluster.dropSshConnections();
    await closed;
    // Our own shared client was dropped too: reconnect for the remaining tests.
    client = await connect(cluster);
    const result = await sshExec(client, "echo $SLURM_CONF");
    assert.equal(result.stdout.trim(), cluster.slurmConf);
  });

  test("a wrong host key is refused by verification", async () => {
    const wrong = cluster.knownHosts.replace(/ssh-ed25519 (\S+)/, (_, key: string) => {
      const blob = Buffer.from(key, "base64");
      blob[blob.length - 1] = (blob[blob.length - 1] ?? 0) ^ 0xff;
      return `ssh-ed25519 ${blob.toString("base64")}`;
    });
    await assert.rejects(connect(cluster, wrong), /verification failed/i);
  });
});
