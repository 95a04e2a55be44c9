import { AsyncConnector, type CreateRequest, type Resource, type ResourceRequest } from "../connector.js";
import { ConnectorError } from "../errors.js";
import { Phase } from "../phase.js";
import { ResourceMeta } from "../resource-meta.js";
import { Duration } from "../types/index.js";

/** When the sleep started and how long it lasts, in epoch milliseconds: enough to answer from any replica. */
export class SleepMeta extends ResourceMeta.define({ start_time_ms: "number", duration_ms: "number" }) {}

/**
 * Task type `sleep`, version 0: input `duration` (a duration literal, as Python's `timedelta` gives).
 * RUNNING until that much time has passed since create, then SUCCEEDED. Computed only from its resource
 * meta, so it survives a restart of the service.
 */
export class SleepConnector extends AsyncConnector<SleepMeta> {
  readonly name = "Sleep Connector";
  readonly taskTypeName = "sleep";
  readonly metadataType = SleepMeta;

  /** Reads the clock; replaceable in tests. */
  constructor(private readonly now: () => number = Date.now) {
    super();
  }

  async create({ inputs }: CreateRequest): Promise<SleepMeta> {
    const duration = inputs["duration"];
    if (!(duration instanceof Duration)) {
      throw new ConnectorError("INVALID_ARGUMENT", 'The sleep task needs an input "duration" of type duration.');
    }
    const durationMs = duration.toMillis();
    if (durationMs < 0) throw new ConnectorError("INVALID_ARGUMENT", `The sleep duration is negative: ${duration}.`);
    return new SleepMeta({ start_time_ms: this.now(), duration_ms: durationMs });
  }

  async get({ resourceMeta }: ResourceRequest<SleepMeta>): Promise<Resource> {
    const leftMs = resourceMeta.start_time_ms + resourceMeta.duration_ms - this.now();
    if (leftMs > 0) return { phase: Phase.RUNNING, message: `sleeping, ${Math.ceil(leftMs / 1000)} s left` };
    return { phase: Phase.SUCCEEDED, message: `slept ${resourceMeta.duration_ms / 1000} s` };
  }

  async delete(): Promise<void> {}
}
