import { spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { EXCLUDED_FOLDERS, Image, internals } from "./image.js";

/** A build that could not start or did not succeed: no builder on PATH, a failed `docker`/`podman` run, bad options. */
export class ImageBuildError extends Error {
  override readonly name = "ImageBuildError";
}

/** The container tool that builds locally. */
export type BuildTool = "docker" | "podman";

/** Options of {@link ImageBuildEngine.build}. */
export interface BuildOptions {
  /** Where to build: only `"local"` (this machine's docker/podman) exists. Default: `"local"`. */
  builder?: "local";
  /** Print and return the Dockerfile and the command instead of running it. Default: false. */
  dryRun?: boolean;
  /** Push the image to its registry after building (the image must have a registry). Default: false (load it locally). */
  push?: boolean;
  /** Target platform(s), e.g. `"linux/amd64"` or `["linux/amd64", "linux/arm64"]`. Default: the builder's own platform. */
  platform?: string | readonly string[];
  /** The tool to use. Default: `docker` when `docker buildx version` succeeds, else `podman` when `podman --version` does. */
  tool?: BuildTool;
  /**
   * Folder to write the build context (Dockerfile + copied local files) to, kept after the build. Default: a temporary
   * folder, removed afterwards (with `dryRun`, none is written and the printed command names `<context>`).
   */
  contextDir?: string;
  /** Where progress lines (and the dry-run Dockerfile) go. Default: `process.stderr`. `null`: nowhere. */
  output?: { write(text: string): unknown } | null;
  /** Environment of the builder process (and of the PATH lookup). Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** What {@link ImageBuildEngine.build} did. */
export interface BuildResult {
  /** `<registry>/<name>:<tag>` of the image. */
  uri: string;
  /** The Dockerfile that was (or would be) built. */
  dockerfile: string;
  /** Each command run (or, with dryRun, that would run), as argv arrays. */
  commands: string[][];
  /** The tool used. */
  tool: BuildTool;
  /** False for a dry run. */
  built: boolean;
}

interface Exit {
  code: number | null;
  error?: Error;
}

function run(argv: readonly string[], env: NodeJS.ProcessEnv, stdio: "ignore" | "inherit"): Promise<Exit> {
  return new Promise((resolve) => {
    // The builder's stdout goes to stderr too (podman prints its steps there): stdout stays for the image URI.
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: stdio === "ignore" ? "ignore" : ["ignore", 2, 2] });
    child.once("error", (error) => resolve({ code: null, error }));
    child.once("exit", (code) => resolve({ code }));
  });
}

/** The first tool that answers; `undefined` when none does. */
async function detectTool(env: NodeJS.ProcessEnv): Promise<BuildTool | undefined> {
  if ((await run(["docker", "buildx", "version"], env, "ignore")).code === 0) return "docker";
  if ((await run(["podman", "--version"], env, "ignore")).code === 0) return "podman";
  return undefined;
}

function buildCommands(tool: BuildTool, image: Image, context: string, push: boolean, platforms: readonly string[]): string[][] {
  const platform = platforms.length ? ["--platform", platforms.join(",")] : [];
  const dockerfile = path.join(context, "Dockerfile");
  if (tool === "docker") {
    return [["docker", "buildx", "build", "--file", dockerfile, "--tag", image.uri, ...platform, push ? "--push" : "--load", context]];
  }
  if (platforms.length > 1) {
    // With --tag, podman would tag only the last platform's image: several platforms go into a manifest list.
    const commands = [["podman", "build", "--file", dockerfile, "--manifest", image.uri, ...platform, context]];
    if (push) commands.push(["podman", "manifest", "push", "--all", image.uri, `docker://${image.uri}`]);
    return commands;
  }
  const commands = [["podman", "build", "--file", dockerfile, "--tag", image.uri, ...platform, context]];
  if (push) commands.push(["podman", "push", image.uri]);
  return commands;
}

/** Copies a source into the context, leaving out {@link EXCLUDED_FOLDERS}. */
function copyIntoContext(source: string, target: string): void {
  const stat = statSync(source, { throwIfNoEntry: false });
  if (!stat) throw new ImageBuildError(`Image source ${source} does not exist.`);
  mkdirSync(path.dirname(target), { recursive: true });
  if (stat.isFile()) {
    cpSync(source, target);
    return;
  }
  cpSync(source, target, {
    recursive: true,
    filter: (from) => !EXCLUDED_FOLDERS.includes(path.basename(from)) || from === source,
  });
}

