// Server-side measurements for the benchmark, answered over IPC: event-loop delay (perf_hooks histogram, reset on
// "reset", read on "stats"). RSS peak is read by run.mjs from /proc/<pid>/status (VmHWM).
import { monitorEventLoopDelay } from "node:perf_hooks";

export function serveStats() {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  // Peak of each part of the memory (MB), sampled every 250 ms: where an RSS peak comes from.
  let peak = {};
  setInterval(() => {
    for (const [key, value] of Object.entries(process.memoryUsage())) peak[key] = Math.max(peak[key] ?? 0, Math.round(value / 1048576));
  }, 250).unref();
  process.on("message", (message) => {
    if (message === "reset") {
      delay.reset();
      peak = {};
      process.send({ reset: true });
    } else if (message === "stats") {
      process.send({ eldP99Ms: delay.percentile(99) / 1e6, eldMaxMs: delay.max / 1e6, memoryPeakMb: peak });
    }
  });
}
