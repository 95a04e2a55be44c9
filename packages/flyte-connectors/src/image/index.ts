export { Image, type NodeBaseOptions, type BaseOptions, type CloneOptions } from "./image.js";
export { ImageBuildEngine, ImageBuildError, type BuildOptions, type BuildResult, type BuildTool } from "./build.js";
