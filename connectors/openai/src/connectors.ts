// Default export: the connectors the service discovers in this package (package.json "flyteConnectors").
// Base URL and API key come from the environment (OPENAI_BASE_URL, FLYTE_OPENAI_API_KEY) or the tasks' secrets.
import type { Connector } from "flyte-connectors";
import { BatchResultsConnector } from "./batch-results.js";
import { BatchEndpointConnector } from "./batch.js";
import { ChatGPTConnector } from "./chatgpt.js";

const connectors: Connector[] = [new ChatGPTConnector(), new BatchEndpointConnector(), new BatchResultsConnector()];
export default connectors;