/** Renders a command for people: words with spaces or quotes are single-quoted. */
function display(argv: readonly string[]): string {
  return argv.map((w) => (/^[A-Za-z0-9@%_+=:,./<>-]+$/.test(w) ? w : `'${w.replaceAll("'", `'\\''`)}'`)).join(" ");
}

/**
 * Builds {@link Image}s (the counterpart of flyte-sdk's `ImageBuildEngine`). The local builder writes the Dockerfile
 * and the local files the image copies into a build context and runs `docker buildx build` (or `podman build` +
 * `podman push`) with an argv array, no shell.
 */
export const ImageBuildEngine = {
  /** Builds (or, with `dryRun`, describes) the image; resolves when the tool has finished. */
  async build(image: Image, options: BuildOptions = {}): Promise<BuildResult> {
    if (!(image instanceof Image)) throw new ImageBuildError("ImageBuildEngine.build expects an Image (from Image.fromNodeBase/fromBase).");
    const builder = options.builder ?? "local";
    if (builder !== "local") throw new ImageBuildError(`Unknown builder ${JSON.stringify(builder)}: only "local" is available.`);
    const push = options.push ?? false;
    if (push && !internals.registry(image)) {
      throw new ImageBuildError(`Cannot push ${image.uri}: the image has no registry (Image.fromNodeBase({ registry }) or image.clone({ registry })).`);
    }
    const platforms = options.platform === undefined ? [] : typeof options.platform === "string" ? [options.platform] : [...options.platform];
    for (const p of platforms) if (!/^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/.test(p)) throw new ImageBuildError(`Invalid platform ${JSON.stringify(p)}: expected e.g. "linux/amd64".`);
    const env = options.env ?? process.env;
    const output = options.output === undefined ? process.stderr : options.output;
    const say = (text: string) => output?.write(text);
    const dockerfile = image.dockerfile();
    let uri: string;
    try {
      uri = image.uri; // hashes the local files the image copies
    } catch (error) {
      throw new ImageBuildError(error instanceof Error ? error.message : String(error), { cause: error });
    }

    if (options.dryRun && options.contextDir === undefined) {
      const tool = options.tool ?? "docker";
      const commands = buildCommands(tool, image, "<context>", push, platforms);
      say(`Dry run: ${uri}\n--- Dockerfile ---\n${dockerfile}--- Commands ---\n${commands.map(display).join("\n")}\n`);
      return { uri, dockerfile, commands, tool, built: false };
    }

    const tool = options.tool ?? (options.dryRun ? "docker" : await detectTool(env));
    if (!tool) {
      throw new ImageBuildError(
        "No image builder found: looked for `docker` with the buildx plugin (`docker buildx version`) and `podman` (`podman --version`) on PATH. Install one of them, or do a dry run (`dryRun: true`; CLI: `--dry-run`) to get the Dockerfile and command.",
      );
    }
    const keep = options.contextDir !== undefined;
    const context = keep ? path.resolve(options.contextDir!) : mkdtempSync(path.join(tmpdir(), "flyte-image-"));
    try {
      if (keep) {
        mkdirSync(context, { recursive: true });
        if (readdirSync(context).length > 0) throw new ImageBuildError(`Context folder ${context} is not empty.`);
      }
      for (const entry of internals.contextEntries(image)) copyIntoContext(entry.source, path.join(context, entry.contextPath));
      writeFileSync(path.join(context, "Dockerfile"), dockerfile);
      const commands = buildCommands(tool, image, context, push, platforms);
      if (options.dryRun) {
        say(`Dry run: ${uri}\n--- Dockerfile (${path.join(context, "Dockerfile")}) ---\n${dockerfile}--- Commands ---\n${commands.map(display).join("\n")}\n`);
        return { uri, dockerfile, commands, tool, built: false };
      }
      for (const command of commands) {
        say(`Running: ${display(command)}\n`);
        const exit = await run(command, env, "inherit");
        if (exit.error) throw new ImageBuildError(`Could not run ${command[0]}: ${exit.error.message}`);
        if (exit.code !== 0) throw new ImageBuildError(`${display(command.slice(0, 3))} … failed with exit code ${exit.code}.`);
      }
      return { uri, dockerfile, commands, tool, built: true };
    } finally {
      if (!keep) rmSync(context, { recursive: true, force: true });
    }
  },
};
