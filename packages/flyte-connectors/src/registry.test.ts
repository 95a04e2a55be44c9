import assert from "node:assert/strict";
import { test } from "node:test";
import { AsyncConnector, SyncConnector, type Resource } from "./connector.js";
import { ConnectorNotFoundError, DuplicateConnectorError } from "./errors.js";
import { Phase } from "./phase.js";
import { ConnectorRegistry } from "./registry.js";
import { ResourceMeta } from "./resource-meta.js";

class Meta extends ResourceMeta.define({ id: "string" }) {}

function asyncConnector(name: string, taskTypeName: string, taskTypeVersion = 0): AsyncConnector<Meta> {
  return new (class extends AsyncConnector<Meta> {
    readonly name = name;
    readonly taskTypeName = taskTypeName;
    override readonly taskTypeVersion = taskTypeVersion;
    readonly metadataType = Meta;
    async create() {
      return new Meta({ id: "1" });
    }
    async get(): Promise<Resource> {
      return { phase: Phase.SUCCEEDED };
    }
    async delete() {}
  })();
}

test("looks connectors up by task type and version", () => {
  const v0 = asyncConnector("Spark", "spark");
  const v1 = asyncConnector("Spark", "spark", 1);
  const registry = new ConnectorRegistry().register(v0).register(v1);
  assert.equal(registry.get("spark"), v0);
  assert.equal(registry.get("spark", 1), v1);
  assert.throws(() => registry.get("spark", 2), (e: unknown) => e instanceof ConnectorNotFoundError && e.code === "NOT_FOUND" && e.message === "Cannot find connector for task type: spark. Asked for version 2; this service serves: spark v0, spark v1.");
});

test("refuses a duplicate (task type, version) unless override is set", () => {
  const registry = new ConnectorRegistry().register(asyncConnector("A", "t"));
  const replacement = asyncConnector("B", "t");
  assert.throws(() => registry.register(replacement), (e: unknown) => e instanceof DuplicateConnectorError && /"t" version 0 is already registered \("A"\)/.test(e.message));
  registry.register(replacement, { override: true });
  assert.equal(registry.get("t"), replacement);
  assert.equal(registry.list().length, 1);
});

test("metadata lists one entry per connector name with all its task categories", () => {
  const sync = new (class extends SyncConnector {
    readonly name = "OpenAI";
    readonly taskTypeName = "chatgpt";
    async do(): Promise<Resource> {
      return { phase: Phase.SUCCEEDED };
    }
  })();
  const registry = new ConnectorRegistry()
    .register(asyncConnector("Spark", "spark"))
    .register(sync)
    .register(asyncConnector("Spark", "spark", 1));
  assert.deepEqual(registry.metadata(), [
    { name: "Spark", supportedTaskCategories: [{ name: "spark", version: 0 }, { name: "spark", version: 1 }] },
    { name: "OpenAI", supportedTaskCategories: [{ name: "chatgpt", version: 0 }] },
  ]);
});
