import { ConnectorTask, types, type ConnectorTaskOptions } from "flyte-connectors";

const inputs = { epochs: types.int, dataset_uri: types.string };
const outputs = { results: types.file };

export interface ModelTrainTaskOptions
  extends Pick<ConnectorTaskOptions<typeof inputs, typeof outputs>, "secrets" | "project" | "domain" | "version"> {
  name: string;
  /** URL of the training service's jobs collection, e.g. `https://train.example.com/train`. */
  endpoint: string;
}

/**
 * A training job on the external service, run by {@link ModelTrainingConnector}: inputs `epochs` and
 * `dataset_uri`, output `results` (a file).
 *
 * ```ts
 * const train = new ModelTrainTask({ name: "model_train", endpoint: "https://train.example.com/train" });
 * const { results } = await runTask(train, { epochs: 10, dataset_uri: "gs://bucket/data.csv" }, { registry });
 * ```
 */
export class ModelTrainTask extends ConnectorTask<typeof inputs, typeof outputs> {
  static readonly TASK_TYPE = "external_model_training";
  readonly endpoint: string;

  constructor({ endpoint, ...options }: ModelTrainTaskOptions) {
    super({ ...options, taskType: ModelTrainTask.TASK_TYPE, inputs, outputs });
    this.endpoint = endpoint;
  }

  protected override customConfig() {
    return { endpoint: this.endpoint };
  }
}
