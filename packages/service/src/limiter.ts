import type { Connector, ConnectorCall } from "flyte-connectors";

/**
 * A counting semaphore: calls over the limit wait in FIFO order until a slot frees or their signal fires
 * (deadline passed / caller cancelled), whichever comes first.
 */
export class Limiter {
  readonly limit: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  /** `limit` ≤ 0 or Infinity: no limit. */
  constructor(limit: number) {
    this.limit = limit > 0 ? limit : Infinity;
  }

  /** Slots held. */
  get running(): number {
    return this.#running;
  }

  /** Calls waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * `undefined` when a slot was free and is now held; otherwise a promise that resolves when a slot is held, or
   * rejects with the signal's reason when it fires first. Call `release()` once per slot held.
   */
  acquire(signal: AbortSignal): Promise<void> | undefined {
    if (this.#running < this.limit) {
      this.#running++;
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const grant = () => {
        signal.removeEventListener("abort", onAbort);
        this.#running++;
        resolve();
      };
      const onAbort = () => {
        const index = this.#waiting.indexOf(grant);
        if (index >= 0) this.#waiting.splice(index, 1);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiting.push(grant);
    });
  }

  release(): void {
    this.#running--;
    const next = this.#waiting.shift();
    if (next) next();
  }
}

/** A connector call whose signal fired while its connector code was still running. */
export interface OverdueCall {
  call: ConnectorCall;
  /** When the connector code started (performance.now()). */
  started: number;
}

export interface ConnectorLimitsOptions {
  /** Most connector calls running at once in the process, over all connectors (`--worker`). 0: no limit. */
  global: number;
  /** Told when connector code is still running {@link OVERDUE_AFTER_MS} after its call's signal fired (deadline, cancel, shutdown). */
  onOverdue?: (overdue: OverdueCall) => void;
}

/**
 * How many connector calls run at once: per connector (its `maxConcurrency`) and over all of them (`--worker`).
 * Used as the dispatcher's `runConnector`: a slot is held until the connector's own work settles — not when the
 * call's deadline answers the caller — so a connector that ignores its signal cannot run more than its limit.
 */
export class ConnectorLimits {
  readonly global: Limiter;
  readonly #perConnector = new WeakMap<Connector, Limiter | null>();
  readonly #onOverdue: ((overdue: OverdueCall) => void) | undefined;

  constructor(options: ConnectorLimitsOptions) {
    this.global = new Limiter(options.global);
    this.#onOverdue = options.onOverdue;
  }

  /** The connector's own limiter (null: no `maxConcurrency`). Throws for a value that is not a positive integer. */
  limiterOf(connector: Connector): Limiter | null {
    let limiter = this.#perConnector.get(connector);
    if (limiter === undefined) {
      const max = connector.maxConcurrency;
      if (max !== undefined && !(Number.isInteger(max) && max > 0)) {
        throw new RangeError(`connector "${connector.name}" has maxConcurrency ${String(max)}: use a positive integer, or leave it unset for no limit`);
      }
      limiter = max === undefined ? null : new Limiter(max);
      this.#perConnector.set(connector, limiter);
    }
    return limiter;
  }

  /** Runs `work` holding a slot of the connector's limiter, then one of the global limiter (waiting for each). */
  readonly run = async <T>(call: ConnectorCall, work: () => Promise<T>): Promise<T> => {
    const own = this.limiterOf(call.connector);
    // Free slots are taken synchronously (no await): the common, unlimited case costs no extra ticks.
    const waitOwn = own?.acquire(call.signal);
    if (waitOwn) await waitOwn;
    try {
      const waitGlobal = this.global.acquire(call.signal);
      if (waitGlobal) await waitGlobal;
    } catch (error) {
      own?.release();
      throw error;
    }
    try {
      // Granted while the call's signal fired (same tick): the caller is answered already, do not start the work.
      call.signal.throwIfAborted();
      return await this.#watched(call, work);
    } finally {
      this.global.release();
      own?.release();
    }
  };

  /** `work()`, reporting it as overdue when it is still running {@link OVERDUE_AFTER_MS} after the call's signal fired. */
  async #watched<T>(call: ConnectorCall, work: () => Promise<T>): Promise<T> {
    const { signal } = call;
    const onOverdue = this.#onOverdue;
    if (!onOverdue) return work();
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    // A connector that honours its signal settles within a few ticks of it: only the ones still running later count.
    const onAbort = () => {
      timer = setTimeout(() => onOverdue({ call, started }), OVERDUE_AFTER_MS);
      timer.unref();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await work();
    } finally {
      signal.removeEventListener("abort", onAbort);
      clearTimeout(timer);
    }
  }
}

/** How long connector code may keep running after its call's signal fired before it is reported as overdue. */
export const OVERDUE_AFTER_MS = 100;
