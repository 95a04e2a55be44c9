import { durationMs } from "@bufbuild/protobuf/wkt";
import {
  AsyncConnector,
  ConnectorError,
  Phase,
  RemoteOnlyStorage,
  ResourceMeta,
  StorageError,
  defaultStorage,
  isLocalUri,
  parseUri,
  type CreateRequest,
  type Resource,
  type ResourceRequest,
  type Storage,
} from "flyte-connectors";

/** The task type flytekit's sensors have (`BaseSensor(task_type="sensor")`). */
export const SENSOR_TASK_TYPE = "sensor";
/** `sensor_module` of flytekit's FileSensor (`type(self).__module__`). */
export const FILE_SENSOR_MODULE = "flytekit.sensor.file_sensor";
/** `sensor_name` of flytekit's FileSensor (`type(self).__name__`). */
export const FILE_SENSOR_NAME = "FileSensor";

/** The deployment's default of {@link FileSensorConnectorOptions.allowedPrefixes}: comma-separated URI prefixes. */
export const ALLOWED_PREFIXES_ENV = "FLYTE_SENSOR_ALLOWED_PREFIXES";

/** Longest path accepted: a URI, not a document (the path is stored in the resource meta). */
const MAX_PATH_LENGTH = 4096;

/**
 * What the sensor watches. The first four fields are flytekit's `SensorMetadata` (same names, same order), so a
 * sensor created by flytekit's Python connector is polled by this one; `created_at` and `timeout_seconds` are
 * added for the timeout (a Python connector cannot read them back: its dataclass takes no extra keys).
 */
export class SensorMetadata extends ResourceMeta.define({
  sensor_module: "string",
  sensor_name: "string",
  sensor_config: "object?",
  inputs: "object?",
  /** When `create` ran, in seconds since the epoch (absent in a meta flytekit wrote: then no timeout applies). */
  created_at: "number?",
  /** The task's timeout in seconds (`TaskTemplate.metadata.timeout`); absent or null: none. */
  timeout_seconds: "number?",
}) {
  /** The bytes come from the caller: only FileSensor metas with a path are polled. */
  override validate(): void {
    checkSensorClass(this.sensor_module, this.sensor_name, "resource meta");
    pathFrom(this.inputs, "resource meta inputs.path");
    if (this.created_at != null && !Number.isFinite(this.created_at)) throw new Error("created_at is not a time");
    if (this.timeout_seconds != null && !(Number.isFinite(this.timeout_seconds) && this.timeout_seconds >= 0)) {
      throw new Error("timeout_seconds is not a non-negative number");
    }
  }

  /** The watched path. */
  get path(): string {
    return pathFrom(this.inputs, "resource meta inputs.path");
  }
}

export interface FileSensorConnectorOptions {
  /**
   * The store paths are checked in. Default: the service's own (`request.storage`: configured from flyte-sdk's
   * storage variables, local paths only with `--allow-local-files`), else `defaultStorage()`.
   */
  storage?: Storage;
  /**
   * Longest one poll waits for the store, in milliseconds, retries of transient faults included; then the poll
   * reports RUNNING and the next poll checks again. Keep it below the backend's per-call timeout (10 s). Default: 5000.
   */
  checkTimeout?: number;
  /**
   * URI prefixes tasks may watch (e.g. `["s3://landing/"]`): a sensor can tell whether any object the service's
   * credentials reach exists, so a shared deployment may narrow it. Compared textually after the scheme aliases
   * (`s3a`, `gcs`, `abfss`) and plain paths are normalized. Default: `FLYTE_SENSOR_ALLOWED_PREFIXES`
   * (comma-separated), else any path (as flytekit).
   */
  allowedPrefixes?: readonly string[];
}

/**
 * flytekit's FileSensor (task type `sensor`, `sensor_name` FileSensor): succeeds once an object exists at the
 * task's `path` input, checked with one metadata request (HEAD / stat) per poll through the storage layer
 * (s3://, gs://, abfs(s)://, file:// and local paths). `create` only validates and records what to watch;
 * `delete` has nothing to stop.
 */
export class FileSensorConnector extends AsyncConnector<SensorMetadata> {
  readonly name = "Sensor Connector";
  readonly taskTypeName = SENSOR_TASK_TYPE;
  readonly metadataType = SensorMetadata;
  readonly #storage: Storage | undefined;
  readonly #checkTimeout: number;
  readonly #allowedPrefixes: readonly string[] | undefined;

