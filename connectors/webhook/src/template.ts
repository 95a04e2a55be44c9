// flytekit's webhook templating (`flytekit.utils.dict_formatter.format_dict` over `literal_map_string_repr` of the
// inputs), the same syntax and the same text:
// - a reference is `{inputs.<name>}` or `{inputs.<name>.<key>…}` (one pair of braces, no spaces); `{secrets.<name>}`
//   is the secrets form flytekit's WebhookTask documents as coming (flytekit itself has no secrets yet);
// - braces without a dot (`{id}`, `{}`) are left as they are, as flytekit leaves them; anything else with a dot in
//   braces (`{{ inputs.x }}`, `{ inputs.x }`, `{a.b}`) fails in flytekit at run time and is refused here up front;
// - a string that is exactly one reference becomes the value itself (an int stays an int in the JSON body);
//   a reference inside longer text becomes Python's `str(value)` (`True`, `None`, `1.0`).
import { ConnectorError, DataFrame, Duration, Float64, FlyteDatetime, FlyteDir, FlyteFile, pythonJsonDumps, pythonStr } from "flyte-connectors";
import { SimpleType, type LiteralType } from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import { pythonIsoformat } from "./python-text.js";

/** flytekit's placeholder pattern (`re.findall(r"\{([^}]+)\}", …)`). */
const PLACEHOLDER = /\{([^}]+)\}/g;
const INPUT_REFERENCE = /^inputs\.([A-Za-z_][A-Za-z0-9_]*)((?:\.[^.]+)*)$/;
const SECRET_REFERENCE = /^secrets\.([A-Za-z0-9_-]+)$/;

/** One reference in a template string. */
export type Reference = { kind: "inputs"; name: string; path: string[] } | { kind: "secrets"; name: string };

/** Where a template string sits: its `custom` key, for messages (`custom.data.text`). */
type Where = string;

function invalid(where: Where, problem: string): never {
  throw new ConnectorError("INVALID_ARGUMENT", `${where} ${problem}`);
}

/** The reference a placeholder's text names, or undefined for braces flytekit leaves alone (no dot). */
function parseReference(text: string, where: Where): Reference | undefined {
  if (!text.includes(".")) return undefined;
  const input = INPUT_REFERENCE.exec(text);
  if (input) return { kind: "inputs", name: input[1]!, path: input[2] ? input[2].slice(1).split(".") : [] };
  const secret = SECRET_REFERENCE.exec(text);
  if (secret) return { kind: "secrets", name: secret[1]! };
  return invalid(
    where,
    `has {${text.length > 60 ? `${text.slice(0, 60)}…` : text}}, which is not a reference: write {inputs.<name>} or {secrets.<name>} (flytekit's syntax: one pair of braces, no spaces).`,
  );
}

/** The references in one template string, checked (see {@link checkReferences}). */
export function referencesIn(text: string, where: Where): Reference[] {
  const found: Reference[] = [];
  for (const match of text.matchAll(PLACEHOLDER)) {
    const reference = parseReference(match[1]!, where);
    if (reference) found.push(reference);
  }
  return found;
}

/** Every reference in a JSON value's strings, with the key of each (keys are not templated, as in flytekit). */
export function referencesInJson(value: unknown, where: Where): Array<{ reference: Reference; where: Where }> {
  if (typeof value === "string") return referencesIn(value, where).map((reference) => ({ reference, where }));
  if (Array.isArray(value)) return value.flatMap((v, i) => referencesInJson(v, `${where}[${i}]`));
  if (value !== null && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => referencesInJson(v, `${where}.${k}`));
  return [];
}

/** What references resolve against: the call's inputs with their declared types, and secret values by name. */
export interface TemplateScope {
  inputs: Readonly<Record<string, unknown>>;
  /** Input types from the task interface, when it has one. */
  inputTypes: ReadonlyMap<string, LiteralType>;
  secrets: ReadonlyMap<string, string>;
}

/**
 * An input as flytekit's `literal_map_string_repr` reads it, as a plain value: floats boxed as {@link Float64} (so
 * they print as `1.0`), datetimes as Python's `isoformat()`, durations as their seconds (a float), files, dirs and
 * data frames as their URI, an untyped dict / dataclass (a msgpack STRUCT) as its `json.dumps` text.
 */
export function pythonView(value: unknown, type: LiteralType | undefined): unknown {
  const t = type?.type;
  if (value === null || value === undefined) return null;
  if (t?.case === "simple") {
    switch (t.value) {
      case SimpleType.FLOAT:
        return typeof value === "number" ? new Float64(value) : pythonView(value, undefined);
      case SimpleType.STRUCT:
        // flytekit: `json.dumps(msgpack.unpackb(binary))` — the dict arrives as its JSON text.
        return pythonJsonDumps(plain(value));
      default:
        return pythonView(value, undefined);
    }
  }
  if (t?.case === "collectionType" && Array.isArray(value)) return value.map((item) => pythonView(item, t.value));
  if (t?.case === "mapValueType" && isPlainObject(value)) return mapValues(value, (v) => pythonView(v, t.value));
  if (value instanceof Float64) return value;
  if (value instanceof FlyteFile || value instanceof FlyteDir || value instanceof DataFrame) return value.uri;
  if (value instanceof Date) return pythonIsoformat(value, value instanceof FlyteDatetime ? value.nanos : (((value.getTime() % 1000) + 1000) % 1000) * 1e6);
  if (value instanceof Duration) return new Float64(durationSeconds(value));
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (typeof value === "number") return Number.isInteger(value) ? value : new Float64(value);
  if (Array.isArray(value)) return value.map((item) => pythonView(item, undefined));
  if (isPlainObject(value)) return mapValues(value, (v) => pythonView(v, undefined));
  return value;
}

