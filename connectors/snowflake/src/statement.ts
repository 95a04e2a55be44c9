import { ConnectorError, Duration, FlyteDatetime } from "flyte-connectors";

/** One bind variable of the SQL API's `bindings` object: a Snowflake type and the value as text. */
export interface SqlBinding {
  type: "FIXED" | "REAL" | "TEXT" | "BOOLEAN";
  value: string;
}

/** The statement text with `?` placeholders and its `bindings` (keys "1", "2", … in placeholder order). */
export interface BoundStatement {
  statement: string;
  bindings: Record<string, SqlBinding>;
}

/**
 * Turns the task's query template and inputs into a SQL API statement with typed bind variables.
 *
 * The template uses the Python plugin's placeholders (`%(name)s`, printf style, as snowflake-connector-python's
 * default "pyformat"), so a template written for the Python task works unchanged. Python interpolates quoted
 * literals on the client; here every value becomes a server-side bind variable instead (no quoting, no injection):
 * - int → FIXED, float → REAL, str → TEXT, bool → BOOLEAN, None → the literal NULL;
 * - datetime → TEXT `YYYY-MM-DD HH:MM:SS.ffffff+00:00` and timedelta → TEXT `HH:MM:SS[.ffffff]` (the strings
 *   Python quotes into the SQL, cast by Snowflake the same way);
 * - list → `(?, ?, …)`, one variable per element (Python expands a list to `(a, b, …)` for `IN %(ids)s`);
 * - dict/dataclass → TEXT holding JSON (use `PARSE_JSON(%(x)s)`; Python cannot bind these at all).
 *
 * As in Python: without inputs the template is sent as it is; with inputs a literal `%` is written `%%`.
 * With `batch`, every input is a list of one length and the single `VALUES (…)` clause is repeated once per row.
 *
 * @throws ConnectorError INVALID_ARGUMENT naming the problem (unknown placeholder, stray `%`, unbindable value, …).
 */
export function bindStatement(template: string, inputs: Readonly<Record<string, unknown>>, batch = false): BoundStatement {
  const names = Object.keys(inputs);
  if (names.length === 0) return { statement: template, bindings: {} };
  const builder = new Builder();
  if (!batch) {
    builder.format(template, (name) => (Object.hasOwn(inputs, name) ? { found: true, value: inputs[name] } : { found: false }));
    return builder.result();
  }
  const rows = batchRowCount(inputs);
  const clause = valuesClause(template);
  const none = () => ({ found: false as const });
  builder.format(template.slice(0, clause.start), none);
  builder.text("VALUES ");
  for (let row = 0; row < rows; row++) {
    if (row > 0) builder.text(", ");
    builder.text("(");
    builder.format(clause.body, (name) => (Object.hasOwn(inputs, name) ? { found: true, value: (inputs[name] as unknown[])[row] } : { found: false }));
    builder.text(")");
  }
  builder.format(template.slice(clause.end), none);
  return builder.result();
}

type Lookup = (name: string) => { found: true; value: unknown } | { found: false };

class Builder {
  #parts: string[] = [];
  #bindings: Record<string, SqlBinding> = {};
  #count = 0;

  text(text: string): void {
    this.#parts.push(text);
  }

  /** Copies `template`, replacing `%(name)s` by bind variables and `%%` by `%`, as Python's `template % params`. */
  format(template: string, lookup: Lookup): void {
    let from = 0;
    for (let at = template.indexOf("%"); at !== -1; at = template.indexOf("%", from)) {
      this.#parts.push(template.slice(from, at));
      const next = template[at + 1];
      if (next === "%") {
        this.#parts.push("%");
        from = at + 2;
        continue;
      }
      const placeholder = /^%\(([^)]*)\)s/.exec(template.slice(at));
      if (next !== "(" || !placeholder) {
        throw invalid(
          `the query template has a "%" at "${template.slice(at, at + 12)}" that is not a %(name)s placeholder; ` +
            'when the task has inputs, write a literal percent sign as "%%" (as in the Python plugin).',
        );
      }
      const name = placeholder[1]!;
      const entry = lookup(name);
      if (!entry.found) throw invalid(`the query template uses %(${name})s, but the task has no input "${name}" there.`);
      this.#value(name, entry.value);
      from = at + placeholder[0].length;
    }
    this.#parts.push(template.slice(from));
  }

  result(): BoundStatement {
    return { statement: this.#parts.join(""), bindings: this.#bindings };
  }

  #value(name: string, value: unknown): void {
    if (Array.isArray(value)) {
      if (value.length === 0) throw invalid(`input "${name}" is an empty list, which SQL cannot express as "( )".`);
      this.#parts.push("(");
      value.forEach((element, index) => {
        if (index > 0) this.#parts.push(", ");
        if (Array.isArray(element)) throw invalid(`input "${name}" is a nested list; only flat lists can be bound.`);
        this.#scalar(name, element);
      });
      this.#parts.push(")");
      return;
    }
    this.#scalar(name, value);
  }

  #scalar(name: string, value: unknown): void {
    const binding = toBinding(name, value);
    if (!binding) {
      this.#parts.push("NULL");
      return;
    }
    this.#bindings[String(++this.#count)] = binding;
    this.#parts.push("?");
  }
}