  constructor(options: FileSensorConnectorOptions = {}) {
    super();
    const checkTimeout = options.checkTimeout ?? 5000;
    if (!(Number.isFinite(checkTimeout) && checkTimeout > 0)) throw new RangeError(`checkTimeout must be a positive number of milliseconds, got ${checkTimeout}`);
    this.#storage = options.storage;
    this.#checkTimeout = checkTimeout;
    const fromEnv = process.env[ALLOWED_PREFIXES_ENV]?.split(",").map((prefix) => prefix.trim()).filter((prefix) => prefix !== "");
    const prefixes = options.allowedPrefixes ?? (fromEnv?.length ? fromEnv : undefined);
    this.#allowedPrefixes = prefixes?.map(normalizeUri);
  }

  async create({ custom, inputs, taskTemplate, storage }: CreateRequest): Promise<SensorMetadata> {
    const module = custom["sensor_module"];
    const name = custom["sensor_name"];
    invalidUnless(typeof name === "string" && name !== "", `custom.sensor_name is required (flytekit writes "${FILE_SENSOR_NAME}" for a FileSensor)`);
    invalidUnless(module === undefined || module === null || typeof module === "string", "custom.sensor_module must be a string");
    try {
      checkSensorClass(module ?? FILE_SENSOR_MODULE, name, "task");
    } catch (error) {
      throw new ConnectorError("INVALID_ARGUMENT", (error as Error).message);
    }
    const sensorConfig = custom["sensor_config"] ?? null;
    invalidUnless(sensorConfig === null || isObject(sensorConfig), "custom.sensor_config must be an object or null");
    const fixedInputs = custom["inputs"] ?? null;
    invalidUnless(fixedInputs === null || isObject(fixedInputs), "custom.inputs must be an object or null");

    // As flytekit: the task's inputs win; custom.inputs (flytekit's SensorMetadata field) is the fallback.
    const given = Object.hasOwn(inputs, "path") ? inputs : (fixedInputs as Record<string, unknown> | null);
    let path: string;
    try {
      path = pathFrom(given, Object.hasOwn(inputs, "path") ? "input path" : "input path (or custom.inputs.path)");
    } catch (error) {
      throw new ConnectorError("INVALID_ARGUMENT", (error as Error).message);
    }
    this.#checkPath(path, storage);

    const timeout = taskTemplate.metadata?.timeout;
    const timeoutSeconds = timeout ? durationMs(timeout) / 1000 : 0;
    invalidUnless(Number.isFinite(timeoutSeconds) && timeoutSeconds >= 0, `the task's timeout (metadata.timeout) must not be negative, got ${timeoutSeconds} s`);
    return new SensorMetadata({
      sensor_module: FILE_SENSOR_MODULE,
      sensor_name: FILE_SENSOR_NAME,
      sensor_config: sensorConfig as Record<string, unknown> | null,
      inputs: { path },
      created_at: Date.now() / 1000,
      // A zero Duration is protobuf's "unset": no timeout, as Flyte reads it.
      timeout_seconds: timeoutSeconds > 0 ? timeoutSeconds : null,
    });
  }

