import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { Image } from "../index.js";

const scratch = mkdtempSync(path.join(tmpdir(), "image-spec-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

const spec = () =>
  Image.fromNodeBase({ nodeVersion: "20", registry: "ghcr.io/acme", name: "my-connectors" })
    .withAptPackages("ca-certificates", "git")
    .withNpmPackages("left-pad@1.3.0", "@acme/flyte-bq@^2.1.0")
    .withEnv({ LOG_LEVEL: "info", REGION: "eu" });

test("uri is <registry>/<name>:<tag>, and the tag is a 32-hex content hash", () => {
  const image = spec();
  assert.match(image.tag, /^[0-9a-f]{32}$/);
  assert.equal(image.uri, `ghcr.io/acme/my-connectors:${image.tag}`);
  assert.equal(Image.fromNodeBase().uri, `flyte-connectors:${Image.fromNodeBase().tag}`);
});

test("the same spec gives the same tag, whatever the order of environment keys", () => {
  assert.equal(spec().tag, spec().tag);
  const a = Image.fromNodeBase().withEnv({ A: "1", B: "2" });
  const b = Image.fromNodeBase().withEnv({ B: "2", A: "1" });
  assert.equal(a.tag, b.tag);
});

test("the tag is the same in another process", () => {
  const script = `
    import { Image } from "flyte-connectors";
    const image = Image.fromNodeBase({ nodeVersion: "20", registry: "ghcr.io/acme", name: "my-connectors" })
      .withAptPackages("ca-certificates", "git")
      .withNpmPackages("left-pad@1.3.0", "@acme/flyte-bq@^2.1.0")
      .withEnv({ REGION: "eu", LOG_LEVEL: "info" });
    process.stdout.write(image.tag);`;
  const child = execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: import.meta.dirname, encoding: "utf8" });
  assert.equal(child, spec().tag);
});

test("every change to what is built changes the tag; registry and name do not", () => {
  const base = spec();
  const variants = [
    Image.fromNodeBase({ nodeVersion: "22", registry: "ghcr.io/acme", name: "my-connectors" })
      .withAptPackages("ca-certificates", "git")
      .withNpmPackages("left-pad@1.3.0", "@acme/flyte-bq@^2.1.0")
      .withEnv({ LOG_LEVEL: "info", REGION: "eu" }),
    base.withEnv({ REGION: "us" }),
    base.withWorkdir("/srv"),
    base.withEntrypoint(["node", "server.js"]),
    base.withCommands("echo hi"),
    Image.fromBase("node:20-slim", { registry: "ghcr.io/acme", name: "my-connectors" })
      .withAptPackages("ca-certificates", "git")
      .withNpmPackages("left-pad@1.3.0", "@acme/flyte-bq@^2.1.0")
      .withEnv({ LOG_LEVEL: "info", REGION: "eu" }),
    Image.fromNodeBase({ nodeVersion: "20", registry: "ghcr.io/acme", name: "my-connectors", user: "node" })
      .withAptPackages("ca-certificates", "git")
      .withNpmPackages("left-pad@1.3.0", "@acme/flyte-bq@^2.1.0")
      .withEnv({ LOG_LEVEL: "info", REGION: "eu" }),
  ];
  const tags = new Set([base.tag, ...variants.map((v) => v.tag)]);
  assert.equal(tags.size, variants.length + 1);

  const moved = base.clone({ registry: "localhost:5000", name: "other" });
  assert.equal(moved.tag, base.tag);
  assert.equal(moved.uri, `localhost:5000/other:${base.tag}`);
  assert.equal(base.uri, `ghcr.io/acme/my-connectors:${base.tag}`, "the original is unchanged");
});

test("copied files are part of the tag: same bytes same tag, edited bytes new tag; node_modules is ignored", () => {
  const dir = path.join(scratch, "connector");
  mkdirSync(path.join(dir, "dist"), { recursive: true });
  mkdirSync(path.join(dir, "node_modules", "x"), { recursive: true });
  writeFileSync(path.join(dir, "dist", "index.js"), "export default [];\n");
  writeFileSync(path.join(dir, "node_modules", "x", "a.js"), "1");
  const tagOf = () => Image.fromNodeBase().withSource(dir, "/app/connector").tag;
  const first = tagOf();
  assert.equal(tagOf(), first);
  writeFileSync(path.join(dir, "node_modules", "x", "a.js"), "2");
  assert.equal(tagOf(), first, "node_modules content does not matter");
  writeFileSync(path.join(dir, "dist", "index.js"), "export default [1];\n");
  assert.notEqual(tagOf(), first);

  const tarball = path.join(scratch, "pkg-1.0.0.tgz");
  writeFileSync(tarball, "v1");
  const t1 = Image.fromNodeBase().withNpmPackages(tarball).tag;
  writeFileSync(tarball, "v2");
  assert.notEqual(Image.fromNodeBase().withNpmPackages(tarball).tag, t1);
});

