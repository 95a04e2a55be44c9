// Public API of @flyte-connectors/slurm.
export { SlurmConnector, SlurmClients, type SlurmConnectorOptions } from "./connector.js";
export { SlurmJobMetadata, TASK_TYPE_NATIVE, TASK_TYPE_SCRIPT, parseSize, connectorUploadMaxBytes, type DeclaredOutput } from "./config.js";
export { SlurmTask, SlurmScriptTask, slurmCustomConfig, type SlurmConfig, type SlurmTaskOptions, type SlurmScriptTaskOptions } from "./task.js";
export { renderContainerJob, renderScriptJob, pyxisImageRef, apptainerImageRef, type ContainerJob, type ScriptJob } from "./render.js";
export { phaseOfState, baseState, type SlurmJobState } from "./states.js";
export { KnownHosts } from "./known-hosts.js";
export { SshError, type SshOptions } from "./ssh.js";
