import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { Image, ImageBuildEngine, ImageBuildError } from "../index.js";

const scratch = mkdtempSync(path.join(tmpdir(), "image-build-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * A folder holding a fake `docker` or `podman`: a Node script (absolute shebang, so it needs nothing on PATH) that
 * appends its argv and, for builds, the context's Dockerfile and file list to a JSON-lines log, then exits `exitCode`.
 */
function fakeTool(tool: "docker" | "podman", exitCode = 0): { bin: string; calls: () => { argv: string[]; dockerfile?: string; files?: string[] }[] } {
  const bin = mkdtempSync(path.join(scratch, "bin-"));
  const log = path.join(bin, "calls.jsonl");
  const script = `#!${process.execPath}
const fs = require("node:fs"), path = require("node:path");
const argv = process.argv.slice(2);
const record = { argv };
const build = argv.indexOf("build");
if (build >= 0) {
  const context = argv[argv.length - 1];
  record.dockerfile = fs.readFileSync(argv[argv.indexOf("--file") + 1], "utf8");
  record.files = fs.readdirSync(context, { recursive: true }).map(String).sort();
}
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify(record) + "\\n");
process.exit(argv[0] === "buildx" && argv[1] === "version" ? 0 : argv[0] === "--version" ? 0 : ${exitCode});
`;
  writeFileSync(path.join(bin, tool), script);
  chmodSync(path.join(bin, tool), 0o755);
  return {
    bin,
    calls: () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l)) : []),
  };
}

function connectorDir(): string {
  const dir = mkdtempSync(path.join(scratch, "src-"));
  mkdirSync(path.join(dir, "dist"));
  writeFileSync(path.join(dir, "dist", "index.js"), "export default [];\n");
  mkdirSync(path.join(dir, "node_modules", "dep"), { recursive: true });
  writeFileSync(path.join(dir, "node_modules", "dep", "index.js"), "");
  return dir;
}

test("without docker or podman on PATH the build fails with ImageBuildError naming both", async () => {
  const empty = mkdtempSync(path.join(scratch, "empty-"));
  const error = await ImageBuildEngine.build(Image.fromNodeBase(), { env: { PATH: empty }, output: null }).catch((e: unknown) => e);
  assert.ok(error instanceof ImageBuildError);
  assert.match(error.message, /No image builder found/);
  assert.match(error.message, /docker buildx version/);
  assert.match(error.message, /podman --version/);
});

test("the local builder runs `docker buildx build` with the context it prepared, then removes the context", async () => {
  const docker = fakeTool("docker");
  const source = connectorDir();
  const image = Image.fromNodeBase({ registry: "localhost:5000", name: "conn" }).withSource(source, "/app/connector");
  const result = await ImageBuildEngine.build(image, { platform: "linux/amd64", env: { PATH: docker.bin }, output: null });

  assert.equal(result.built, true);
  assert.equal(result.tool, "docker");
  assert.equal(result.uri, image.uri);
  const calls = docker.calls();
  assert.deepEqual(calls[0]!.argv, ["buildx", "version"], "buildx is probed first");
  const build = calls[1]!;
  const context = build.argv.at(-1)!;
  assert.deepEqual(build.argv, ["buildx", "build", "--file", path.join(context, "Dockerfile"), "--tag", image.uri, "--platform", "linux/amd64", "--load", context]);
  assert.equal(build.dockerfile, image.dockerfile());
  const name = path.basename(source);
  assert.deepEqual(build.files, ["Dockerfile", "sources", "sources/0", `sources/0/${name}`, `sources/0/${name}/dist`, `sources/0/${name}/dist/index.js`]);
  assert.equal(existsSync(context), false, "temporary context removed");
});

test("push adds --push; several platforms are joined", async () => {
  const docker = fakeTool("docker");
  const image = Image.fromNodeBase({ registry: "ghcr.io/acme" });
  await ImageBuildEngine.build(image, { push: true, platform: ["linux/amd64", "linux/arm64"], env: { PATH: docker.bin }, output: null });
  const argv = docker.calls()[1]!.argv;
  assert.deepEqual(argv.slice(4, 9), ["--tag", image.uri, "--platform", "linux/amd64,linux/arm64", "--push"]);
});

