/**
 * Limits how many connector calls run at once (`--worker`). Calls over the limit wait in FIFO order until a
 * slot frees or their signal fires (deadline passed / caller cancelled), whichever comes first.
 */
export class Limiter {
  readonly limit: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.limit = limit > 0 ? limit : Infinity;
  }

  /** Resolves when a slot is held; rejects with the signal's reason when it fires first. Call `release()` after. */
  acquire(signal: AbortSignal): Promise<void> | undefined {
    if (this.#running < this.limit) {
      this.#running++;
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
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
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
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
