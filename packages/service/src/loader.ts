import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
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
  error: string;
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

/** Loads `--modules` values in order; a module that fails is reported and skipped. */
export async function loadModules(specs: readonly string[], cwd: string): Promise<{ loaded: LoadedSource[]; failed: LoadFailure[] }> {
  const loaded: LoadedSource[] = [];
  const failed: LoadFailure[] = [];
  for (const spec of specs) {
    try {
      loaded.push({ source: spec, connectors: connectorsOf(await importModule(spec, cwd), spec) });
    } catch (error) {
      failed.push({ source: spec, error: describe(error) });
    }
  }
  return { loaded, failed };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message.split("\n")[0] || error.name : String(error);
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
export async function discoverPackages(cwd: string): Promise<{ loaded: LoadedSource[]; failed: LoadFailure[] }> {
  const loaded: LoadedSource[] = [];
  const failed: LoadFailure[] = [];
  const seen = new Set<string>();
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
      try {
        if (/\.(?:[cm]?ts|tsx)$/.test(pkg.entry)) await registerTsx();
        const module = (await import(pathToFileURL(path.resolve(pkg.dir, pkg.entry)).href)) as Record<string, unknown>;
        loaded.push({ source, connectors: connectorsOf(module, source) });
      } catch (error) {
        failed.push({ source, error: describe(error) });
      }
    }
  }
  return { loaded, failed };
}

/** Where {@link loadConnectors} looks. */
export interface LoadOptions {
  /** The built-in echo and sleep connectors. Default: true. */
  builtins?: boolean;
  /** `--modules` values, loaded in order. Default: none. */
  modules?: readonly string[];
  /** Installed packages declaring {@link DISCOVERY_FIELD}. Default: true. */
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
  const results = [await loadModules(options.modules ?? [], cwd), ...((options.discover ?? true) ? [await discoverPackages(cwd)] : [])];
  for (const result of results) {
    for (const source of result.loaded) add(source.connectors, source.source);
    failed.push(...result.failed);
  }
  return { loaded, failed };
}
