// Test support for connector packages (`@flyte-connectors/service/testing`; needs the optional peer dependency
// grpc-health-check, which `init` adds to a new package's dev dependencies).
// `serveForTest` starts the real service on a free port with exactly the given connectors and returns a real
// grpc-js client, so a connector's tests go through the same gRPC path as the Flyte backend.
import { ConnectorRegistry, type Connector } from "flyte-connectors";
import { startConnectorService, type ConnectorServiceHandle, type ConnectorServiceOptions } from "../service.js";
import { healthCheck, testClient, type TestClient } from "./client.js";
import { testTransport } from "./transport.js";

export { testClient, healthCheck, type TestClient };
export { spawnService, CLI_BIN, type SpawnedService, type SpawnServiceOptions } from "./spawn.js";
export { testTransport, testTransportArgs, TEST_TRANSPORT_ENV } from "./transport.js";
export { flyte1Client, flyte2Outputs, type Flyte1Client, type Flyte1Template } from "./flyte1.js";

export interface TestService {
  client: TestClient;
  handle: ConnectorServiceHandle;
  /** Closes the client and the service. */
  close(): Promise<void>;
}

/**
 * Serves `connectors` (nothing else: no built-ins, no discovery, no metrics port) on 127.0.0.1:<free port>, on the
 * transport `options.transport`, else the one `FLYTE_CONNECTOR_TEST_TRANSPORT` names, else the service's default.
 */
export async function serveForTest(connectors: readonly Connector[], options: ConnectorServiceOptions = {}): Promise<TestService> {
  const registry = new ConnectorRegistry();
  for (const connector of connectors) registry.register(connector);
  const handle = await startConnectorService({
    port: 0,
    host: "127.0.0.1",
    prometheusPort: null,
    logLevel: "silent",
    builtins: false,
    discover: false,
    registry,
    ...options,
    transport: options.transport ?? testTransport(),
  });
  const client = testClient(handle.port);
  return {
    client,
    handle,
    close: async () => {
      client.close();
      await handle.forceClose();
    },
  };
}
