import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { pythonFloatRepr } from "flyte-connectors";
import {
  apptainerImageRef,
  exportLines,
  inputEnvName,
  moduleLines,
  OUTPUT_REFERENCE,
  outputEnvName,
  pyxisImageRef,
  renderContainerJob,
  renderScriptJob,
  shellQuote,
} from "./render.js";

// Output of flyte-sdk's plugins/slurm script.py (render_container_job, render_script_job, pyxis_image_ref,
// apptainer_image_ref) and of Python's shlex.quote and repr(float) for the same inputs, produced with CPython 3.
const python = JSON.parse(readFileSync(new URL("./python-render.fixture.json", import.meta.url), "utf8")) as Record<string, unknown>;

describe("rendering as the Python plugin renders", () => {
  test("a container job through Pyxis: directives, exports (hostile values quoted), srun line byte for byte", () => {
    const script = renderContainerJob({
      jobName: "flyte-train-abc",
      stdoutPath: "/home/u/.flyte/jobs/flyte-train-abc.out",
      stderrPath: "/home/u/.flyte/jobs/flyte-train-abc.err",
      image: "ghcr.io/org/train:1",
      command: ["a0", "--inputs", "s3://b/in.pb", "--name", "a b", "it's", "$(touch /tmp/pwned)", ""],
      env: { B: "2", A: "it's", _U_RUN_BASE: "s3://b/run", X: "`id`;\nrm -rf /" },
      sbatchFields: { partition: "main", nodes: 2, gres: "gpu:8", time_limit: "1:00:00" },
      sbatchExtra: { exclusive: true, partition: "override", "mail-type": "FAIL" },
      containerMounts: ["/data:/data", "/scratch:/scratch:ro"],
      containerWorkdir: "/",
      srunArgs: ["--mpi=none"],
    });
    assert.equal(script, python["container_pyxis"]);
  });

  test("a container job through Apptainer", () => {
    const script = renderContainerJob({
      jobName: "j", stdoutPath: "/o", stderrPath: "/e", image: "python:3.12-slim", command: ["a0"], env: {},
      sbatchFields: { partition: "main" }, containerMounts: ["/data:/data"], containerWorkdir: "/work", containerRuntime: "apptainer",
    });
    assert.equal(script, python["container_apptainer"]);
  });

  test("a script job: leading directives hoisted, ours after them, inert ones left in the body, shebang dropped", () => {
    const script = renderScriptJob({
      jobName: "flyte-script-1", stdoutPath: "/h/o.out", stderrPath: "/h/o.err",
      script: '#!/bin/bash\n#SBATCH --time=9:00:00\n\n# comment\n#SBATCH --mail-type=FAIL\necho hello\n#SBATCH --cpus-per-task=7\nsrun ./train.sh "$FLYTE_INPUT_EPOCHS"',
      env: { FLYTE_INPUT_EPOCHS: "3", FLYTE_INPUT_NAME: "x y" },
      sbatchFields: { partition: "main", time_limit: "1:00:00" },
      sbatchExtra: { exclusive: true },
    });
    assert.equal(script, python["script"]);
    assert.equal(renderScriptJob({ jobName: "j", stdoutPath: "/o", stderrPath: "/e", script: "#!/bin/sh\n#SBATCH --x=1\n", env: {}, sbatchFields: {} }), python["script_only_directives"]);
  });

  test("image references for Pyxis and Apptainer", () => {
    for (const [image, expected] of Object.entries(python["pyxis_refs"] as Record<string, string>)) assert.equal(pyxisImageRef(image), expected, image);
    for (const [image, expected] of Object.entries(python["apptainer_refs"] as Record<string, string>)) assert.equal(apptainerImageRef(image), expected, image);
  });

  test("shell quoting is shlex.quote; floats are Python's repr", () => {
    for (const [text, expected] of Object.entries(python["quotes"] as Record<string, string>)) assert.equal(shellQuote(text), expected, JSON.stringify(text));
    for (const [text, expected] of Object.entries(python["floats"] as Record<string, string>)) assert.equal(pythonFloatRepr(Number(text)), expected, text);
  });
});

