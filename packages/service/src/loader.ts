import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Connector, ConnectorRegistry } from "flyte-connectors";

/** The package.json field naming a module of connectors: the npm analogue of Python's `flyte.connectors` entry points. */
export const DISCOVERY_FIELD = "flyteConnectors";

/** What loading one source produced. */
export interface LoadedSource {
  /** `--modules` value, or `<package name> (flyteConnectors)` for a discovered package. */
  source: string;
  connectors: Connector[];
}

export interface LoadFailure {
  source: string;
  /** The whole reason, on one line: the file and line where known (syntax errors, throwing imports). */
  error: string;
  /**
   * Named explicitly (`--modules`): the service was deployed for it, so `serve` stops instead of going Ready
   * without it. Discovered packages and the built-ins are not required.
   */
  required?: boolean;
}

/** Start-up stopped: a module named with `--modules` did not load. The message names each file and reason. */
export class ModuleLoadError extends Error {
  readonly failures: readonly LoadFailure[];

  constructor(failures: readonly LoadFailure[]) {
    super(failures.map((failure) => `cannot load --modules ${failure.source}: ${failure.error}`).join("\n"));
    this.failures = failures;
  }

  override get name(): string {
    return "ModuleLoadError";
  }
}

let tsxRegistered: Promise<void> | undefined;

/**
 * Lets plain `import()` load TypeScript (tsx's ESM hooks, registered once, process-wide). The hooks slow every
 * later import (Node 20 runs them off-thread): discovered packages with a JavaScript entry load without them.
 */
function registerTsx(): Promise<void> {
  tsxRegistered ??= import("tsx/esm/api").then(({ register }) => {
    register();
  });
  return tsxRegistered;
}

function isConnector(value: unknown): value is Connector {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as { kind?: unknown; taskTypeName?: unknown; name?: unknown };
  return (candidate.kind === "async" || candidate.kind === "sync") && typeof candidate.taskTypeName === "string" && typeof candidate.name === "string";
}

/**
 * The connectors a module exports. Convention: the DEFAULT export is a connector instance or an array of
 * connector instances. Anything else is an error.
 */
export function connectorsOf(module: Record<string, unknown>, source: string): Connector[] {
  const exported = module.default;
  if (exported === undefined) throw new Error(`${source} has no default export (expected a connector or an array of connectors)`);
  const list = Array.isArray(exported) ? (exported as unknown[]) : [exported];
  const bad = list.findIndex((item) => !isConnector(item));
  if (bad >= 0) {
    throw new Error(
      `${source}: default export${Array.isArray(exported) ? `[${bad}]` : ""} is not a connector instance (an AsyncConnector or SyncConnector object; did you export the class instead of an instance?)`,
    );
  }
  return list as Connector[];
}

/** Resolves a `--modules` value: a file path (relative to cwd) or a package specifier resolved from cwd. */
function moduleUrl(spec: string, cwd: string): string {
  const looksLikePath = spec.startsWith(".") || path.isAbsolute(spec) || /\.[cm]?[jt]sx?$/.test(spec) || existsSync(path.resolve(cwd, spec));
  if (looksLikePath) return pathToFileURL(path.resolve(cwd, spec)).href;
  try {
    // Resolve the package from cwd (where the user's node_modules are), not from this file.
    return pathToFileURL(createRequire(path.join(cwd, "noop.js")).resolve(spec)).href;
  } catch {
    return spec; // ESM-only exports: let import() resolve it from here.
  }
}

/** Imports a module by path (relative to cwd) or package name; `.ts` files load through tsx. */
export async function importModule(spec: string, cwd: string): Promise<Record<string, unknown>> {
  // A user's file may be TypeScript or import TypeScript, whatever its own extension.
  await registerTsx();
  return (await import(moduleUrl(spec, cwd))) as Record<string, unknown>;
}

/** Loads `--modules` values in order; a module that fails is reported (as required) and skipped. */
export async function loadModules(specs: readonly string[], cwd: string): Promise<{ loaded: LoadedSource[]; failed: LoadFailure[] }> {
  const loaded: LoadedSource[] = [];
  const failed: LoadFailure[] = [];
  for (const spec of specs) {
    try {
      loaded.push({ source: spec, connectors: connectorsOf(await importModule(spec, cwd), spec) });
    } catch (error) {
      const url = moduleUrl(spec, cwd);
      failed.push({ source: spec, error: describeLoadError(error, url.startsWith("file:") ? fileURLToPath(url) : undefined), required: true });
    }
  }
  return { loaded, failed };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message.split("\n")[0] || error.name : String(error);
}

