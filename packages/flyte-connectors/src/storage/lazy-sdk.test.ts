// Vendor SDKs are optional peer dependencies: importing flyte-connectors (and using file://) loads none of them;
// the first s3:// call loads the AWS SDK only; a missing SDK is a FAILED_PRECONDITION naming the package.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";

const SDK = /node_modules\/(@aws-sdk|@azure|@google-cloud|@smithy)\//;

test("importing flyte-connectors loads no vendor SDK; the first s3:// call loads only the AWS SDK", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lazy-sdk-"));
  try {
    const log = join(dir, "resolved.log");
    // A module resolution hook that records every resolved URL (hooks run off the main thread: a file is the channel).
    await writeFile(join(dir, "hooks.mjs"), `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(${JSON.stringify(log)}, result.url + "\\n");
  return result;
}`);
    await writeFile(join(dir, "register.mjs"), `import { register } from "node:module"; register(${JSON.stringify(pathToFileURL(join(dir, "hooks.mjs")).href)});`);
    const script = `
      const fc = await import("flyte-connectors");
      const store = new fc.ObjectStore({ retries: 0, s3: { endpoint: "http://127.0.0.1:9", accessKeyId: "a", secretAccessKey: "b" } });
      await store.put(${JSON.stringify(join(dir, "x.txt"))}, "x");
      const { appendFileSync } = await import("node:fs");
      appendFileSync(${JSON.stringify(log)}, "--- s3\\n");
      await store.get("s3://bucket/key").catch(() => {});
    `;
    const run = spawnSync(process.execPath, ["--import", pathToFileURL(join(dir, "register.mjs")).href, "--input-type=module", "-e", script], {
      cwd: join(import.meta.dirname, "..", ".."),
      env: { ...process.env, AWS_EC2_METADATA_DISABLED: "true", METADATA_SERVER_DETECTION: "none" },
      encoding: "utf8",
    });
    assert.equal(run.status, 0, run.stderr);
    const [before, after] = (await readFile(log, "utf8")).split("--- s3\n") as [string, string];
    assert.ok(before.includes("flyte-connectors/dist/index.js"), "the package itself was loaded");
    assert.deepEqual(before.split("\n").filter((url) => SDK.test(url)), [], "an SDK was loaded before any s3:// call");
    assert.ok(after.split("\n").some((url) => /@aws-sdk\/client-s3\//.test(url)), "the s3:// call loaded the AWS SDK");
    assert.deepEqual(after.split("\n").filter((url) => /@azure|@google-cloud/.test(url)), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a scheme whose SDK is not installed fails with FAILED_PRECONDITION naming the package to install", async () => {
  // An install with flyte-connectors and its own dependencies only: symlinks, resolved where they are (--preserve-symlinks).
  const dir = await mkdtemp(join(tmpdir(), "no-sdk-"));
  try {
    const root = join(import.meta.dirname, "..", "..", "..", "..");
    const own = ["flyte-connectors", "@flyte-connectors/flyteidl2", "@bufbuild/protobuf", "@msgpack/msgpack", "undici"];
    for (const name of own) {
      await mkdir(join(dir, "node_modules", dirname(name)), { recursive: true });
      await symlink(await realpath(join(root, "node_modules", name)), join(dir, "node_modules", name));
    }
    const script = `
      const { ObjectStore } = await import("flyte-connectors");
      const store = new ObjectStore({ retries: 0 });
      for (const uri of ["s3://b/k", "gs://b/k", "abfs://c/k"]) {
        try { await store.get(uri); } catch (e) { console.log(JSON.stringify({ uri, code: e.code, message: e.message })); }
      }
    `;
    const run = spawnSync(process.execPath, ["--preserve-symlinks", "--input-type=module", "-e", script], { cwd: dir, encoding: "utf8", env: { ...process.env, AWS_EC2_METADATA_DISABLED: "true", METADATA_SERVER_DETECTION: "none" } });
    assert.equal(run.status, 0, run.stderr);
    const results = run.stdout.trim().split("\n").map((line) => JSON.parse(line) as { uri: string; code: string; message: string });
    assert.deepEqual(results.map((r) => [r.uri, r.code]), [["s3://b/k", "FAILED_PRECONDITION"], ["gs://b/k", "FAILED_PRECONDITION"], ["abfs://c/k", "FAILED_PRECONDITION"]]);
    assert.match(results[0]!.message, /"s3:\/\/b\/k".*npm install @aws-sdk\/client-s3/);
    assert.match(results[1]!.message, /npm install @google-cloud\/storage/);
    assert.match(results[2]!.message, /npm install @azure\/storage-blob/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
