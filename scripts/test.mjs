// Finds every *.test.ts beside the code (Node 20's test runner takes no globs) and runs them with Node's
// test runner, TypeScript loaded by tsx. Extra arguments are passed on (e.g. --test-name-pattern=echo);
// a path argument narrows the search to that folder. The service package's tests run a second time on the
// grpc-js transport, and the connectors' and examples' tests that call the service run again over the Connect
// protocol (FLYTE_CONNECTOR_TEST_PROTOCOL=connect), as a Flyte 2 backend on Connect calls it, and through grpc-go
// (FLYTE_CONNECTOR_TEST_PROTOCOL=grpc-go), as both Flyte backends' propellers dial (see below).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";

const root = join(import.meta.dirname, "..");
const args = process.argv.slice(2);
const folders = args.filter((a) => !a.startsWith("-"));
const flags = args.filter((a) => a.startsWith("-"));

function* testFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name === "dist" || entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* testFiles(path);
    else if (entry.name.endsWith(".test.ts")) yield relative(root, path);
  }
}

const files = (folders.length ? folders : ["packages", "connectors", "examples", "test"]).flatMap((f) => [...testFiles(join(root, f))]).sort();

function run(testFiles, env = process.env) {
  const result = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=spec", ...flags, ...testFiles], { cwd: root, stdio: "inherit", env });
  return result.status ?? 1;
}

// The service's tests run once per gRPC transport: first on the default one, then again on grpc-js
// (FLYTE_CONNECTOR_TEST_TRANSPORT, read by serveForTest, spawnService and the tests that start the service
// themselves). The transport folder's own tests pick their transports explicitly (the conformance suite drives
// both), so they run once. Setting FLYTE_CONNECTOR_TEST_TRANSPORT runs everything once, on that transport.
const TRANSPORT_ENV = "FLYTE_CONNECTOR_TEST_TRANSPORT";
const serviceFiles = files.filter((file) => /^packages[/\\]service[/\\]src[/\\]/.test(file) && !/[/\\]transport[/\\]/.test(file));
let status = run(files);
if (!process.env[TRANSPORT_ENV] && serviceFiles.length > 0) {
  process.stdout.write(`\n# the service's tests again with ${TRANSPORT_ENV}=grpc-js (${serviceFiles.length} files)\n`);
  status = Math.max(status, run(serviceFiles, { ...process.env, [TRANSPORT_ENV]: "grpc-js" }));
}

// The ready connectors' (and examples') tests again with serveForTest's client on the Connect protocol
// (FLYTE_CONNECTOR_TEST_PROTOCOL=connect: the official @connectrpc/connect-node client, HTTP/1.1, binary), so every
// connector is shown to run for a Flyte 2 backend on Connect too. Only files that call serveForTest: the protocol
// changes nothing else (unit tests, and examples that run their connector in-process with runTask/runLocal, would
// repeat the same run). flytekit.test.ts files stay on gRPC: they drive the Flyte 1 services, which Flyte 1
// backends call over gRPC only (the Connect port serves flyteidl2). Setting FLYTE_CONNECTOR_TEST_PROTOCOL runs
// everything once, on that protocol.
const PROTOCOL_ENV = "FLYTE_CONNECTOR_TEST_PROTOCOL";
const connectFiles = files.filter(
  (file) => /^(connectors|examples)[/\\]/.test(file) && !file.endsWith("flytekit.test.ts") && readFileSync(join(root, file), "utf8").includes("serveForTest("),
);
if (!process.env[PROTOCOL_ENV] && connectFiles.length > 0) {
  process.stdout.write(`\n# the connectors' tests again with ${PROTOCOL_ENV}=connect (${connectFiles.length} files)\n`);
  status = Math.max(status, run(connectFiles, { ...process.env, [PROTOCOL_ENV]: "connect" }));
}

// And a third time through grpc-go (FLYTE_CONNECTOR_TEST_PROTOCOL=grpc-go: serveForTest's and flyte1Client's calls
// go through the Go program in packages/service/interop/client, dialed as FlytePropeller dials: insecure, dns:///,
// round_robin), the client stack of both Flyte 2's and Flyte 1's backends; so the Flyte 1 files (flyte1Client) run
// here too. Without Go and grpc-go this run is left out with a message, except under CI=true, where it runs and
// fails naming the missing package (as the go-interop tests do).
const goFiles = files.filter((file) => /^(connectors|examples)[/\\]/.test(file) && /serveForTest\(|flyte1Client\(/.test(readFileSync(join(root, file), "utf8")));
if (!process.env[PROTOCOL_ENV] && goFiles.length > 0) {
  const goMissing = spawnSync(process.env["GO"] ?? "go", ["version"]).status !== 0 || !existsSync(join(process.env["GRPC_GO_GOPATH"] ?? "/usr/share/gocode", "src", "google.golang.org", "grpc"));
  if (goMissing && process.env["CI"] !== "true") {
    process.stdout.write(`\n# skipped: the connectors' tests with ${PROTOCOL_ENV}=grpc-go need Go and grpc-go (apt-get install golang-go golang-google-grpc-dev)\n`);
  } else {
    process.stdout.write(`\n# the connectors' tests again with ${PROTOCOL_ENV}=grpc-go (${goFiles.length} files)\n`);
    status = Math.max(status, run(goFiles, { ...process.env, [PROTOCOL_ENV]: "grpc-go" }));
  }
}
process.exit(status);
