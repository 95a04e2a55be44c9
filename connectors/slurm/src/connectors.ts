import { SlurmClients, SlurmConnector } from "./connector.js";

// Default export: the connectors the service discovers in this package (package.json "flyteConnectors"). Both task
// types share one set of SSH connections, so jobs of either type on one login node share a connection and a poll.
const clients = new SlurmClients();
const connectors = [new SlurmConnector({ taskType: "slurm", clients }), new SlurmConnector({ taskType: "slurm_script", clients })];
export default connectors;
