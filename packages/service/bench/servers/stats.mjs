// Server-side measurements for the benchmark, answered over IPC: event-loop delay (perf_hooks histogram, reset on
// "reset", read on "stats"). RSS peak is read by run.mjs from /proc/<pid>/status (VmHWM).
import { monitorEventLoopDelay } from "node:perf_hooks";

export function serveStats() {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  process.on("message", (message) => {
    if (message === "reset") {
      delay.reset();
      process.send({ reset: true });
    } else if (message === "stats") {
      process.send({ eldP99Ms: delay.percentile(99) / 1e6, eldMaxMs: delay.max / 1e6 });
    }
  });
}
