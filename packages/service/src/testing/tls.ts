// A throwaway self-signed certificate for TLS tests (test support), made with the openssl CLI that .ci/run installs.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestContext } from "node:test";

/**
 * A certificate and key for `localhost` and 127.0.0.1, valid one day; removed after the test. Without openssl the
 * test is skipped — except under CI=true, where that is a failure.
 */
export function selfSignedCertificate(t: TestContext): { cert: Buffer; key: Buffer } | undefined {
  const dir = mkdtempSync(path.join(os.tmpdir(), "fc-tls-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const certFile = path.join(dir, "cert.pem");
  const keyFile = path.join(dir, "key.pem");
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", keyFile, "-out", certFile], { stdio: "ignore" });
  } catch (error) {
    if (process.env["CI"] === "true") assert.fail(`openssl is needed for the TLS tests (.ci/run installs it): ${String(error)}`);
    t.skip("openssl not available");
    return undefined;
  }
  return { cert: readFileSync(certFile), key: readFileSync(keyFile) };
}