/** The nearest package.json's `type` for a file, and that package.json's path. */
function packageTypeOf(file: string): { type: string | undefined; manifest: string | undefined } {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (existsSync(manifest)) {
      try {
        const type = (JSON.parse(readFileSync(manifest, "utf8")) as { type?: unknown }).type;
        return { type: typeof type === "string" ? type : undefined, manifest };
      } catch {
        return { type: undefined, manifest };
      }
    }
    if (path.dirname(dir) === dir) return { type: undefined, manifest: undefined };
  }
}

/** Where a SyntaxError without a location is: `node --check` prints `<file>:<line>` (entry file only). */
function syntaxErrorLocation(file: string): string | undefined {
  const checked = spawnSync(process.execPath, ["--check", file], { encoding: "utf8", timeout: 10_000 });
  const first = checked.stderr?.split("\n")[0]?.trim();
  return first && /:\d+$/.test(first) ? first.replace(/^file:\/\//, "") : undefined;
}

/**
 * A load failure as one line with everything needed to fix it: the whole message (tsx/esbuild put the file,
 * line and reason on the lines after "Transform failed with 1 error:"), the location of a syntax error or of
 * the statement that threw, and a hint when the file was loaded as CommonJS for want of `"type": "module"`.
 */
export function describeLoadError(error: unknown, file?: string): string {
  if (!(error instanceof Error)) return String(error);
  const lines = error.message
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !/^Transform failed with \d+ errors?:$/.test(line) && line !== "Require stack:");
  // Node names its own loader as the importer of a missing --modules file: not the user's file.
  let text = (lines.join("; ") || error.name).replace(/ imported from \S*loader\.[jt]s$/, "").replace(/: ERROR: /g, ": ");
  if (file && !text.includes(file)) {
    const frame = error.stack?.split("\n").find((line) => line.includes(file) && /:\d+:\d+\)?$/.test(line));
    const location = frame?.match(/\(?((?:file:\/\/)?\/[^()]*:\d+:\d+)\)?$/)?.[1]?.replace(/^file:\/\//, "");
    const where = location ?? (error.name === "SyntaxError" && existsSync(file) ? syntaxErrorLocation(file) : undefined);
    if (where) text += ` (at ${where})`;
  }
  if (file && /\.[cm]?[jt]sx?$/.test(file) && !/\.m[jt]s$/.test(file)) {
    const { type, manifest } = packageTypeOf(file);
    const cjsSymptom = /cjs|commonjs|require\(\)|ERR_REQUIRE_ESM|import statement outside a module|exports is not defined|require is not defined|top-level await/i;
    if (type !== "module" && cjsSymptom.test(text)) {
      text += ` (${file} is loaded as CommonJS because ${manifest ? `${manifest} has no "type": "module"` : "no package.json above it says \"type\": \"module\""}: add it, or name the file .mts)`;
    }
  }
  return text;
}

/** `node_modules` folders from cwd upward (Node's lookup order). */
function nodeModulesDirs(cwd: string): string[] {
  const dirs: string[] = [];
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules");
    if (existsSync(candidate)) dirs.push(candidate);
    if (path.dirname(dir) === dir) return dirs;
  }
}

async function packageDirs(nodeModules: string): Promise<string[]> {
  const entries = await readdir(nodeModules, { withFileTypes: true }).catch(() => []);
  const dirs: string[] = [];
  await Promise.all(
    entries.map(async (entry) => {
      if (entry.name.startsWith(".")) return;
      const full = path.join(nodeModules, entry.name);
      if (entry.name.startsWith("@")) {
        const scoped = await readdir(full).catch(() => [] as string[]);
        for (const name of scoped) dirs.push(path.join(full, name));
      } else {
        dirs.push(full);
      }
    }),
  );
  return dirs.sort();
}

/**
 * Finds installed packages whose package.json has a `"flyteConnectors": "<relative module path>"` field, in
 * the node_modules folders from cwd upward (nearest copy of a package wins), and loads those modules.
 */
export async function discoverPackages(cwd: string, options: { ownPackage?: boolean } = {}): Promise<{ loaded: LoadedSource[]; failed: LoadFailure[] }> {
  const loaded: LoadedSource[] = [];
  const failed: LoadFailure[] = [];
  const seen = new Set<string>();
  if (options.ownPackage) {
    const own = await loadOwnPackage(cwd);
    if (own) {
      seen.add(own.name);
      if ("error" in own.result) failed.push(own.result);
      else loaded.push(own.result);
    }
  }
  for (const nodeModules of nodeModulesDirs(cwd)) {
    const found = await Promise.all(
      (await packageDirs(nodeModules)).map(async (dir) => {
        try {
          const manifest = JSON.parse(await readFile(path.join(dir, "package.json"), "utf8")) as { name?: unknown; [DISCOVERY_FIELD]?: unknown };
          return typeof manifest[DISCOVERY_FIELD] === "string" && typeof manifest.name === "string"
            ? { dir, name: manifest.name, entry: manifest[DISCOVERY_FIELD] }
            : undefined;
        } catch {
          return undefined;
        }
      }),
    );
    for (const pkg of found) {
      if (!pkg || seen.has(pkg.name)) continue;
      seen.add(pkg.name);
      const source = `${pkg.name} (${DISCOVERY_FIELD})`;
      const entry = path.resolve(pkg.dir, pkg.entry);
      try {
        if (/\.(?:[cm]?ts|tsx)$/.test(pkg.entry)) await registerTsx();
        const module = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
        loaded.push({ source, connectors: connectorsOf(module, source) });
      } catch (error) {
        failed.push({ source, error: describeLoadError(error, entry) });
      }
    }
  }
  return { loaded, failed };
}

