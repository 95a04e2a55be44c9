// Slow (npm installs; the npm registry must be reachable for typescript, tsx, @types/node and the core's public
// dependencies, which the npm cache usually already holds): a scaffolded package installs and passes its own tests
// right away, and its image (image.ts / Dockerfile) installs and serves the connector — replayed without Docker.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { spawnService } from "../testing/spawn.js";

const BIN = path.join(import.meta.dirname, "..", "..", "bin", "flyte-connector.js");
const scratch = mkdtempSync(path.join(tmpdir(), "init-install-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

// The environment of a user's shell: without the npm_* variables of an enclosing `npm test` (workspace, prefix, …)
// and without NODE_TEST_CONTEXT, which would make the scaffold's `node --test` skip its files as a nested run.
const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) && key !== "NODE_TEST_CONTEXT"));

function run(command: string, args: string[], cwd: string) {
  const result = spawnSync(command, args, { cwd, env, encoding: "utf8", timeout: 120_000 });
  const output = `${command} ${args.join(" ")} (exit ${result.status}):\n${result.stdout}\n${result.stderr}`;
  return { code: result.status, output };
}

test("a scaffolded package installs, passes its tests, and its image's runtime install serves the connector", { timeout: 240_000 }, async () => {
  const created = run(process.execPath, [BIN, "init", "acme-jobs-connector", "--task-type", "acme_job"], scratch);
  assert.equal(created.code, 0, created.output);
  const dir = path.join(scratch, "acme-jobs-connector");

  const install = run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], dir);
  assert.equal(install.code, 0, install.output);
  const tests = run("npm", ["test"], dir);
  assert.equal(tests.code, 0, tests.output);
  assert.match(tests.output, /# pass 6\n# fail 0/);

  // The image build without Docker: pack the package in place (prepack builds it), let the CLI write the build
  // context of image.ts, then do what its Dockerfile's `RUN npm install` does with those files, in an empty folder.
  const packed = run("npm", ["pack"], dir);
  assert.equal(packed.code, 0, packed.output);
  const context = path.join(scratch, "context");
  // The repository's CLI (not the scaffold's vendored one): it builds with the core image.ts imports.
  const dryRun = run(process.execPath, [BIN, "image", "build", "image.ts", "--dry-run", "--context", context], dir);
  assert.equal(dryRun.code, 0, dryRun.output);
  const imageDockerfile = readFileSync(path.join(context, "Dockerfile"), "utf8");
  const tarballs = readdirSync(path.join(context, "npm"), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".tgz"))
    .map((f) => path.join(context, "npm", f));
  assert.equal(tarballs.length, 5, imageDockerfile); // flyteidl2, flyteidl (Flyte 1), the SDK, the service, the connector
  const app = path.join(scratch, "app");
  mkdirSync(app);
  const runtime = run("npm", ["install", "--omit=dev", "--prefer-offline", "--no-audit", "--no-fund", ...tarballs], app);
  assert.equal(runtime.code, 0, runtime.output);

  const dockerfile = readFileSync(path.join(dir, "Dockerfile"), "utf8");
  const entrypoint = JSON.parse(/^ENTRYPOINT (.+)$/m.exec(dockerfile)![1]!) as string[];
  assert.deepEqual(JSON.parse(/^ENTRYPOINT (.+)$/m.exec(imageDockerfile)![1]!), entrypoint, "Dockerfile and image.ts run the same command");
  const service = await spawnService([...entrypoint.slice(1), "--port", "0", "--prometheus-port", "0", "--host", "127.0.0.1", "--no-builtins"], {
    command: entrypoint[0]!,
    cwd: app,
    env: { ...env, NODE_ENV: "production" },
    ready: (stderr) => /acme_job/.test(stderr),
  });
  try {
    assert.match(service.stderr(), /Acme Jobs Connector\s+acme_job\s+0\s+acme-jobs-connector \(flyteConnectors\)/);
    // An answer from the event loop also means the service's start-up code, signal handlers included, has run.
    assert.equal((await fetch(`http://127.0.0.1:${service.metricsPort}/metrics`)).status, 200);
    assert.equal(await service.stop(), 0);
  } finally {
    await service.stop("SIGKILL");
  }
});
