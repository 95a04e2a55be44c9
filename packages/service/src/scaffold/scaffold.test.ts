import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { invalidPackageName } from "./scaffold.js";

// The CLI as users run it (compiled: `npm run build` first, as `npm test` does).
const BIN = path.join(import.meta.dirname, "..", "..", "bin", "flyte-connector.js");
const scratch = mkdtempSync(path.join(tmpdir(), "init-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

function init(args: string[], cwd = scratch) {
  const result = spawnSync(process.execPath, [BIN, "init", ...args], { cwd, encoding: "utf8", timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test("init writes a connector package: sources, test, README, Dockerfile, package.json, tsconfig, vendored core", () => {
  const { code, stdout, stderr } = init(["@acme/flyte-weather-connector"]);
  assert.equal(code, 0, stderr);
  const dir = path.join(scratch, "flyte-weather-connector");
  assert.match(stdout, /Created @acme\/flyte-weather-connector \(task type weather\) in flyte-weather-connector/);
  const files = readdirSync(dir, { recursive: true }).map(String).sort();
  for (const file of [".dockerignore", ".gitignore", "Dockerfile", "README.md", "package.json", "tsconfig.json", "tsconfig.build.json", "src/connector.ts", "src/task.ts", "src/index.ts", "src/connector.test.ts"]) {
    assert.ok(files.includes(file), `${file} in ${files.join(", ")}`);
  }
  const manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as {
    name: string;
    type: string;
    flyteConnectors: string;
    peerDependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  assert.equal(manifest.name, "@acme/flyte-weather-connector");
  assert.equal(manifest.type, "module");
  assert.equal(manifest.flyteConnectors, "./dist/index.js");
  assert.deepEqual(manifest.peerDependencies, { "flyte-connectors": "^0.1.0" });
  for (const pkg of ["flyte-connectors", "@flyte-connectors/flyteidl2", "@flyte-connectors/flyteidl", "@flyte-connectors/service"]) {
    const spec = manifest.devDependencies[pkg]!;
    assert.match(spec, /^file:vendor\/.+\.tgz$/);
    assert.ok(existsSync(path.join(dir, spec.slice("file:".length))), `${spec} exists`);
  }
  const connector = readFileSync(path.join(dir, "src", "connector.ts"), "utf8");
  assert.match(connector, /export class WeatherConnector extends AsyncConnector<WeatherJobMeta>/);
  assert.match(connector, /readonly taskTypeName = "weather";/);
  for (const file of files.filter((f) => !f.startsWith("vendor") && statSync(path.join(dir, f)).isFile())) {
    assert.doesNotMatch(readFileSync(path.join(dir, file), "utf8"), /\{\{\w+\}\}/, `no placeholder left in ${file}`);
  }
});

test("--dir and --task-type choose the folder and the task type", () => {
  const { code, stderr } = init(["weather", "--dir", "nested/here", "--task-type", "weather_job"]);
  assert.equal(code, 0, stderr);
  const dir = path.join(scratch, "nested", "here");
  assert.match(readFileSync(path.join(dir, "src", "task.ts"), "utf8"), /static readonly TASK_TYPE = "weather_job";/);
  assert.match(readFileSync(path.join(dir, "src", "connector.ts"), "utf8"), /export class WeatherConnector /);
});

test("a non-empty folder is refused unless --force, which keeps the other files", () => {
  const dir = path.join(scratch, "busy");
  mkdirSync(dir);
  writeFileSync(path.join(dir, "notes.txt"), "mine");
  const refused = init(["busy-connector", "--dir", "busy"]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^error: .*busy exists and is not empty; choose another --dir, or pass --force/);
  assert.deepEqual(readdirSync(dir), ["notes.txt"]);

  const forced = init(["busy-connector", "--dir", "busy", "--force"]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(readFileSync(path.join(dir, "notes.txt"), "utf8"), "mine");
  assert.ok(existsSync(path.join(dir, "src", "connector.ts")));
});

test("invalid package names and task types are refused before anything is written", () => {
  const bad = init(["My Connector"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^error: Invalid package name "My Connector": it has uppercase letters\.\n$/);
  const badType = init(["ok-name", "--task-type", "Bad-Type"]);
  assert.equal(badType.code, 1);
  assert.match(badType.stderr, /Invalid task type "Bad-Type": use lowercase letters, digits and _/);
  const derived = init(["123"]);
  assert.equal(derived.code, 1);
  assert.match(derived.stderr, /Invalid task type "123" \(derived from the name; choose one with --task-type\)/);
  assert.equal(existsSync(path.join(scratch, "ok-name")), false);
  assert.equal(existsSync(path.join(scratch, "123")), false);
});

test("package names follow npm's rules", () => {
  for (const good of ["my-connector", "@acme/flyte-weather", "a.b_c-1"]) assert.equal(invalidPackageName(good), undefined, good);
  const cases: [string, RegExp][] = [
    ["", /empty/],
    ["Upper", /uppercase/],
    [".hidden", /starts with \. or _/],
    ["_private", /starts with \. or _/],
    ["@scope/a/b", /\/ outside of an @scope\/name pair/],
    ["a b", /not URL-safe/],
    ["wow!", /not URL-safe/],
    ["http", /reserved/],
    ["node_modules", /reserved/],
    ["x".repeat(215), /longer than 214/],
  ];
  for (const [name, reason] of cases) assert.match(invalidPackageName(name) ?? "", reason, name);
});
