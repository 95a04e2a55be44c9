// Object storage: one interface for s3://, gs://, abfs(s):// and file:// (vendor SDKs loaded on first use).
export { ObjectStore, defaultStorage, type ObjectStoreOptions } from "./object-store.js";
export { storageConfigFromEnv, type StorageConfig, type S3Config, type GcsConfig, type AzureConfig } from "./config.js";
export { StorageError, type Storage, type StorageProblem, type ObjectInfo, type CallOptions, type GetOptions, type PutOptions, type PutBody } from "./types.js";
export { type Backend, type ListPage, type ListedObject } from "./backend.js";
export { parseUri, joinUri, isLocalUri, type Location, type Scheme } from "./uri.js";
