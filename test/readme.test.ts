// Runs the code blocks marked `<!-- readme-test: NAME -->` in the README and docs/ against the built packages
// (.mjs with plain Node, .ts through tsx), so the documentation stays true to the code.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";

const root = join(import.meta.dirname, "..");
const documents = ["README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => join("docs", f))];
const blocks = new Map<string, string>();
for (const document of documents) {
  for (const m of readFileSync(join(root, document), "utf8").matchAll(/<!-- readme-test: (\S+) -->\n```\w+\n([\s\S]*?)```/g)) {
    assert.ok(!blocks.has(m[1]!), `two blocks are named ${m[1]}`);
    blocks.set(m[1]!, m[2]!);
  }
}
// Inside the repository so that `import "flyte-connectors"` resolves as it does for a user of the workspace.
mkdirSync(join(root, "node_modules", ".cache"), { recursive: true });
const dir = mkdtempSync(join(root, "node_modules", ".cache", "readme-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function runBlock(name: string): Promise<string> {
  return (await runBlockOutput(name)).stdout;
}

async function runBlockOutput(name: string): Promise<{ stdout: string; stderr: string }> {
  const code = blocks.get(name);
  assert.ok(code, `README has no block marked readme-test: ${name}`);
  const file = join(dir, name);
  writeFileSync(file, code);
  const loader = name.endsWith(".ts") ? ["--import", "tsx"] : [];
  return promisify(execFile)(process.execPath, [...loader, file], { cwd: dir, timeout: 30_000 });
}

test("the README's connector from scratch runs with plain Node and prints its outputs", async () => {
  assert.equal((await runBlock("quickstart.mjs")).trim(), "{ words: 6 }");
});

test("the environment example runs locally, names the failed action, and serializes", async () => {
  await runBlock("hello-workflow.mjs");
  const [first, failure] = (await runBlock("run-local.mjs")).trim().split("\n");
  assert.equal(first, "HELLO FLYTEHELLO FLYTE");
  assert.match(failure ?? "", /^a0 hello_world\.shout: .*times/);
  assert.match(await runBlock("serialize.mjs"), /^python hello_world\.greeting ghcr\.io\/acme\/hello:1\.0 /);
});

test("the README's Dask environment serializes as the Python plugin does and runs locally", async () => {
  const [type, custom, result] = (await runBlock("dask-environment.ts")).trim().split("\n");
  assert.equal(type, "dask");
  assert.deepEqual(JSON.parse(custom ?? ""), {
    scheduler: {},
    workers: { numberOfWorkers: 4, resources: { requests: [{ name: "CPU", value: "2" }, { name: "MEMORY", value: "4Gi" }], limits: [{ name: "MEMORY", value: "8Gi" }] } },
  });
  assert.equal(result, "[ 2, 4, 6 ]");
});

test("the plugin examples of docs/environments.md run and print what the text says", async () => {
  const [ray, spark, torch] = (await runBlock("plugins-configs.ts")).trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.ok(ray?.["rayCluster"], "Ray custom has rayCluster");
  assert.equal(spark?.["executorPath"], "/opt/venv/bin/python");
  assert.deepEqual(torch?.["elasticConfig"], { rdzvBackend: "c10d", minReplicas: 2, maxReplicas: 4, nprocPerNode: 8, maxRestarts: 3 });

  const { stderr } = await runBlockOutput("plugins-wandb.ts");
  assert.match(stderr, /Weights & Biases: https:\/\/wandb\.ai\/acme\/mnist\/runs\/r1-a0/);
  assert.match(stderr, /Weights & Biases Sweep: https:\/\/wandb\.ai\/acme\/mnist\/sweeps\/k3x9d2/);

  const tools = await runBlock("plugins-openai-tools.ts");
  assert.match(tools, /"name":"get_weather"/);
  assert.match(tools, /tool_call_id: 'call_abc123'/);
  assert.match(tools, /content: '\{"temperature":21\.5\}'/);
});

test("TypeScript users get declarations: a strict consumer of flyte-connectors type-checks", async () => {
  const file = join(dir, "consumer.ts");
  writeFileSync(
    file,
    `import { AsyncConnector, ConnectorTask, Phase, ResourceMeta, types, type CreateRequest, type Resource, type ResourceRequest } from "flyte-connectors";
class JobMeta extends ResourceMeta.define({ job_id: "string", attempts: "integer?" }) {}
export class MyConnector extends AsyncConnector<JobMeta> {
  readonly name = "Mine";
  readonly taskTypeName = "mine";
  readonly metadataType = JobMeta;
  async create({ inputs, signal }: CreateRequest): Promise<JobMeta> {
    signal.throwIfAborted();
    return new JobMeta({ job_id: String(inputs["n"]) });
  }
  async get({ resourceMeta }: ResourceRequest<JobMeta>): Promise<Resource> {
    const id: string = resourceMeta.job_id;
    return { phase: Phase.SUCCEEDED, message: id };
  }
  async delete(): Promise<void> {}
}
const task = new ConnectorTask({ name: "t", taskType: "mine", inputs: { n: types.int }, outputs: { out: types.list(types.string) } });
export const check: (o: { out: string[] }) => void = () => {};
type Outputs = import("flyte-connectors").InferShape<typeof task.outputs>;
export const typed: Outputs = { out: ["a"] }; // the declared output types reach the static type
check(typed);
// @ts-expect-error: a number list is not the declared list of strings
export const wrong: Outputs = { out: [1] };
`,
  );
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const args = [tsc, "--noEmit", "--strict", "--noUncheckedIndexedAccess", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "--skipLibCheck", "false", "--types", "node", file];
  await promisify(execFile)(process.execPath, args, { cwd: dir, timeout: 60_000 }).catch((error: { stdout?: string }) => {
    assert.fail(`tsc failed:\n${error.stdout}`);
  });
});

test("every TypeScript block of the README type-checks with the compiler options `flyte-connector init` generates", async () => {
  // The scaffold's tsconfig (strict, noUncheckedIndexedAccess, noImplicitOverride, …): what a new user compiles with.
  const template = JSON.parse(readFileSync(join(root, "packages", "service", "templates", "connector", "tsconfig.json.tmpl"), "utf8")) as {
    compilerOptions: Record<string, unknown>;
  };
  assert.equal(template.compilerOptions["noImplicitOverride"], true, "the scaffold checks overrides");
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const sources = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.ok(sources.length >= 3, "the README has TypeScript blocks");
  const check = join(dir, "typecheck");
  mkdirSync(check, { recursive: true });
  const files = sources.map((source, i) => {
    const file = `block-${i}.ts`;
    writeFileSync(join(check, file), source);
    return file;
  });
  const { rootDir: _rootDir, outDir: _outDir, declaration: _declaration, sourceMap: _sourceMap, ...options } = template.compilerOptions;
  writeFileSync(join(check, "tsconfig.json"), JSON.stringify({ compilerOptions: { ...options, noEmit: true }, files }));
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  await promisify(execFile)(process.execPath, [tsc, "-p", join(check, "tsconfig.json")], { cwd: check, timeout: 120_000 }).catch((error: { stdout?: string }) => {
    assert.fail(`README TypeScript does not compile under the scaffold's options:\n${error.stdout}`);
  });
});

test("the README's supervisor wrapper runs the service as the process the supervisor signals: SIGTERM drains and exits 0", async () => {
  const code = blocks.get("serve-pid1.sh");
  assert.ok(code, "README has no block marked readme-test: serve-pid1.sh");
  const script = join(dir, "serve-pid1.sh");
  writeFileSync(script, code);
  const { spawn } = await import("node:child_process");
  const child = spawn("sh", [script, "--port", "0", "--prometheus-port", "0", "--connect-port", "0", "--host", "127.0.0.1", "--no-discover"], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += String(d)));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (status) => resolve(status)));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stderr.on("data", (d) => {
        stderr += String(d);
        if (/serving gRPC/.test(stderr)) resolve();
      });
      void exited.then((status) => reject(new Error(`exited (${status}) before serving: ${stderr}`)));
    });
    child.kill("SIGTERM"); // what a supervisor sends to the process it started
    assert.equal(await exited, 0, stderr);
    assert.match(stdout, /"msg":"shutting down".*"reason":"SIGTERM"|"reason":"SIGTERM".*"msg":"shutting down"/);
    assert.match(stdout, /"msg":"stopped"/, "the service itself got the signal and drained");
  } finally {
    child.kill("SIGKILL");
  }
});
