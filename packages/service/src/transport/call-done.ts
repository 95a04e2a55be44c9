// The part of a call's life every transport shares: callbacks run once when the call finishes (`whenDone`), and
// `drained()` waiters that resolve on a stream event or when the call finishes, whichever comes first.
import type { EventEmitter } from "node:events";

export type DoneCallbacks = Set<() => void>;

/** Resolves on the first of `events` from `emitter`, or when `callbacks` run (the call finished); never rejects. */
export function untilEventOrDone(callbacks: DoneCallbacks, emitter: EventEmitter, events: readonly string[]): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      for (const event of events) emitter.off(event, done);
      callbacks.delete(done);
      resolve();
    };
    for (const event of events) emitter.on(event, done);
    callbacks.add(done);
  });
}

/** Runs every callback once (the set is the caller's to forget); one that throws is reported, the rest still run. */
export function runDoneCallbacks(callbacks: DoneCallbacks | undefined, onError: (error: unknown) => void): void {
  if (!callbacks) return;
  for (const callback of callbacks) {
    try {
      callback();
    } catch (error) {
      onError(error);
    }
  }
}
