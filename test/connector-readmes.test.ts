// Type-checks every TypeScript/JavaScript code block of the connector packages' READMEs (and the example's and the
// chart's) against the built packages, in one strict tsc run, so the documented APIs stay true to the code.
// A block that is deliberately a fragment can be excluded with a `<!-- not-checked -->` line right before it.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import type { TaskTemplate } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";

const root = join(import.meta.dirname, "..");
const documents = [
  "connectors/bigquery/README.md",
  "connectors/databricks/README.md",
  "connectors/snowflake/README.md",
  "connectors/openai/README.md",
  "connectors/http-job/README.md",
  "connectors/webhook/README.md",
  "connectors/sensor/README.md",
  "connectors/sagemaker/README.md",
  "connectors/emr-serverless/README.md",
  "connectors/slurm/README.md",
  "examples/model-training/README.md",
  "charts/flyte-connector/README.md",
];
const CODE_LANGUAGES = new Set(["ts", "typescript", "js", "javascript", "mjs"]);

interface Block {
  document: string;
  /** 1-based line of the opening fence, for error messages. */
  line: number;
  language: string;
  code: string;
}

function codeBlocks(document: string): { checked: Block[]; excluded: Block[] } {
  const text = readFileSync(join(root, document), "utf8");
  const checked: Block[] = [];
  const excluded: Block[] = [];
  for (const m of text.matchAll(/(<!-- not-checked -->\n)?```(\w*)\n([\s\S]*?)```/g)) {
    const language = m[2]!;
    if (!CODE_LANGUAGES.has(language)) continue;
    const block = { document, line: text.slice(0, m.index + (m[1]?.length ?? 0)).split("\n").length, language, code: m[3]! };
    (m[1] ? excluded : checked).push(block);
  }
  return { checked, excluded };
}

// Inside the repository so that `flyte-connectors` and `@flyte-connectors/*` resolve as they do for a user of the
// workspace; `"type": "module"` as in a user's project (top-level await, ESM imports).
mkdirSync(join(root, "node_modules", ".cache"), { recursive: true });
const dir = mkdtempSync(join(root, "node_modules", ".cache", "connector-readmes-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("the connector READMEs have TypeScript blocks to check, and exclude few", () => {
  for (const document of documents.filter((d) => d.startsWith("connectors/"))) {
    const { checked, excluded } = codeBlocks(document);
    assert.ok(checked.length >= 1, `${document} has no checked TypeScript block`);
    assert.ok(excluded.length <= 1, `${document} excludes ${excluded.length} blocks from the check`);
  }
});

/** The checked blocks, written as modules into the scratch folder: file name → block. */
const files = new Map<string, Block>();
for (const document of documents) {
  for (const block of codeBlocks(document).checked) {
    // JavaScript blocks are checked as TypeScript modules: what they call must exist with the documented shapes.
    const name = `${document.split("/")[1]}-line${block.line}.${block.language.startsWith("t") ? "ts" : "mts"}`;
    writeFileSync(join(dir, name), block.code);
    files.set(name, block);
  }
}
writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));

/** The scratch module of the block in `document` that exports `name` (a task declaration). */
async function declaration(document: string, name: string): Promise<Record<string, { toTaskTemplate(): TaskTemplate }>> {
  const file = [...files].find(([, block]) => block.document === document && block.code.includes(`export const ${name} `))?.[0];
  assert.ok(file, `${document} has no block that exports ${name}`);
  return (await import(pathToFileURL(join(dir, file)).href)) as Record<string, { toTaskTemplate(): TaskTemplate }>;
}

test("every TypeScript/JavaScript block of the connector READMEs type-checks under strict settings", async () => {
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const args = [tsc, "--noEmit", "--strict", "--noUncheckedIndexedAccess", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "--types", "node", ...files.keys()];
  await promisify(execFile)(process.execPath, args, { cwd: dir, timeout: 120_000 }).catch((error: { stdout?: string; stderr?: string }) => {
    // tsc names the scratch file and the line inside the block; map it back to the README.
    const report = `${error.stdout ?? ""}${error.stderr ?? ""}`.replace(/^(\S+?\.m?ts)\((\d+),(\d+)\)/gm, (whole, file: string, line: string) => {
      const block = files.get(file);
      return block ? `${block.document}:${block.line + Number(line)} (${whole})` : whole;
    });
    assert.fail(`README code does not type-check:\n${report}`);
  });
});

test("the BigQuery README's task declaration writes the custom config its table documents", async () => {
  const { dailyCounts } = await declaration("connectors/bigquery/README.md", "dailyCounts");
  const template = dailyCounts!.toTaskTemplate();
  assert.equal(template.type, "bigquery_query_job_task");
  assert.equal(template.target.case, "sql");
  assert.match(template.target.case === "sql" ? template.target.value.statement : "", /WHERE day = @day AND n > @min_n/);
  const custom = { ...template.custom };
  assert.equal(custom["ProjectID"], "my-project");
  assert.equal(custom["Location"], "US");
  assert.equal(typeof custom["Domain"], "string");
  // QueryJobConfig fields at the top level, in the REST API's camelCase, as Python's to_api_repr writes them.
  assert.equal(custom["useQueryCache"], false);
  assert.equal(custom["maximumBytesBilled"], "10000000000");
  assert.deepEqual(custom["secrets"], { google_application_credentials: "bq-service-account-key" });
  assert.deepEqual(template.interface?.outputs?.variables.map((v) => v.key), ["results"]);
});

test("the Snowflake README's task declarations write the custom config and secret names it documents", async () => {
  const { lookupUser, insertUsers } = await declaration("connectors/snowflake/README.md", "lookupUser");
  const lookup = lookupUser!.toTaskTemplate();
  const insert = insertUsers!.toTaskTemplate();
  assert.equal(lookup.type, "snowflake");
  const custom = { ...lookup.custom };
  assert.deepEqual(
    { ...custom, secrets: undefined },
    { account: "myorg-myaccount", user: "FLYTE_USER", database: "ANALYTICS", schema: "PUBLIC", warehouse: "COMPUTE_WH", connection_kwargs: { role: "ANALYST" }, secrets: undefined },
  );
  // "snowflake-pk" → the environment variable SNOWFLAKE_PK, as the text says.
  assert.deepEqual(custom["secrets"], { snowflake_private_key: "SNOWFLAKE_PK" });
  assert.deepEqual(lookup.interface?.outputs?.variables.map((v) => v.key), ["results"]);
  assert.equal(insert.custom?.["batch"], true);
  assert.equal(insert.target.case === "sql" ? insert.target.value.statement : "", "INSERT INTO users (id, name) VALUES (%(id)s, %(name)s)");
});