test("podman is used when docker is missing: build, then push", async () => {
  const podman = fakeTool("podman");
  const image = Image.fromNodeBase({ registry: "ghcr.io/acme" });
  const result = await ImageBuildEngine.build(image, { push: true, env: { PATH: podman.bin }, output: null });
  assert.equal(result.tool, "podman");
  const calls = podman.calls();
  assert.deepEqual(calls[0]!.argv, ["--version"]);
  assert.deepEqual(calls[1]!.argv.slice(0, 1).concat(calls[1]!.argv.slice(3, 5)), ["build", "--tag", image.uri]);
  assert.deepEqual(calls[2]!.argv, ["push", image.uri]);
});

test("podman with several platforms builds a manifest list and pushes all of its images", async () => {
  const podman = fakeTool("podman");
  const image = Image.fromNodeBase({ registry: "ghcr.io/acme" });
  await ImageBuildEngine.build(image, { push: true, platform: ["linux/amd64", "linux/arm64"], env: { PATH: podman.bin }, output: null });
  const [, build, push] = podman.calls();
  // --tag would name only the last platform's image, and `podman push` would push that one alone.
  assert.deepEqual(build!.argv.slice(3, 7), ["--manifest", image.uri, "--platform", "linux/amd64,linux/arm64"]);
  assert.deepEqual(push!.argv, ["manifest", "push", "--all", image.uri, `docker://${image.uri}`]);
});

test("a failing build rejects with the exit code", async () => {
  const docker = fakeTool("docker", 3);
  const error = await ImageBuildEngine.build(Image.fromNodeBase(), { env: { PATH: docker.bin }, output: null }).catch((e: unknown) => e);
  assert.ok(error instanceof ImageBuildError);
  assert.match(error.message, /docker buildx build … failed with exit code 3/);
});

test("dryRun runs nothing and reports the Dockerfile and command", async () => {
  const empty = mkdtempSync(path.join(scratch, "empty-"));
  let printed = "";
  const image = Image.fromNodeBase({ registry: "ghcr.io/acme" }).withAptPackages("git");
  const result = await ImageBuildEngine.build(image, { dryRun: true, push: true, env: { PATH: empty }, output: { write: (t: string) => (printed += t) } });
  assert.equal(result.built, false);
  assert.equal(result.dockerfile, image.dockerfile());
  assert.deepEqual(result.commands, [["docker", "buildx", "build", "--file", path.join("<context>", "Dockerfile"), "--tag", image.uri, "--push", "<context>"]]);
  assert.ok(printed.includes(image.dockerfile()));
  assert.ok(printed.includes(`docker buildx build --file <context>/Dockerfile --tag ${image.uri} --push <context>`));
});

test("dryRun with contextDir writes a context that the printed command can build", async () => {
  const contextDir = path.join(scratch, "ctx");
  const tarball = path.join(scratch, "my-connector-0.1.0.tgz");
  writeFileSync(tarball, "tarball bytes");
  const image = Image.fromNodeBase().withNpmPackages(tarball);
  const result = await ImageBuildEngine.build(image, { dryRun: true, contextDir, tool: "podman", output: null });
  assert.equal(readFileSync(path.join(contextDir, "Dockerfile"), "utf8"), image.dockerfile());
  assert.equal(readFileSync(path.join(contextDir, "npm", "0-0", "my-connector-0.1.0.tgz"), "utf8"), "tarball bytes");
  assert.deepEqual(result.commands[0]!.slice(-1), [contextDir]);
  await assert.rejects(ImageBuildEngine.build(image, { dryRun: true, contextDir, output: null }), /is not empty/);
});

test("push without a registry, an unknown builder and a bad platform are refused", async () => {
  await assert.rejects(ImageBuildEngine.build(Image.fromNodeBase(), { push: true, output: null }), (e: unknown) => e instanceof ImageBuildError && /has no registry/.test(e.message));
  // @ts-expect-error: only "local" exists
  await assert.rejects(ImageBuildEngine.build(Image.fromNodeBase(), { builder: "remote", output: null }), /Unknown builder "remote"/);
  await assert.rejects(ImageBuildEngine.build(Image.fromNodeBase(), { platform: "amd64", dryRun: true, output: null }), /Invalid platform "amd64"/);
});

test("a missing local source is an ImageBuildError naming it", async () => {
  const image = Image.fromNodeBase().withSource(path.join(scratch, "gone"));
  const error = await ImageBuildEngine.build(image, { dryRun: true, output: null }).catch((e: unknown) => e);
  assert.ok(error instanceof ImageBuildError);
  assert.match(error.message, /gone does not exist/);
});
