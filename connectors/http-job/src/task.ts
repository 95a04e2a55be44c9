import { ConnectorTask, types, type ConnectorTaskOptions, type TypeSpec, type TypeSpecs } from "flyte-connectors";
import { parseConfig, type HttpJobConfig, type HttpRequestConfig, type OutputKind } from "./config.js";
import { HTTP_JOB_TASK_TYPE } from "./connector.js";

type JsonObject = NonNullable<ConnectorTaskOptions<TypeSpecs, TypeSpecs>["custom"]>;

/** What `new HttpJobTask(...)` takes: the task's interface and its {@link HttpJobConfig}, typed. */
export interface HttpJobTaskOptions<I extends TypeSpecs, O extends TypeSpecs>
  extends Pick<ConnectorTaskOptions<I, O>, "secrets" | "configs" | "project" | "domain" | "version"> {
  name: string;
  /** Input names and types; the submit request references them as `{{ inputs.<name> }}`. Default: none. */
  inputs?: I;
  /** Output names and types; each needs an entry in `outputPaths`. Default: none. */
  outputs?: O;
  /** Starts a job: `{ url, method = "POST", headers, body }`; strings may hold `{{ inputs.<name> }}`, `{{ idempotencyKey }}`. */
  submit: HttpRequestConfig;
  /** Where the job id is in the submit response (JSON Pointer or dotted path). Default: `/id`. */
  jobIdPath?: string;
  /** Polls a job: `{ url: "…/{{ jobId }}", statePath = "/status", messagePath = "/error", phases }`. */
  status: HttpJobConfig["status"];
  /** Output name → where its value is in the final status response; the value kind follows the declared type. */
  outputPaths?: { readonly [K in keyof O]: string };
  /** Cancels a job (`{{ jobId }}`): `{ url, method = "DELETE" }`. Default: none (delete does nothing). */
  cancel?: HttpRequestConfig;
  /** Sends a secret (a key of `secrets`) as a header. Default: none. */
  auth?: HttpJobConfig["auth"];
  /** UI links (`{{ jobId }}`). Default: none. */
  logLinks?: HttpJobConfig["logLinks"];
  /** Header with a key unique per task attempt, or false. Default: `{ header: "Idempotency-Key" }`. */
  idempotency?: HttpJobConfig["idempotency"];
}

/** How the connector reads a JSON value for an output of this type. */
function outputKind(spec: TypeSpec<unknown>): OutputKind {
  const type = spec.literalType.type;
  const same = (other: TypeSpec<unknown>) => other.literalType.type.case === type.case && JSON.stringify(other.literalType.type.value) === JSON.stringify(type.value);
  if (same(types.int)) return "int";
  if (same(types.float)) return "float";
  if (same(types.string)) return "string";
  if (same(types.boolean)) return "bool";
  if (same(types.file)) return "file";
  if (same(types.dir)) return "dir";
  return "json";
}

/**
 * A job on a team's own REST service, run by {@link HttpJobConnector} with no code: the task's config says how to
 * submit, poll, read outputs and cancel.
 *
 * ```ts
 * const train = new HttpJobTask({
 *   name: "train",
 *   inputs: { epochs: types.int, dataset_uri: types.string },
 *   outputs: { model: types.file },
 *   submit: { url: "https://train.example.com/jobs", body: { epochs: "{{ inputs.epochs }}", data: "{{ inputs.dataset_uri }}" } },
 *   status: { url: "https://train.example.com/jobs/{{ jobId }}" },
 *   outputPaths: { model: "/result/model_uri" },
 *   cancel: { url: "https://train.example.com/jobs/{{ jobId }}" },
 *   auth: { secret: "api_token" },
 *   secrets: { api_token: "TRAIN_API_TOKEN" },
 * });
 * ```
 */
export class HttpJobTask<I extends TypeSpecs = Record<never, never>, O extends TypeSpecs = Record<never, never>> extends ConnectorTask<I, O> {
  static readonly TASK_TYPE = HTTP_JOB_TASK_TYPE;
  readonly #config: JsonObject;

  constructor({ submit, jobIdPath, status, outputPaths, cancel, auth, logLinks, idempotency, ...options }: HttpJobTaskOptions<I, O>) {
    super({ ...options, taskType: HttpJobTask.TASK_TYPE });
    const outputs: Record<string, { path: string; type: OutputKind }> = {};
    for (const [name, spec] of Object.entries(this.outputs)) {
      const path = (outputPaths as Record<string, string> | undefined)?.[name];
      if (path === undefined) throw new TypeError(`HttpJobTask "${this.name}": output "${name}" needs a path in outputPaths.`);
      outputs[name] = { path, type: outputKind(spec) };
    }
    const extra = Object.keys(outputPaths ?? {}).filter((name) => !Object.hasOwn(this.outputs, name));
    if (extra.length > 0) throw new TypeError(`HttpJobTask "${this.name}": outputPaths names undeclared output(s) ${extra.join(", ")}.`);
    if (auth && !Object.hasOwn(this.secrets, auth.secret)) {
      throw new TypeError(`HttpJobTask "${this.name}": auth.secret "${auth.secret}" must be a key of secrets (its secret reference).`);
    }
    const config = {
      submit,
      ...(jobIdPath !== undefined ? { jobIdPath } : {}),
      status,
      ...(Object.keys(outputs).length > 0 ? { outputs } : {}),
      ...(cancel ? { cancel } : {}),
      ...(auth ? { auth } : {}),
      ...(logLinks ? { logLinks } : {}),
      ...(idempotency !== undefined ? { idempotency } : {}),
    };
    // The same checks the connector makes, at declaration time (a ConnectorError INVALID_ARGUMENT naming the key).
    parseConfig(config, new Set(Object.keys(this.inputs)));
    this.#config = structuredClone(config) as unknown as JsonObject;
  }

  protected override customConfig(): JsonObject {
    return structuredClone(this.#config);
  }
}
