import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { JsonObject } from "@bufbuild/protobuf";
import {
  ConnectorError,
  ConnectorTask,
  defaultStorage,
  FlyteFile,
  joinUri,
  Phase,
  SyncConnector,
  types,
  type ConnectorTaskOptions,
  type CreateRequest,
  type Resource,
} from "flyte-connectors";
import { call, openAIClient, requestOptions, resolveApiKey, type OpenAIConnectionOptions } from "./client.js";

/** Task type of {@link BatchResultsTask}. */
export const OPENAI_BATCH_RESULTS_TASK_TYPE = "openai-batch-results";

const inputs = { batch: types.struct };
const outputs = { output_file: types.file, error_file: types.optional(types.file) };

export interface BatchResultsTaskOptions extends Pick<ConnectorTaskOptions<typeof inputs, typeof outputs>, "secrets" | "project" | "domain" | "version"> {
  name: string;
  /** OpenAI organization (`OpenAI-Organization` header). Default: the key's default. */
  openaiOrganization?: string;
}

/**
 * The results of a finished batch as Files, the step flytekit's OpenAI batch workflow runs after the batch
 * (`DownloadJSONFilesTask`): input `batch` is the `result` of a {@link BatchEndpointTask} (the batch object with
 * `output_file_id` and `error_file_id`); outputs `output_file` and `error_file` (null when the batch has none) are
 * JSONL Files under the task's output prefix.
 *
 * ```ts
 * const { result } = await runTask(batch, { requests }, { registry });
 * const { output_file } = await runTask(new BatchResultsTask({ name: "results" }), { batch: result }, { registry });
 * for (const line of (await output_file.text()).split("\n").filter(Boolean)) console.log(JSON.parse(line));
 * ```
 */
export class BatchResultsTask extends ConnectorTask<typeof inputs, typeof outputs> {
  static readonly TASK_TYPE = OPENAI_BATCH_RESULTS_TASK_TYPE;
  readonly openaiOrganization: string | undefined;

  constructor({ openaiOrganization, ...options }: BatchResultsTaskOptions) {
    super({ ...options, taskType: OPENAI_BATCH_RESULTS_TASK_TYPE, inputs, outputs });
    this.openaiOrganization = openaiOrganization;
  }

  protected override customConfig(): JsonObject {
    return { openai_organization: this.openaiOrganization ?? null };
  }
}

/**
 * Sync connector for task type `openai-batch-results`: streams the batch's output (and error) file from OpenAI to
 * `<outputPrefix>/openai-batch/<batch id>/{output,errors}.jsonl` through the service's storage, memory flat
 * whatever the size. Repeating the call writes the same objects again.
 */
export class BatchResultsConnector extends SyncConnector {
  readonly name = "OpenAI Batch Results Connector";
  readonly taskTypeName = OPENAI_BATCH_RESULTS_TASK_TYPE;
  override readonly outputTypes = outputs;
  readonly #options: OpenAIConnectionOptions;

  constructor(options: OpenAIConnectionOptions = {}) {
    super();
    this.#options = { ...options };
  }

  async do(request: CreateRequest): Promise<Resource> {
    const { signal } = request;
    const batch = request.inputs["batch"];
    if (batch === null || typeof batch !== "object" || Array.isArray(batch)) throw new ConnectorError("INVALID_ARGUMENT", "batch must be the batch object a BatchEndpointTask returned.");
    const { id, status, output_file_id: outputFileId, error_file_id: errorFileId } = batch as Record<string, unknown>;
    if (typeof id !== "string" || !/^[A-Za-z0-9_-]{1,256}$/.test(id)) throw new ConnectorError("INVALID_ARGUMENT", "batch.id must be an OpenAI batch id.");
    if (typeof outputFileId !== "string" || !outputFileId) {
      throw new ConnectorError("INVALID_ARGUMENT", `Batch ${id} has no output_file_id (status ${String(status)}): only a completed batch has results.`);
    }
    const organization = request.custom["openai_organization"];
    const client = openAIClient(await resolveApiKey(request, this.#options), this.#options);
    const storage = request.storage ?? defaultStorage();
    const save = async (fileId: string, name: string): Promise<FlyteFile> => {
      const response = await call(`downloading ${name} of batch ${id}`, () =>
        client.files.content(fileId, requestOptions(signal, typeof organization === "string" ? organization : undefined)),
      );
      if (!response.body) throw new ConnectorError("UNAVAILABLE", `OpenAI answered file ${fileId} without a body.`);
      const uri = joinUri(request.outputPrefix, `openai-batch/${id}/${name}`);
      await storage.putStream(uri, Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), { signal, contentType: "application/jsonl" });
      return new FlyteFile(uri, "jsonl", undefined, { storage });
    };
    const outputFile = await save(outputFileId, "output.jsonl");
    const errorFile = typeof errorFileId === "string" && errorFileId ? await save(errorFileId, "errors.jsonl") : null;
    return { phase: Phase.SUCCEEDED, outputs: { output_file: outputFile, error_file: errorFile } };
  }
}
