// Test support for connector packages (`@flyte-connectors/service/testing`; needs the optional peer dependency
// grpc-health-check, which `init` adds to a new package's dev dependencies).
// `serveForTest` starts the real service on a free port with exactly the given connectors and returns a real
// client of the protocol `FLYTE_CONNECTOR_TEST_PROTOCOL` names (grpc-js by default, @connectrpc/connect-node for
// `connect`, grpc-go dialed as FlytePropeller dials for `grpc-go`), so a connector's tests go through the same path
// as a Flyte backend on that protocol.
import { ConnectorRegistry, type Connector } from "flyte-connectors";
import { startConnectorService, type ConnectorServiceHandle, type ConnectorServiceOptions } from "../service.js";
import { healthCheck, testClient, type TestClient } from "./client.js";
import { testTransport } from "./transport.js";
import { testProtocol, TEST_PROTOCOL_ENV, type TestProtocol } from "./protocol.js";

export { testClient, healthCheck, type TestClient };
export { spawnService, CLI_BIN, type SpawnedService, type SpawnServiceOptions } from "./spawn.js";
export { testTransport, testTransportArgs, TEST_TRANSPORT_ENV } from "./transport.js";
export { testProtocol, TEST_PROTOCOL_ENV, TEST_PROTOCOLS, type TestProtocol } from "./protocol.js";
export { flyte1Client, flyte2Outputs, type Flyte1Client, type Flyte1Template } from "./flyte1.js";
export { rejectsWith } from "./rejects.js";

export interface TestService {
  client: TestClient;
  handle: ConnectorServiceHandle;
  /** Closes the client and the service. */
  close(): Promise<void>;
}

/**
 * Serves `connectors` (nothing else: no built-ins, no discovery, no metrics port) on 127.0.0.1:<free port>, on the
 * transport `options.transport`, else the one `FLYTE_CONNECTOR_TEST_TRANSPORT` names, else the service's default.
 * `client` speaks `protocol` (default: {@link testProtocol}); with `connect` the Connect port is on (a free port
 * unless `options.connectPort` names one); with `connect` and `grpc-go`, `client.health`/`client.raw` stay on grpc-js.
 */
export async function serveForTest(connectors: readonly Connector[], options: ConnectorServiceOptions & { protocol?: TestProtocol } = {}): Promise<TestService> {
  const { protocol = testProtocol(), ...serviceOptions } = options;
  if (protocol === "connect" && serviceOptions.connectPort === null) throw new Error("serveForTest: the connect protocol needs the Connect port (connectPort is null)");
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
    ...serviceOptions,
    connectPort: protocol === "connect" ? (serviceOptions.connectPort ?? 0) : serviceOptions.connectPort,
    transport: serviceOptions.transport ?? testTransport(),
  });
  const client = protocol === "connect" ? await connectClient(handle) : protocol === "grpc-go" ? await goClient(handle) : testClient(handle.port);
  return {
    client,
    handle,
    close: async () => {
      client.close();
      await handle.forceClose();
    },
  };
}

/** The Connect test client, loaded only when asked for: @connectrpc/connect-node is an optional peer dependency. */
async function connectClient(handle: ConnectorServiceHandle): Promise<TestClient> {
  if (handle.connectPort === undefined) throw new Error("serveForTest: the service did not open its Connect port");
  let module: typeof import("./connect-client.js");
  try {
    module = await import("./connect-client.js");
  } catch (error) {
    await handle.forceClose();
    throw new Error(`${TEST_PROTOCOL_ENV}=connect needs @connectrpc/connect and @connectrpc/connect-node installed`, { cause: error });
  }
  return module.connectTestClient(handle.connectPort, handle.port);
}

/** The grpc-go test client; without Go and grpc-go its calls fail with an error naming the missing package. */
async function goClient(handle: ConnectorServiceHandle): Promise<TestClient> {
  const { goTestClient } = await import("./go-client.js");
  return goTestClient(handle.port);
}
