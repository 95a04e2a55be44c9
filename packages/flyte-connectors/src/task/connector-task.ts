import { createRequire } from "node:module";
import { create, type JsonObject } from "@bufbuild/protobuf";
import { ResourceType } from "@flyte-connectors/flyteidl2/flyteidl2/core/identifier_pb.js";
import {
  RuntimeMetadata_RuntimeType,
  TaskTemplateSchema,
  type TaskTemplate,
} from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { variableMap, type InferShape, type TypeSpec } from "../types/index.js";

/** Named type specs: a task's inputs or outputs, e.g. `{ epochs: types.int }`. */
export type TypeSpecs = Readonly<Record<string, TypeSpec<unknown>>>;

/** What `new ConnectorTask(...)` takes. */
export interface ConnectorTaskOptions<I extends TypeSpecs, O extends TypeSpecs> {
  /** Task name, the `name` of the template id. */
  name: string;
  /** Task type (`TaskTemplate.type`); must equal the `taskTypeName` of the connector that runs it. */
  taskType: string;
  /** Task type version; must equal the connector's `taskTypeVersion`. Default: 0. */
  taskTypeVersion?: number;
  /** Input names and types. Default: no inputs. */
  inputs?: I;
  /** Output names and types. Default: no outputs. */
  outputs?: O;
  /** The task's configuration, sent to the connector as `TaskTemplate.custom`. Default: none. */
  custom?: JsonObject;
  /**
   * Secrets the connector needs, as `{ name the connector reads: secret reference }`; written to
   * `custom.secrets` as the Python SDK does. The backend resolves each reference; the local executor reads
   * the environment variable named by the reference.
   */
  secrets?: Readonly<Record<string, string>>;
  /** Non-secret connection settings, written to `custom.configs`; they reach the connector as `configs`. */
  configs?: Readonly<Record<string, string>>;
  /** Template id project. Default: "local". */
  project?: string;
  /** Template id domain. Default: "development". */
  domain?: string;
  /** Template id version. Default: "local". */
  version?: string;
  /** Template id org. Default: "". */
  org?: string;
}

// Both src/task/*.ts and dist/task/*.js sit two levels below the package root.
const SDK_VERSION = (createRequire(import.meta.url)("../../package.json") as { version: string }).version;

/**
 * A task that a connector runs: the TypeScript form of a Python connector task (such as
 * `ModelTrainTask(AsyncConnectorExecutorMixin, TaskTemplate)`). Its static input and output types come from
 * the declared specs:
 *
 * ```ts
 * const train = new ConnectorTask({
 *   name: "model_train",
 *   taskType: "external_model_training",
 *   inputs: { epochs: types.int, dataset_uri: types.string },
 *   outputs: { results: types.file },
 *   custom: { endpoint: "https://train.example.com" },
 * });
 * ```
 *
 * Subclass it for a reusable task type, overriding {@link customConfig} to compute the configuration
 * (as Python's `custom_config`) when it depends on fields set after `super()`.
 */
export class ConnectorTask<I extends TypeSpecs = Record<never, never>, O extends TypeSpecs = Record<never, never>> {
  readonly name: string;
  readonly taskType: string;
  readonly taskTypeVersion: number;
  readonly inputs: I;
  readonly outputs: O;
  readonly secrets: Readonly<Record<string, string>>;
  readonly configs: Readonly<Record<string, string>>;
  readonly project: string;
  readonly domain: string;
  readonly version: string;
  readonly org: string;
  readonly #custom: JsonObject | undefined;

  constructor(options: ConnectorTaskOptions<I, O>) {
    if (!options.name) throw new TypeError("ConnectorTask needs a name.");
    if (!options.taskType) throw new TypeError(`ConnectorTask "${options.name}" needs a taskType.`);
    const version = options.taskTypeVersion ?? 0;
    if (!Number.isInteger(version) || version < 0) {
      throw new TypeError(`ConnectorTask "${options.name}" has an invalid taskTypeVersion: ${version}.`);
    }
    this.name = options.name;
    this.taskType = options.taskType;
    this.taskTypeVersion = version;
    this.inputs = options.inputs ?? ({} as I);
    this.outputs = options.outputs ?? ({} as O);
    this.secrets = { ...options.secrets };
    this.configs = { ...options.configs };
    this.project = options.project ?? "local";
    this.domain = options.domain ?? "development";
    this.version = options.version ?? "local";
    this.org = options.org ?? "";
    this.#custom = options.custom;
  }

  /** The task's configuration (`TaskTemplate.custom` minus secrets and configs). Default: the `custom` option. */
  protected customConfig(): JsonObject | undefined {
    return this.#custom;
  }

  /** The flyteidl2 `core.TaskTemplate` the backend would send the connector for this task. */
  toTaskTemplate(): TaskTemplate {
    const custom: JsonObject = { ...this.customConfig() };
    if (Object.keys(this.secrets).length > 0) custom["secrets"] = { ...this.secrets };
    if (Object.keys(this.configs).length > 0) custom["configs"] = { ...this.configs };
    return create(TaskTemplateSchema, {
      id: {
        resourceType: ResourceType.TASK,
        project: this.project,
        domain: this.domain,
        org: this.org,
        name: this.name,
        version: this.version,
      },
      type: this.taskType,
      taskTypeVersion: this.taskTypeVersion,
      interface: { inputs: variableMap(this.inputs), outputs: variableMap(this.outputs) },
      // Unset rather than {} when there is nothing, as Python leaves it when custom_config returns None.
      ...(Object.keys(custom).length > 0 ? { custom } : {}),
      metadata: { runtime: { type: RuntimeMetadata_RuntimeType.FLYTE_SDK, version: SDK_VERSION, flavor: "typescript" } },
    });
  }
}

/** The JavaScript input values of a task: `TaskInputs<typeof train>` is `{ epochs: number | bigint; … }`. */
export type TaskInputs<T> = T extends ConnectorTask<infer I, TypeSpecs> ? InferShape<I> : never;
/** The JavaScript output values of a task. */
export type TaskOutputs<T> = T extends ConnectorTask<TypeSpecs, infer O> ? InferShape<O> : never;
