import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** A name, folder or option that `init` refuses; the message says why. */
export class ScaffoldError extends Error {
  override readonly name = "ScaffoldError";
}

/** Options of {@link scaffoldConnector}. */
export interface ScaffoldOptions {
  /** npm package name of the new connector package, e.g. `my-connector` or `@acme/flyte-weather`. */
  name: string;
  /** Folder to create it in. Default: `./<name without scope>` under `cwd`. */
  dir?: string;
  /** Overwrite the generated files in a non-empty folder. Default: false (a non-empty folder is refused). */
  force?: boolean;
  /** Task type the connector serves. Default: the name without scope, `flyte-` prefix and `-connector` suffix, in snake_case. */
  taskType?: string;
  /** Base of relative paths. Default: `process.cwd()`. */
  cwd?: string;
}

/** What {@link scaffoldConnector} wrote. */
export interface ScaffoldResult {
  dir: string;
  files: string[];
  taskType: string;
}

const TEMPLATE_DIR = fileURLToPath(new URL("../../templates/connector/", import.meta.url));

/** Why `name` is not a valid name for a new npm package (npm's rules for new packages), or undefined. */
export function invalidPackageName(name: string): string | undefined {
  if (name.length === 0) return "it is empty";
  if (name.length > 214) return "it is longer than 214 characters";
  if (name !== name.trim()) return "it has leading or trailing spaces";
  if (name.toLowerCase() !== name) return "it has uppercase letters";
  const match = /^(?:@([^/]+)\/)?([^/]+)$/.exec(name);
  if (!match) return "it has a / outside of an @scope/name pair";
  const [, scope, bare] = match;
  for (const part of scope === undefined ? [bare!] : [scope, bare!]) {
    if (part.startsWith(".") || part.startsWith("_")) return "it starts with . or _";
    if (encodeURIComponent(part) !== part || /[~'!()*]/.test(part)) return "it has characters that are not URL-safe (use a-z, 0-9, - . _)";
  }
  if (scope === undefined && (builtinModules.includes(name) || ["node_modules", "favicon.ico"].includes(name))) return "it is a reserved name";
  return undefined;
}

const TASK_TYPE_PATTERN = /^[a-z][a-z0-9_]*$/;

/** Words of the name without scope, a `flyte-` prefix and a `-connector(s)` suffix ("@acme/flyte-weather-connector" → weather). */
function words(name: string): string[] {
  const all = name.replace(/^@[^/]+\//, "").split(/[^a-z0-9]+/).filter(Boolean);
  const start = all[0] === "flyte" && all.length > 1 ? 1 : 0;
  const end = /^connectors?$/.test(all[all.length - 1] ?? "") && all.length - start > 1 ? all.length - 1 : all.length;
  return all.slice(start, end);
}

function pascal(parts: string[]): string {
  const joined = parts.map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
  return /^[0-9]/.test(joined) || joined === "" ? `My${joined}` : joined;
}

/** Placeholder values of the templates, derived from the package name. */
function names(name: string, taskType: string) {
  const parts = words(name);
  const base = pascal(parts);
  return {
    name,
    dirName: name.replace(/^@[^/]+\//, ""),
    taskType,
    connectorClass: `${base}Connector`,
    metaClass: `${base}JobMeta`,
    taskClass: `${base}Task`,
    displayName: `${parts.map((w) => w[0]!.toUpperCase() + w.slice(1)).join(" ") || "My"} Connector`,
  };
}

function render(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => values[key] ?? whole);
}

/** Template files and where they go (dotfiles are stored without the dot: npm pack would drop them). */
function templateFiles(dir = TEMPLATE_DIR, rel = ""): { from: string; to: string }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const from = path.join(dir, entry.name);
    const relPath = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) return templateFiles(from, relPath);
    const to = relPath.replace(/\.tmpl$/, "").replace(/^(gitignore|dockerignore)$/, ".$1");
    return [{ from, to }];
  });
}

/** Package folder of an installed package, found from a file inside it (some packages do not export package.json). */
function packageDirOf(file: string, name: string): string {
  for (let dir = path.dirname(file); path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === name) return dir;
  }
  throw new ScaffoldError(`Cannot find the folder of the installed package ${name}.`);
}

/** The installed core packages `init` vendors: the service, the SDK, the compiled flyteidl2 and Flyte 1's flyteidl. */
function installedPackages(): { dir: string; name: string; version: string }[] {
  const require = createRequire(import.meta.url);
  const serviceDir = packageDirOf(fileURLToPath(import.meta.url), "@flyte-connectors/service");
  const coreDir = packageDirOf(require.resolve("flyte-connectors"), "flyte-connectors");
  const idlDir = packageDirOf(createRequire(path.join(coreDir, "package.json")).resolve("@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js"), "@flyte-connectors/flyteidl2");
  const flyte1IdlDir = packageDirOf(createRequire(path.join(serviceDir, "package.json")).resolve("@flyte-connectors/flyteidl/flyteidl/service/agent_pb.js"), "@flyte-connectors/flyteidl");
  return [idlDir, flyte1IdlDir, coreDir, serviceDir].map((dir) => {
    const manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { name: string; version: string };
    if (!existsSync(path.join(dir, "dist"))) throw new ScaffoldError(`${manifest.name} in ${dir} is not built (no dist/): run \`npm run build\` first.`);
    return { dir, name: manifest.name, version: manifest.version };
  });
}