/** `timedelta.total_seconds()` of a Duration read by flytekit (microseconds, rounded toward zero). */
function durationSeconds(duration: Duration): number {
  const micros = duration.seconds * 1_000_000n + BigInt(Math.trunc(duration.nanos / 1000));
  return Number(micros) / 1e6;
}

/** A decoded struct as plain JSON values (for json.dumps). */
function plain(value: unknown): unknown {
  if (value instanceof Float64) return value.value;
  if (value instanceof FlyteFile || value instanceof FlyteDir || value instanceof DataFrame) return value.uri;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(plain);
  if (isPlainObject(value)) return mapValues(value, plain);
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null);
}

function mapValues(value: Record<string, unknown>, f: (v: unknown) => unknown): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, f(v)]));
}

/** The value a reference names, as a plain value (see {@link pythonView}). */
function resolve(reference: Reference, scope: TemplateScope, where: Where): unknown {
  if (reference.kind === "secrets") {
    const secret = scope.secrets.get(reference.name);
    // The connector resolves every secret a config names before rendering; this is a bug guard.
    if (secret === undefined) throw new ConnectorError("INTERNAL", `${where}: secret "${reference.name}" was not resolved.`);
    return secret;
  }
  if (!Object.hasOwn(scope.inputs, reference.name)) invalid(where, `references {inputs.${reference.name}}, but the call has no input "${reference.name}".`);
  const type = scope.inputTypes.get(reference.name);
  const isStruct = type?.type.case === "simple" && type.type.value === SimpleType.STRUCT;
  // A dict input is its JSON text in flytekit, which cannot look into it; here its fields can be named.
  let value = pythonView(scope.inputs[reference.name], isStruct && reference.path.length > 0 ? undefined : type);
  const seen: string[] = [`inputs.${reference.name}`];
  for (const key of reference.path) {
    seen.push(key);
    if (Array.isArray(value) && /^\d+$/.test(key) && Number(key) < value.length) value = value[Number(key)];
    else if (isPlainObject(value) && Object.hasOwn(value, key)) value = value[key];
    else invalid(where, `references {${seen.join(".")}}, which the input's value does not have.`);
  }
  return value;
}

/** Renders a string: references inside text become Python's `str(value)`, each passed through `escape`. */
export function renderText(
  text: string,
  scope: TemplateScope,
  where: Where,
  escape: (text: string, offset: number, reference: Reference) => string = (s) => s,
): string {
  return text.replace(PLACEHOLDER, (whole: string, inner: string, offset: number) => {
    const reference = parseReference(inner, where);
    return reference ? escape(pythonStr(resolve(reference, scope, where)), offset, reference) : whole;
  });
}

/** The reference a string is exactly (`"{inputs.n}"`), if it is one. */
function wholeReference(text: string, where: Where): Reference | undefined {
  const match = /^\{([^}]+)\}$/.exec(text);
  return match ? parseReference(match[1]!, where) : undefined;
}

/** Renders the JSON `data`: a string that is exactly one reference becomes the referenced value itself. */
export function renderData(value: unknown, scope: TemplateScope, where: Where): unknown {
  if (typeof value === "string") {
    const whole = wholeReference(value, where);
    return whole ? resolve(whole, scope, where) : renderText(value, scope, where);
  }
  if (Array.isArray(value)) return value.map((v, i) => renderData(v, scope, `${where}[${i}]`));
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderData(v, scope, `${where}.${k}`)]));
  // Numbers of the template are Struct doubles: flytekit's Python reads a whole one back as a float too.
  return typeof value === "number" ? new Float64(value) : value;
}

/**
 * Renders the URL. flytekit substitutes raw text; here what a value may change depends on where it lands: in the
 * query or fragment it is percent-encoded whole (a value cannot add parameters), in the path everything but `/`
 * is (an input may span segments, as in flytekit, but cannot start a query; a secret is encoded whole); before the
 * path (scheme, host) it is
 * raw, so a whole URL may come from an input — the rendered URL is then checked by the URL policy like any other.
 */
export function renderUrl(template: string, scope: TemplateScope, where: Where): string {
  return renderText(template, scope, where, (text, offset, reference) => {
    const before = template.slice(0, offset);
    // A secret is one segment or value, encoded whole: the form the Redactor finds again in any echo of the URL.
    if (before.includes("?") || before.includes("#") || (reference.kind === "secrets" && /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*\//.test(before))) {
      return encodeURIComponent(text);
    }
    if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*\//.test(before)) return encodeURIComponent(text).replace(/%2F/gi, "/");
    return text;
  });
}

/** Renders a header value: always text (a header has no types); a line break in a value is refused. */
export function renderHeader(template: string, scope: TemplateScope, where: Where): string {
  const text = renderText(template, scope, where);
  if (/[\r\n\0]/.test(text)) invalid(where, "would contain a line break after rendering, which a header value cannot hold.");
  return text;
}
