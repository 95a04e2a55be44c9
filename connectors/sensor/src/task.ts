import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { TaskTemplate } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { ConnectorTask, types, type ConnectorTaskOptions } from "flyte-connectors";
import { FILE_SENSOR_MODULE, FILE_SENSOR_NAME, SENSOR_TASK_TYPE } from "./connector.js";

type NoTypes = Record<never, never>;
type JsonObject = NonNullable<ConnectorTaskOptions<NoTypes, NoTypes>["custom"]>;
const fileSensorInputs = { path: types.string };
type FileSensorInputs = typeof fileSensorInputs;

export interface FileSensorTaskOptions extends Pick<ConnectorTaskOptions<FileSensorInputs, NoTypes>, "project" | "domain" | "version" | "org"> {
  name: string;
  /**
   * Seconds to wait for the path before the task fails (the task's `metadata.timeout`, as flytekit's
   * `FileSensor(timeout=…)` writes it). Default: none (wait until Flyte's own limits end the task).
   */
  timeout?: number;
}

/**
 * flytekit's `FileSensor` declared in TypeScript: a task with one input, `path` (a string URI), that succeeds once
 * an object exists there. Its template is the one flytekit writes (task type `sensor`, `custom` with
 * `sensor_module`, `sensor_name`, `sensor_config`, `inputs`), so Python's sensor connector runs it too.
 *
 * ```ts
 * const landed = new FileSensorTask({ name: "wait_for_export", timeout: 3600 });
 * await runTask(landed, { path: "s3://landing/exports/2026-12-04/_SUCCESS" }, { registry });
 * ```
 */
export class FileSensorTask extends ConnectorTask<FileSensorInputs, NoTypes> {
  static readonly TASK_TYPE = SENSOR_TASK_TYPE;
  /** The timeout in seconds, or undefined. */
  readonly timeout: number | undefined;

  constructor({ timeout, ...options }: FileSensorTaskOptions) {
    if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0)) {
      throw new TypeError(`FileSensorTask "${options.name}": timeout must be a positive number of seconds, got ${timeout}.`);
    }
    super({ ...options, taskType: SENSOR_TASK_TYPE, inputs: fileSensorInputs });
    this.timeout = timeout;
  }

  protected override customConfig(): JsonObject {
    // flytekit's BaseSensor.get_custom: asdict(SensorMetadata(...)), None fields included.
    return { sensor_module: FILE_SENSOR_MODULE, sensor_name: FILE_SENSOR_NAME, sensor_config: null, inputs: null };
  }

  override toTaskTemplate(): TaskTemplate {
    const template = super.toTaskTemplate();
    if (this.timeout !== undefined && template.metadata) template.metadata.timeout = durationFromMs(this.timeout * 1000);
    return template;
  }
}
