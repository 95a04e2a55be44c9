// Public API of @flyte-connectors/sensor.
export {
  FileSensorConnector,
  SensorMetadata,
  SENSOR_TASK_TYPE,
  FILE_SENSOR_MODULE,
  FILE_SENSOR_NAME,
  ALLOWED_PREFIXES_ENV,
  type FileSensorConnectorOptions,
} from "./connector.js";
export { FileSensorTask, type FileSensorTaskOptions } from "./task.js";
