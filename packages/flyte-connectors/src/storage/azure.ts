/** abfs:// (placeholder until the Azure backend lands). */
import type { Backend } from "./backend.js";
import type { AzureConfig } from "./config.js";

export async function createAzureBackend(_config: AzureConfig, _upload: { partSize: number; concurrency: number }): Promise<Backend> {
  throw new Error("the abfs:// backend is not implemented yet");
}
