// Unit tests of the parts that need no cluster: Slurm output parsing and state mapping, known_hosts, the resource
// meta's wire format (as Python's json.dumps writes it), the upload ceiling's syntax, the task classes.
import assert from "node:assert/strict";
import { createHmac, generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer, type AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { Phase, types } from "flyte-connectors";
import { connectorUploadMaxBytes, parseCustom, parseSize, SlurmJobMetadata } from "./config.js";
import { jobName } from "./connector.js";
import { KnownHosts } from "./known-hosts.js";
import { SshConnection } from "./ssh.js";
import { baseState, describeState, parseSacct, parseSbatchJobId, parseScontrol, parseSqueue, phaseOfState } from "./states.js";
import { SlurmScriptTask, SlurmTask } from "./task.js";
import { create } from "@bufbuild/protobuf";
import { TaskTemplateSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

describe("Slurm states", () => {
  test("phase mapping as flyte-sdk's, decorations removed", () => {
    const expected: Array<[string, Phase]> = [
      ["PENDING", Phase.QUEUED], ["CONFIGURING", Phase.QUEUED], ["REQUEUED", Phase.QUEUED], ["REQUEUE_HOLD", Phase.QUEUED], ["SUSPENDED", Phase.QUEUED], ["STOPPED", Phase.QUEUED], ["RESV_DEL_HOLD", Phase.QUEUED],
      ["RUNNING", Phase.RUNNING], ["COMPLETING", Phase.RUNNING], ["STAGE_OUT", Phase.RUNNING], ["SIGNALING", Phase.RUNNING], ["RESIZING", Phase.RUNNING],
      ["COMPLETED", Phase.SUCCEEDED],
      ["FAILED", Phase.FAILED], ["TIMEOUT", Phase.FAILED], ["OUT_OF_MEMORY", Phase.FAILED], ["NODE_FAIL", Phase.FAILED], ["DEADLINE", Phase.FAILED], ["BOOT_FAIL", Phase.FAILED], ["SPECIAL_EXIT", Phase.FAILED], ["REVOKED", Phase.FAILED],
      ["PREEMPTED", Phase.RETRYABLE_FAILED], ["PREEMPTED+", Phase.RETRYABLE_FAILED],
      ["CANCELLED", Phase.ABORTED], ["CANCELLED by 1000", Phase.ABORTED], ["CANCELLED+", Phase.ABORTED], ["cancelled", Phase.ABORTED],
    ];
    for (const [state, phase] of expected) assert.equal(phaseOfState(state), phase, state);
    assert.equal(phaseOfState("SOMETHING_NEW"), undefined);
    assert.equal(phaseOfState(""), undefined);
    assert.equal(baseState("FAILED+"), "FAILED");
  });

  test("squeue, sacct, scontrol and sbatch output", () => {
    const sacct = parseSacct("123|COMPLETED|0:0|None\n123.batch|COMPLETED|0:0|\n124|CANCELLED by 1000|0:0|None\n125|FAILED|1:0|NonZeroExitCode\n\ngarbage\n");
    assert.deepEqual([...sacct.keys()], ["123", "124", "125"]);
    assert.equal(sacct.get("123")!.reason, undefined);
    assert.equal(sacct.get("125")!.reason, "NonZeroExitCode");
    assert.equal(describeState(sacct.get("125")!), "Slurm job 125 is FAILED, exit code 1:0, reason: NonZeroExitCode");
    assert.equal(describeState(sacct.get("123")!), "Slurm job 123 is COMPLETED");
    const squeue = parseSqueue("200|PENDING|Priority\n201|RUNNING|None\n");
    assert.deepEqual(squeue.get("200"), { jobId: "200", state: "PENDING", reason: "Priority" });
    assert.equal(squeue.get("201")!.reason, undefined);
    assert.deepEqual(parseScontrol("JobId=7 JobName=t UserId=u(1) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) ExitCode=1:0 RunTime=00:00:01"), {
      jobId: "7", state: "FAILED", exitCode: "1:0", reason: "NonZeroExitCode",
    });
    assert.equal(parseScontrol("not a scontrol line"), undefined);
    assert.equal(parseSbatchJobId("42\n"), "42");
    assert.equal(parseSbatchJobId("42;cluster1\n"), "42");
    assert.throws(() => parseSbatchJobId("sbatch: error: invalid partition"), /Unexpected sbatch output/);
  });
});

describe("known_hosts", () => {
  const key = (type: string) => {
    const body = randomBytes(32);
    const blob = Buffer.concat([Buffer.alloc(4), Buffer.from(type), Buffer.alloc(4), body]);
    blob.writeUInt32BE(type.length, 0);
    blob.writeUInt32BE(body.length, 4 + type.length);
    return blob;
  };
  const hashed = (name: string) => {
    const salt = randomBytes(20);
    return `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;
  };

  test("plain, [host]:port, wildcard, negated and hashed names; mismatch and revoked keys", () => {
    const [a, b, c, d] = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-ed25519", "ssh-ed25519"].map(key) as [Buffer, Buffer, Buffer, Buffer];
    const text = [
      "# comment",
      `login.example,10.0.0.1 ssh-ed25519 ${a.toString("base64")}`,
      `[login.example]:2222 ecdsa-sha2-nistp256 ${b.toString("base64")} comment`,
      `${hashed("[127.0.0.1]:2200")} ssh-ed25519 ${c.toString("base64")}`,
      `*.cluster,!bad.cluster ssh-ed25519 ${d.toString("base64")}`,
      `@revoked * ssh-ed25519 ${c.toString("base64")}`,
      "malformed line",
    ].join("\n");
    const known = new KnownHosts(text);
    assert.equal(known.verify("login.example", 22, a), "match");
    assert.equal(known.verify("LOGIN.example", 22, a), "match");
    assert.equal(known.verify("login.example", 22, b), "mismatch");
    assert.equal(known.verify("login.example", 2222, b), "match");
    assert.equal(known.verify("login.example", 2222, a), "mismatch");
    assert.equal(known.verify("10.0.0.1", 22, a), "match");
    assert.equal(known.verify("other", 22, a), "unknown");
    assert.equal(known.verify("n1.cluster", 22, d), "match");
    assert.equal(known.verify("bad.cluster", 22, d), "unknown");
    assert.equal(known.verify("127.0.0.1", 2200, c), "revoked");
    const hashedOnly = new KnownHosts(`${hashed("[127.0.0.1]:2200")} ssh-ed25519 ${c.toString("base64")}`);
    assert.equal(hashedOnly.verify("127.0.0.1", 2200, c), "match");
    assert.equal(hashedOnly.verify("127.0.0.1", 2201, c), "unknown");
    assert.deepEqual(known.preferredAlgorithms("login.example", 2222, ["ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512"]), ["ecdsa-sha2-nistp256", "ssh-ed25519", "rsa-sha2-512"]);
    assert.equal(known.preferredAlgorithms("nowhere", 22, ["ssh-ed25519"]), undefined);
  });

  test("a real OpenSSH public key line", () => {
    const { publicKey } = generateKeyPairSync("ed25519");
    const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
    const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from("ssh-ed25519"), Buffer.from([0, 0, 0, 32]), raw]);
    assert.equal(new KnownHosts(`[localhost]:2022 ssh-ed25519 ${blob.toString("base64")} root@x\n`).verify("localhost", 2022, blob), "match");
  });
});

describe("SlurmJobMetadata on the wire", () => {
  // Written by /usr/bin/python3: json.dumps(asdict(SlurmJobMetadata(...))) with flyte-sdk's dataclass.
  const fromPython = [
    `{"job_id": "900", "job_name": "flyte-train-1a2b3c4d", "host": "login.example", "username": "flyte", "port": 2222, "stdout_path": "/home/flyte/.flyte/jobs/flyte-train-1a2b3c4d.out", "stderr_path": "/home/flyte/.flyte/jobs/flyte-train-1a2b3c4d.err", "known_hosts": null, "skip_host_key_verification": false, "declared_outputs": {"model": {"uri": "s3://b/run/a0/1/model", "kind": "file", "upload": "connector", "written_to": "/home/flyte/.flyte/jobs/flyte-train-1a2b3c4d.outputs/model"}, "sh\\u00e4rds": {"uri": "s3://b/run/a0/1/sh\\u00e4rds", "kind": "directory", "upload": "job", "written_to": "s3://b/run/a0/1/sh\\u00e4rds"}}}`,
    `{"job_id": "7", "job_name": "flyte-x-00000001", "host": "h", "username": "u", "port": 22, "stdout_path": "/o/flyte-x-00000001.out", "stderr_path": "/o/flyte-x-00000001.err", "known_hosts": "/etc/kh", "skip_host_key_verification": false, "declared_outputs": {}}`,
  ];

  test("a meta written by the Python connector decodes, and encodes back to the same bytes", () => {
    for (const text of fromPython) {
      const meta = SlurmJobMetadata.decode(encoder.encode(text));
      assert.equal(decoder.decode(meta.encode()), text);
    }
    const meta = SlurmJobMetadata.decode(encoder.encode(fromPython[0]!));
    assert.equal(meta.port, 2222);
    assert.equal(meta.outputs["shärds"]!.kind, "directory");
  });

  test("a meta from an older Python connector (no declared_outputs) decodes", () => {
    const old = `{"job_id": "7", "job_name": "flyte-x-00000001", "host": "h", "username": "u", "port": 22, "stdout_path": "/o/flyte-x-00000001.out", "stderr_path": "/o/flyte-x-00000001.err", "known_hosts": null}`;
    assert.deepEqual(SlurmJobMetadata.decode(encoder.encode(old)).outputs, {});
  });

  test("a crafted meta cannot point logs or outputs at other files of the account", () => {
    const base = JSON.parse(fromPython[1]!) as Record<string, unknown>;
    const bad: Array<Record<string, unknown>> = [
      { stdout_path: "/home/u/.ssh/id_ed25519" },
      { stderr_path: "/home/u/.ssh/id_ed25519" },
      { stdout_path: "/x/flyte-x-00000001.out" },
      { job_name: "../../.ssh/id_rsa" },
      { job_id: "7; rm -rf ~" },
      { port: 0 },
      { declared_outputs: { m: { uri: "s3://b/m", kind: "file", upload: "connector", written_to: "/home/u/.ssh/id_rsa" } } },
      { declared_outputs: { m: { uri: "s3://b/m", kind: "pickle", upload: "job", written_to: "s3://b/m" } } },
      { declared_outputs: { "../../../.ssh/id_ed25519": { uri: "s3://b/../../../.ssh/id_ed25519", kind: "file", upload: "connector", written_to: "/o/flyte-x-00000001.outputs/../../../.ssh/id_ed25519" } } },
    ];
    for (const change of bad) {
      assert.throws(() => SlurmJobMetadata.decode(encoder.encode(JSON.stringify({ ...base, ...change }))), (e: Error & { code?: string }) => e.code === "INVALID_ARGUMENT", JSON.stringify(change));
    }
  });
});

describe("configuration", () => {
  test("FLYTE_SLURM_CONNECTOR_UPLOAD_MAX_BYTES as the Python connector parses it", () => {
    const cases: Array<[string, number | undefined]> = [["4096", 4096], ["500MB", 500e6], ["2GB", 2e9], ["512MiB", 512 * 2 ** 20], ["1 gb", 1e9], ["100b", 100], ["0", undefined], ["unlimited", undefined], ["none", undefined], ["1_000", 1000]];
    for (const [raw, expected] of cases) assert.equal(parseSize(raw), expected, raw);
    for (const raw of ["big", "500 MB please", "1.5GB", "-1", "MB", "500PB"]) assert.throws(() => parseSize(raw), /FLYTE_SLURM_CONNECTOR_UPLOAD_MAX_BYTES/, raw);
    assert.equal(connectorUploadMaxBytes({}), 100 * 1024 * 1024);
    assert.equal(connectorUploadMaxBytes({ FLYTE_SLURM_CONNECTOR_UPLOAD_MAX_BYTES: "   " }), 100 * 1024 * 1024);
  });

  test("custom keys of the wrong shape are INVALID_ARGUMENT naming the key", () => {
    for (const [custom, key] of [[{ sbatch: "x" }, "sbatch"], [{ connection: { port: "22" } }, "connection.port"], [{ outputs: { m: "float" } }, "outputs.m"], [{ output_upload: "pod" }, "output_upload"], [{ container: { mounts: "/a:/b" } }, "container.mounts"], [{ modules: [1] }, "modules"], [{ outputs: { "../x": "file" } }, "outputs"]] as const) {
      assert.throws(() => parseCustom(custom as never), (e: Error & { code?: string }) => e.code === "INVALID_ARGUMENT" && e.message.includes(`custom.${key}`), key);
    }
  });

  test("job names: Python's format; the same for a repeated create of one attempt, different for the next", () => {
    const template = create(TaskTemplateSchema, { id: { name: "pkg.mod.train $(x)" } });
    const metadata = (attempt: number) => ({ taskExecutionId: { nodeExecutionId: { nodeId: "a0", executionId: { project: "p", domain: "d", name: "r1", org: "o" } }, retryAttempt: attempt } }) as never;
    const first = jobName(template, { taskExecutionMetadata: metadata(0), outputPrefix: "s3://b/r1/a0/1" });
    assert.match(first, /^flyte-train---x-[0-9a-f]{8}$/);
    assert.equal(jobName(template, { taskExecutionMetadata: metadata(0), outputPrefix: "s3://b/r1/a0/1" }), first);
    assert.notEqual(jobName(template, { taskExecutionMetadata: metadata(1), outputPrefix: "s3://b/r1/a0/2" }), first);
    assert.match(jobName(create(TaskTemplateSchema, {}), { taskExecutionMetadata: undefined, outputPrefix: "" }), /^flyte-task-[0-9a-f]{8}$/);
    assert.match(jobName(create(TaskTemplateSchema, { id: { name: `x.${"y".repeat(60)}` } }), { taskExecutionMetadata: undefined, outputPrefix: "p" }), new RegExp(`^flyte-${"y".repeat(40)}-[0-9a-f]{8}$`));
  });
});

describe("task classes", () => {
  test("SlurmScriptTask writes the custom keys flyte-sdk's SlurmScriptTask writes", () => {
    const task = new SlurmScriptTask({
      name: "train",
      script: '#!/bin/bash\ncp x "$FLYTE_OUTPUT_MODEL"\n',
      inputs: { epochs: types.int },
      outputs: { model: types.file, shards: types.dir },
      slurm: { partition: "main", nodes: 4, host: "login.example", username: "flyte", ssh_private_key: "slurm-key", known_hosts_secret: "slurm-kh", sbatch_options: { exclusive: true } },
    });
    const template = task.toTaskTemplate();
    assert.equal(template.type, "slurm_script");
    const custom = template.custom as Record<string, unknown>;
    assert.deepEqual(custom["sbatch"], { partition: "main", nodes: 4 });
    assert.deepEqual(custom["connection"], { host: "login.example", username: "flyte" });
    assert.deepEqual(custom["secrets"], { ssh_private_key: "slurm-key", known_hosts_data: "slurm-kh" });
    assert.deepEqual(custom["outputs"], { model: "file", shards: "directory" });
    assert.equal(custom["output_upload"], "connector");
    assert.deepEqual(custom["container"], { runtime: "pyxis", args: [], image: null, mounts: [], workdir: null, srun_args: [] });
  });

  test("SlurmScriptTask refuses undeclared output references, non-File/Dir outputs and bad options at declaration", () => {
    assert.throws(() => new SlurmScriptTask({ name: "t", script: 'cp x "$FLYTE_OUTPUT_SUMARY"', outputs: { summary: types.file }, slurm: {} }), /\$FLYTE_OUTPUT_SUMARY.*FLYTE_OUTPUT_SUMMARY \(from 'summary'\)/);
    assert.throws(() => new SlurmScriptTask({ name: "t", script: 'cp x "$FLYTE_OUTPUT_X"', slurm: {} }), /declares no outputs/);
    assert.throws(() => new SlurmScriptTask({ name: "t", script: "echo", outputs: { acc: types.float }, slurm: {} }), /only produce File or Dir/);
    assert.throws(() => new SlurmScriptTask({ name: "t", script: "echo", slurm: { sbatch_options: { output: "/x" } } }), /cannot be overridden/);
    assert.throws(() => new SlurmTask({ name: "t", image: "i", command: ["a0"], slurm: { container_runtime: "docker" as never } }), /Unknown container_runtime/);
  });

  test("SlurmTask carries its image and command in the template's container", () => {
    const template = new SlurmTask({ name: "t", image: "ghcr.io/org/img:1", command: ["python", "-c", "print(1)"], slurm: { container_runtime: "apptainer" } }).toTaskTemplate();
    assert.equal(template.type, "slurm");
    assert.equal(template.target.case, "container");
    assert.deepEqual(template.target.case === "container" ? [template.target.value.image, template.target.value.args] : [], ["ghcr.io/org/img:1", ["python", "-c", "print(1)"]]);
  });
});

describe("SSH faults without a cluster", () => {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { format: "pem", type: "pkcs1" }, publicKeyEncoding: { format: "pem", type: "spki" } });
  const target = (port: number) => ({ host: "127.0.0.1", port, username: "u", privateKey, knownHosts: "", knownHostsSource: "test" });

  test("a server that accepts TCP but never speaks SSH: UNAVAILABLE after the connect timeout, naming the host", async () => {
    const server = createServer(() => {}); // accepts, never answers
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const ssh = new SshConnection(target(port), { connectTimeout: 500 });
    const started = Date.now();
    try {
      await assert.rejects(ssh.exec("true"), (e: Error & { code?: string; transient?: boolean }) => {
        assert.equal(e.code, "UNAVAILABLE");
        assert.equal(e.transient, true);
        assert.match(e.message, new RegExp(`[Tt]imed out .*u@\\[127\\.0\\.0\\.1\\]:${port}`));
        return true;
      });
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    } finally {
      ssh.close();
      server.close();
    }
  });

  test("nothing listening: UNAVAILABLE (transient) naming ECONNREFUSED; a malformed key: FAILED_PRECONDITION without key material", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    await assert.rejects(new SshConnection(target(port)).exec("true"), (e: Error & { code?: string }) => e.code === "UNAVAILABLE" && /ECONNREFUSED/.test(e.message));
    const secretish = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAASECRETKEYMATERIALAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
    await assert.rejects(new SshConnection({ ...target(port), privateKey: secretish }).exec("true"), (e: Error & { code?: string }) => {
      assert.equal(e.code, "FAILED_PRECONDITION");
      assert.match(e.message, /private key .* cannot be used/);
      assert.ok(!e.message.includes("SECRETKEYMATERIAL"));
      return true;
    });
  });
});
