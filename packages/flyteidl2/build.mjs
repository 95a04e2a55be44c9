// Copies the TypeScript sources shipped by @flyteorg/flyteidl2 into ./src so that `tsc -b` compiles them
// to ./dist (.js + .d.ts). The package ships only .ts files with ".ts" import specifiers, which plain
// Node 20 cannot load; compiling them once at build time keeps the runtime free of loaders.
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const upstreamDir = dirname(require.resolve("@flyteorg/flyteidl2/package.json"));
const upstreamVersion = JSON.parse(readFileSync(join(upstreamDir, "package.json"), "utf8")).version;
const srcDir = join(here, "src");
const stamp = join(srcDir, ".upstream-version");

if (!existsSync(stamp) || readFileSync(stamp, "utf8") !== upstreamVersion) {
  rmSync(srcDir, { recursive: true, force: true });
  rmSync(join(here, "dist"), { recursive: true, force: true });
  for (const top of ["flyteidl2", "google", "buf"]) {
    cpSync(join(upstreamDir, top), join(srcDir, top), { recursive: true });
  }
  writeFileSync(stamp, upstreamVersion);
}
