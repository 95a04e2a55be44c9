// The file:// backend (and plain paths) on this machine's disk.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { it } from "node:test";
import { storageConformance } from "./conformance.js";
import { ObjectStore } from "./object-store.js";

storageConformance("file://", async () => {
  const dir = await mkdtemp(join(tmpdir(), "file-storage-"));
  return {
    store: new ObjectStore(),
    base: pathToFileURL(dir).href,
    async close() {
      await rm(dir, { recursive: true, force: true });
    },
  };
});

it("reads plain paths like file:// URIs and names unsupported schemes", async () => {
  const dir = await mkdtemp(join(tmpdir(), "file-storage-"));
  try {
    await writeFile(join(dir, "x.txt"), "plain");
    const store = new ObjectStore();
    assert.equal(new TextDecoder().decode(await store.get(join(dir, "x.txt"))), "plain");
    await assert.rejects(store.get("ftp://host/x"), (e: Error & { code?: string }) => e.code === "INVALID_ARGUMENT" && /"ftp:\/\/host\/x".*scheme "ftp" is not supported/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
