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
