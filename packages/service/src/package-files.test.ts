// The tarballs `init` vendors (npm pack of the service, the SDK and flyteidl2) hold every file their package.json
// exports or runs: an export missing from the tarball works in this repository and fails for every user.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

/** Every file an `exports` map, `bin` or `main` names (wildcard targets are left out). */
function namedFiles(manifest: { exports?: unknown; bin?: unknown; main?: unknown }): string[] {
  const found: string[] = [];
  const walk = (value: unknown) => {
    if (typeof value === "string") {
      if (!value.includes("*")) found.push(path.posix.normalize(value));
    } else if (value && typeof value === "object") {
      for (const inner of Object.values(value)) walk(inner);
    }
  };
  walk(manifest.exports);
  walk(manifest.bin);
  walk(manifest.main);
  return found;
}

for (const folder of ["packages/service", "packages/flyte-connectors"]) {
  test(`npm pack of ${folder} holds every file its package.json exports`, async () => {
    const dir = path.join(root, folder);
    const manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { exports?: unknown; bin?: unknown };
    const { stdout } = await promisify(execFile)(npm, ["pack", "--dry-run", "--json", "--loglevel=error"], { cwd: dir, timeout: 60_000 });
    const packed = new Set((JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((file) => file.path));
    const missing = namedFiles(manifest).filter((file) => !packed.has(file));
    assert.deepEqual(missing, [], `exported but not in the tarball of ${folder}`);
  });
}
