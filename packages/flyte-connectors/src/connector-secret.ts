import { readFile } from "node:fs/promises";
import { join } from "node:path";

/** Where a connector deployment's secret files are, unless `FLYTE_SECRETS_DEFAULT_DIR` says otherwise. */
const DEFAULT_SECRETS_DIR = "/etc/secrets";

/**
 * A secret of the connector deployment itself (not of a task), found as Python connectors find theirs
 * (flytekit's `get_connector_secret(key)`): the environment variable `_FSEC_<KEY>`, then `<KEY>`, then the file
 * `<FLYTE_SECRETS_DEFAULT_DIR or /etc/secrets>/<key in lower case>` (where the Kubernetes manifests and chart
 * mount the connector Secret). `undefined` when none is set. For credentials shared by all tasks, e.g. an API key
 * the operator gives the service; a task's own secrets arrive in the call's `secrets`.
 */
export async function connectorSecret(key: string): Promise<string | undefined> {
  const fromEnv = process.env[`_FSEC_${key}`] || process.env[key];
  if (fromEnv) return fromEnv;
  try {
    return (await readFile(connectorSecretPath(key), "utf8")).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The file {@link connectorSecret} reads for `key`. */
export function connectorSecretPath(key: string): string {
  return join(process.env["FLYTE_SECRETS_DEFAULT_DIR"] || DEFAULT_SECRETS_DIR, key.toLowerCase());
}
