// The abfs:// backend against Azurite (Microsoft's Azure Storage emulator from npm) through @azure/storage-blob.
import { storageConformance } from "./conformance.js";
import { ObjectStore } from "./object-store.js";
import { isolateFromCloud, startAzurite, startFailingServer, startSilentServer } from "./test-servers.js";

isolateFromCloud();

storageConformance("abfs://", async () => {
  const azurite = await startAzurite();
  const silent = await startSilentServer();
  const failing = await startFailingServer(503);
  const azure = (endpoint: string, accountKey = azurite.accountKey) => ({ endpoint, accountName: azurite.accountName, accountKey });
  const store = new ObjectStore({ azure: azure(azurite.endpoint), partSize: 4 * 1024 * 1024 });
  // The container is created with the SDK directly: ObjectStore, like flyte-sdk, writes into existing containers.
  const { BlobServiceClient, StorageSharedKeyCredential } = await import("@azure/storage-blob");
  const url = azurite.endpoint.replace("{account}", azurite.accountName);
  await new BlobServiceClient(url, new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey)).getContainerClient("flyte").create();
  // Both URI forms: the container@account one adlfs/flyte-sdk write, and a bare container with the configured account.
  const wrongKey = Buffer.from("not-the-account-key-0123456789").toString("base64");
  return {
    store,
    base: `abfs://flyte@${azurite.accountName}.dfs.core.windows.net/conformance`,
    wrongCredentials: new ObjectStore({ azure: azure(azurite.endpoint, wrongKey), retries: 0 }),
    secret: wrongKey,
    silent: { store: new ObjectStore({ azure: azure(`${silent.endpoint}/{account}`), retries: 0 }), base: "abfs://flyte", requests: silent.requests },
    failing: {
      store: new ObjectStore({ azure: azure(`${failing.endpoint}/{account}`), retries: 2, backoffMs: 10 }),
      patient: new ObjectStore({ azure: azure(`${failing.endpoint}/{account}`), retries: 1000, backoffMs: 20 }),
      base: "abfss://flyte",
      requests: failing.requests,
      retries: 2,
    },
    async close() {
      await Promise.all([azurite.close(), silent.close(), failing.close()]);
    },
  };
});
