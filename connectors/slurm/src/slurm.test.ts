// The Slurm connectors through the gRPC service (serveForTest), against a REAL single-node Slurm cluster (Debian's
// slurmctld/slurmd/munge) behind a REAL sshd on loopback, started by ./testing/cluster.ts; outputs on file:// and on
// s3rver. One cluster and one service for the whole file. Under CI=true a missing cluster fails these tests.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { decodeOutputs, encodeInputs, FlyteDir, FlyteFile, ObjectStore, Phase, types, type ConnectorTask, type TypeSpecs } from "flyte-connectors";
import { isolateFromCloud, startS3Server, type S3TestServer } from "flyte-connectors/testing/storage";
import { serveForTest, type TestService } from "@flyte-connectors/service/testing";
import { AsyncConnectorService, ConnectorMetadataService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { SlurmClients, SlurmConnector, SlurmScriptTask, SlurmTask, type SlurmConfig } from "./index.js";
import { slurmClusterUnavailable, startSlurmCluster, type SlurmTestCluster } from "./testing/cluster.js";

isolateFromCloud();
const A = AsyncConnectorService.method;
const decoder = new TextDecoder();
const unavailable = slurmClusterUnavailable();
// Outside CI a machine without Slurm skips with the reason; under CI=true the before hook fails every test.
const skip = unavailable && process.env["CI"] !== "true" ? `no Slurm test cluster: ${unavailable}` : false;

let cluster: SlurmTestCluster;
let service: TestService;
let s3: S3TestServer;
let clients: SlurmClients;
/** Root-owned directory of file:// output prefixes the connector writes. */
let outputs: string;
/** The connectors' deployment environment, changed by tests (read on each call). */
const deploymentEnv: NodeJS.ProcessEnv = {};
const run = randomBytes(3).toString("hex");
let runs = 0;

type Meta = Uint8Array;
type TaskLike = ConnectorTask<TypeSpecs, TypeSpecs>;

describe("Slurm connectors on a real cluster", { skip }, () => {
  before(async () => {
    if (unavailable) throw new Error(`CI=true needs the Slurm test cluster: ${unavailable}`);
    [cluster, s3, outputs] = await Promise.all([startSlurmCluster(), startS3Server("bucket"), mkdtemp(join(tmpdir(), "slurm-outputs-"))]);
    const store = new ObjectStore({ s3: { endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, addressingStyle: "path" }, retries: 0 });
    clients = new SlurmClients({ connectTimeout: 10_000 });
    service = await serveForTest([new SlurmConnector({ taskType: "slurm", clients, env: deploymentEnv }), new SlurmConnector({ taskType: "slurm_script", clients, env: deploymentEnv })], {
      allowLocalFiles: true,
      dispatcherOptions: { storage: store },
    });
  });
  after(async () => {
    await service?.close();
    clients?.close();
    await Promise.all([cluster?.stop(), s3?.close(), outputs && rm(outputs, { recursive: true, force: true })]);
  });

  const slurm = (extra: SlurmConfig = {}): SlurmConfig => ({ host: cluster.host, port: cluster.port, username: cluster.username, ssh_private_key: "SLURM_KEY", known_hosts_secret: "SLURM_KNOWN_HOSTS", ...extra });
  const secrets = () => ({ ssh_private_key: cluster.privateKey, known_hosts_data: cluster.knownHosts });
  const category = (task: TaskLike) => ({ name: task.taskType, version: 0 });

  async function createRequest(task: TaskLike, inputs: Record<string, unknown> = {}, options: { name?: string; prefix?: string; secrets?: Record<string, string> } = {}) {
    const name = options.name ?? `r${run}-${runs++}`;
    return {
      template: task.toTaskTemplate(),
      inputs: await encodeInputs(inputs, task.inputs),
      outputPrefix: options.prefix ?? `file://${outputs}/${name}/a0/1`,
      taskExecutionMetadata: { taskExecutionId: { nodeExecutionId: { nodeId: "a0", executionId: { project: "p", domain: "d", name, org: "o" } }, retryAttempt: 0 } },
      connection: { secrets: options.secrets ?? secrets() },
    };
  }
  const create = async (task: TaskLike, inputs: Record<string, unknown> = {}, options: Parameters<typeof createRequest>[2] = {}) => {
    const request = await createRequest(task, inputs, options);
    const { resourceMeta } = await service.client.unary(A.createTask, request);
    return { meta: resourceMeta, prefix: request.outputPrefix };
  };
  const get = async (task: TaskLike, meta: Meta, prefix = "") =>
    (await service.client.unary(A.getTask, { taskCategory: category(task), resourceMeta: meta, outputPrefix: prefix, connection: { secrets: secrets() } })).resource!;
  const del = (task: TaskLike, meta: Meta) => service.client.unary(A.deleteTask, { taskCategory: category(task), resourceMeta: meta, connection: { secrets: secrets() } });
  const jobId = (meta: Meta) => (JSON.parse(decoder.decode(meta)) as { job_id: string }).job_id;
  /** Polls until `done` (default: a terminal phase), every 200 ms, at most 90 s; returns every phase seen. */
  async function until(task: TaskLike, meta: Meta, prefix = "", done = (phase: Phase) => [Phase.SUCCEEDED, Phase.FAILED, Phase.ABORTED, Phase.RETRYABLE_FAILED].includes(phase)) {
    const seen: Phase[] = [];
    const deadline = Date.now() + 90_000;
    for (;;) {
      const resource = await get(task, meta, prefix);
      if (seen.at(-1) !== resource.phase) seen.push(resource.phase);
      if (done(resource.phase)) return { resource, seen };
      if (Date.now() > deadline) assert.fail(`still ${Phase[resource.phase]} after 90 s: ${resource.message}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  async function logs(task: TaskLike, meta: Meta, request: { lines?: number; token?: string } = {}) {
    const parts = await service.client.stream(A.getTaskLogs, { taskCategory: category(task), resourceMeta: meta, lines: BigInt(request.lines ?? 0), token: request.token ?? "" });
    const lines: string[] = [];
    let token = "";
    for (const part of parts) {
      if (part.part.case === "header") token = part.part.value.token;
      if (part.part.case === "body") lines.push(...part.part.value.lines.map((line) => line.message));
    }
    return { lines, token };
  }
  const pwned = async () => (await cluster.exec(`ls -d /tmp/pwned-${run}* ${cluster.homeDir}/pwned-${run}* 2>/dev/null || true`)).stdout.trim();

  // Jobs of these tests are independent: they run at once (the tests below change shared settings or connections).
  describe("independent jobs", { concurrency: true }, () => {
    test("a script with hostile inputs, task name, working dir and options: SUCCEEDED, the inputs reach it byte for byte, nothing runs", async () => {
      const hostile = `$(touch /tmp/pwned-${run}-a) \`touch /tmp/pwned-${run}-b\` it's "q"; touch /tmp/pwned-${run}-c\n-n line 2 \\ $HOME`;
      const task = new SlurmScriptTask({
        name: `pkg.echo $(touch /tmp/pwned-${run}-name)`,
        inputs: { text: types.string, n: types.int, x: types.float, flag: types.boolean, data: types.file },
        script: `#!/bin/bash\n#SBATCH --comment=from-the-script\nset -eu\nprintf '[%s]\\n' "$FLYTE_INPUT_TEXT" "$FLYTE_INPUT_N" "$FLYTE_INPUT_X" "$FLYTE_INPUT_FLAG" "$FLYTE_INPUT_DATA" "$EXTRA"\n`,
        slurm: slurm({ working_dir: `jobs-$(touch\${IFS}/tmp/pwned-${run}-wd)`, sbatch_options: { comment: `$(touch\${IFS}/tmp/pwned-${run}-opt)` }, env: { EXTRA: `';touch /tmp/pwned-${run}-env;'` } }),
      });
      const { meta } = await create(task, { text: hostile, n: 7, x: 3, flag: true, data: new FlyteFile("s3://bucket/data/$(touch x).csv") });
      const { resource, seen } = await until(task, meta);
      assert.equal(resource.phase, Phase.SUCCEEDED, resource.message);
      assert.deepEqual(seen.filter((p) => p !== Phase.QUEUED && p !== Phase.RUNNING), [Phase.SUCCEEDED]);
      assert.match(resource.message, new RegExp(`Slurm job ${jobId(meta)} is COMPLETED\\nJob files on ${cluster.username}@${cluster.host}: .*jobs-\\$\\(touch\\$\\{IFS\\}/tmp/pwned-${run}-wd\\)/flyte-echo---touch--tmp-pwned-${run}-name-[0-9a-f]{8}\\.out \\(stdout\\)`));
      const { lines } = await logs(task, meta);
      assert.deepEqual(lines, [`[${hostile.split("\n")[0]}`, `${hostile.split("\n")[1]}]`, "[7]", "[3.0]", "[true]", "[s3://bucket/data/$(touch x).csv]", `[';touch /tmp/pwned-${run}-env;']`]);
      assert.equal(await pwned(), "", "no hostile value was executed");
    });

    test("a failing script: FAILED with Slurm's state, exit code and the last 30 lines of stderr", async () => {
      const task = new SlurmScriptTask({ name: "fails", script: "#!/bin/bash\nfor i in $(seq 1 40); do echo \"line $i\" >&2; done\necho 'Traceback: ValueError: boom' >&2\nexit 3\n", slurm: slurm() });
      const { meta } = await create(task);
      const { resource } = await until(task, meta);
      assert.equal(resource.phase, Phase.FAILED);
      assert.match(resource.message, new RegExp(`^Slurm job ${jobId(meta)} is FAILED, exit code 3:0\\n`));
      assert.match(resource.message, /\n--- stderr \(last 30 lines\) ---\nline 12\n[^]*line 40\nTraceback: ValueError: boom$/);
      assert.doesNotMatch(resource.message, /line 11\n/);
    });

    test("DeleteTask cancels a running job (ABORTED); deleting it again, a finished job or an unknown job is OK", async () => {
      const task = new SlurmScriptTask({ name: "sleeper", script: "#!/bin/bash\nsleep 300\n", slurm: slurm() });
      const { meta } = await create(task);
      const running = await until(task, meta, "", (phase) => phase === Phase.RUNNING);
      assert.match(running.resource.message, new RegExp(`Attach to the running job: ssh ${cluster.username}@${cluster.host} 'srun --jobid=${jobId(meta)} --overlap --pty bash'`));
      await del(task, meta);
      const { resource } = await until(task, meta);
      assert.equal(resource.phase, Phase.ABORTED);
      assert.match(resource.message, /is CANCELLED/);
      await del(task, meta);
      const unknown = JSON.parse(decoder.decode(meta)) as Record<string, unknown>;
      await del(task, new TextEncoder().encode(JSON.stringify({ ...unknown, job_id: "999999" })));
    });

    test("outputs on file://: the connector moves a File and a Dir the script wrote locally; the job writes to the URI itself", async () => {
      const byConnector = new SlurmScriptTask({
        name: "outputs",
        outputs: { model: types.file, shards: types.dir },
        script: '#!/bin/bash\nset -eu\nprintf "weights" > "$FLYTE_OUTPUT_MODEL"\nmkdir -p "$FLYTE_OUTPUT_SHARDS/sub"\necho a > "$FLYTE_OUTPUT_SHARDS/a.txt"\necho b > "$FLYTE_OUTPUT_SHARDS/sub/b.txt"\n',
        slurm: slurm(),
      });
      const { meta, prefix } = await create(byConnector);
      const { resource } = await until(byConnector, meta, prefix);
      assert.equal(resource.phase, Phase.SUCCEEDED, resource.message);
      const outputs = (await decodeOutputs(resource.outputs!, byConnector.outputs)) as { model: FlyteFile; shards: FlyteDir };
      assert.equal(outputs.model.uri, `${prefix}/model`);
      assert.equal(await readFile(new URL(`${prefix}/model`), "utf8"), "weights");
      assert.equal(await readFile(new URL(`${prefix}/shards/sub/b.txt`), "utf8"), "b\n");
      assert.equal(outputs.shards.uri, `${prefix}/shards`);

      const byJob = new SlurmScriptTask({
        name: "outputs_job",
        outputs: { model: types.file },
        outputUpload: "job",
        script: '#!/bin/bash\nset -eu\ndest="${FLYTE_OUTPUT_MODEL#file://}"\nmkdir -p "$(dirname "$dest")"\nprintf "by the job" > "$dest"\n',
        slurm: slurm(),
      });
      // A prefix the job's user may write to (the connector runs as root here).
      const job = await create(byJob, {}, { prefix: `file://${cluster.homeDir}/outputs-${run}/job/a0/1` });
      const done = await until(byJob, job.meta, job.prefix);
      assert.equal(done.resource.phase, Phase.SUCCEEDED, done.resource.message);
      assert.equal(await readFile(new URL(`${job.prefix}/model`), "utf8"), "by the job");
    });

    test("outputs on S3 (s3rver): streamed by the connector, or uploaded by the job with curl", async () => {
      const byConnector = new SlurmScriptTask({ name: "s3_outputs", outputs: { model: types.file }, script: '#!/bin/bash\nhead -c 300000 /dev/zero | tr "\\0" x > "$FLYTE_OUTPUT_MODEL"\n', slurm: slurm() });
      const { meta, prefix } = await create(byConnector, {}, { prefix: `s3://bucket/shard/r${run}-s3/a0/1` });
      const { resource } = await until(byConnector, meta, prefix);
      assert.equal(resource.phase, Phase.SUCCEEDED, resource.message);
      const store = new ObjectStore({ s3: { endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, addressingStyle: "path" } });
      const body = await store.get(`${prefix}/model`);
      assert.equal(body.length, 300_000);
      assert.ok(body.every((byte) => byte === 120));

      const byJob = new SlurmScriptTask({
        name: "s3_job",
        outputs: { model: types.file },
        outputUpload: "job",
        script: '#!/bin/bash\nset -eu\nprintf "curl" > m\ncurl -sSf -X PUT --data-binary @m "$S3_ENDPOINT/${FLYTE_OUTPUT_MODEL#s3://}"\n',
        slurm: slurm({ env: { S3_ENDPOINT: s3.endpoint } }),
      });
      const job = await create(byJob, {}, { prefix: `s3://bucket/shard/r${run}-s3job/a0/1` });
      const done = await until(byJob, job.meta, job.prefix);
      assert.equal(done.resource.phase, Phase.SUCCEEDED, done.resource.message);
      assert.equal(decoder.decode(await store.get(`${job.prefix}/model`)), "curl");
    });

    test("a `slurm` task: the container entrypoint through Apptainer and Pyxis, its arguments untouched", async () => {
      for (const runtime of ["apptainer", "pyxis"] as const) {
        const task = new SlurmTask({
          name: `native_${runtime}`,
          image: "ghcr.io/org/img:1",
          command: ["sh", "-c", 'printf "<%s>\\n" "$@" "$FAKE_CONTAINER_IMAGE" "$FROM_TEMPLATE$FROM_CONFIG"', "sh", `$(touch /tmp/pwned-${run}-native)`, "`id`", "a b", "-n", ""],
          containerEnv: { FROM_TEMPLATE: "t" },
          slurm: slurm({ container_runtime: runtime, env: { FROM_CONFIG: "c" } }),
        });
        const { meta } = await create(task);
        const { resource } = await until(task, meta);
        assert.equal(resource.phase, Phase.SUCCEEDED, resource.message);
        const { lines } = await logs(task, meta);
        const image = runtime === "apptainer" ? "docker://ghcr.io/org/img:1" : "ghcr.io#org/img:1";
        assert.deepEqual(lines.filter((line) => line.startsWith("<")), [`<$(touch /tmp/pwned-${run}-native)>`, "<`id`>", "<a b>", "<-n>", "<>", `<${image}>`, "<tc>"], runtime);
      }
      assert.equal(await pwned(), "");
    });

    test("bad requests: a partition sbatch refuses is INVALID_ARGUMENT with its message; no key is FAILED_PRECONDITION; a job Slurm does not know is not failed at once", async () => {
      const task = new SlurmScriptTask({ name: "nowhere", script: "#!/bin/bash\ntrue\n", slurm: slurm({ partition: "no-such-partition" }) });
      await assert.rejects(create(task), (error: { code: number; details: string }) => {
        assert.equal(error.code, 3, "INVALID_ARGUMENT");
        assert.match(error.details, /^sbatch failed on 127\.0\.0\.1 \(exit 1\): sbatch: error: .*[Ii]nvalid partition/);
        return true;
      });
      await assert.rejects(create(task, {}, { secrets: { known_hosts_data: cluster.knownHosts } }), (error: { code: number; details: string }) => {
        assert.equal(error.code, 9, "FAILED_PRECONDITION");
        assert.match(error.details, /Missing Slurm SSH private key.*FLYTE_SLURM_SSH_PRIVATE_KEY/);
        return true;
      });
      const ok = new SlurmScriptTask({ name: "known", script: "#!/bin/bash\ntrue\n", slurm: slurm() });
      const { meta } = await create(ok);
      const unknown = new TextEncoder().encode(JSON.stringify({ ...(JSON.parse(decoder.decode(meta)) as object), job_id: "987654" }));
      const resource = await get(ok, unknown);
      assert.equal(resource.phase, Phase.RUNNING);
      assert.match(resource.message, /temporarily unavailable.*Slurm job 987654 .* is not known to squeue, sacct or scontrol on 127\.0\.0\.1 yet/);
    });

    test("GetTaskLogs streams the output file in pages with a continuation token; lines > 0 is its tail", async () => {
      const task = new SlurmScriptTask({ name: "chatty", script: "#!/bin/bash\nseq 1 2500\n", slurm: slurm() });
      const { meta } = await create(task);
      assert.equal((await until(task, meta)).resource.phase, Phase.SUCCEEDED);
      const all = await logs(task, meta);
      assert.equal(all.lines.length, 2500);
      assert.equal(all.lines[2499], "2500");
      assert.equal(all.token, String(Buffer.byteLength(Array.from({ length: 2500 }, (_, i) => `${i + 1}\n`).join(""))));
      assert.deepEqual((await logs(task, meta, { token: all.token })).lines, []);
      assert.deepEqual((await logs(task, meta, { token: String(Number(all.token) - 15) })).lines, ["2498", "2499", "2500"]);
      assert.deepEqual((await logs(task, meta, { lines: 3 })).lines, ["2498", "2499", "2500"]);
    });
  });

  test("ListConnectors lists both task types", async () => {
    const { connectors } = await service.client.unary(ConnectorMetadataService.method.listConnectors, {});
    const categories = connectors.flatMap((c) => c.supportedTaskCategories.map((t) => t.name)).sort();
    assert.deepEqual(categories, ["slurm", "slurm_script"]);
  });

  test("an output above FLYTE_SLURM_CONNECTOR_UPLOAD_MAX_BYTES, or a declared output never written, fails the task", async () => {
    const task = new SlurmScriptTask({ name: "big", outputs: { model: types.file }, script: '#!/bin/bash\nhead -c 5000 /dev/zero > "$FLYTE_OUTPUT_MODEL"\n', slurm: slurm() });
    deploymentEnv["FLYTE_SLURM_CONNECTOR_UPLOAD_MAX_BYTES"] = "4KB";
    try {
      const { meta, prefix } = await create(task);
      const { resource } = await until(task, meta, prefix);
      assert.equal(resource.phase, Phase.FAILED);
      assert.match(resource.message, new RegExp(`^Output 'model' of Slurm job ${jobId(meta)} is 0 MB, above the 0 MB the connector will move .*output_upload='job'.*FLYTE_SLURM_CONNECTOR_UPLOAD_MAX_BYTES`));
      assert.equal(await readFile(new URL(`${prefix}/model`)).catch(() => "absent"), "absent", "nothing was moved");
    } finally {
      delete deploymentEnv["FLYTE_SLURM_CONNECTOR_UPLOAD_MAX_BYTES"];
    }
    const lazy = new SlurmScriptTask({ name: "lazy", outputs: { model: types.file }, script: "#!/bin/bash\necho forgot\n", slurm: slurm() });
    const { meta, prefix } = await create(lazy);
    const { resource } = await until(lazy, meta, prefix);
    assert.equal(resource.phase, Phase.FAILED);
    assert.match(resource.message, new RegExp(`^Slurm job ${jobId(meta)} succeeded but did not write every declared output: model at /.*\\.outputs/model\\.`));
  });

  test("a dropped SSH connection mid-poll is a non-terminal poll; the connector reconnects and sees the job succeed", async () => {
    const task = new SlurmScriptTask({ name: "survivor", script: "#!/bin/bash\nsleep 3\necho done\n", slurm: slurm() });
    const { meta } = await create(task);
    await until(task, meta, "", (phase) => phase === Phase.RUNNING);
    const connection = clients.pool.find(cluster.username, cluster.host, cluster.port)!;
    const connects = connection.stats.connects;
    const during = get(task, meta);
    await cluster.dropSshConnections();
    const resource = await during;
    assert.ok([Phase.QUEUED, Phase.RUNNING].includes(resource.phase), `${Phase[resource.phase]}: ${resource.message}`);
    const { resource: last, seen } = await until(task, meta);
    assert.equal(last.phase, Phase.SUCCEEDED, last.message);
    assert.ok(!seen.includes(Phase.FAILED));
    assert.ok(connection.stats.connects > connects, "a new connection was made");
  });

  test("host keys: a key that does not match known_hosts, or no known hosts at all, is refused with a message naming it", async () => {
    const task = new SlurmScriptTask({ name: "mitm", script: "#!/bin/bash\ntouch ~/should-not-exist\n", slurm: slurm() });
    const wrongKey = `[${cluster.host}]:${cluster.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n`;
    await assert.rejects(create(task, {}, { secrets: { ssh_private_key: cluster.privateKey, known_hosts_data: wrongKey } }), (error: { code: number; details: string }) => {
      assert.equal(error.code, 9, "FAILED_PRECONDITION");
      assert.match(error.details, new RegExp(`host key of \\[${cluster.host}\\]:${cluster.port} \\(ssh-[a-z0-9-]+ key SHA256:\\S+\\) does not match the known hosts \\(secret known_hosts_data\\)`));
      assert.ok(!error.details.includes(cluster.privateKey.split("\n")[1]!), "the private key is never in an error");
      return true;
    });
    await assert.rejects(create(task, {}, { secrets: { ssh_private_key: cluster.privateKey, known_hosts_data: "# nothing\n" } }), /have no entry for/);
    assert.equal((await cluster.exec("test -e ~/should-not-exist; echo $?")).stdout.trim(), "1");
  });

  test("the deployment's FLYTE_SLURM_* settings win over task config; host key checks are off only when the deployment says so", async () => {
    const wrongKey = `[${cluster.host}]:${cluster.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n`;
    const task = new SlurmScriptTask({ name: "deployment", script: "#!/bin/bash\necho ok\n", slurm: { host: "attacker.invalid", port: 1, username: "root", skip_host_key_verification: true } });
    Object.assign(deploymentEnv, { FLYTE_SLURM_HOST: cluster.host, FLYTE_SLURM_PORT: String(cluster.port), FLYTE_SLURM_USERNAME: cluster.username, FLYTE_SLURM_SSH_PRIVATE_KEY: cluster.privateKey });
    try {
      const { meta } = await create(task, {}, { secrets: { known_hosts_data: cluster.knownHosts } });
      const written = JSON.parse(decoder.decode(meta)) as { host: string; port: number; username: string; skip_host_key_verification: boolean };
      assert.deepEqual([written.host, written.port, written.username, written.skip_host_key_verification], [cluster.host, cluster.port, cluster.username, false]);
      assert.equal((await until(task, meta)).resource.phase, Phase.SUCCEEDED);
      // The task's skip_host_key_verification is ignored: a wrong known_hosts is still refused.
      await assert.rejects(create(task, {}, { secrets: { known_hosts_data: wrongKey } }), /does not match the known hosts/);
      // A crafted meta cannot send the deployment's key to another host.
      const elsewhere = new TextEncoder().encode(JSON.stringify({ ...(JSON.parse(decoder.decode(meta)) as object), host: "attacker.invalid" }));
      await assert.rejects(service.client.unary(A.getTask, { taskCategory: category(task), resourceMeta: elsewhere, connection: { secrets: {} } }), (error: { code: number; details: string }) => {
        assert.equal(error.code, 3, "INVALID_ARGUMENT");
        assert.match(error.details, /names flyteslurm@attacker\.invalid, not the connector's FLYTE_SLURM_USERNAME@FLYTE_SLURM_HOST/);
        return true;
      });
      deploymentEnv["FLYTE_SLURM_SKIP_HOST_KEY_VERIFICATION"] = "true";
      const { meta: unchecked } = await create(task, {}, { secrets: { known_hosts_data: wrongKey } });
      assert.equal((JSON.parse(decoder.decode(unchecked)) as { skip_host_key_verification: boolean }).skip_host_key_verification, true);
    } finally {
      for (const key of ["FLYTE_SLURM_HOST", "FLYTE_SLURM_PORT", "FLYTE_SLURM_USERNAME", "FLYTE_SLURM_SSH_PRIVATE_KEY", "FLYTE_SLURM_SKIP_HOST_KEY_VERIFICATION"]) delete deploymentEnv[key];
    }
  });

  test("a repeated CreateTask of one attempt returns the same job; concurrent polls of many jobs share squeue calls", async () => {
    const task = new SlurmScriptTask({ name: "twice", script: "#!/bin/bash\nsleep 2\n", slurm: slurm() });
    const request = await createRequest(task);
    const [first, second] = await Promise.all([service.client.unary(A.createTask, request), service.client.unary(A.createTask, request)]);
    const again = await service.client.unary(A.createTask, request);
    assert.equal(jobId(first.resourceMeta), jobId(second.resourceMeta));
    assert.equal(jobId(again.resourceMeta), jobId(first.resourceMeta));
    const metas = await Promise.all(Array.from({ length: 6 }, async () => (await create(task)).meta));
    const batcher = clients.batcher(clients.pool.find(cluster.username, cluster.host, cluster.port)!);
    const before = batcher.queries;
    const polls = await Promise.all([...metas, first.resourceMeta].flatMap((meta) => [get(task, meta), get(task, meta)]));
    assert.ok(polls.every((r) => r.phase !== Phase.FAILED));
    assert.ok(batcher.queries - before <= 4, `${polls.length} polls took ${batcher.queries - before} status queries`);
    await Promise.all(metas.map((meta) => del(task, meta)));
  });

});

