import type { Connector } from "flyte-connectors";
import { BotoConnector } from "./boto-connector.js";
import { SageMakerEndpointConnector } from "./endpoint-connector.js";

// Default export: the connectors the service discovers in this package (package.json "flyteConnectors"):
// `sagemaker-endpoint` (async) and `boto` (sync), with AWS credentials from the SDK's default chain.
const connectors: Connector[] = [new SageMakerEndpointConnector(), new BotoConnector()];
export default connectors;
