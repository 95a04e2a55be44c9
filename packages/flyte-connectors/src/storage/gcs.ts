/** gs:// (placeholder until the GCS backend lands). */
import type { Backend } from "./backend.js";
import type { GcsConfig } from "./config.js";

export async function createGcsBackend(_config: GcsConfig, _upload: { partSize: number; concurrency: number }): Promise<Backend> {
  throw new Error("the gs:// backend is not implemented yet");
}
