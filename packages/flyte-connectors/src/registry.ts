import type { Connector } from "./connector.js";
import { ConnectorError, ConnectorNotFoundError, DuplicateConnectorError } from "./errors.js";

/** A task category: what the backend routes on. */
export interface TaskCategory {
  name: string;
  version: number;
}

/** What ListConnectors reports for one connector name. */
export interface ConnectorMetadata {
  name: string;
  supportedTaskCategories: TaskCategory[];
}

export interface RegisterOptions {
  /** Replace a connector already registered for the same (task type, version). Default: false (throw). */
  override?: boolean;
}

const keyOf = (taskType: string, version: number) => `${version}\u0000${taskType}`;

/** Connectors by (task type, version). */
export class ConnectorRegistry {
  readonly #byCategory = new Map<string, Connector>();

  /** @throws DuplicateConnectorError when the (task type, version) is taken and `override` is not set. */
  register(connector: Connector, options: RegisterOptions = {}): this {
    if (!connector.taskTypeName) {
      throw new ConnectorError("INVALID_ARGUMENT", `Connector "${connector.name}" has no taskTypeName.`);
    }
    const version = connector.taskTypeVersion ?? 0;
    if (!Number.isInteger(version) || version < 0) {
      throw new ConnectorError("INVALID_ARGUMENT", `Connector "${connector.name}" has an invalid taskTypeVersion: ${version}.`);
    }
    const key = keyOf(connector.taskTypeName, version);
    const existing = this.#byCategory.get(key);
    if (existing && !options.override) {
      throw new DuplicateConnectorError(connector.taskTypeName, version, existing.name);
    }
    this.#byCategory.set(key, connector);
    return this;
  }

  /** @throws ConnectorNotFoundError when no connector serves the (task type, version). */
  get(taskType: string, taskTypeVersion = 0): Connector {
    const connector = this.#byCategory.get(keyOf(taskType, taskTypeVersion));
    if (!connector) {
      const served = this.list().map((c) => ({ name: c.taskTypeName, version: c.taskTypeVersion ?? 0 }));
      throw new ConnectorNotFoundError(taskType, taskTypeVersion, served);
    }
    return connector;
  }

  /** Every registered connector, in registration order. */
  list(): Connector[] {
    return [...this.#byCategory.values()];
  }

  /** One entry per connector name with all the task categories it serves, in registration order. */
  metadata(): ConnectorMetadata[] {
    const byName = new Map<string, ConnectorMetadata>();
    for (const connector of this.#byCategory.values()) {
      let entry = byName.get(connector.name);
      if (!entry) byName.set(connector.name, (entry = { name: connector.name, supportedTaskCategories: [] }));
      entry.supportedTaskCategories.push({ name: connector.taskTypeName, version: connector.taskTypeVersion ?? 0 });
    }
    return [...byName.values()];
  }
}
