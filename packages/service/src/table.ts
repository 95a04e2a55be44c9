import type { ServedConnector } from "./service.js";

/** The connector table printed at start (and by `flyte-connector list`). */
export function connectorTable(rows: readonly ServedConnector[]): string {
  const header = ["NAME", "TASK TYPE", "VERSION", "SOURCE"];
  const cells = rows.map((r) => [r.name, r.taskType, String(r.version), r.source]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]?.length ?? 0)));
  const line = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n") + (rows.length ? "" : "\n(no connectors)");
}
