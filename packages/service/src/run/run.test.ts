import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.resolve(here, "../../bin/flyte-connector.js");
// The fixtures are TypeScript: run them from src/ whether this test runs from src/ or dist/.
const fixtures = path.resolve(here, "../../src/run/fixtures");
const tasks = path.join(fixtures, "tasks.ts");

/** Runs the CLI to completion (at most 20 s) and returns its exit code and output. */
function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, "run", ...args], { stdio: ["ignore", "pipe", "pipe"], cwd: fixtures });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test("inputs are parsed by their declared types and the outputs printed as JSON", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "run-cli-"));
  try {
    await writeFile(path.join(dir, "config.json"), JSON.stringify({ depth: 3, name: "tree" }));
    const { code, stdout, stderr } = await cli(
      tasks, "kinds", "--no-discover", "--quiet",
      "--count", "9007199254740993", "--ratio=0.25", "--label", "hello world", "--no-loud",
      "--at", "2026-01-31T12:00:00Z", "--wait", "1h30m", "--tags", '["a","b"]', "--weights", '{"w": 1.5}',
      "--config", path.join(dir, "config.json"), "--data", "./tasks.ts",
    );
    assert.equal(code, 0, stderr);
    assert.equal(stderr, ""); // --quiet
    assert.deepEqual(JSON.parse(stdout.replace("9007199254740993", '"9007199254740993"')), {
      count: "9007199254740993", // printed as the exact number
      ratio: 0.25,
      label: "hello world",
      loud: false,
      at: "2026-01-31T12:00:00.000Z",
      wait_seconds: 5400,
      tags: ["a", "b"],
      weights: { w: 1.5 },
      config: { depth: 3, name: "tree" },
      data: tasks, // a relative path is made absolute (from the cwd)
      note: null, // an optional input not given
    });
  } finally {
    await rm(dir, { recursive: true });
  }
});

test("other value forms: --flag alone, --name=value, ISO durations, JSON text, URIs", async () => {
  const { code, stdout, stderr } = await cli(
    tasks, "cli.kinds", "--no-discover", "--quiet",
    "--count=-2", "--ratio", "1e3", "--label", "--not-a-flag", "--loud", "--at", "2026-01-31", "--wait", "PT1M30.5S",
    "--tags", "[]", "--weights", "{}", "--config", '{"k":[1,2]}', "--data", "s3://bucket/key", "--note", "hi",
  );
  assert.equal(code, 0, stderr);
  const out = JSON.parse(stdout) as Record<string, unknown>;
  assert.equal(out["count"], -2);
  assert.equal(out["ratio"], 1000);
  assert.equal(out["label"], "--not-a-flag"); // a string input takes the next argument as it is
  assert.equal(out["loud"], true);
  assert.equal(out["wait_seconds"], 90.5);
  assert.deepEqual(out["config"], { k: [1, 2] });
  assert.equal(out["data"], "s3://bucket/key");
  assert.equal(out["note"], "hi");
});

test("connector tasks run on the built-in connectors and --modules; phases and log links go to stderr", async () => {
  const shout = await cli(tasks, "shout", "--no-discover", "--text", "hi");
  assert.equal(shout.code, 0, shout.stderr);
  assert.deepEqual(JSON.parse(shout.stdout), { text: "HI" });
  assert.match(shout.stderr, /^\[a1 echo_it\] SUCCEEDED/m);
  assert.match(shout.stderr, /^\[a0 cli\.shout\] SUCCEEDED/m);

  const reversed = await cli(tasks, "reverse", "--no-discover", "--modules", "./connectors.ts", "--text", "abc");
  assert.equal(reversed.code, 0, reversed.stderr);
  assert.deepEqual(JSON.parse(reversed.stdout), { text: "cba" });
  assert.match(reversed.stderr, /^\[a0 reverse_it\] reverse-console: https:\/\/reverse\.example\.com\/job\/1$/m);

  const missing = await cli(tasks, "shout", "--no-discover", "--no-builtins", "--text", "hi");
  assert.equal(missing.code, 1);
  assert.equal(missing.stdout, "");
  assert.match(missing.stderr, /Action a1 \(task "echo_it"\) \(called via cli\.shout\) failed: .*echo/);
});

test("a missing or bad input fails with exit code 1 and lists the task's inputs", async () => {
  const missing = await cli(tasks, "kinds", "--no-discover", "--count", "1");
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /missing inputs --ratio, --label/);
  assert.match(missing.stderr, /Inputs of cli\.kinds:\n {2}--at <datetime> +e\.g\. /);
  assert.match(missing.stderr, /--note <optional<string>> \(optional\)/);

  const bad = await cli(tasks, "big", "--no-discover", "--n", "1.5");
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /bad value for --n \(int\): "1\.5": expected an integer/);

  const unknown = await cli(tasks, "big", "--no-discover", "--m", "1");
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown input --m\.\nInputs of cli\.big:\n {2}--n <int> +e\.g\. 42/);
});

test("an unknown task lists the exported tasks; a failing task names its action; no stack traces", async () => {
  const unknown = await cli(tasks, "nope", "--no-discover");
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no task "nope" is exported by .*tasks\.ts\. Tasks exported:\n {2}big \(cli\.big\)\n/);

  const failing = await cli(tasks, "explode", "--no-discover");
  assert.equal(failing.code, 1);
  assert.equal(failing.stdout, "");
  assert.match(failing.stderr, /flyte-connector run: Action a0 \(task "cli\.explode"\) failed: kaboom\n$/);
  assert.doesNotMatch(failing.stderr, /\n\s+at /);

  const noFile = await cli("./no-such-file.ts", "x", "--no-discover");
  assert.equal(noFile.code, 1);
  assert.match(noFile.stderr, /no such file: \.\/no-such-file\.ts/);
});

test("--help lists the run flags", async () => {
  const { code, stdout } = await cli("--help");
  assert.equal(code, 0);
  for (const flag of ["--modules <module>", "--no-discover", "--no-builtins", "--poll-interval <ms>", "--quiet"]) assert.ok(stdout.includes(flag), flag);
});
