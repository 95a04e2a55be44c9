import { create } from "@bufbuild/protobuf";
import { type SecurityContext, Secret_MountType, SecurityContextSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/security_pb.js";

/**
 * A secret a task needs at run time, as Python's `flyte.Secret`. By default it is exposed as the environment
 * variable `<GROUP>_<KEY>` (or `<KEY>`), upper-cased with `-` → `_`.
 */
export interface Secret {
  /** Name of the secret in the secret store. */
  readonly key: string;
  /** Group of the secret in stores that have groups. Default: none. */
  readonly group?: string;
  /** Environment variable to expose it as. Default: derived from group and key (see above). */
  readonly asEnvVar?: string;
  /** Mount it as a file under this path instead; only "/etc/flyte/secrets" is supported (as in Python). */
  readonly mount?: "/etc/flyte/secrets";
}

/** Secrets of a task: one key, one {@link Secret}, or a list of both (Python's `SecretRequest`). */
export type SecretRequest = string | Secret | readonly (string | Secret)[];

const ENV_VAR_NAME = /^[A-Z_][A-Z0-9_]*$/;

/** The normalized secrets of a request, with the environment variable filled in as Python's `Secret.__post_init__`. */
export function secretsOf(request: SecretRequest | undefined): Secret[] {
  if (request === undefined) return [];
  const list = typeof request === "string" || !Array.isArray(request) ? [request as string | Secret] : (request as readonly (string | Secret)[]);
  return list.map((item) => {
    const secret: Secret = typeof item === "string" ? { key: item } : item;
    if (!secret.key) throw new TypeError("A secret needs a key.");
    if (secret.mount !== undefined && secret.mount !== "/etc/flyte/secrets") {
      throw new TypeError(`Secret "${secret.key}": only /etc/flyte/secrets is supported as a mount path.`);
    }
    const asEnvVar =
      secret.asEnvVar ??
      (secret.mount ? undefined : (secret.group ? `${secret.group}_${secret.key}` : secret.key).replaceAll("-", "_").toUpperCase());
    if (asEnvVar !== undefined && !ENV_VAR_NAME.test(asEnvVar)) {
      throw new TypeError(`Secret "${secret.key}": invalid environment variable name "${asEnvVar}" (must match ${ENV_VAR_NAME.source}).`);
    }
    return { ...secret, ...(asEnvVar !== undefined ? { asEnvVar } : {}) };
  });
}

/** `core.SecurityContext` as flyte-sdk's `get_security_context`; unset when no secrets were requested. */
export function securityContextOf(request: SecretRequest | undefined): SecurityContext | undefined {
  if (request === undefined) return undefined;
  return create(SecurityContextSchema, {
    secrets: secretsOf(request).map((secret) => ({
      group: secret.group ?? "",
      key: secret.key,
      mountRequirement: secret.asEnvVar ? Secret_MountType.ENV_VAR : Secret_MountType.FILE,
      envVar: secret.asEnvVar ?? "",
    })),
  });
}