/**
 * The connectors of the package the command runs in (the nearest package.json with a `"flyteConnectors"` field,
 * as `init` writes): its entry, or, before the first build, the TypeScript source the entry compiles from
 * (`dist/x.js` → `src/x.ts`).
 */
async function loadOwnPackage(cwd: string): Promise<{ name: string; result: LoadedSource | LoadFailure } | undefined> {
  let dir = path.resolve(cwd);
  while (!existsSync(path.join(dir, "package.json"))) {
    if (path.dirname(dir) === dir) return undefined;
    dir = path.dirname(dir);
  }
  let manifest: { name?: unknown; [DISCOVERY_FIELD]?: unknown };
  try {
    manifest = JSON.parse(await readFile(path.join(dir, "package.json"), "utf8")) as typeof manifest;
  } catch {
    return undefined;
  }
  const entry = manifest[DISCOVERY_FIELD];
  if (typeof entry !== "string" || typeof manifest.name !== "string") return undefined;
  const source = `${manifest.name} (this package)`;
  let file = path.resolve(dir, entry);
  if (!existsSync(file)) {
    const fromSource = path.resolve(dir, entry.replace(/^(\.\/)?dist\//, "src/").replace(/\.([cm]?)js$/, ".$1ts"));
    if (!existsSync(fromSource)) {
      return { name: manifest.name, result: { source, error: `${file} does not exist: build the package (npm run build) or pass --modules` } };
    }
    file = fromSource;
  }
  try {
    if (/\.(?:[cm]?ts|tsx)$/.test(file)) await registerTsx();
    const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    return { name: manifest.name, result: { source, connectors: connectorsOf(module, source) } };
  } catch (error) {
    return { name: manifest.name, result: { source, error: describeLoadError(error, file) } };
  }
}

/** Where {@link loadConnectors} looks. */
export interface LoadOptions {
  /** The built-in echo and sleep connectors. Default: true. */
  builtins?: boolean;
  /** `--modules` values, loaded in order. Default: none. */
  modules?: readonly string[];
  /**
   * Installed packages declaring {@link DISCOVERY_FIELD}, and, when no `modules` are given, the package the
   * command runs in (a package made by `init` lists and serves its own connectors). Default: true.
   */
  discover?: boolean;
  /** Where module paths are relative to and discovery starts. Default: `process.cwd()`. */
  cwd?: string;
}

/**
 * Registers the built-ins, then `modules`, then discovered packages into `registry` (the order `serve` and `run`
 * share). A module that fails to load or a connector whose task type is taken is reported and skipped.
 */
export async function loadConnectors(
  registry: ConnectorRegistry,
  options: LoadOptions,
): Promise<{ loaded: Array<{ connector: Connector; source: string }>; failed: LoadFailure[] }> {
  const loaded: Array<{ connector: Connector; source: string }> = [];
  const failed: LoadFailure[] = [];
  const add = (connectors: readonly Connector[], source: string) => {
    for (const connector of connectors) {
      try {
        registry.register(connector);
        loaded.push({ connector, source });
      } catch (error) {
        failed.push({ source, error: describe(error) });
      }
    }
  };
  if (options.builtins ?? true) {
    try {
      const { builtinConnectors } = (await import("flyte-connectors/builtin")) as { builtinConnectors: readonly Connector[] };
      add(builtinConnectors, "flyte-connectors/builtin");
    } catch (error) {
      failed.push({ source: "flyte-connectors/builtin", error: describe(error) });
    }
  }
  const cwd = options.cwd ?? process.cwd();
  const modules = options.modules ?? [];
  // With --modules the user said which modules to load: the package's own entry would load them a second time.
  const results = [await loadModules(modules, cwd), ...((options.discover ?? true) ? [await discoverPackages(cwd, { ownPackage: modules.length === 0 })] : [])];
  for (const result of results) {
    for (const source of result.loaded) add(source.connectors, source.source);
    failed.push(...result.failed);
  }
  return { loaded, failed };
}
