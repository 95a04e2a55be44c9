/**
 * Real storage servers for tests, all on loopback: s3rver (an S3-compatible server from npm, in process), Azurite
 * (Microsoft's Azure Storage emulator, a child process) and a small GCS JSON API server (see fake-gcs.ts). Not
 * part of the public API. A server that cannot start throws: tests fail rather than skip.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** No credential chain may reach a cloud metadata endpoint or a public host from a test. */
export function isolateFromCloud(): void {
  process.env["AWS_EC2_METADATA_DISABLED"] = "true";
  process.env["METADATA_SERVER_DETECTION"] = "none";
  process.env["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null";
  process.env["AWS_CONFIG_FILE"] = "/dev/null";
  delete process.env["AWS_PROFILE"];
  delete process.env["GOOGLE_APPLICATION_CREDENTIALS"];
}

export interface S3TestServer {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The environment flyte-sdk (and ObjectStore.fromEnv) reads to reach this server. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** s3rver on 127.0.0.1 with one bucket; its fixed credentials are S3RVER/S3RVER. */
export async function startS3Server(bucket = "flyte-test"): Promise<S3TestServer> {
  const { default: S3rver } = await import("s3rver");
  const directory = await mkdtemp(join(tmpdir(), "s3rver-"));
  const server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory, configureBuckets: [{ name: bucket }] });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    env: {
      FLYTE_AWS_ENDPOINT: endpoint,
      FLYTE_AWS_ACCESS_KEY_ID: "S3RVER",
      FLYTE_AWS_SECRET_ACCESS_KEY: "S3RVER",
      FLYTE_AWS_S3_ADDRESSING_STYLE: "path",
      AWS_EC2_METADATA_DISABLED: "true",
      METADATA_SERVER_DETECTION: "none",
    },
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

export interface AzuriteServer {
  /** Blob endpoint with `{account}` for the account, as AzureConfig.endpoint takes it. */
  endpoint: string;
  accountName: string;
  accountKey: string;
  env: Record<string, string>;
  close(): Promise<void>;
}

/** Azurite's well-known development account (documented by Microsoft; not a secret). */
const AZURITE_ACCOUNT = "devstoreaccount1";
const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/** Azurite's blob service on 127.0.0.1 (data in a temporary directory), telemetry off. */
export async function startAzurite(): Promise<AzuriteServer> {
  const require = createRequire(import.meta.url);
  const bin = join(dirname(require.resolve("azurite/package.json")), "dist", "src", "blob", "main.js");
  const location = await mkdtemp(join(tmpdir(), "azurite-"));
  const child: ChildProcess = spawn(
    process.execPath,
    [bin, "--blobHost", "127.0.0.1", "--blobPort", "0", "--location", location, "--disableTelemetry", "--skipApiVersionCheck", "--loose"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Azurite did not start within 30 s: ${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /listens on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        // From here on the output is drained (an unread pipe would stall Azurite) and dropped.
        child.stdout!.off("data", onData).resume();
        child.stderr!.off("data", onData).resume();
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with ${code} before listening: ${output}`));
    });
  });
  const endpoint = `http://127.0.0.1:${port}/{account}`;
  return {
    endpoint,
    accountName: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    env: { AZURE_STORAGE_ACCOUNT_NAME: AZURITE_ACCOUNT, AZURE_STORAGE_ACCOUNT_KEY: AZURITE_KEY },
    async close() {
      child.kill("SIGTERM");
      await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once("exit", resolve)));
      await rm(location, { recursive: true, force: true });
    },
  };
}

/** A server that accepts requests and never answers them (until closed): a slow store against a deadline. */
export async function startSilentServer(): Promise<{ endpoint: string; requests: () => number; close(): Promise<void> }> {
  let requests = 0;
  const server: Server = createServer(() => {
    requests++;
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A server answering every request with `status` (e.g. 503 SlowDown), counting them. */
export async function startFailingServer(status: number): Promise<{ endpoint: string; requests: () => number; close(): Promise<void> }> {
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    req.resume();
    res.writeHead(status, { "content-type": "application/xml" });
    res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
