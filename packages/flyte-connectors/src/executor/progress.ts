import type { TaskLog } from "@flyte-connectors/flyteidl2/flyteidl2/core/execution_pb.js";
import { type Phase, phaseName } from "../phase.js";

/** Where progress is written: `process.stderr`, or any object with `write` (and `isTTY` for a live line). */
export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

const CLEAR_LINE = "\r\x1b[2K";

/**
 * Shows a run's phase, elapsed time and log links. On a TTY one status line is rewritten in place (and
 * refreshed every second, so the clock moves between polls); elsewhere, as in CI logs, a plain line is
 * written only when the phase changes.
 */
export class Progress {
  readonly #out: ProgressOutput | undefined;
  readonly #tty: boolean;
  readonly #prefix: string;
  readonly #start = Date.now();
  readonly #seenLinks = new Set<string>();
  #status = "";
  #phase: Phase | undefined;
  /** A status line is on screen without its newline (TTY only). */
  #live = false;
  #ticker: NodeJS.Timeout | undefined;

  constructor(taskName: string, out: ProgressOutput | undefined) {
    this.#out = out;
    this.#tty = out?.isTTY === true;
    this.#prefix = `[${taskName}]`;
  }

  /** Reports the (non-terminal) phase of a poll; off a TTY only a change of phase is written. */
  phase(phase: Phase, message: string): void {
    const changed = phase !== this.#phase;
    this.#phase = phase;
    this.#status = `${phaseName(phase)}${message ? ` - ${message}` : ""}`;
    if (this.#tty) {
      this.#draw();
      this.#ticker ??= setInterval(() => this.#draw(), 1000).unref();
    } else if (changed) {
      this.#line(`${this.#status} (${this.#elapsed()})`);
    }
  }

  /** Prints each link the first time it appears. */
  links(links: readonly TaskLog[]): void {
    for (const { name, uri } of links) {
      const key = `${name}\u0000${uri}`;
      if (this.#seenLinks.has(key)) continue;
      this.#seenLinks.add(key);
      this.#line(`${name}: ${uri}`);
    }
  }

  /** Ends the live line with the final phase; off a TTY, writes the final phase if it was not shown yet. */
  finish(phase: Phase, message = ""): void {
    this.#stopTicker();
    if (this.#tty) {
      this.#live = false;
      this.#write(`${CLEAR_LINE}${this.#prefix} ${phaseName(phase)}${message ? ` - ${message}` : ""} (${this.#elapsed()})\n`);
    } else if (phase !== this.#phase) {
      this.#line(`${phaseName(phase)}${message ? ` - ${message}` : ""} (${this.#elapsed()})`);
    }
    this.#phase = phase;
    this.#status = "";
  }

  /** Stops refreshing and ends a live line with its newline, so what follows starts on a line of its own. */
  stop(): void {
    this.#stopTicker();
    if (this.#live) this.#write("\n");
    this.#live = false;
    this.#status = "";
  }

  #stopTicker(): void {
    clearInterval(this.#ticker);
    this.#ticker = undefined;
  }

  /** A whole line; on a TTY it goes above the status line, which is drawn again below it. */
  #line(text: string): void {
    if (this.#tty) {
      this.#live = false;
      this.#write(`${CLEAR_LINE}${this.#prefix} ${text}\n`);
      if (this.#status) this.#draw();
    } else {
      this.#write(`${this.#prefix} ${text}\n`);
    }
  }

  #draw(): void {
    this.#live = true;
    this.#write(`${CLEAR_LINE}${this.#prefix} ${this.#status} ${this.#elapsed()}`);
  }

  #elapsed(): string {
    const seconds = (Date.now() - this.#start) / 1000;
    if (seconds < 60) return `${seconds.toFixed(1)}s`;
    const whole = Math.floor(seconds);
    return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, "0")}s`;
  }

  #write(text: string): void {
    this.#out?.write(text);
  }
}
