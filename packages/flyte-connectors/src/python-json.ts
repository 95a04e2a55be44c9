/**
 * JSON text exactly as Python's `json.dumps(value)` writes it with default arguments: `", "` and `": "`
 * separators, non-ASCII characters escaped as `\uXXXX` (ensure_ascii), keys in insertion order.
 * ResourceMeta bytes must match what the Python SDK writes so either SDK can poll the other's jobs.
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
    case "object": {
      if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(", ")}]`;
      const toJSON = (value as { toJSON?: () => unknown }).toJSON;
      if (typeof toJSON === "function") return pythonJsonDumps(toJSON.call(value));
      const entries = Object.entries(value).filter(([, v]) => v !== undefined);
      return `{${entries.map(([k, v]) => `${quote(k)}: ${pythonJsonDumps(v)}`).join(", ")}}`;
    }
    default:
      throw new TypeError(`cannot write a ${typeof value} as JSON`);
  }
}

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  "\\": "\\\\",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

function quote(s: string): string {
  // Python escapes everything outside printable ASCII (0x20..0x7e); UTF-16 code units give the same
  // surrogate-pair escapes Python writes for astral characters.
  return `"${s.replace(/[\\"]|[^\x20-\x7e]/g, (c) => SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}"`;
}
