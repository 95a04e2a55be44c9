// Builds the grpc-go client program (../../interop/client: the client FlytePropeller's connector plugins dial with)
// for the go-interop tests and the grpc-go TestClient. GOPATH mode against Debian's grpc-go sources
// (golang-google-grpc-dev, /usr/share/gocode), so no module proxy is needed; the binary is cached in
// node_modules/.cache, keyed by the program's source, the Go version and the grpc-go version.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..", "..", "..");
const CLIENT_DIR = join(import.meta.dirname, "..", "..", "interop", "client");
const CACHE_DIR = join(ROOT, "node_modules", ".cache", "flyte-go-interop");

/**
 * The built program's path; `missing` when Go or grpc-go is not installed (a skip outside CI, a failure under
 * CI=true); `error` when the build failed (always a failure).
 */
export type GoClientBuild = { binary: string } | { missing: string } | { error: string };

const builds = new Map<string, GoClientBuild>();

/**
 * Builds the Go client once per process (and environment). `GO` names the go command (default `go`),
 * `GRPC_GO_GOPATH` the GOPATH holding google.golang.org/grpc (default /usr/share/gocode).
 */
export function buildGoClient(): GoClientBuild {
  const go = process.env["GO"] ?? "go";
  const gopath = process.env["GRPC_GO_GOPATH"] ?? "/usr/share/gocode";
  const key = `${go}\0${gopath}`;
  let built = builds.get(key);
  if (!built) builds.set(key, (built = build(go, gopath)));
  return built;
}

function build(go: string, gopath: string): GoClientBuild {
  const version = spawnSync(go, ["version"], { encoding: "utf8" });
  if (version.error || version.status !== 0) {
    return { missing: `Go not installed: \`${go} version\` failed (${version.error?.message ?? version.stderr.trim()}); apt-get install golang-go golang-google-grpc-dev` };
  }
  const grpcDir = join(gopath, "src", "google.golang.org", "grpc");
  if (!existsSync(join(grpcDir, "dialoptions.go"))) return { missing: `grpc-go sources not installed: no ${grpcDir} (apt-get install golang-google-grpc-dev)` };
  const grpcVersion = existsSync(join(grpcDir, "version.go")) ? readFileSync(join(grpcDir, "version.go"), "utf8") : "";
  const key = createHash("sha256").update(readFileSync(join(CLIENT_DIR, "main.go"))).update(version.stdout).update(grpcVersion).digest("hex").slice(0, 16);
  const binary = join(CACHE_DIR, `client-${key}`);
  if (existsSync(binary)) return { binary };
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${binary}.${process.pid}.tmp`;
  const built = spawnSync(go, ["build", "-o", tmp, "."], {
    cwd: CLIENT_DIR,
    encoding: "utf8",
    env: {
      ...process.env,
      GO111MODULE: "off", // GOPATH mode: the Debian-packaged sources, no module proxy needed
      GOPATH: gopath,
      GOFLAGS: "",
      GOCACHE: process.env["GOCACHE"] ?? join(CACHE_DIR, "go-build"),
    },
  });
  if (built.status !== 0) return { error: `go build of ${CLIENT_DIR} failed (${built.status}): ${built.stderr}${built.error?.message ?? ""}` };
  // Atomic: parallel test processes may build at once; each renames a complete binary.
  renameSync(tmp, binary);
  return { binary };
}
