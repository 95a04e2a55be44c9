import { isatty } from "node:tty";

/**
 * One signal for every way a local run is cancelled: the caller's `signal`, and Ctrl-C (SIGINT) when
 * `handleSigint` (default: stdin is a TTY). `dispose()` removes the listeners when the run ends.
 */
export function runCancellation(options: { signal?: AbortSignal | undefined; handleSigint?: boolean | undefined }): { signal: AbortSignal; dispose(): void } {
  const cancel = new AbortController();
  const onAbort = () => cancel.abort(options.signal?.reason);
  const onSigint = () => cancel.abort(new Error("interrupted (SIGINT)"));
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const handleSigint = options.handleSigint ?? isatty(0);
  if (handleSigint) process.once("SIGINT", onSigint);
  return {
    signal: cancel.signal,
    dispose() {
      options.signal?.removeEventListener("abort", onAbort);
      if (handleSigint) process.off("SIGINT", onSigint);
    },
  };
}
