// A fake vendor API on loopback: every request is answered after VENDOR_DELAY_MS (default 200) with a small JSON
// job status, over HTTP/1.1 keep-alive — what a connector's `get` polls. Its own process, so its CPU is not the
// server's under test. Prints {"port"} over IPC.
import http from "node:http";

const delay = Number(process.env.VENDOR_DELAY_MS ?? 200);
const body = Buffer.from(JSON.stringify({ id: "job-1", state: "succeeded" }));
const server = http.createServer({ keepAliveTimeout: 120_000, requestTimeout: 0, headersTimeout: 60_000 }, (req, res) => {
  req.resume();
  setTimeout(() => {
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    res.end(body);
  }, delay);
});
server.maxRequestsPerSocket = 0;
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => process.send({ port: server.address().port }));
