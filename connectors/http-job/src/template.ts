// A small, safe template language for the task's config: `{{ inputs.epochs }}`, `{{ inputs.cfg.lr }}`, `{{ jobId }}`,
// `{{ idempotencyKey }}`. References only (no expressions, no code). A string that is exactly one reference becomes
// that value as JSON (a number stays a number); references inside longer strings are interpolated as text.
import { ConnectorError, DataFrame, Duration, FlyteDir, FlyteFile } from "flyte-connectors";

const REFERENCE = /\{\{\s*([A-Za-z_][\w-]*(?:\.[\w-]+)*)\s*\}\}/g;
const WHOLE = /^\{\{\s*([A-Za-z_][\w-]*(?:\.[\w-]+)*)\s*\}\}$/;

/** Values references may name: `inputs` (an object), `jobId`, `idempotencyKey`. */
export type TemplateScope = Readonly<Record<string, unknown>>;

/** The references in `text`, e.g. `["inputs.epochs", "jobId"]`. Throws on a malformed `{{ … }}`. */
export function referencesIn(text: string, where: string): string[] {
  const found = [...text.matchAll(REFERENCE)].map((m) => m[1]!);
  const leftover = text.replace(REFERENCE, "");
  if (leftover.includes("{{") || leftover.includes("}}")) {
    throw new ConnectorError("INVALID_ARGUMENT", `${where}: malformed template reference (use {{ inputs.<name> }}, {{ jobId }} or {{ idempotencyKey }}).`);
  }
  return found;
}

/** Every reference in a JSON value's strings (keys are not templated). */
export function referencesInJson(value: unknown, where: string): string[] {
  if (typeof value === "string") return referencesIn(value, where);
  if (Array.isArray(value)) return value.flatMap((v, i) => referencesInJson(v, `${where}[${i}]`));
  if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => referencesInJson(v, `${where}.${k}`));
  return [];
}

function lookup(reference: string, scope: TemplateScope, where: string): unknown {
  const [root, ...rest] = reference.split(".");
  let value: unknown = Object.hasOwn(scope, root!) ? scope[root!] : undefined;
  for (const key of rest) {
    if (value === null || typeof value !== "object" || !Object.hasOwn(value, key)) {
      value = undefined;
      break;
    }
    value = (value as Record<string, unknown>)[key];
  }
  if (value === undefined) throw new ConnectorError("INVALID_ARGUMENT", `${where}: {{ ${reference} }} has no value.`);
  return value;
}

/** A decoded Flyte value as JSON: bigints beyond 2^53 as strings, files and directories as their URIs, dates as ISO text. */
export function toJson(value: unknown): unknown {
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (value === undefined) return null;
  if (value instanceof FlyteFile || value instanceof FlyteDir || value instanceof DataFrame) return value.uri;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Duration) return String(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (Array.isArray(value)) return value.map(toJson);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toJson(v)]));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  return value;
}

function toText(value: unknown): string {
  const json = toJson(value);
  return typeof json === "string" ? json : JSON.stringify(json);
}

/** Renders a string: references inside the text become text, each passed through `escape` (e.g. URL encoding). */
export function renderText(text: string, scope: TemplateScope, where: string, escape: (s: string) => string = (s) => s): string {
  return text.replace(REFERENCE, (_m, reference: string) => escape(toText(lookup(reference, scope, where))));
}

/** Renders a URL template: substitutions are percent-encoded, so an input cannot change the URL's structure. */
export function renderUrl(text: string, scope: TemplateScope, where: string): string {
  return renderText(text, scope, where, encodeURIComponent);
}

/** Renders a header value: substitutions must not contain line breaks. */
export function renderHeader(text: string, scope: TemplateScope, where: string): string {
  return renderText(text, scope, where, (s) => {
    if (/[\r\n]/.test(s)) throw new ConnectorError("INVALID_ARGUMENT", `${where}: a header value cannot contain line breaks.`);
    return s;
  });
}

/** Renders a JSON value: a string that is one whole reference becomes the referenced value as JSON. */
export function renderJson(value: unknown, scope: TemplateScope, where: string): unknown {
  if (typeof value === "string") {
    const whole = WHOLE.exec(value);
    return whole ? toJson(lookup(whole[1]!, scope, where)) : renderText(value, scope, where);
  }
  if (Array.isArray(value)) return value.map((v, i) => renderJson(v, scope, `${where}[${i}]`));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderJson(v, scope, `${where}.${k}`)]));
  }
  return value;
}

/**
 * The value at `path` in a JSON document: a JSON Pointer (`/job/id`, RFC 6901) or a dotted path (`job.id`,
 * `items.0.id`); `""` is the whole document. `undefined` when absent.
 */
export function valueAt(document: unknown, path: string): unknown {
  if (path === "") return document;
  const keys = path.startsWith("/") ? path.slice(1).split("/").map((k) => k.replace(/~1/g, "/").replace(/~0/g, "~")) : path.split(".");
  let value = document;
  for (const key of keys) {
    if (value === null || typeof value !== "object" || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}
