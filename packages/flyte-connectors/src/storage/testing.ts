// Local storage servers for tests (`flyte-connectors/testing/storage`): s3rver, Azurite, a GCS JSON API server.
// s3rver and azurite are not dependencies of flyte-connectors: install them as dev dependencies to use these.
export { isolateFromCloud, startS3Server, startAzurite, startSilentServer, startFailingServer, type S3TestServer, type AzuriteServer } from "./test-servers.js";
export { startFakeGcs, type FakeGcs, type FakeGcsOptions } from "./fake-gcs.js";
