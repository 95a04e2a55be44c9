// Generates protobuf-es TypeScript into ./src (compiled to ./dist by `tsc -b`) from the .proto sources of the
// official @flyteorg/flyteidl package: Flyte 1's agent services and everything they import. That package's own
// generated code is protobufjs, not protobuf-es, so the sources are compiled here with the buf CLI and
// protoc-gen-es, both from npm. Only the import closure of the agent services is compiled (the admin API's
// other files need plugins from the Buf Schema Registry); google/api comes from google-proto-files, the
// well-known types are built into buf. Nothing generated is committed; the output is redone when a version changes.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const packageDir = (name) => dirname(require.resolve(`${name}/package.json`));
const versionOf = (name) => JSON.parse(readFileSync(join(packageDir(name), "package.json"), "utf8")).version;

/** The files whose import closure is generated. */
const ROOTS = ["flyteidl/service/agent.proto"];
const GENERATORS = ["@flyteorg/flyteidl", "google-proto-files", "@bufbuild/buf", "@bufbuild/protoc-gen-es"];

const srcDir = join(here, "src");
const stamp = join(srcDir, ".upstream-version");
const wanted = `${GENERATORS.map((name) => `${name}@${versionOf(name)}`).join("\n")}\n${ROOTS.join("\n")}\n`;

if (!existsSync(stamp) || readFileSync(stamp, "utf8") !== wanted) {
  const searchPath = [join(packageDir("@flyteorg/flyteidl"), "protos"), packageDir("google-proto-files")];
  const work = mkdtempSync(join(tmpdir(), "flyteidl-gen-"));
  try {
    const protoDir = join(work, "proto");
    copyClosure(ROOTS, searchPath, protoDir);
    writeFileSync(join(work, "buf.yaml"), "version: v2\nmodules:\n  - path: proto\n");
    const plugin = join(packageDir("@bufbuild/protoc-gen-es"), "bin", "protoc-gen-es");
    writeFileSync(
      join(work, "buf.gen.yaml"),
      ["version: v2", "plugins:", `  - local: ["${process.execPath}", "${plugin}"]`, "    out: gen", "    opt: [target=ts, import_extension=js]", ""].join("\n"),
    );
    const buf = join(packageDir("@bufbuild/buf"), "bin", "buf");
    execFileSync(buf, ["generate"], { cwd: work, stdio: "inherit", env: { ...process.env, BUF_CACHE_DIR: join(work, "cache") } });
    rmSync(srcDir, { recursive: true, force: true });
    rmSync(join(here, "dist"), { recursive: true, force: true });
    cpSync(join(work, "gen"), srcDir, { recursive: true });
    writeFileSync(stamp, wanted);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Copies `roots` and every file they import (transitively) from the first search path holding it; skips google/protobuf. */
function copyClosure(roots, searchPath, outDir) {
  const pending = [...roots];
  const seen = new Set();
  while (pending.length > 0) {
    const file = pending.pop();
    if (seen.has(file) || file.startsWith("google/protobuf/")) continue;
    seen.add(file);
    const from = searchPath.map((dir) => join(dir, file)).find((path) => existsSync(path));
    if (!from) throw new Error(`flyteidl build: ${file} is in none of ${searchPath.join(", ")}`);
    const text = readFileSync(from, "utf8");
    mkdirSync(dirname(join(outDir, file)), { recursive: true });
    writeFileSync(join(outDir, file), text);
    for (const match of text.matchAll(/^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;/gm)) pending.push(match[1]);
  }
}