test("a symbolic link in a copied folder is part of the tag by its target", () => {
  const dir = path.join(scratch, "linked");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "a.js"), "a");
  writeFileSync(path.join(dir, "b.js"), "b");
  symlinkSync("a.js", path.join(dir, "current.js"));
  const tagOf = () => Image.fromNodeBase().withSource(dir).tag;
  const first = tagOf();
  rmSync(path.join(dir, "current.js"));
  symlinkSync("b.js", path.join(dir, "current.js"));
  assert.notEqual(tagOf(), first);
});

test("a local npm folder is installed with its dependencies, and odd file names stay one COPY source", () => {
  const folder = path.join(scratch, "my connector");
  mkdirSync(folder, { recursive: true });
  const dockerfile = Image.fromNodeBase().withNpmPackages("left-pad@1.3.0").withNpmPackages(folder).dockerfile();
  // npm only symlinks a folder outside the project (dependencies left out) unless --install-links.
  assert.match(dockerfile, /^RUN npm install --omit=dev --no-audit --no-fund left-pad@1\.3\.0 &&/m);
  assert.match(dockerfile, /^COPY \["npm\/1-0\/my connector","\/opt\/flyte-npm\/1-0\/my connector"\]$/m);
  assert.match(dockerfile, /^RUN npm install --omit=dev --install-links --no-audit --no-fund '\/opt\/flyte-npm\/1-0\/my connector' &&/m);
});

test("a missing source fails when the tag is computed, naming the path", () => {
  const image = Image.fromNodeBase().withSource(path.join(scratch, "nope"));
  assert.throws(() => image.uri, /nope does not exist/);
});

test("dockerfile() renders the base, the layers in order and a non-root user last", () => {
  const dockerfile = spec()
    .withSource(path.join(scratch, "connector"), "/app/connector")
    .withNpmPackages("./vendor/my-connector-0.1.0.tgz")
    .withWorkdir("/app/connector")
    .withEntrypoint(["node", "server.js", "--port", "8000"])
    .dockerfile();
  const lines = dockerfile.trimEnd().split("\n");
  assert.deepEqual(lines.slice(2), [
    "FROM node:20-slim",
    "USER root",
    "WORKDIR /app",
    'ENV NODE_ENV="production"',
    "RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates git && rm -rf /var/lib/apt/lists/*",
    "RUN npm install --omit=dev --no-audit --no-fund left-pad@1.3.0 @acme/flyte-bq@^2.1.0 && npm cache clean --force",
    'ENV LOG_LEVEL="info" REGION="eu"',
    'COPY ["sources/3/connector","/app/connector"]',
    'COPY ["npm/4-0/my-connector-0.1.0.tgz","/opt/flyte-npm/4-0/my-connector-0.1.0.tgz"]',
    "RUN npm install --omit=dev --no-audit --no-fund /opt/flyte-npm/4-0/my-connector-0.1.0.tgz && npm cache clean --force",
    "WORKDIR /app/connector",
    'ENTRYPOINT ["node","server.js","--port","8000"]',
    "USER 65532:65532",
  ]);
});

test("fromBase keeps the base's workdir and entrypoint; values are quoted so Docker does not expand them", () => {
  const dockerfile = Image.fromBase("ghcr.io/acme/flyte-connectors:0.1.0", { user: "node" })
    .withEnv({ GREETING: 'say "hi" to $USER \\o/' })
    .withNpmPackages("pkg@>=1 <2")
    .dockerfile();
  assert.match(dockerfile, /^FROM ghcr\.io\/acme\/flyte-connectors:0\.1\.0$/m);
  assert.doesNotMatch(dockerfile, /WORKDIR|ENTRYPOINT|NODE_ENV/);
  assert.match(dockerfile, /^ENV GREETING="say \\"hi\\" to \\\$USER \\\\o\/"$/m);
  assert.match(dockerfile, /npm install --omit=dev --no-audit --no-fund 'pkg@>=1 <2' &&/);
  assert.match(dockerfile, /USER node\n$/);
});

test("bad input is refused with an error naming it", () => {
  assert.throws(() => Image.fromNodeBase({ registry: "https://ghcr.io" }), /Invalid registry "https:\/\/ghcr.io"/);
  assert.throws(() => Image.fromNodeBase({ name: "My_Image" }), /Invalid image name "My_Image"/);
  assert.throws(() => Image.fromNodeBase({ nodeVersion: "latest" }), /Invalid nodeVersion "latest"/);
  assert.throws(() => Image.fromNodeBase().withAptPackages("git; rm -rf /"), /Invalid apt package "git; rm -rf \/"/);
  assert.throws(() => Image.fromNodeBase().withEnv({ "BAD-NAME": "x" }), /Invalid environment variable name "BAD-NAME"/);
  assert.throws(() => Image.fromNodeBase().withEnv({ A: "line\nbreak" }), /A's value .* contains a control character/);
  assert.throws(() => Image.fromNodeBase().withNpmPackages(), /at least one package/);
  assert.throws(() => Image.fromBase("node:20 slim"), /Invalid base image/);
});

test("images are immutable", () => {
  const image = Image.fromNodeBase();
  const derived = image.withAptPackages("git");
  assert.notEqual(derived.tag, image.tag);
  assert.doesNotMatch(image.dockerfile(), /apt-get/);
  assert.ok(Object.isFrozen(image));
});
