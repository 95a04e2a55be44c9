/**
 * All plugins in one import. Importing this module registers every plugin task class (Dask, Ray, Spark,
 * PyTorch); import a subpath (`@flyte-connectors/plugins/dask`, …) to load and register only one.
 */
export * from "./dask/index.js";
export * from "./ray/index.js";
export * from "./spark/index.js";
export * from "./pytorch/index.js";
export * from "./wandb/index.js";
export * from "./openai/index.js";
