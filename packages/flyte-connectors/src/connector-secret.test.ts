import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectorSecret, connectorSecretPath } from "./connector-secret.js";

test("connectorSecret: _FSEC_<KEY>, then <KEY>, then the lower-case file in FLYTE_SECRETS_DEFAULT_DIR", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "secrets-"));
  const saved = { ...process.env };
  t.after(() => {
    process.env = saved;
    rmSync(dir, { recursive: true, force: true });
  });
  process.env["FLYTE_SECRETS_DEFAULT_DIR"] = dir;
  delete process.env["_FSEC_MY_TOKEN"];
  delete process.env["MY_TOKEN"];

  assert.equal(await connectorSecret("MY_TOKEN"), undefined);
  assert.equal(connectorSecretPath("MY_TOKEN"), join(dir, "my_token"));
  writeFileSync(join(dir, "my_token"), "from-file\n");
  assert.equal(await connectorSecret("MY_TOKEN"), "from-file");
  process.env["MY_TOKEN"] = "from-env";
  assert.equal(await connectorSecret("MY_TOKEN"), "from-env");
  process.env["_FSEC_MY_TOKEN"] = "from-fsec";
  assert.equal(await connectorSecret("MY_TOKEN"), "from-fsec");
});

// flytekit's SecretsManager: env var names are upper case, file names lower case, and the prefixes and directory
// come from FLYTE_SECRETS_ENV_PREFIX / FLYTE_SECRETS_FILE_PREFIX / FLYTE_SECRETS_DEFAULT_DIR.
test("connectorSecret: a lower-case key finds the upper-case variables; FLYTE_SECRETS_* prefixes are honoured", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "secrets-"));
  const saved = { ...process.env };
  t.after(() => {
    process.env = saved;
    rmSync(dir, { recursive: true, force: true });
  });
  for (const name of ["_FSEC_API_KEY", "API_KEY", "X_API_KEY", "FLYTE_SECRETS_ENV_PREFIX", "FLYTE_SECRETS_FILE_PREFIX"]) delete process.env[name];
  process.env["FLYTE_SECRETS_DEFAULT_DIR"] = ` ${dir} `;

  process.env["FLYTE_SECRETS_FILE_PREFIX"] = "conn-";
  assert.equal(connectorSecretPath("Api_Key"), join(dir, "conn-api_key"));
  writeFileSync(join(dir, "conn-api_key"), " from-file \n");
  assert.equal(await connectorSecret("Api_Key"), "from-file");

  process.env["API_KEY"] = "plain\n";
  assert.equal(await connectorSecret("api_key"), "plain");
  process.env["_FSEC_API_KEY"] = "prefixed";
  assert.equal(await connectorSecret("api_key"), "prefixed");
  process.env["FLYTE_SECRETS_ENV_PREFIX"] = "X_";
  process.env["X_API_KEY"] = "custom-prefix";
  assert.equal(await connectorSecret("api_key"), "custom-prefix");
});
