import {
  AsyncConnector,
  ConnectorError,
  FlyteFile,
  Phase,
  ResourceMeta,
  types,
  type CreateRequest,
  type Resource,
  type ResourceRequest,
} from "flyte-connectors";

/** Identity of a training job: enough for any replica of the service to poll or cancel it. */
export class ModelTrainJobMeta extends ResourceMeta.define({ job_id: "string", endpoint: "string" }) {}

/**
 * Launches ML model training jobs on an external training service:
 * POST `<endpoint>` starts a job, GET `<endpoint>/<job_id>` polls it, DELETE `<endpoint>/<job_id>` cancels it.
 * The endpoint comes from the task's custom config (`ModelTrainTask`).
 */
export class ModelTrainingConnector extends AsyncConnector<ModelTrainJobMeta> {
  readonly name = "Model Training Connector";
  readonly taskTypeName = "external_model_training";
  readonly metadataType = ModelTrainJobMeta;
  override readonly outputTypes = { results: types.file };

  async create({ custom, inputs, signal }: CreateRequest): Promise<ModelTrainJobMeta> {
    const endpoint = custom["endpoint"];
    if (typeof endpoint !== "string" || !endpoint) {
      throw new ConnectorError("INVALID_ARGUMENT", "The task's custom config has no endpoint.");
    }
    const response = await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/json" },
      // int inputs may arrive as bigint (beyond 2^53), which JSON.stringify refuses.
      body: JSON.stringify({ dataset_uri: inputs["dataset_uri"], epochs: Number(inputs["epochs"]) }),
      signal,
    });
    if (!response.ok) throw new Error(`POST ${endpoint} answered ${response.status}`);
    const { job_id } = (await response.json()) as { job_id?: unknown };
    if (job_id === undefined || job_id === null) throw new Error(`POST ${endpoint} answered without a job_id`);
    return new ModelTrainJobMeta({ job_id: String(job_id), endpoint });
  }

  async get({ resourceMeta, signal }: ResourceRequest<ModelTrainJobMeta>): Promise<Resource> {
    const url = `${resourceMeta.endpoint}/${resourceMeta.job_id}`;
    // Shown from the first poll, so the dashboard is at hand while the job trains.
    const logLinks = [{ name: "training-dashboard", uri: url }];
    let response: Response;
    try {
      response = await fetch(url, { signal });
    } catch (error) {
      if (signal.aborted) throw error;
      // Transient trouble is reported as the last known phase, not as an error (the backend counts errors).
      return { phase: Phase.RUNNING, message: `training service unreachable: ${(error as Error).message}`, logLinks };
    }
    if (response.status !== 200) {
      return { phase: Phase.RUNNING, message: `training service answered ${response.status}`, logLinks };
    }
    const data = (await response.json()) as { status?: string; results?: string; error?: string; message?: string };
    if (data.status === "finished") {
      if (typeof data.results !== "string" || data.results === "") {
        return { phase: Phase.FAILED, logLinks, message: `training job ${resourceMeta.job_id} finished without a results URI` };
      }
      return { phase: Phase.SUCCEEDED, logLinks, outputs: { results: new FlyteFile(data.results) } };
    }
    if (data.status === "failed") {
      return { phase: Phase.FAILED, message: data.error ?? data.message ?? "training failed", logLinks };
    }
    return { phase: Phase.RUNNING, logLinks };
  }

  async delete({ resourceMeta, signal }: ResourceRequest<ModelTrainJobMeta>): Promise<void> {
    const url = `${resourceMeta.endpoint}/${resourceMeta.job_id}`;
    const response = await fetch(url, { method: "DELETE", signal });
    // 404: already gone (finished and cleaned up, or deleted before). Delete must succeed then.
    if (!response.ok && response.status !== 404) throw new Error(`DELETE ${url} answered ${response.status}`);
  }
}
