/**
 * Chains on a `llamacpp` engine through the real CLI, on a GGUF model written by the test
 * (test/helpers/tiny-gguf.ts): end to end, SIGKILL and resume exactly once, a model that makes
 * llama.cpp abort, numbers too large for a double, and node-llama-cpp not installed.
 */
import { execFileSync, spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { questionLines, readShards, repoRoot, runCli, startCli } from "../helpers/cli.js";
import { checkExactlyOnce } from "../helpers/exactly-once.js";
import { lineCount, waitFor } from "../helpers/wait-for.js";
import { writeTinyGguf } from "../helpers/tiny-gguf.js";

const chainFile = "test/fixtures/chains/llamacpp-chain.ts";
const Verdict = z.object({ label: z.enum(["fact", "opinion", "question"]), score: z.number(), certain: z.boolean() });
const workerScript = join(repoRoot, "dist/engines/llamacpp-worker.js");
let work: string;
let model: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "llamacpp-run-"));
  model = join(work, "tiny.gguf");
  writeTinyGguf(model);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function input(rows: number): string {
  const path = join(work, `questions-${rows}.jsonl`);
  writeFileSync(path, questionLines(rows));
  return path;
}

/**
 * This file's runs' worker processes still alive: this checkout's built worker, started by a CLI
 * whose environment names a model of this file's temp folder (other test files run workers too).
 */
function liveWorkers(): string[] {
  return execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes(workerScript))
    .filter((line) => {
      try {
        return readFileSync(`/proc/${line.trim().split(" ")[0]}/environ`, "utf8").includes(`LLAMACPP_MODEL=${work}`);
      } catch {
        return false; // gone meanwhile
      }
    });
}

describe("llamacpp runs", () => {
  it("runs a schema step and a text step end to end; every output matches its schema", async () => {
    const out = join(work, "e2e");
    const result = await runCli(["run", chainFile, "-i", input(20), "-o", out, "--quiet"], { env: { LLAMACPP_MODEL: model } });
    expect(result.code, result.stderr).toBe(0);
    const rows = readShards(out, "flattened");
    expect(rows).toHaveLength(20);
    expect(readShards(out, "errors")).toEqual([]);
    for (const row of rows) {
      expect(Verdict.safeParse({ label: row["classify.label"], score: row["classify.score"], certain: row["classify.certain"] }).success, JSON.stringify(row)).toBe(true);
      expect(typeof row["answer.answer"]).toBe("string");
    }
    const graph = JSON.parse(readFileSync(join(out, "graph.json"), "utf8")) as { engines: { name: string; backend: string; model: string }[] };
    expect(graph.engines).toEqual([expect.objectContaining({ name: "tiny", backend: "llamacpp", model })]);
    expect(liveWorkers()).toEqual([]);
  }, 60_000);

  it("SIGKILLed mid-run: no worker is left behind, and the resume writes every row exactly once", async () => {
    const rows = 50;
    const out = join(work, "killed");
    const args = ["run", chainFile, "-i", input(rows), "-o", out, "--max-lines-per-file", "10", "--quiet"];
    const { child, done } = startCli(args, { env: { LLAMACPP_MODEL: model } });
    // Killed once some rows are committed and others are in flight.
    await waitFor(() => lineCount(join(out, "answer", "000.jsonl")) >= 5, "the first committed rows");
    child.kill("SIGKILL");
    expect((await done).signal).toBe("SIGKILL");
    // The worker sees its IPC channel close and exits.
    await waitFor(() => liveWorkers().length === 0, "the orphaned worker to exit");
    const partial = checkExactlyOnce(out, ["classify", "answer"]);
    expect(partial.rootIds.size).toBeLessThan(rows);

    const resumed = await runCli(args, { env: { LLAMACPP_MODEL: model } });
    expect(resumed.code, resumed.stderr).toBe(0);
    const all = checkExactlyOnce(out, ["classify", "answer"]);
    expect(all.rootIds.size).toBe(rows);
    expect(readShards(out, "errors")).toEqual([]);
  }, 90_000);

  it("a GGUF that makes llama.cpp abort: a clear error naming the file, the run stops cleanly (exit 2)", async () => {
    const broken = join(work, "no-head-count.gguf");
    writeTinyGguf(broken, { omitKeys: ["llama.attention.head_count"] });
    const out = join(work, "broken");
    const result = await runCli(["run", chainFile, "-i", input(5), "-o", out], { env: { LLAMACPP_MODEL: broken } });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(`could not load the model ${broken}: the worker process was killed by SIGABRT`);
    expect(result.stderr).toContain("GGML_ASSERT");
    expect(readShards(out, "flattened")).toEqual([]);
  }, 60_000);

  it("a number too large for a double (13e7787...) is an invalid reply, never written as null", async () => {
    const huge = join(work, "huge-numbers.gguf");
    // Exponents favoured, digits long: the grammar allows any exponent.
    writeTinyGguf(huge, { bias: { e: 7, '"': 8, "0123456789": 4.5 } });
    const out = join(work, "huge");
    const result = await runCli(["run", chainFile, "-i", input(6), "-o", out, "--quiet"], { env: { LLAMACPP_MODEL: huge, LLAMACPP_MAX_TOKENS: "200" } });
    expect(result.code, result.stderr).toBe(0);
    const errors = readShards(out, "errors") as { node: string; error: { message: string }; raw?: string }[];
    expect(errors.length).toBeGreaterThan(0);
    for (const error of errors) {
      expect(error.node).toBe("classify");
      expect(error.error.message).toContain("reply has a number too large for a 64-bit float at $.score");
      expect(error.raw).toMatch(/"score":\d+e\d{4,}/);
    }
    for (const row of readShards(out, "flattened")) expect(typeof row["classify.score"]).toBe("number");
  }, 60_000);

  it("without node-llama-cpp installed: ENGINE_CONFIG saying to npm install it", async () => {
    // An installed package without the optional dependency: the built package, the chain, and every
    // dependency but node-llama-cpp.
    const app = join(work, "no-llama");
    mkdirSync(join(app, "node_modules"), { recursive: true });
    cpSync(join(repoRoot, "dist"), join(app, "dist"), { recursive: true });
    cpSync(join(repoRoot, "package.json"), join(app, "package.json"));
    cpSync(join(repoRoot, chainFile), join(app, "chain.ts"));
    for (const entry of readdirSync(join(repoRoot, "node_modules"))) {
      if (entry === "node-llama-cpp" || entry === "@node-llama-cpp" || entry === ".bin") continue;
      symlinkSync(join(repoRoot, "node_modules", entry), join(app, "node_modules", entry));
    }
    const child = spawn(process.execPath, [join(app, "dist/cli/main.js"), "run", join(app, "chain.ts"), "-i", input(5), "-o", join(app, "out"), "--quiet"], {
      cwd: app,
      env: { ...process.env, LLAMACPP_MODEL: model },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code, stderr).toBe(2);
    expect(stderr).toContain("needs node-llama-cpp, an optional dependency that is not installed: run `npm install node-llama-cpp`");
  }, 60_000);
});
