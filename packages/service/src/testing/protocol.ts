// Which client stack serveForTest's client (and flyte1Client) speaks, chosen by FLYTE_CONNECTOR_TEST_PROTOCOL.

/**
 * The environment variable naming the protocol and client of the test clients: `grpc` (default: grpc-js), `connect`
 * (@connectrpc/connect-node on the Connect port; Flyte 1 clients stay on grpc-js, Flyte 1 has no Connect) or
 * `grpc-go` (grpc-go, dialed as FlytePropeller dials).
 */
export const TEST_PROTOCOL_ENV = "FLYTE_CONNECTOR_TEST_PROTOCOL";
export const TEST_PROTOCOLS = ["grpc", "connect", "grpc-go"] as const;
export type TestProtocol = (typeof TEST_PROTOCOLS)[number];

/** The protocol {@link TEST_PROTOCOL_ENV} names; `grpc` when unset or empty. */
export function testProtocol(): TestProtocol {
  const value = process.env[TEST_PROTOCOL_ENV];
  if (value === undefined || value === "") return "grpc";
  if (!(TEST_PROTOCOLS as readonly string[]).includes(value)) throw new Error(`${TEST_PROTOCOL_ENV}=${value}: expected ${TEST_PROTOCOLS.slice(0, -1).join(", ")} or ${TEST_PROTOCOLS.at(-1)}`);
  return value as TestProtocol;
}
