// grpc.health.v1.Health (Check + Watch) on the service's transport. The two messages are tiny, so they are
// encoded by hand with protobuf-es's wire helpers:
//   HealthCheckRequest { string service = 1; }
//   HealthCheckResponse { ServingStatus status = 1; }  UNKNOWN 0, SERVING 1, NOT_SERVING 2, SERVICE_UNKNOWN 3
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { ServerCall, TransportServer } from "./transport/types.js";
import { Status } from "./transport/status.js";

export type ServingStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";
const STATUS_NUMBER: Readonly<Record<ServingStatus, number>> = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 };

export function decodeHealthCheckRequest(bytes: Uint8Array): { service: string } {
  const reader = new BinaryReader(bytes);
  let service = "";
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) service = reader.string();
    else reader.skip(wireType);
  }
  return { service };
}

export function encodeHealthCheckResponse(status: ServingStatus): Uint8Array {
  const number = STATUS_NUMBER[status];
  const writer = new BinaryWriter();
  if (number !== 0) writer.tag(1, WireType.Varint).int32(number);
  return writer.finish();
}

/** A status a Watch call cannot encode has already failed that call INTERNAL (the transport did): nothing more to do. */
function writeQuietly(call: ServerCall, status: ServingStatus): void {
  try {
    call.write(status);
  } catch {
    // the call is done
  }
}

/** Serving status per service name, with Watch streams told about every change. */
export class HealthService {
  readonly #statuses = new Map<string, ServingStatus>();
  readonly #watchers = new Map<string, Set<ServerCall>>();

  constructor(statuses: Record<string, ServingStatus>) {
    for (const [name, status] of Object.entries(statuses)) this.#statuses.set(name, status);
  }

  setStatus(service: string, status: ServingStatus): void {
    if (this.#statuses.get(service) === status) return;
    this.#statuses.set(service, status);
    for (const call of this.#watchers.get(service) ?? []) writeQuietly(call, status);
  }

  addTo(server: TransportServer): void {
    const common = { decode: decodeHealthCheckRequest, encode: (status: unknown) => encodeHealthCheckResponse(status as ServingStatus) };
    server.add({
      ...common,
      path: "/grpc.health.v1.Health/Check",
      kind: "unary",
      handler: (call) => {
        const status = this.#statuses.get((call.request as { service: string }).service);
        if (status === undefined) call.fail(Status.NOT_FOUND, "NOT_FOUND");
        else call.respond(status);
      },
    });
    server.add({
      ...common,
      path: "/grpc.health.v1.Health/Watch",
      kind: "server_streaming",
      handler: (call) => {
        const service = (call.request as { service: string }).service;
        let watchers = this.#watchers.get(service);
        if (!watchers) this.#watchers.set(service, (watchers = new Set()));
        const set = watchers;
        set.add(call);
        // However the call finishes (cancel, deadline, a failed write, end): forget it, and the name if unwatched.
        call.whenDone(() => {
          set.delete(call);
          if (set.size === 0 && this.#watchers.get(service) === set) this.#watchers.delete(service);
        });
        writeQuietly(call, this.#statuses.get(service) ?? "SERVICE_UNKNOWN");
      },
    });
  }

  /** Ends every Watch stream (shutdown). */
  endWatches(): void {
    for (const set of [...this.#watchers.values()]) for (const call of [...set]) call.end();
    this.#watchers.clear();
  }

  /** Watch streams open, by service name (tests, debugging). */
  watching(): Map<string, number> {
    return new Map([...this.#watchers].map(([service, set]) => [service, set.size]));
  }
}