/** npm as the user runs it: the npm CLI that started this process (npx, npm run), else `npm` from PATH. */
function npmCommand(): string[] {
  const execPath = process.env["npm_execpath"];
  return execPath && /npm-cli\.js$/.test(execPath) ? [process.execPath, execPath] : ["npm"];
}

/** `npm pack`s the packages into `destination`; resolves with the tarball file names, in the packages' order. */
function npmPack(dirs: string[], destination: string): Promise<string[]> {
  const [command, ...prefix] = npmCommand();
  return new Promise((resolve, reject) => {
    const child = spawn(command!, [...prefix, "pack", ...dirs, "--pack-destination", destination, "--json", "--loglevel=error"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += String(chunk)));
    child.stderr.on("data", (chunk: Buffer) => (stderr += String(chunk)));
    child.once("error", (error) => reject(new ScaffoldError(`Could not run npm (needed to pack the flyte-connectors packages): ${error.message}`)));
    child.once("close", (code) => {
      if (code !== 0) return reject(new ScaffoldError(`npm pack failed (exit code ${code}): ${stderr.trim().split("\n").slice(-5).join("\n")}`));
      try {
        resolve((JSON.parse(stdout) as { filename: string }[]).map((p) => p.filename));
      } catch {
        reject(new ScaffoldError(`npm pack printed no JSON: ${stdout.slice(0, 200)}`));
      }
    });
  });
}

/** Version of a new package. */
const PACKAGE_VERSION = "0.1.0";

/** Public packages the scaffold needs, in the ranges the flyte-connectors repository itself uses. */
// @grpc/grpc-js and grpc-health-check: the optional peers of @flyte-connectors/service/testing (serveForTest).
const DEV_DEPENDENCIES = { "@grpc/grpc-js": "^1.14.7", "@types/node": "^20.19.43", "grpc-health-check": "^2.1.0", tsx: "^4.23.15", typescript: "^5.9.3" };

/**
 * Creates a connector package: connector + resource meta, task, a test that runs it through `runTask` against a local
 * fake API, README, Dockerfile, package.json (with `"flyteConnectors"`), tsconfig. The flyte-connectors packages are not
 * on the npm registry, so the installed ones are packed into `<dir>/vendor/*.tgz` and referenced as `file:` dev
 * dependencies (flyte-connectors is also a peer dependency, so hosts that have it can install the package).
 */
export async function scaffoldConnector(options: ScaffoldOptions): Promise<ScaffoldResult> {
  const problem = invalidPackageName(options.name);
  if (problem) throw new ScaffoldError(`Invalid package name ${JSON.stringify(options.name)}: ${problem}.`);
  const taskType = options.taskType ?? words(options.name).join("_");
  if (!TASK_TYPE_PATTERN.test(taskType)) {
    const origin = options.taskType === undefined ? ` (derived from the name; choose one with --task-type)` : "";
    throw new ScaffoldError(`Invalid task type ${JSON.stringify(taskType)}${origin}: use lowercase letters, digits and _, starting with a letter (e.g. my_job).`);
  }
  const cwd = options.cwd ?? process.cwd();
  const dir = path.resolve(cwd, options.dir ?? options.name.replace(/^@[^/]+\//, ""));
  if (existsSync(dir) && readdirSync(dir).length > 0 && !options.force) {
    throw new ScaffoldError(`${dir} exists and is not empty; choose another --dir, or pass --force to overwrite the generated files in it.`);
  }

  const packages = installedPackages();
  const vendor = path.join(dir, "vendor");
  mkdirSync(vendor, { recursive: true });
  const tarballs = await npmPack(packages.map((p) => p.dir), vendor);
  const core = packages.find((p) => p.name === "flyte-connectors")!;
  // `npm pack` names a tarball <name without @, / as ->-<version>.tgz.
  const ownTarball = `${options.name.replace(/^@/, "").replace("/", "-")}-${PACKAGE_VERSION}.tgz`;
  const values = {
    ...names(options.name, taskType),
    packFile: ownTarball,
    npmTarballs: [...tarballs.map((t) => `vendor/${t}`), ownTarball].map((t) => `    ${JSON.stringify(`./${t}`)},`).join("\n"),
  };

  const files: string[] = [];
  const write = (rel: string, content: string) => {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), content);
    files.push(rel);
  };
  for (const { from, to } of templateFiles()) write(to, render(readFileSync(from, "utf8"), values));
  const manifest = {
    name: options.name,
    version: PACKAGE_VERSION,
    description: `Flyte 2 connector: ${values.displayName} (task type ${taskType}).`,
    type: "module",
    flyteConnectors: "./dist/index.js",
    exports: { ".": { types: "./dist/index.d.ts", default: "./dist/index.js" } },
    files: ["dist"],
    scripts: {
      build: "tsc -p tsconfig.build.json",
      typecheck: "tsc -p tsconfig.json --noEmit",
      test: "tsc -p tsconfig.json --noEmit && node --import tsx --test src/*.test.ts",
      start: "flyte-connector serve --modules ./src/index.ts",
      prepack: "npm run build",
    },
    peerDependencies: { [core.name]: `^${core.version}` },
    devDependencies: Object.fromEntries(
      [...packages.map((p, i) => [p.name, `file:vendor/${tarballs[i]}`] as const), ...Object.entries(DEV_DEPENDENCIES)].sort(([a], [b]) => (a < b ? -1 : 1)),
    ),
    engines: { node: ">=20" },
  };
  write("package.json", JSON.stringify(manifest, null, 2) + "\n");
  files.push(...tarballs.map((t) => `vendor/${t}`));
  return { dir, files: files.sort(), taskType };
}