describe("rendering: the plugin's checks", () => {
  const base = { jobName: "j", stdoutPath: "/o", stderrPath: "/e", env: {}, sbatchFields: {} };
  const script = (extra: Record<string, unknown>) => renderScriptJob({ ...base, script: "echo hi\n", sbatchExtra: extra });

  test("reserved sbatch options are refused: output/error could redirect into ~/.ssh/authorized_keys", () => {
    for (const reserved of ["output", "error", "job-name", "chdir", "wrap", "uid", "gid"]) {
      assert.throws(() => script({ [reserved]: "/home/flyte/.ssh/authorized_keys" }), (e: Error & { code?: string }) => e.code === "INVALID_ARGUMENT" && /cannot be overridden/.test(e.message));
    }
  });

  test("option values with whitespace and bad option names are refused", () => {
    for (const value of ["ok\nrm -rf /", "two words", " x", "a\rb", "a\u2028b"]) assert.throws(() => script({ comment: value }), /whitespace/);
    assert.throws(() => renderScriptJob({ ...base, jobName: "j\nrm -rf /", script: "echo\n" }), /whitespace/);
    for (const name of ["bad option; rm -rf", "X", "-x", "a=b", "$(id)"]) assert.throws(() => script({ [name]: "1" }), /Invalid sbatch option name/);
  });

  test("env names must be identifiers; values are quoted whatever they hold", () => {
    assert.throws(() => exportLines({ "A;touch x": "1" }), /Invalid environment variable name/);
    assert.deepEqual(exportLines({ V: "$(touch /tmp/pwned) `id` ' \" ;\n-x" }), [`export V='$(touch /tmp/pwned) \`id\` '"'"' " ;\n-x'`]);
  });

  test("modules: one quoted `module load` each, before srun; whitespace refused", () => {
    const text = renderContainerJob({ ...base, image: "img", command: ["a0"], containerRuntime: "apptainer", modules: ["apptainer", "cuda/12.2"] });
    const lines = text.split("\n");
    const loads = lines.flatMap((line, i) => (line.startsWith("module load") ? [i] : []));
    assert.deepEqual(loads.map((i) => lines[i]), ["module load apptainer", "module load cuda/12.2"]);
    assert.ok(Math.max(...loads) < lines.findIndex((line) => line.startsWith("srun")));
    assert.throws(() => moduleLines(["apptainer; rm -rf /"]), /whitespace/);
    assert.deepEqual(moduleLines(["a;touch${IFS}x"]), ["module load 'a;touch${IFS}x'"]);
  });

  test("Apptainer gets --nv when the job asks for GPUs, unless a GPU flag is given; Pyxis never", () => {
    const srun = (sbatchFields: Record<string, unknown>, runtime: string, containerArgs: string[] = []) =>
      renderContainerJob({ ...base, sbatchFields, image: "ghcr.io/org/train:1", command: ["a0"], containerRuntime: runtime, containerArgs }).split("\n").find((l) => l.startsWith("srun"))!;
    for (const fields of [{ gres: "gpu:8" }, { gpus_per_node: 2 }, { gres: "GPU:1" }]) assert.match(srun(fields, "apptainer"), / apptainer exec --nv /);
    assert.doesNotMatch(srun({}, "apptainer"), /--nv/);
    assert.doesNotMatch(srun({ gres: "gpu:8" }, "pyxis"), /--nv/);
    const amd = srun({ gres: "gpu:8" }, "apptainer", ["--rocm"]);
    assert.match(amd, / apptainer exec --rocm docker:\/\/ghcr.io\/org\/train:1 /);
    assert.doesNotMatch(amd, /--nv/);
    assert.match(srun({}, "pyxis", ["--container-remap-root"]), /--container-image=ghcr.io#org\/train:1' --container-remap-root bash/);
  });

  test("unknown runtime and an empty command are refused", () => {
    assert.throws(() => renderContainerJob({ ...base, image: "x", command: ["a0"], containerRuntime: "docker" }), /Unknown container_runtime "docker"/);
    assert.throws(() => renderContainerJob({ ...base, image: "x", command: [] }), /non-empty command/);
  });

  test("input and output variable names, and the references a script makes", () => {
    assert.equal(inputEnvName("epochs"), "FLYTE_INPUT_EPOCHS");
    assert.equal(inputEnvName("my-in.put é"), "FLYTE_INPUT_MY_IN_PUT__");
    assert.equal(outputEnvName("my-out"), "FLYTE_OUTPUT_MY_OUT");
    const refs = (s: string) => [...s.matchAll(OUTPUT_REFERENCE)].map((m) => m[1]);
    assert.deepEqual(refs('cp x "$FLYTE_OUTPUT_A"; cp y "${FLYTE_OUTPUT_B}" "${FLYTE_OUTPUT_C:-/tmp}"'), ["FLYTE_OUTPUT_A", "FLYTE_OUTPUT_B", "FLYTE_OUTPUT_C"]);
    assert.deepEqual(refs("# writes FLYTE_OUTPUT_SUMMARY later\n${FLYTE_OUTPUT_${kind^^}}"), []);
  });
});
