import { readFile } from "node:fs/promises";
import { join } from "node:path";

/** flytekit's defaults (`flytekit.configuration.internal.Secrets`), each overridable by its FLYTE_SECRETS_* variable. */
const DEFAULT_SECRETS_DIR = "/etc/secrets";
const DEFAULT_ENV_PREFIX = "_FSEC_";

/** A FLYTE_SECRETS_* setting as flytekit reads it: stripped, and its default when unset. */
function setting(name: string, fallback: string): string {
  return (process.env[name] ?? fallback).trim();
}

/**
 * A secret of the connector deployment itself (not of a task), found as Python connectors find theirs
 * (flytekit's `get_connector_secret(key)`, i.e. `SecretsManager.get(key=key)` with no group): the environment
 * variable `<FLYTE_SECRETS_ENV_PREFIX, default _FSEC_><KEY in upper case>`, then `<KEY in upper case>` (flytekit
 * also looks there outside a task run, as in a connector service), then the file
 * `<FLYTE_SECRETS_DEFAULT_DIR, default /etc/secrets>/<FLYTE_SECRETS_FILE_PREFIX><key in lower case>` (where the
 * Kubernetes manifests and chart mount the connector Secret). Values are trimmed. `undefined` when none is set
 * (flytekit raises; an empty value counts as unset here). For credentials shared by all tasks, e.g. an API key the
 * operator gives the service; a task's own secrets arrive in the call's `secrets`.
 */
export async function connectorSecret(key: string): Promise<string | undefined> {
  const name = key.toUpperCase();
  for (const variable of [`${setting("FLYTE_SECRETS_ENV_PREFIX", DEFAULT_ENV_PREFIX)}${name}`, name]) {
    const value = process.env[variable]?.trim();
    if (value) return value;
  }
  try {
    return (await readFile(connectorSecretPath(key), "utf8")).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The file {@link connectorSecret} reads for `key`. */
export function connectorSecretPath(key: string): string {
  return join(setting("FLYTE_SECRETS_DEFAULT_DIR", "") || DEFAULT_SECRETS_DIR, `${setting("FLYTE_SECRETS_FILE_PREFIX", "")}${key.toLowerCase()}`);
}
