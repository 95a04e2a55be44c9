import type { Connector } from "flyte-connectors";

/** One row of the connector table. */
export interface ServedConnector {
  name: string;
  taskType: string;
  version: number;
  source: string;
}

/** A row of the connector table: a connector and where it was loaded from. */
export function servedConnector(connector: Connector, source: string): ServedConnector {
  return { name: connector.name, taskType: connector.taskTypeName, version: connector.taskTypeVersion ?? 0, source };
}

/** The connector table printed at start (and by `flyte-connector list`). */
export function connectorTable(rows: readonly ServedConnector[]): string {
  const header = ["NAME", "TASK TYPE", "VERSION", "SOURCE"];
  const cells = rows.map((r) => [r.name, r.taskType, String(r.version), r.source]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]?.length ?? 0)));
  const line = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n") + (rows.length ? "" : "\n(no connectors)");
}
