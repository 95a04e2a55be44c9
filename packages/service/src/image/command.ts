import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import * as core from "flyte-connectors";
import { importModule } from "../loader.js";
import type { BuildTool, Image } from "flyte-connectors";

type Core = Pick<typeof core, "Image" | "ImageBuildEngine">;

/** The flyte-connectors installation a spec file imports (its own project's), if it is not the CLI's. */
async function coreOf(file: string): Promise<Core | undefined> {
  try {
    return (await import(pathToFileURL(createRequire(file).resolve("flyte-connectors")).href)) as Core;
  } catch {
    return undefined;
  }
}

/**
 * Loads the Image a spec file exports (default export, or a named export `image`; `.ts` through tsx), with the build
 * engine of the flyte-connectors copy it came from (a project's own copy may differ from the CLI's).
 */
export async function loadImageSpec(file: string, cwd = process.cwd()): Promise<{ image: Image; engine: Core["ImageBuildEngine"] }> {
  const resolved = path.resolve(cwd, file);
  if (!existsSync(resolved)) throw new InvalidArgumentError(`Image spec file ${file} does not exist.`);
  let module: Record<string, unknown>;
  try {
    module = await importModule(resolved, cwd);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    // A .ts file outside an ESM package is compiled as CommonJS, which cannot load the ESM core.
    const hint = code === "ERR_REQUIRE_CYCLE_MODULE" || code === "ERR_REQUIRE_ESM" ? ' (name it .mts, or put it in a package with "type": "module")' : "";
    throw new InvalidArgumentError(`Could not load ${file}${hint}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
  }
  const candidate = module.default ?? module.image;
  if (candidate instanceof core.Image) return { image: candidate, engine: core.ImageBuildEngine };
  const own = candidate && typeof candidate === "object" ? await coreOf(resolved) : undefined;
  if (own && candidate instanceof own.Image) return { image: candidate, engine: own.ImageBuildEngine };
  if (candidate && typeof candidate === "object" && "dockerfile" in candidate) {
    throw new InvalidArgumentError(`${file} exports an Image of a flyte-connectors copy that neither the CLI nor ${file} resolves; import Image from "flyte-connectors".`);
  }
  throw new InvalidArgumentError(`${file} must export an Image as its default export or as \`image\` (e.g. \`export default Image.fromNodeBase()…\`).`);
}

interface BuildFlags {
  dryRun?: boolean;
  push?: boolean;
  platform: string[];
  tool?: BuildTool;
  context?: string;
}

/** Runs an action; expected failures (bad spec file, build errors) print one line and exit 1 instead of a stack. */
function guarded<A extends unknown[]>(command: () => Command, action: (...args: A) => Promise<void>) {
  return async (...args: A): Promise<void> => {
    try {
      await action(...args);
    } catch (error) {
      // By name: the ImageBuildError may come from the spec project's own copy of flyte-connectors.
      const expected = error instanceof InvalidArgumentError || error instanceof TypeError || (error instanceof Error && error.name === "ImageBuildError");
      if (expected) command().error(`error: ${(error as Error).message}`);
      throw error;
    }
  };
}

const collect = (value: string, previous: string[]): string[] => [...previous, ...value.split(",").filter(Boolean)];

/** Adds `flyte-connector image build|dockerfile <file>`: builds connector images from an image spec. */
export function registerImageCommand(program: Command): void {
  const image = program.command("image").description("build connector container images from an Image spec file (a .ts/.js module exporting an Image)");
  const build: Command = image
    .command("build <file>")
    .description("build the image (docker buildx or podman) and print its URI")
    .option("--dry-run", "print the Dockerfile and the build command, run nothing")
    .option("--push", "push to the image's registry after building")
    .option("--platform <platform>", "target platform, e.g. linux/amd64 (repeatable or comma-separated)", collect, [])
    .addOption(new Option("--tool <tool>", "container tool (default: docker if `docker buildx` works, else podman)").choices(["docker", "podman"]))
    .option("--context <dir>", "write the build context to this (empty) folder and keep it")
    .action(
      guarded(() => build, async (file: string, flags: BuildFlags) => {
        const { image, engine } = await loadImageSpec(file);
        const result = await engine.build(image, {
          dryRun: flags.dryRun ?? false,
          push: flags.push ?? false,
          ...(flags.platform.length ? { platform: flags.platform } : {}),
          ...(flags.tool ? { tool: flags.tool } : {}),
          ...(flags.context ? { contextDir: flags.context } : {}),
        });
        process.stdout.write(`${result.uri}\n`);
      }),
    );
  const dockerfile: Command = image
    .command("dockerfile <file>")
    .description("print the Dockerfile of the image spec")
    .action(
      guarded(() => dockerfile, async (file: string) => {
        process.stdout.write((await loadImageSpec(file)).image.dockerfile());
      }),
    );
}
