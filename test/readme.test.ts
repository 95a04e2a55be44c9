// Runs the README's code blocks marked `<!-- readme-test: NAME -->` with plain Node, against the built
// packages, so the front door stays true to the code.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";

const root = join(import.meta.dirname, "..");
const readme = readFileSync(join(root, "README.md"), "utf8");
const blocks = new Map(
  [...readme.matchAll(/<!-- readme-test: (\S+) -->\n```\w+\n([\s\S]*?)```/g)].map((m) => [m[1]!, m[2]!] as const),
);
// Inside the repository so that `import "flyte-connectors"` resolves as it does for a user of the workspace.
mkdirSync(join(root, "node_modules", ".cache"), { recursive: true });
const dir = mkdtempSync(join(root, "node_modules", ".cache", "readme-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function runBlock(name: string): Promise<string> {
  const code = blocks.get(name);
  assert.ok(code, `README has no block marked readme-test: ${name}`);
  const file = join(dir, name);
  writeFileSync(file, code);
  const { stdout } = await promisify(execFile)(process.execPath, [file], { cwd: dir, timeout: 30_000 });
  return stdout;
}

test("the README's connector from scratch runs with plain Node and prints its outputs", async () => {
  assert.equal((await runBlock("quickstart.mjs")).trim(), "{ words: 6 }");
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
