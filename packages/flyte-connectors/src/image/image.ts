import { createHash, type Hash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import path from "node:path";

/** Folders never copied into an image nor hashed: installed or VCS state, rebuilt or irrelevant in the image. */
export const EXCLUDED_FOLDERS: readonly string[] = ["node_modules", ".git"];

/** An npm package to install: a registry spec, or a local tarball/folder copied into the build context. */
type NpmSpec = { kind: "registry"; spec: string } | { kind: "local"; source: string; name: string };

type Layer =
  | { kind: "apt"; packages: readonly string[] }
  | { kind: "npm"; packages: readonly NpmSpec[] }
  | { kind: "env"; vars: Readonly<Record<string, string>> }
  | { kind: "copy"; source: string; name: string; dst: string }
  | { kind: "workdir"; dir: string }
  | { kind: "commands"; commands: readonly string[] }
  | { kind: "entrypoint"; argv: readonly string[] };

interface ImageSpec {
  readonly base: string;
  readonly registry: string | undefined;
  readonly name: string;
  readonly user: string;
  readonly nodeDefaults: boolean;
  readonly layers: readonly Layer[];
}

/** Options of {@link Image.fromNodeBase}. */
export interface NodeBaseOptions {
  /** Major (or exact) Node.js version of the official `node` image. Default: `"20"`. */
  nodeVersion?: string;
  /** Variant of the official `node` image (`slim`, `bookworm-slim`, `alpine`, …). Default: `"slim"` (Debian, has apt). */
  variant?: string;
  /** Registry the image is pushed to, e.g. `ghcr.io/my-org`. Default: none (`uri` is `<name>:<tag>`). */
  registry?: string;
  /** Image name (repository). Default: `"flyte-connectors"`. */
  name?: string;
  /** User the container runs as. Default: `"65532:65532"` (non-root, numeric so it exists in any base image). */
  user?: string;
}

/** Options of {@link Image.fromBase}. */
export interface BaseOptions {
  /** Registry the image is pushed to. Default: none (`uri` is `<name>:<tag>`). */
  registry?: string;
  /** Image name (repository). Default: `"flyte-connectors"`. */
  name?: string;
  /** User the container runs as. Default: `"65532:65532"`. */
  user?: string;
}

/** Options of {@link Image.clone}: where the image goes. Fields left out keep their value. */
export interface CloneOptions {
  registry?: string;
  name?: string;
}

const DEFAULT_NAME = "flyte-connectors";
const DEFAULT_USER = "65532:65532";

// Docker reference grammar (distribution/reference), simplified: lowercase path components; registry host may carry a port.
const NAME_PATTERN = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const REGISTRY_PATTERN = /^[A-Za-z0-9.-]+(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Debian package names, optionally with `=version`.
const APT_PATTERN = /^[a-z0-9][a-z0-9+.-]+(?:=[A-Za-z0-9.+:~-]+)?$/;
const USER_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(?::[A-Za-z0-9_][A-Za-z0-9_.-]*)?$/;

function fail(message: string): never {
  throw new TypeError(message);
}

function checkName(name: string): string {
  if (!NAME_PATTERN.test(name)) fail(`Invalid image name ${JSON.stringify(name)}: use lowercase letters, digits and . _ - separators (path components split by /).`);
  return name;
}

function checkRegistry(registry: string | undefined): string | undefined {
  if (registry === undefined) return undefined;
  const trimmed = registry.replace(/\/+$/, "");
  if (!REGISTRY_PATTERN.test(trimmed)) fail(`Invalid registry ${JSON.stringify(registry)}: expected e.g. "ghcr.io/my-org" or "localhost:5000".`);
  return trimmed;
}

function checkNoControl(what: string, value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) fail(`${what} ${JSON.stringify(value)} contains a control character (newline, tab, …).`);
  return value;
}

function checkUser(user: string): string {
  if (!USER_PATTERN.test(user)) fail(`Invalid user ${JSON.stringify(user)}: expected "name", "uid" or "uid:gid".`);
  return user;
}

/** npm specs that name something on disk rather than in a registry. */
function isLocalSpec(spec: string): boolean {
  return spec.startsWith("./") || spec.startsWith("../") || spec.startsWith("/") || spec.startsWith("file:") || isTarball(spec);
}

/** A local spec that is a packed package rather than a folder. */
function isTarball(spec: string): boolean {
  return /\.tgz$|\.tar\.gz$/.test(spec);
}

/** Shell word for a `RUN` line: bare when it cannot be misread, else single-quoted. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9@%_+=:,./^~-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Dockerfile double-quoted value: `"` and `\` escaped, `$` escaped so Docker does not substitute variables. */
function dockerQuoted(value: string): string {
  return `"${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

/** Feeds every file under `source` (sorted, excluded folders skipped) into `hash`: relative path, kind and bytes. */
function hashSource(hash: Hash, source: string): void {
  const stat = statSync(source, { throwIfNoEntry: false });
  if (!stat) throw new Error(`Image source ${source} does not exist.`);
  if (stat.isFile()) {
    hash.update(`file\0${(stat.mode & 0o111) !== 0 ? "x" : "-"}\0`).update(readFileSync(source));
    return;
  }
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (EXCLUDED_FOLDERS.includes(name)) continue;
      const full = path.join(dir, name);
      const entry = lstatSync(full);
      const relPath = rel ? `${rel}/${name}` : name;
      if (entry.isDirectory()) {
        hash.update(`dir\0${relPath}\0`);
        walk(full, relPath);
      } else if (entry.isFile()) {
        hash.update(`file\0${relPath}\0${(entry.mode & 0o111) !== 0 ? "x" : "-"}\0${entry.size}\0`).update(readFileSync(full));
      } else if (entry.isSymbolicLink()) {
        // Copied as a link: where it points is its content.
        hash.update(`link\0${relPath}\0${readlinkSync(full)}\0`);
      }
    }
  };
  walk(source, "");
}

/** JSON with object keys sorted at every level, so equal specs serialize equally whatever their key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** A local file or folder to put into the build context (relative path inside the context). */
export interface ContextEntry {
  readonly source: string;
  readonly contextPath: string;
}

/** Internal accessors for the build engine; not re-exported from the package. */
export const internals = {
  contextEntries(image: Image): ContextEntry[] {
    return specOf(image).layers.flatMap((layer, index): ContextEntry[] => {
      if (layer.kind === "copy") return [{ source: layer.source, contextPath: `sources/${index}/${layer.name}` }];
      if (layer.kind === "npm") {
        return layer.packages.flatMap((p, n) => (p.kind === "local" ? [{ source: p.source, contextPath: `npm/${index}-${n}/${p.name}` }] : []));
      }
      return [];
    });
  },
  registry(image: Image): string | undefined {
    return specOf(image).registry;
  },
};

let specOf: (image: Image) => ImageSpec;

/**
 * The spec of a connector container image: a base image plus layers (apt and npm packages, environment, files,
 * working directory, commands, entrypoint), in order. Immutable: every `with…` method returns a new Image.
 *
 * The {@link tag} is a content hash of the spec (base, user, layers, and the bytes of every local file a layer copies),
 * so the same spec gives the same tag in any process and any change gives a new one; registry and name only say where the
 * image goes and are not part of it. Build it with `ImageBuildEngine.build(image)`.
 *
 * ```ts
 * const image = Image.fromNodeBase({ registry: "ghcr.io/my-org", name: "my-connectors" })
 *   .withAptPackages("ca-certificates")
 *   .withNpmPackages("./vendor/my-connector-0.1.0.tgz");
 * image.uri; // "ghcr.io/my-org/my-connectors:<hash>"
 * ```
 */
export class Image {
  readonly #spec: ImageSpec;
  #tag: string | undefined;

  static {
    specOf = (image) => image.#spec;
  }

  private constructor(spec: ImageSpec) {
    this.#spec = spec;
    Object.freeze(this);
  }

  /**
   * An image based on the official `node:<nodeVersion>-<variant>` image (Debian slim by default), working directory
   * `/app`, `NODE_ENV=production`. Add the connector service and your connectors with {@link withNpmPackages} or
   * {@link withSource}, and an {@link withEntrypoint}.
   */
  static fromNodeBase(options: NodeBaseOptions = {}): Image {
    const version = options.nodeVersion ?? "20";
    const variant = options.variant ?? "slim";
    if (!/^[0-9]+(?:\.[0-9]+){0,2}$/.test(version)) fail(`Invalid nodeVersion ${JSON.stringify(version)}: expected e.g. "20" or "20.19.0".`);
    if (!/^[a-z0-9][a-z0-9.-]*$/.test(variant)) fail(`Invalid variant ${JSON.stringify(variant)}: expected e.g. "slim" or "alpine".`);
    return new Image({
      base: `node:${version}-${variant}`,
      registry: checkRegistry(options.registry),
      name: checkName(options.name ?? DEFAULT_NAME),
      user: checkUser(options.user ?? DEFAULT_USER),
      nodeDefaults: true,
      layers: [],
    });
  }

  /** An image based on any existing image, e.g. the project's connector image. Its entrypoint and working directory are kept. */
  static fromBase(baseImage: string, options: BaseOptions = {}): Image {
    if (!/^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/.test(baseImage)) fail(`Invalid base image ${JSON.stringify(baseImage)}: expected e.g. "node:20-slim" or "ghcr.io/org/image:tag".`);
    return new Image({
      base: baseImage,
      registry: checkRegistry(options.registry),
      name: checkName(options.name ?? DEFAULT_NAME),
      user: checkUser(options.user ?? DEFAULT_USER),
      nodeDefaults: false,
      layers: [],
    });
  }

  /** Base image reference this image starts from. */
  get baseImage(): string {
    return this.#spec.base;
  }

  /** Registry the image is pushed to, if any. */
  get registry(): string | undefined {
    return this.#spec.registry;
  }

  /** Image name (repository). */
  get name(): string {
    return this.#spec.name;
  }

  /**
   * Content hash of the spec (32 hex digits of a SHA-256). Reads the local files the layers copy, once per Image
   * object; throws if one of them is missing.
   */
  get tag(): string {
    if (this.#tag === undefined) {
      const hash = createHash("sha256");
      const { base, user, nodeDefaults, layers } = this.#spec;
      // v: the Dockerfile generation; bumped when the same spec would build a different image.
      hash.update(canonicalJson({ v: 2, base, user, nodeDefaults, layers: layers.map(describeLayer) }));
      for (const layer of layers) {
        if (layer.kind === "copy") hashSource(hash.update(`\0copy\0${layer.dst}\0`), layer.source);
        if (layer.kind === "npm") for (const p of layer.packages) if (p.kind === "local") hashSource(hash.update(`\0npm\0${p.name}\0`), p.source);
      }
      // Private fields stay writable on a frozen object: the memo is the only state set after construction.
      this.#tag = hash.digest("hex").slice(0, 32);
    }
    return this.#tag;
  }

  /** `<registry>/<name>:<tag>`, or `<name>:<tag>` without a registry. */
  get uri(): string {
    const { registry, name } = this.#spec;
    return `${registry ? `${registry}/` : ""}${name}:${this.tag}`;
  }

  /** The same image with another registry and/or name (the tag does not change). */
  clone(options: CloneOptions): Image {
    return new Image({
      ...this.#spec,
      registry: "registry" in options ? checkRegistry(options.registry) : this.#spec.registry,
      name: options.name !== undefined ? checkName(options.name) : this.#spec.name,
    });
  }

  #with(layer: Layer): Image {
    return new Image({ ...this.#spec, layers: [...this.#spec.layers, layer] });
  }

  /** Installs Debian packages (`apt-get install --no-install-recommends`); needs a Debian/Ubuntu base. */
  withAptPackages(...packages: string[]): Image {
    if (packages.length === 0) fail("withAptPackages needs at least one package.");
    for (const p of packages) if (!APT_PATTERN.test(p)) fail(`Invalid apt package ${JSON.stringify(p)}.`);
    return this.#with({ kind: "apt", packages: [...packages] });
  }

  /**
   * Installs npm packages (production dependencies only) in the working directory, where the connector service's
   * discovery finds packages that declare `"flyteConnectors"`. A spec is a registry spec (`name`, `name@1.2.3`,
   * `@scope/name@^1`) or a local tarball or folder (`./vendor/pkg-1.0.0.tgz`, `../my-connector`; relative to the current
   * working directory), which is copied into the build context and hashed into the tag.
   */
  withNpmPackages(...packages: string[]): Image {
    if (packages.length === 0) fail("withNpmPackages needs at least one package.");
    const specs = packages.map((spec): NpmSpec => {
      checkNoControl("npm package", spec);
      if (spec.trim() !== spec || spec === "") fail(`Invalid npm package ${JSON.stringify(spec)}.`);
      if (!isLocalSpec(spec)) return { kind: "registry", spec };
      const source = path.resolve(spec.replace(/^file:/, ""));
      return { kind: "local", source, name: path.basename(source) };
    });
    return this.#with({ kind: "npm", packages: specs });
  }

  /**
   * Sets environment variables (`ENV`). Values end up in the image's metadata, readable by anyone who can pull it:
   * never put secrets here (connectors get them per call from the backend).
   */
  withEnv(vars: Readonly<Record<string, string>>): Image {
    const entries = Object.entries(vars);
    if (entries.length === 0) fail("withEnv needs at least one variable.");
    for (const [key, value] of entries) {
      if (!ENV_NAME_PATTERN.test(key)) fail(`Invalid environment variable name ${JSON.stringify(key)}.`);
      if (typeof value !== "string") fail(`Environment variable ${key} must be a string.`);
      checkNoControl(`Environment variable ${key}'s value`, value);
    }
    return this.#with({ kind: "env", vars: Object.fromEntries(entries) });
  }

  /**
   * Copies a local file or folder (relative to the current working directory) into the image at `dst` (relative to
   * the working directory, or absolute). Default `dst`: `./<basename of src>`. `node_modules` and `.git` folders are
   * left out. The bytes of every copied file are part of the tag.
   */
  withSource(src: string, dst?: string): Image {
    const source = path.resolve(src);
    const name = path.basename(source);
    const target = dst ?? `./${name}`;
    checkNoControl("Destination", target);
    if (target === "") fail("withSource: dst must not be empty.");
    return this.#with({ kind: "copy", source, name, dst: target });
  }

  /** Sets the working directory (`WORKDIR`) for the following layers and the container. */
  withWorkdir(dir: string): Image {
    checkNoControl("Working directory", dir);
    if (dir === "") fail("withWorkdir: dir must not be empty.");
    return this.#with({ kind: "workdir", dir });
  }

  /** Runs shell commands at build time (`RUN`, as root), one layer each. */
  withCommands(...commands: string[]): Image {
    if (commands.length === 0) fail("withCommands needs at least one command.");
    for (const c of commands) checkNoControl("Command", c);
    return this.#with({ kind: "commands", commands: [...commands] });
  }

  /** Sets the container's entrypoint (exec form: the first element is the program, no shell). */
  withEntrypoint(argv: readonly string[]): Image {
    if (argv.length === 0) fail("withEntrypoint needs at least the program.");
    return this.#with({ kind: "entrypoint", argv: [...argv] });
  }

  /**
   * The Dockerfile that builds this image. Local files are `COPY`'d from the build context that
   * `ImageBuildEngine.build` prepares (`sources/<layer>/…`, `npm/<layer>-<n>/…`).
   */
  dockerfile(): string {
    const { base, user, nodeDefaults, layers } = this.#spec;
    const lines = ["# syntax=docker/dockerfile:1", "# Generated by flyte-connectors (Image.dockerfile()).", `FROM ${base}`, "USER root"];
    if (nodeDefaults) lines.push("WORKDIR /app", 'ENV NODE_ENV="production"');
    layers.forEach((layer, index) => {
      switch (layer.kind) {
        case "apt":
          lines.push(
            `RUN apt-get update && apt-get install -y --no-install-recommends ${layer.packages.map(shellWord).join(" ")} && rm -rf /var/lib/apt/lists/*`,
          );
          break;
        case "npm": {
          const words: string[] = [];
          layer.packages.forEach((p, n) => {
            if (p.kind === "registry") {
              words.push(p.spec);
              return;
            }
            // Kept in the image: npm records the path in package.json, and later installs re-read it.
            const target = `/opt/flyte-npm/${index}-${n}/${p.name}`;
            lines.push(`COPY ${JSON.stringify([`npm/${index}-${n}/${p.name}`, target])}`);
            words.push(target);
          });
          // A folder outside the project would only be symlinked, without its dependencies: --install-links
          // installs it like a registry package. Not for tarballs: there it is needless, and in a workspace
          // project (the repository's own image) it makes npm refuse peer dependencies met by workspaces.
          const links = layer.packages.some((p) => p.kind === "local" && !isTarball(p.name)) ? " --install-links" : "";
          lines.push(`RUN npm install --omit=dev${links} --no-audit --no-fund ${words.map(shellWord).join(" ")} && npm cache clean --force`);
          break;
        }
        case "env":
          lines.push(
            `ENV ${Object.keys(layer.vars)
              .sort()
              .map((k) => `${k}=${dockerQuoted(layer.vars[k]!)}`)
              .join(" ")}`,
          );
          break;
        case "copy":
          lines.push(`COPY ${JSON.stringify([`sources/${index}/${layer.name}`, layer.dst])}`);
          break;
        case "workdir":
          lines.push(`WORKDIR ${layer.dir}`);
          break;
        case "commands":
          for (const command of layer.commands) lines.push(`RUN ${command}`);
          break;
        case "entrypoint":
          lines.push(`ENTRYPOINT ${JSON.stringify(layer.argv)}`);
          break;
      }
    });
    lines.push(`USER ${user}`);
    return lines.join("\n") + "\n";
  }

  toString(): string {
    return `Image(${this.uri})`;
  }
}

/** What of a layer goes into the tag besides copied bytes: no absolute paths, so the tag is the same on every machine. */
function describeLayer(layer: Layer): unknown {
  switch (layer.kind) {
    case "copy":
      return { kind: layer.kind, name: layer.name, dst: layer.dst };
    case "npm":
      return { kind: layer.kind, packages: layer.packages.map((p) => (p.kind === "registry" ? p.spec : { local: p.name })) };
    default:
      return layer;
  }
}
