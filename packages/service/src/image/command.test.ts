import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { pathToFileURL } from "node:url";
import { Image } from "flyte-connectors";

// The CLI as users run it (compiled: `npm run build` first, as `npm test` does).
const BIN = path.join(import.meta.dirname, "..", "..", "bin", "flyte-connector.js");
// The spec files live outside the repository, so they import the core by URL: the same module the CLI loads.
const CORE = pathToFileURL(path.join(import.meta.dirname, "..", "..", "..", "flyte-connectors", "dist", "index.js")).href;

const scratch = mkdtempSync(path.join(tmpdir(), "image-cli-test-"));
// As in a connector package (`flyte-connector init` makes them ESM): .ts files are ES modules.
writeFileSync(path.join(scratch, "package.json"), JSON.stringify({ type: "module" }));
after(() => rmSync(scratch, { recursive: true, force: true }));

function specFile(name: string, body: string): string {
  const file = path.join(scratch, name);
  writeFileSync(file, `import { Image } from ${JSON.stringify(CORE)};\n${body}\n`);
  return file;
}

function cli(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd: scratch, env, encoding: "utf8", timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const expected = Image.fromNodeBase({ registry: "ghcr.io/acme", name: "weather" }).withAptPackages("git").withNpmPackages("left-pad@1.3.0");

test("image dockerfile prints the Dockerfile of a .ts spec's default export", () => {
  const file = specFile(
    "image.ts",
    `const image: Image = Image.fromNodeBase({ registry: "ghcr.io/acme", name: "weather" }).withAptPackages("git").withNpmPackages("left-pad@1.3.0");\nexport default image;`,
  );
  const { code, stdout } = cli(["image", "dockerfile", file]);
  assert.equal(code, 0);
  assert.equal(stdout, expected.dockerfile());
});

test("image build --dry-run takes a named `image` export, prints the plan on stderr and the URI on stdout", () => {
  const file = specFile("named.mjs", `export const image = Image.fromNodeBase({ registry: "ghcr.io/acme", name: "weather" }).withAptPackages("git").withNpmPackages("left-pad@1.3.0");`);
  const { code, stdout, stderr } = cli(["image", "build", file, "--dry-run", "--push", "--platform", "linux/amd64,linux/arm64"]);
  assert.equal(code, 0, stderr);
  assert.equal(stdout, `${expected.uri}\n`);
  assert.ok(stderr.includes(expected.dockerfile()));
  assert.ok(stderr.includes(`docker buildx build --file <context>/Dockerfile --tag ${expected.uri} --platform linux/amd64,linux/arm64 --push <context>`), stderr);
});

test("image build runs the docker found on PATH with an argv array", () => {
  const bin = mkdtempSync(path.join(scratch, "bin-"));
  const log = path.join(bin, "argv.jsonl");
  writeFileSync(
    path.join(bin, "docker"),
    // import(), not require(): the script sits under the ESM package.json above.
    // Progress on stdout, as podman prints its build steps: it must not end up in the CLI's stdout (the URI only).
    `#!${process.execPath}\nprocess.stdout.write("STEP 1/3: FROM node:20-slim\\n");\nimport("node:fs").then((fs) => fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify(process.argv.slice(2)) + "\\n"));\n`,
  );
  chmodSync(path.join(bin, "docker"), 0o755);
  const file = specFile("spec.mjs", `export default Image.fromNodeBase({ registry: "ghcr.io/acme", name: "weather" }).withAptPackages("git").withNpmPackages("left-pad@1.3.0");`);
  const { code, stdout, stderr } = cli(["image", "build", file], { ...process.env, PATH: bin });
  assert.equal(code, 0, stderr);
  assert.equal(stdout, `${expected.uri}\n`);
  assert.match(stderr, /STEP 1\/3: FROM node:20-slim/, "the builder's own output is shown, on stderr");
  const calls = readFileSync(log, "utf8").trim().split("\n").map((line) => JSON.parse(line) as string[]);
  assert.deepEqual(calls[0], ["buildx", "version"]);
  assert.deepEqual(calls[1]!.slice(0, 2), ["buildx", "build"]);
  assert.deepEqual(calls[1]!.slice(4, 7), ["--tag", expected.uri, "--load"]);
});

test("image build without docker or podman fails with one line naming both", () => {
  const empty = mkdtempSync(path.join(scratch, "empty-"));
  const file = specFile("plain.mjs", `export default Image.fromNodeBase();`);
  const { code, stderr } = cli(["image", "build", file], { ...process.env, PATH: empty });
  assert.equal(code, 1);
  assert.match(stderr, /^error: No image builder found: looked for `docker` .* and `podman`/);
  assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace");
});

test("a file that exports no Image, or does not exist, is refused clearly", () => {
  const file = specFile("wrong.mjs", `export default { uri: "x" };`);
  const wrong = cli(["image", "dockerfile", file]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /must export an Image as its default export or as `image`/);
  const broken = cli(["image", "dockerfile", specFile("broken.mjs", `throw new Error("boom");`)]);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /^error: Could not load .*broken\.mjs: boom\n$/);
  const missing = cli(["image", "dockerfile", "nope.ts"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Image spec file nope\.ts does not exist/);
});
