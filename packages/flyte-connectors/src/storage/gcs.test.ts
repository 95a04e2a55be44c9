// The gs:// backend through the official @google-cloud/storage SDK. No GCS emulator installs from npm or Debian,
// so the server is fake-gcs.ts: a local server following the JSON API's documented shapes (and the token exchange
// of external_account credentials, so wrong credentials are really refused).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { storageConformance } from "./conformance.js";
import { startFakeGcs } from "./fake-gcs.js";
import { ObjectStore } from "./object-store.js";
import { isolateFromCloud, startFailingServer, startSilentServer } from "./test-servers.js";

isolateFromCloud();

storageConformance("gs://", async () => {
  const subjectToken = "subject-token-of-the-connector-8c1d";
  const gcs = await startFakeGcs({ subjectToken });
  gcs.createBucket("flyte");
  const silent = await startSilentServer();
  const failing = await startFailingServer(503);
  const dir = await mkdtemp(join(tmpdir(), "gcs-creds-"));
  // Application Default Credentials files of type external_account (workload identity federation), whose token
  // exchange endpoint is the local server; the subject token is read from a file, as on a real workload.
  const credentials = async (name: string, token: string) => {
    await writeFile(join(dir, `${name}.token`), token);
    const path = join(dir, `${name}.json`);
    await writeFile(path, JSON.stringify({
      type: "external_account",
      audience: "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/flyte/providers/test",
      subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
      token_url: gcs.tokenUri,
      credential_source: { file: join(dir, `${name}.token`) },
    }));
    return path;
  };
  const good = await credentials("good", subjectToken);
  const wrongToken = "not-the-subject-token-5e2b";
  const wrong = await credentials("wrong", wrongToken);
  const gcsConfig = (endpoint: string, keyFilename = good) => ({ endpoint, keyFilename, projectId: "flyte-test" });
  return {
    store: new ObjectStore({ gcs: gcsConfig(gcs.endpoint), partSize: 4 * 1024 * 1024 }),
    base: "gs://flyte/conformance",
    wrongCredentials: new ObjectStore({ gcs: gcsConfig(gcs.endpoint, wrong), retries: 0 }),
    secret: wrongToken,
    silent: { store: new ObjectStore({ gcs: { endpoint: silent.endpoint }, retries: 0 }), base: "gs://flyte", requests: silent.requests },
    failing: {
      store: new ObjectStore({ gcs: { endpoint: failing.endpoint }, retries: 2, backoffMs: 10 }),
      patient: new ObjectStore({ gcs: { endpoint: failing.endpoint }, retries: 1000, backoffMs: 20 }),
      base: "gs://flyte",
      requests: failing.requests,
      retries: 2,
    },
    async close() {
      await Promise.all([gcs.close(), silent.close(), failing.close(), rm(dir, { recursive: true, force: true })]);
    },
  };
});
