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