  async get({ resourceMeta: meta, storage, signal }: ResourceRequest<SensorMetadata>): Promise<Resource> {
    const path = meta.path;
    // The meta comes from the caller: the same rules as at create.
    this.#checkPath(path, storage);
    const store = this.#storage ?? storage ?? defaultStorage();
    const check = AbortSignal.any([signal, AbortSignal.timeout(this.#checkTimeout)]);
    let waiting: string;
    try {
      const info = await store.head(path, { signal: check });
      return { phase: Phase.SUCCEEDED, message: `Found ${path} (${info.size} bytes).` };
    } catch (error) {
      if (signal.aborted) throw ConnectorError.fromAbort(signal, "the storage check");
      if (!(error instanceof StorageError)) throw error;
      switch (error.problem) {
        case "not-found":
          waiting = `${path} does not exist yet`;
          break;
        case "transient":
        case "aborted":
          // A store that is down or slow is the next poll's business, not a failed task.
          waiting = `cannot check ${path} right now (${error.problem === "aborted" ? `the store did not answer within ${this.#checkTimeout / 1000} s` : error.message}); checking again at the next poll`;
          break;
        case "denied":
          return { phase: Phase.FAILED, message: `FileSensor cannot check ${path}: ${error.message}${s3DeniedHint(path)}` };
        default:
          return { phase: Phase.FAILED, message: `FileSensor cannot check ${path}: ${error.message}` };
      }
    }
    const elapsed = meta.created_at != null ? Math.max(0, Date.now() / 1000 - meta.created_at) : undefined;
    const timeout = meta.timeout_seconds ?? undefined;
    if (elapsed !== undefined && timeout !== undefined && elapsed >= timeout) {
      return { phase: Phase.FAILED, message: `FileSensor timed out after ${seconds(timeout)} (the task's timeout): ${waiting}.` };
    }
    const progress = elapsed === undefined ? "" : ` (waited ${seconds(elapsed)}${timeout !== undefined ? ` of ${seconds(timeout)}` : ""})`;
    return { phase: Phase.RUNNING, message: `Waiting: ${waiting}${progress}.` };
  }

  /** Nothing runs outside the polls: nothing to stop. */
  async delete(): Promise<void> {}

  /**
   * Refuses a path no poll could ever check, or may not check: `serviceStorage` is the request's, which refuses
   * local paths for a remote caller unless the service runs with --allow-local-files (also when this connector
   * has a store of its own).
   */
  #checkPath(path: string, serviceStorage: Storage | undefined): void {
    let loc;
    try {
      loc = parseUri(path);
    } catch (error) {
      throw new ConnectorError("INVALID_ARGUMENT", `input path ${JSON.stringify(path)} is not a storage URI: ${(error as Error).message}`);
    }
    invalidUnless(loc.key !== "", `input path ${JSON.stringify(path)} names a bucket, not an object: the sensor waits for a file`);
    // Objects, not prefixes: a HEAD answers for one object, and listing a prefix on every poll is not cheap.
    invalidUnless(
      !path.endsWith("/"),
      `input path ${JSON.stringify(path)} ends with "/": the sensor waits for a file, not a directory; watch a file the writer creates last (e.g. ${path}_SUCCESS)`,
    );
    if (isLocalUri(path) && serviceStorage instanceof RemoteOnlyStorage) {
      throw new ConnectorError(
        "INVALID_ARGUMENT",
        `input path ${JSON.stringify(path)} is on the connector's own disk, which the service does not check for a caller; use an object store URI, or start the service with --allow-local-files`,
      );
    }
    if (this.#allowedPrefixes && !this.#allowedPrefixes.some((prefix) => normalizeUri(path).startsWith(prefix))) {
      throw new ConnectorError("INVALID_ARGUMENT", `input path ${JSON.stringify(path)} is outside the prefixes this connector may watch (${this.#allowedPrefixes.join(", ")})`);
    }
  }
}

function invalidUnless(condition: boolean, message: string): asserts condition {
  if (!condition) throw new ConnectorError("INVALID_ARGUMENT", message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Only flytekit's FileSensor is served: any other sensor class runs Python code (its `poke`) this service does not have. */
function checkSensorClass(module: unknown, name: unknown, where: string): void {
  if (module === FILE_SENSOR_MODULE && name === FILE_SENSOR_NAME) return;
  const described = `${typeof module === "string" ? module : "?"}.${typeof name === "string" ? name : "?"}`.slice(0, 200);
  throw new Error(
    `the ${where} names the sensor ${described}, which this connector does not run: it serves flytekit's FileSensor ` +
      `(sensor_module "${FILE_SENSOR_MODULE}", sensor_name "${FILE_SENSOR_NAME}") only; other sensors need flytekit's Python sensor connector`,
  );
}

/** The `path` of a FileSensor's inputs (`FileSensor.poke(path: str)`). */
function pathFrom(inputs: Record<string, unknown> | null | undefined, what: string): string {
  const path = inputs?.["path"];
  if (path === undefined || path === null) throw new Error(`${what} is required: the storage path to wait for (e.g. s3://bucket/data/_SUCCESS)`);
  if (typeof path !== "string") throw new Error(`${what} must be a string (flytekit's FileSensor.poke(path: str)), got ${Array.isArray(path) ? "an array" : typeof path}`);
  if (path.trim() === "") throw new Error(`${what} is empty`);
  if (path.length > MAX_PATH_LENGTH) throw new Error(`${what} is longer than ${MAX_PATH_LENGTH} characters`);
  if (/[\u0000-\u001f]/.test(path)) throw new Error(`${what} contains control characters`);
  return path;
}

/** A URI compared by its scheme's canonical name (`s3a://` as `s3://`, …) and plain paths as file paths. */
function normalizeUri(uri: string): string {
  let loc;
  try {
    loc = parseUri(uri);
  } catch {
    return uri;
  }
  const canonical = loc.scheme === "file" ? `file://${loc.key}` : `${loc.scheme}://${loc.authority}/${loc.key}`;
  // A prefix written as a directory ("file:///data/") keeps its slash (parseUri resolves it away).
  return uri.endsWith("/") && !canonical.endsWith("/") ? `${canonical}/` : canonical;
}

/** S3 answers a HEAD of a missing object with 403 when the credentials lack s3:ListBucket. */
function s3DeniedHint(path: string): string {
  return /^s3a?:/i.test(path) ? " (S3 also answers 403 for a missing object when the credentials may read objects but lack s3:ListBucket on the bucket)" : "";
}

function seconds(value: number): string {
  if (value < 1) return `${Math.round(value * 100) / 100} s`;
  if (value < 120) return `${Math.round(value * 10) / 10} s`;
  if (value < 7200) return `${Math.round(value / 6) / 10} min`;
  return `${Math.round(value / 360) / 10} h`;
}
