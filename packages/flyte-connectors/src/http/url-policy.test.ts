import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { allowedOriginsSetting, requestJson, refusedAddressKind, UrlPolicy, UrlRefusedError } from "./index.js";

// Every spelling of the connector pod's own host and of the cloud metadata services found by outside testing.
const REFUSED = [
  "http://127.0.0.1/",
  "http://127.1/",
  "http://2130706433/",
  "http://0x7f000001/",
  "http://017700000001/",
  "http://[::1]/",
  "http://[::ffff:127.0.0.1]/",
  "http://0.0.0.0/",
  "http://[::]/",
  "http://localhost/",
  "http://LOCALHOST./",
  "http://api.localhost/",
  "http://169.254.169.254/latest/meta-data/",
  "http://169.254.170.2/",
  "http://[fe80::1]/",
  "http://metadata/",
  "http://metadata.google.internal/",
  "http://metadata.google.internal./",
  "http://instance-data/",
  "http://100.100.100.200/",
  "http://168.63.129.16/",
  "http://[fd00:ec2::254]/",
  "http://[::a9fe:a9fe]/",
  "http://[::ffff:a9fe:a9fe]/",
  "http://[64:ff9b::a9fe:a9fe]/",
  "http://[::ffff:0:a9fe:a9fe]/",
  "http://[2002:a9fe:a9fe::1]/",
];

// In-cluster services: the connector's job is to call them.
const ALLOWED = [
  "http://10.0.0.5:8080/jobs",
  "http://172.16.3.4/",
  "http://192.168.1.10/",
  "http://[fc00::5]/",
  "http://jobs.default.svc.cluster.local/",
  "https://jobs.example.com/v1",
  "http://[2001:db8::1]/",
  "http://[64:ff9b::a00:5]/",
];

describe("UrlPolicy (server-side request forgery guard)", () => {
  let server: http.Server;
  let hits = 0;
  let base = "";
  before(async () => {
    server = http.createServer((_req, res) => {
      hits++;
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test("refuses loopback, unspecified, link-local and cloud metadata hosts in every spelling by default", () => {
    const policy = new UrlPolicy();
    for (const url of REFUSED) {
      assert.throws(() => policy.check(url, "custom.submit.url"), (error: unknown) => {
        assert.ok(error instanceof UrlRefusedError, `${url}: ${String(error)}`);
        assert.equal(error.code, "INVALID_ARGUMENT");
        assert.match(error.message, /^custom\.submit\.url: the connector may not call http:\/\/\S+ \(.+\)\.$/, url);
        return true;
      }, url);
    }
  });

  test("allows private in-cluster ranges and public hosts by default", () => {
    const policy = new UrlPolicy();
    for (const url of ALLOWED) assert.equal(policy.check(url).href, new URL(url).href, url);
    for (const address of ["10.1.2.3", "192.168.0.1", "fd12::1", "8.8.8.8", "2606:4700::1111"]) assert.equal(refusedAddressKind(address), undefined, address);
  });

  test("allowedOrigins narrows to the listed origins, which may name a loopback fake", async () => {
    const policy = new UrlPolicy({ allowedOrigins: [base] });
    assert.throws(() => policy.check("http://10.0.0.5/"), /not in allowedOrigins/);
    assert.throws(() => policy.check(`${base.replace("127.0.0.1", "localhost")}/x`), /not in allowedOrigins/);
    assert.deepEqual(await requestJson({ url: `${base}/ok`, urlPolicy: policy }), { ok: true });
  });

  test("requestJson refuses a refused URL before connecting, without retries", async () => {
    const before = hits;
    await assert.rejects(requestJson({ url: `${base}/jobs`, urlPolicy: new UrlPolicy(), retry: { minDelay: 1 } }), UrlRefusedError);
    assert.equal(hits, before, "no request reached the loopback server");
  });

  test("a host name is checked against the addresses it resolves to at connect time (DNS rebinding)", async () => {
    const port = (server.address() as AddressInfo).port;
    const asked: string[] = [];
    // A hostile name: public-looking, but its DNS answer is the connector's own loopback.
    const policy = new UrlPolicy({
      resolve: async (hostname) => {
        asked.push(hostname);
        return [{ address: "127.0.0.1", family: 4 }];
      },
    });
    const before = hits;
    const url = `http://jobs.rebind.example:${port}/jobs`;
    assert.equal(policy.check(url).hostname, "jobs.rebind.example", "the name itself passes the static check");
    await assert.rejects(requestJson({ url, urlPolicy: policy, retry: { minDelay: 1 } }), (error: unknown) => {
      assert.ok(error instanceof UrlRefusedError, String(error));
      assert.match(error.message, /jobs\.rebind\.example: it resolves to 127\.0\.0\.1 \(loopback\)/);
      return true;
    });
    assert.deepEqual(asked, ["jobs.rebind.example"], "resolved once, at connect time, not retried");
    assert.equal(hits, before, "no request reached the loopback server");
    await policy.close();
  });
});

test("allowedOriginsSetting: the option wins over the environment variable; entries become origins; a bad entry names its source", (t) => {
  const variable = "FLYTE_TEST_ALLOWED_ORIGINS";
  t.after(() => delete process.env[variable]);
  delete process.env[variable];
  assert.equal(allowedOriginsSetting(undefined, variable), undefined, "nothing set: the policy's default");
  process.env[variable] = " http://127.0.0.1:8080/path , https://jobs.example.com ,,";
  assert.deepEqual(allowedOriginsSetting(undefined, variable), ["http://127.0.0.1:8080", "https://jobs.example.com"]);
  assert.deepEqual(allowedOriginsSetting(["https://a.example.com/x"], variable), ["https://a.example.com"]);
  process.env[variable] = "https://ok.example.com,not an origin";
  assert.throws(() => allowedOriginsSetting(undefined, variable), /^Error: FLYTE_TEST_ALLOWED_ORIGINS: "not an origin" is not an origin/);
  assert.throws(() => allowedOriginsSetting(["::"], variable), /^Error: allowedOrigins: "::" is not an origin/);
  // A host without a scheme parses as a URL of scheme "jobs.example.com:", which has no origin.
  assert.throws(() => allowedOriginsSetting(["jobs.example.com:8080"], variable), /^Error: allowedOrigins: "jobs\.example\.com:8080" is not an origin/);
});
