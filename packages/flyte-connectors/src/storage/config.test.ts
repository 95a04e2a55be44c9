// Storage configuration from flyte-sdk's environment variables, and the same variables reaching a real S3 server.
import assert from "node:assert/strict";
import { test } from "node:test";
import { storageConfigFromEnv } from "./config.js";
import { ObjectStore } from "./object-store.js";
import { isolateFromCloud, startS3Server } from "./test-servers.js";

isolateFromCloud();

test("flyte-sdk's variables configure S3, Azure and the retries; empty ones count as unset", () => {
  const config = storageConfigFromEnv({
    FLYTE_AWS_ENDPOINT: "http://minio:9000",
    FLYTE_AWS_ACCESS_KEY_ID: "minio",
    FLYTE_AWS_SECRET_ACCESS_KEY: "miniostorage",
    FLYTE_AWS_S3_ADDRESSING_STYLE: "Virtual",
    AWS_DEFAULT_REGION: "eu-west-1",
    AZURE_STORAGE_ACCOUNT_NAME: "acct",
    AZURE_STORAGE_ACCOUNT_KEY: "",
    AZURE_TENANT_ID: "t",
    AZURE_CLIENT_ID: "c",
    AZURE_CLIENT_SECRET: "s",
    FLYTE_STORAGE_RETRIES: "5",
    FLYTE_STORAGE_BACKOFF_SECONDS: "0.5",
  });
  assert.deepEqual(config.s3, { endpoint: "http://minio:9000", accessKeyId: "minio", secretAccessKey: "miniostorage", region: "eu-west-1", addressingStyle: "virtual" });
  assert.equal(config.azure?.accountName, "acct");
  assert.equal(config.azure?.accountKey, undefined);
  assert.deepEqual([config.azure?.tenantId, config.azure?.clientId, config.azure?.clientSecret], ["t", "c", "s"]);
  assert.equal(config.retries, 5);
  assert.equal(config.backoffMs, 500);
  assert.throws(() => storageConfigFromEnv({ FLYTE_AWS_S3_ADDRESSING_STYLE: "sideways" }), /FLYTE_AWS_S3_ADDRESSING_STYLE must be "path" or "virtual", got "sideways"/);
  assert.throws(() => storageConfigFromEnv({ FLYTE_STORAGE_RETRIES: "many" }), /FLYTE_STORAGE_RETRIES/);
});

test("ObjectStore.fromEnv reaches an S3-compatible server with only flyte-sdk's variables set", async () => {
  const server = await startS3Server();
  try {
    const store = ObjectStore.fromEnv(server.env);
    await store.put(`s3://${server.bucket}/env/x.txt`, "from env");
    assert.equal(new TextDecoder().decode(await store.get(`s3://${server.bucket}/env/x.txt`)), "from env");
    // Without the keys the AWS chain finds nothing (no metadata service in tests): refused, naming what to set.
    const { FLYTE_AWS_ACCESS_KEY_ID: _id, FLYTE_AWS_SECRET_ACCESS_KEY: _secret, ...noKeys } = server.env;
    const saved = { id: process.env["AWS_ACCESS_KEY_ID"], secret: process.env["AWS_SECRET_ACCESS_KEY"] };
    delete process.env["AWS_ACCESS_KEY_ID"];
    delete process.env["AWS_SECRET_ACCESS_KEY"];
    try {
      await assert.rejects(ObjectStore.fromEnv(noKeys, { retries: 0 }).get(`s3://${server.bucket}/env/x.txt`), (error: Error & { code?: string }) => {
        assert.equal(error.code, "FAILED_PRECONDITION", error.message);
        assert.match(error.message, /FLYTE_AWS_ACCESS_KEY_ID/);
        return true;
      });
    } finally {
      if (saved.id !== undefined) process.env["AWS_ACCESS_KEY_ID"] = saved.id;
      if (saved.secret !== undefined) process.env["AWS_SECRET_ACCESS_KEY"] = saved.secret;
    }
  } finally {
    await server.close();
  }
});
