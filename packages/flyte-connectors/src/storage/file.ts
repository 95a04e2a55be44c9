/** file:// URIs and plain paths on this machine's disk. */
import { createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { classifyHttp, safeMessage, type Backend, type ListedObject, type ListPage } from "./backend.js";
import type { StorageProblem } from "./types.js";
import type { Location } from "./uri.js";

const PROBLEMS: Record<string, StorageProblem> = { ENOENT: "not-found", ENOTDIR: "not-found", EACCES: "denied", EPERM: "denied", EISDIR: "invalid" };

export class FileBackend implements Backend {
  async get(loc: Location, range: { offset: number; end?: number } | undefined, signal: AbortSignal | undefined): Promise<Readable> {
    // Opened first, so a missing file fails here rather than on the stream's first read.
    const handle = await open(loc.key, "r");
    return handle.createReadStream({
      ...(range ? { start: range.offset, ...(range.end !== undefined ? { end: range.end } : {}) } : {}),
      ...(signal ? { signal } : {}),
    });
  }

  async put(loc: Location, body: Uint8Array, _contentType: string | undefined, signal: AbortSignal | undefined): Promise<void> {
    await mkdir(dirname(loc.key), { recursive: true });
    // Written beside and renamed, so a reader never sees half a file.
    const temp = `${loc.key}.${process.pid}.${Date.now()}.part`;
    try {
      await writeFile(temp, body, signal ? { signal } : {});
      await rename(temp, loc.key);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async putStream(loc: Location, body: Readable, _contentType: string | undefined, signal: AbortSignal | undefined): Promise<void> {
    await mkdir(dirname(loc.key), { recursive: true });
    const temp = `${loc.key}.${process.pid}.${Date.now()}.part`;
    try {
      await pipeline(body, createWriteStream(temp), signal ? { signal } : {});
      await rename(temp, loc.key);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async head(loc: Location): Promise<ListedObject> {
    const info = await stat(loc.key);
    if (!info.isFile()) throw Object.assign(new Error("not a file"), { code: "ENOENT" });
    return { key: loc.key, size: info.size, lastModified: info.mtime };
  }

  /** Every file under the prefix's directory whose path starts with the prefix (one page). */
  async listPage(loc: Location): Promise<ListPage> {
    const prefix = loc.key;
    let root = prefix.endsWith(sep) ? prefix : dirname(prefix);
    try {
      if ((await stat(prefix)).isDirectory()) root = prefix;
    } catch {
      // not a directory: list the parent and filter by name
    }
    const objects: ListedObject[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
        throw error;
      }
      for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.isFile() && path.startsWith(prefix)) {
          const info = await stat(path);
          objects.push({ key: path, size: info.size, lastModified: info.mtime });
        }
      }
    };
    await walk(root);
    return { objects };
  }

  async delete(loc: Location): Promise<void> {
    await rm(loc.key, { force: true });
  }

  classify(error: unknown): { problem: StorageProblem; detail: string } {
    const code = (error as NodeJS.ErrnoException).code;
    const problem = (code ? PROBLEMS[code] : undefined) ?? classifyHttp(undefined, code, (error as Error).name);
    return { problem, detail: problem === "not-found" ? "no such file" : safeMessage(error) };
  }
}
