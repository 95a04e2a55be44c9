// Which gRPC transport the service's tests run on: `FLYTE_CONNECTOR_TEST_TRANSPORT=native|grpc-js` (scripts/test.mjs
// runs the service package's tests once per transport).
import { isTransportKind, TRANSPORT_KINDS, type TransportKind } from "../transport/index.js";

/** The environment variable naming the transport tests serve on. */
export const TEST_TRANSPORT_ENV = "FLYTE_CONNECTOR_TEST_TRANSPORT";

/** The transport named by {@link TEST_TRANSPORT_ENV}, or undefined (the service's default) when unset or empty. */
export function testTransport(): TransportKind | undefined {
  const value = process.env[TEST_TRANSPORT_ENV];
  if (value === undefined || value === "") return undefined;
  if (!isTransportKind(value)) throw new Error(`${TEST_TRANSPORT_ENV}=${value}: expected ${TRANSPORT_KINDS.join(" or ")}`);
  return value;
}

/** `--transport <kind>` for a spawned CLI when {@link TEST_TRANSPORT_ENV} names one, else nothing. */
export function testTransportArgs(): string[] {
  const kind = testTransport();
  return kind ? ["--transport", kind] : [];
}
