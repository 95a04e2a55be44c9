import { EmrServerlessConnector } from "./connector.js";

// Default export: the connectors the service discovers in this package (package.json "flyteConnectors"). Credentials
// and region come from the pod's AWS SDK default chain, as flytekit's connector takes them from boto3's.
const connectors = [new EmrServerlessConnector()];
export default connectors;
