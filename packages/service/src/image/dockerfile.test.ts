// The repository's own connector image (root Dockerfile). Docker does not run here: these tests check what can be
// checked without it — the Dockerfile's structure, and the ENTRYPOINT command run as is from the repository root
// (the image's /app is a copy of it). Not verified: the docker build itself, the pruned tree inside the image.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { spawnService } from "../testing/spawn.js";

const ROOT = path.join(import.meta.dirname, "..", "..", "..", "..");

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions grouped by stage (comments dropped, `\` continuations joined). */
function parseDockerfile(text: string): { args: Map<string, string>; stages: { from: string; name?: string; instructions: Instruction[] }[] } {
  const logical = text
    .replace(/\\\r?\n/g, " ")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const args = new Map<string, string>();
  const stages: { from: string; name?: string; instructions: Instruction[] }[] = [];
  for (const line of logical) {
    const [, keyword = "", rest = ""] = /^(\S+)\s*(.*)$/.exec(line)!;
    const instruction = { keyword: keyword.toUpperCase(), args: rest };
    if (instruction.keyword === "FROM") {
      const [, image = "", name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest)!;
      const from = image.replace(/\$\{(\w+)\}/g, (_, key: string) => args.get(key) ?? "");
      stages.push({ from, ...(name ? { name } : {}), instructions: [] });
    } else if (stages.length === 0 && instruction.keyword === "ARG") {
      const [key = "", value = ""] = rest.split("=");
      args.set(key, value);
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return { args, stages };
}

const dockerfile = parseDockerfile(readFileSync(path.join(ROOT, "Dockerfile"), "utf8"));
const runtime = dockerfile.stages.at(-1)!;
const all = (stage: { instructions: Instruction[] }, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const entrypoint = JSON.parse(all(runtime, "ENTRYPOINT").at(-1)!.args) as string[];

test("two stages on Node 20 slim: a build stage with dev dependencies, a runtime stage with production ones", () => {
  assert.equal(dockerfile.stages.length, 2);
  const [build] = dockerfile.stages;
  assert.equal(build!.name, "build");
  assert.equal(build!.from, "node:20-slim");
  assert.equal(runtime.from, "node:20-slim");
  const buildRuns = all(build!, "RUN").map((i) => i.args);
  assert.ok(buildRuns.some((r) => /\bnpm ci\b/.test(r) && !/--omit=dev/.test(r)), "npm ci with dev dependencies (its prepare script builds)");
  assert.ok(buildRuns.some((r) => /\bnpm prune --omit=dev\b/.test(r)), "dev dependencies pruned after the build");
  // `npm ci --omit=dev` in the runtime stage would run the root "prepare" (= the build) without TypeScript.
  assert.equal(all(runtime, "RUN").length, 0, "the runtime stage only copies the pruned tree");
  assert.deepEqual(
    all(runtime, "COPY").map((i) => i.args),
    ["--from=build /app /app"],
  );
});

test("the runtime stage runs as a non-root user, exposes 8000, 8090 and 9090, and has OCI labels", () => {
  const user = all(runtime, "USER").at(-1)?.args ?? "root";
  assert.doesNotMatch(user, /^(root|0)(:|$)/);
  assert.equal(user, "65532:65532");
  assert.deepEqual(all(runtime, "EXPOSE").flatMap((i) => i.args.split(/\s+/)), ["8000", "8090", "9090"]);
  const labels = all(runtime, "LABEL").map((i) => i.args).join(" ");
  for (const key of ["title", "description", "version", "licenses"]) assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${key}=`));
  assert.equal(all(runtime, "WORKDIR").at(-1)?.args, "/app");
});

test("ENTRYPOINT is exec form (node is PID 1) and runs flyte-connector serve", () => {
  assert.deepEqual(entrypoint, ["node", "packages/service/bin/flyte-connector.js", "serve"]);
  assert.ok(existsSync(path.join(ROOT, entrypoint[1]!)), "the script exists at that path in the copied tree");
});

test(".dockerignore keeps local installs and build output out of the context", () => {
  const ignored = readFileSync(path.join(ROOT, ".dockerignore"), "utf8").split("\n");
  for (const pattern of ["**/node_modules", "**/dist", ".git"]) assert.ok(ignored.includes(pattern), pattern);
});

test("the ENTRYPOINT command serves, answers metrics, and exits 0 on SIGTERM", { timeout: 30_000 }, async () => {
  // Exactly the ENTRYPOINT from the image's working directory; extra arguments, as `docker run IMAGE …` appends them,
  // pick free ports on loopback so the test does not collide with anything listening on 8000/9090.
  const service = await spawnService([...entrypoint.slice(1), "--port", "0", "--prometheus-port", "0", "--host", "127.0.0.1"], {
    command: entrypoint[0]!,
    cwd: ROOT,
  });
  try {
    // Also proves the start-up code (signal handlers included) has run: the event loop is answering.
    const metrics = await fetch(`http://127.0.0.1:${service.metricsPort}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /process_cpu_user_seconds_total/);
    assert.equal(await service.stop(), 0);
  } finally {
    await service.stop("SIGKILL");
  }
});
