// Transport events (types.ts's TransportEvent): counted as flyte_connector_transport_events_total{event} and
// logged, rate-limited per event name, so a flood (a client resetting streams in a loop, a port scanner) neither
// floods the log nor goes unseen.
import type { Logger } from "pino";
import type { TransportEvent, TransportEventName } from "./types.js";

/** Every event name (the metric's label values). */
export const TRANSPORT_EVENT_NAMES = [
  "stream_refused",
  "session_error",
  "socket_error",
  "goaway_sent",
  "goaway_received",
  "connection_age_closed",
  "connection_idle_closed",
  "handshake_timeout",
  "request_budget_exceeded",
  "stream_reset_on_shutdown",
] as const satisfies readonly TransportEventName[];

// Compile-time check that the list above names every event.
type Missing = Exclude<TransportEventName, (typeof TRANSPORT_EVENT_NAMES)[number]>;
const everyEventListed: [Missing] extends [never] ? true : Missing = true;
void everyEventListed;

/** Routine events (connections renewed or closed as configured): logged at info; the rest at warn. */
const ROUTINE: ReadonlySet<TransportEventName> = new Set(["goaway_sent", "goaway_received", "connection_idle_closed"]);

/** Default of {@link TransportEventLogOptions.intervalMs}: 10 s. */
export const DEFAULT_EVENT_LOG_INTERVAL_MS = 10_000;

export interface TransportEventLogOptions {
  /** Counts each event (e.g. the Prometheus counter). */
  count: (event: TransportEventName) => void;
  logger: Logger;
  /**
   * At most one log line per event name per this many ms: the first event of a window is logged with its detail;
   * the others are only counted, and one line at the window's end says how many were not logged. Default:
   * {@link DEFAULT_EVENT_LOG_INTERVAL_MS}.
   */
  intervalMs?: number;
}

/** Counts and logs transport events; {@link record} is the transports' `onEvent`. */
export class TransportEventLog {
  readonly #options: TransportEventLogOptions;
  readonly #intervalMs: number;
  /** Open windows by event name: how many events were not logged in them. */
  readonly #windows = new Map<TransportEventName, { suppressed: number; timer: NodeJS.Timeout }>();

  constructor(options: TransportEventLogOptions) {
    this.#options = options;
    this.#intervalMs = options.intervalMs ?? DEFAULT_EVENT_LOG_INTERVAL_MS;
  }

  /** The transports' `onEvent`. */
  readonly record = (event: TransportEvent): void => {
    this.#options.count(event.event);
    const window = this.#windows.get(event.event);
    if (window) {
      window.suppressed++;
      return;
    }
    this.#log(event.event, { transportEvent: event.event, ...event.detail }, "transport event");
    const timer = setTimeout(() => this.#closeWindow(event.event), this.#intervalMs);
    timer.unref();
    this.#windows.set(event.event, { suppressed: 0, timer });
  };

  /** Logs what open windows suppressed and stops their timers (service shutdown). */
  flush(): void {
    for (const name of [...this.#windows.keys()]) {
      clearTimeout(this.#windows.get(name)!.timer);
      this.#closeWindow(name);
    }
  }

  #closeWindow(name: TransportEventName): void {
    const window = this.#windows.get(name);
    this.#windows.delete(name);
    if (window && window.suppressed > 0) {
      this.#log(name, { transportEvent: name, suppressed: window.suppressed, intervalMs: this.#intervalMs }, "transport events not logged (rate limit)");
    }
  }

  #log(name: TransportEventName, fields: Record<string, unknown>, message: string): void {
    if (ROUTINE.has(name)) this.#options.logger.info(fields, message);
    else this.#options.logger.warn(fields, message);
  }
}