/** The binding for one value; `undefined` for null (written as the literal NULL, which needs no type). */
function toBinding(name: string, value: unknown): SqlBinding | undefined {
  switch (typeof value) {
    case "undefined":
      return undefined;
    case "string":
      return { type: "TEXT", value };
    case "boolean":
      return { type: "BOOLEAN", value: String(value) };
    case "bigint":
      return { type: "FIXED", value: value.toString() };
    case "number":
      if (Number.isInteger(value)) return { type: "FIXED", value: String(value) };
      // Snowflake's FLOAT accepts 'NaN', 'inf' and '-inf'.
      return { type: "REAL", value: Number.isNaN(value) ? "NaN" : value === Infinity ? "inf" : value === -Infinity ? "-inf" : String(value) };
  }
  if (value === null) return undefined;
  if (value instanceof Date) return { type: "TEXT", value: pythonDatetime(name, value) };
  if (value instanceof Duration) return { type: "TEXT", value: pythonTimedelta(value) };
  const proto = typeof value === "object" ? Object.getPrototypeOf(value) : undefined;
  if (proto === Object.prototype || proto === null) {
    return { type: "TEXT", value: JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) };
  }
  const kind = (value as object).constructor?.name ?? typeof value;
  throw invalid(`input "${name}" is a ${kind}, which cannot be bound to a SQL statement.`);
}

/** `str(datetime)` of a UTC-aware Python datetime, as the Python connector quotes it: `2024-01-02 03:04:05.678000+00:00`. */
function pythonDatetime(name: string, date: Date): string {
  if (Number.isNaN(date.getTime())) throw invalid(`input "${name}" is an invalid date.`);
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmm…Z (years 0–9999)
  // Decoded datetimes are FlyteDatetimes: their microseconds go along, as Python's str(datetime) writes them.
  const micros = String(Math.floor(FlyteDatetime.fromDate(date).nanos / 1000) % 1_000_000).padStart(6, "0");
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${micros}+00:00`;
}

/** Python's connector writes a timedelta as `HH:MM:SS[.ffffff]`, hours unbounded (days folded in). */
function pythonTimedelta(duration: Duration): string {
  const negative = duration.seconds < 0n || duration.nanos < 0;
  const seconds = negative ? -duration.seconds : duration.seconds;
  const micros = Math.trunc(Math.abs(duration.nanos) / 1000);
  const two = (n: bigint) => n.toString().padStart(2, "0");
  const text = `${two(seconds / 3600n)}:${two((seconds % 3600n) / 60n)}:${two(seconds % 60n)}`;
  return `${negative ? "-" : ""}${text}${micros ? `.${String(micros).padStart(6, "0")}` : ""}`;
}

function batchRowCount(inputs: Readonly<Record<string, unknown>>): number {
  const lengths = new Set<number>();
  for (const [name, value] of Object.entries(inputs)) {
    if (!Array.isArray(value)) throw invalid(`batch mode needs every input to be a list; "${name}" is not.`);
    lengths.add(value.length);
  }
  if (lengths.size !== 1) throw invalid("batch mode needs all input lists to have the same length.");
  const [rows] = lengths;
  if (!rows) throw invalid("batch mode needs at least one row.");
  return rows;
}

/** The one `VALUES (…)` clause of a batch template: where it starts and ends, and what is inside the parentheses. */
function valuesClause(template: string): { start: number; end: number; body: string } {
  const keyword = /\bVALUES\s*\(/gi;
  const matches = [...template.matchAll(keyword)];
  if (matches.length === 0) throw invalid("batch mode needs a query template with a VALUES (...) clause.");
  if (matches.length > 1) throw invalid("batch mode supports exactly one VALUES (...) clause.");
  const match = matches[0]!;
  const open = match.index + match[0].length - 1;
  let depth = 0;
  for (let i = open; i < template.length; i++) {
    if (template[i] === "(") depth++;
    else if (template[i] === ")" && --depth === 0) return { start: match.index, end: i + 1, body: template.slice(open + 1, i) };
  }
  throw invalid("the VALUES clause of the query template has no closing parenthesis.");
}

function invalid(problem: string): ConnectorError {
  return new ConnectorError("INVALID_ARGUMENT", `Snowflake task: ${problem}`);
}
