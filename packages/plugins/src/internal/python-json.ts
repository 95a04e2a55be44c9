/**
 * JSON text as Python's `json.dumps(value)` writes it with default arguments: `", "` and `": "` separators,
 * every character outside printable ASCII escaped as `\uXXXX`, keys in insertion order. Ray's `runtimeEnv`
 * is base64 of this text, so it must match Python byte for byte.
 */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return "null";
  switch (typeof value) {
    case "string":
      return quote(value);
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      return value.toString();
    case "number":
      if (Number.isNaN(value)) return "NaN";
      if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
      return JSON.stringify(value);
    case "object":
      if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(", ")}]`;
      return `{${Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${quote(k)}: ${pythonJsonDumps(v)}`)
        .join(", ")}}`;
    default:
      throw new TypeError(`cannot write a ${typeof value} as JSON`);
  }
}

const SHORT: Readonly<Record<string, string>> = { '"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function quote(text: string): string {
  // UTF-16 code units: astral characters come out as surrogate pairs, as Python writes them.
  return `"${text.replace(/["\\]|[^ -~]/g, (c) => SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}"`;
}
