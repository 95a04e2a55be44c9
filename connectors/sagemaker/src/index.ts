// Public API of @flyte-connectors/sagemaker.
export {
  SageMakerEndpointConnector,
  SageMakerEndpointMetadata,
  SAGEMAKER_ENDPOINT_TASK_TYPE,
  endpointConsoleUrl,
  endpointLogsUrl,
  type SageMakerEndpointConnectorOptions,
} from "./endpoint-connector.js";
export { BotoConnector, BOTO_TASK_TYPE, type BotoConnectorOptions } from "./boto-connector.js";
export { DEFAULT_ALLOWED_METHODS, type AwsService } from "./methods.js";
export { AWS_ACCESS_KEY_ID_SECRET, AWS_SECRET_ACCESS_KEY_SECRET, AWS_SESSION_TOKEN_SECRET, type AwsClientOptions } from "./aws.js";
export {
  SageMakerEndpointTask,
  BotoTask,
  SageMakerModelTask,
  SageMakerEndpointConfigTask,
  SageMakerDeleteEndpointTask,
  SageMakerDeleteEndpointConfigTask,
  SageMakerDeleteModelTask,
  SageMakerInvokeEndpointTask,
  type SageMakerEndpointTaskOptions,
  type BotoTaskOptions,
  type AwsConfig,
} from "./task.js";
