import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

/** A job the fake training service received. */
export interface FakeJob {
  body: { dataset_uri?: string; epochs?: number };
  polls: number;
  deletes: number;
}

/**
 * The training service of seed 000's connector, for tests: POST /train → `{job_id}`; GET /train/<id> → 503
 * once (a non-200 the connector reports as still running), "running" once more, then "finished" with `results`;
 * "failed" when epochs > 100 or the dataset is `gs://bucket/bad.csv`; `gs://bucket/forever.csv` never ends;
 * DELETE /train/<id>.
 */
export async function startFakeTrainingService(): Promise<{ endpoint: string; jobs: Map<string, FakeJob>; close(): Promise<void> }> {
  const jobs = new Map<string, FakeJob>();
  const readJson = async (request: IncomingMessage): Promise<unknown> => {
    let text = "";
    for await (const chunk of request) text += String(chunk);
    return JSON.parse(text);
  };
  const server = createServer(async (request, response) => {
    const send = (status: number, body?: unknown) =>
      response.writeHead(status, { "content-type": "application/json" }).end(body === undefined ? "" : JSON.stringify(body));
    const id = /^\/train\/([^/]+)$/.exec(request.url ?? "")?.[1];
    if (request.method === "POST" && request.url === "/train") {
      const jobId = `job-${jobs.size + 1}`;
      jobs.set(jobId, { body: (await readJson(request)) as FakeJob["body"], polls: 0, deletes: 0 });
      return send(201, { job_id: jobId });
    }
    const job = id ? jobs.get(id) : undefined;
    if (!job) return send(404, { error: "no such job" });
    if (request.method === "DELETE") {
      job.deletes++;
      return send(200, {});
    }
    if (request.method === "GET") {
      job.polls++;
      if (job.polls === 1) return send(503, { error: "warming up" });
      if (job.body.dataset_uri === "gs://bucket/forever.csv" || job.polls < 3) return send(200, { status: "running" });
      if ((job.body.epochs ?? 0) > 100) return send(200, { status: "failed", error: "too many epochs" });
      if (job.body.dataset_uri === "gs://bucket/bad.csv") return send(200, { status: "failed", error: "dataset is empty" });
      return send(200, { status: "finished", results: `s3://models/${id}/model.pt` });
    }
    send(405);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/train`,
    jobs,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
