// The s3:// backend against s3rver (a real S3-compatible server from npm) through the AWS SDK, as in production.
import { storageConformance } from "./conformance.js";
import { ObjectStore } from "./object-store.js";
import { isolateFromCloud, startFailingServer, startS3Server, startSilentServer } from "./test-servers.js";

isolateFromCloud();

storageConformance("s3://", async () => {
  const server = await startS3Server();
  const silent = await startSilentServer();
  const failing = await startFailingServer(503);
  const s3 = (endpoint: string, accessKeyId = server.accessKeyId, secretAccessKey = server.secretAccessKey) => ({ endpoint, accessKeyId, secretAccessKey, addressingStyle: "path" as const });
  return {
    // A 5 MiB part size (S3's minimum) so the multipart case uploads several parts.
    store: new ObjectStore({ s3: s3(server.endpoint), partSize: 5 * 1024 * 1024 }),
    base: `s3://${server.bucket}/conformance`,
    // s3rver checks the access key id (not the signature), so both are wrong here.
    wrongCredentials: new ObjectStore({ s3: s3(server.endpoint, "NOT-A-KEY-ID", "not-the-secret-7f3a"), retries: 0 }),
    secret: "not-the-secret-7f3a",
    silent: { store: new ObjectStore({ s3: s3(silent.endpoint), retries: 0 }), base: `s3://${server.bucket}`, requests: silent.requests },
    failing: {
      store: new ObjectStore({ s3: s3(failing.endpoint), retries: 2, backoffMs: 10 }),
      patient: new ObjectStore({ s3: s3(failing.endpoint), retries: 1000, backoffMs: 20 }),
      base: `s3://${server.bucket}`,
      requests: failing.requests,
      retries: 2,
    },
    async close() {
      await Promise.all([server.close(), silent.close(), failing.close()]);
    },
  };
});
