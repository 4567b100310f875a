import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { questionLines, readShards, runCli } from "../helpers/cli.js";

const chainFile = "test/fixtures/chains/qa-chain.ts";
let simulator: Simulator;
let work: string;
let env: Record<string, string>;

beforeAll(async () => {
  simulator = await startSimulator({ port: 0, profile: "instant", model: "sim-model" });
  work = mkdtempSync(join(tmpdir(), "cli-"));
  env = { SIM_URL: simulator.url };
});
afterAll(async () => {
  await simulator.close();
  rmSync(work, { recursive: true, force: true });
});

function chatRequests(sim: Simulator): number {
  return sim.stats().requests["/v1/chat/completions"] ?? 0;
}

function rowIdsOf(records: Record<string, unknown>[]): string[] {
  return records.map((record) => String(record.row_id));
}

describe("chainette-stream run", () => {
  it("writes every node's shards, flattened records and a summary, each row once", async () => {
    const input = join(work, "questions.jsonl");
    writeFileSync(input, questionLines(300) + "{not json\n" + JSON.stringify({ text: 5 }) + "\n");
    const out = join(work, "out-basic");
    const result = await runCli(["run", chainFile, "-i", input, "-o", out, "--max-lines-per-file", "70", "--quiet"], { env });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);

    const qa = readShards(out, "qa");
    expect(new Set(rowIdsOf(qa)).size).toBe(300);
    expect(readdirSync(join(out, "qa")).sort()).toEqual(["000.jsonl", "001.jsonl", "002.jsonl", "003.jsonl", "004.jsonl"]);
    const flattened = readShards(out, "flattened");
    const errors = readShards(out, "errors");
    const roots = new Set([...flattened, ...errors].map((record) => String(record.row_id).split(".")[0]));
    const filtered = Array.from({ length: 300 }, (_, i) => i).filter((i) => `Question number ${i}:`.includes("7:"));
    expect(roots.size + filtered.length).toBe(302);
    expect(new Set(rowIdsOf([...flattened, ...errors])).size).toBe(flattened.length + errors.length);

    expect(errors.map((e) => [e.row_id, (e.error as { type: string }).type])).toEqual([["300", "INPUT_ROW"], ["301", "INPUT_ROW"]]);
    expect(String((errors[0]?.error as { message: string }).message)).toMatch(/line 301|JSON/i);
    expect(String((errors[1]?.error as { message: string }).message)).toContain("field `text`");

    const sample = flattened.find((record) => record.row_id === "1.0");
    expect(sample).toMatchObject({ row_id: "1.0", text: "Question number 1: why is 1 interesting?", "split.part": 0 });
    expect(typeof sample?.["qa.answer"]).toBe("string");
    expect(typeof sample?.["count.count"]).toBe("number");

    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as { status: string; rows: { in: number; ok: number; failed: number; filtered: number }; nodes: Record<string, { latency_ms: { p50: number } }> };
    expect(summary.status).toBe("complete");
    expect(summary.rows).toEqual({ in: 302, ok: flattened.length, failed: 2, filtered: filtered.length });
    expect(Object.keys(summary.nodes).sort()).toEqual(["count", "keep", "qa", "split"]);

    const graph = JSON.parse(readFileSync(join(out, "graph.json"), "utf8")) as { nodes: { id: string; fingerprint: string }[]; engines: { name: string }[] };
    expect(graph.nodes.map((node) => node.id)).toEqual(["qa", "count", "keep", "split"]);
    expect(graph.engines.map((engine) => engine.name)).toEqual(["sim"]);

    const inspect = await runCli(["inspect", out]);
    expect(inspect.code).toBe(0);
    expect(inspect.stdout).toContain("complete");
    expect(inspect.stdout).toContain("input INPUT_ROW: 1");
    expect(inspect.stdout).toContain("qa INPUT_ROW: 1");
  });

  it("resumes a finished run without sending a request, and refuses a changed chain (with --no-cache) unless --fresh", async () => {
    const input = join(work, "small.jsonl");
    writeFileSync(input, questionLines(20));
    const out = join(work, "out-resume");
    expect((await runCli(["run", chainFile, "-i", input, "-o", out, "--quiet"], { env })).code).toBe(0);
    const before = chatRequests(simulator);
    expect(before).toBeGreaterThanOrEqual(20);
    const again = await runCli(["run", chainFile, "-i", input, "-o", out, "--quiet"], { env });
    expect(again.code).toBe(0);
    expect(chatRequests(simulator)).toBe(before);
    expect(readShards(out, "qa")).toHaveLength(20);

    const changed = await runCli(["run", chainFile, "-i", input, "-o", out, "--quiet", "--no-cache"], { env: { ...env, QA_PROMPT: "Q: {{text}}" } });
    expect(changed.code).toBe(2);
    expect(changed.stderr).toContain("node `qa` changed");
    expect(changed.stderr).toContain("--fresh");
    // Rows appended are run (docs/cache.md); an edited row is refused.
    writeFileSync(input, questionLines(20).replace("Question number 3:", "Question number X:"));
    const grown = await runCli(["run", chainFile, "-i", input, "-o", out, "--quiet"], { env });
    expect(grown.code).toBe(2);
    expect(grown.stderr).toContain(`the input ${input} changed`);
    writeFileSync(input, questionLines(20));
    const fresh = await runCli(["run", chainFile, "-i", input, "-o", out, "--quiet", "--fresh"], { env: { ...env, QA_PROMPT: "Q: {{text}}" } });
    expect(fresh.code).toBe(0);
    expect(readShards(out, "qa")).toHaveLength(20);
  });

  it("reads JSONL from stdin with --limit and --columns", async () => {
    const out = join(work, "out-stdin");
    const lines = Array.from({ length: 30 }, (_, i) => JSON.stringify({ question: `q ${i}`, other: i })).join("\n");
    const result = await runCli(["run", chainFile, "-i", "-", "-o", out, "--limit", "12", "--columns", "text=question", "--quiet"], { env, input: lines });
    expect(result.code).toBe(0);
    const qa = readShards(out, "qa");
    expect(rowIdsOf(qa).map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    const flattened = readShards(out, "flattened");
    expect(flattened[0]).not.toHaveProperty("other");
    expect(flattened[0]).toHaveProperty("text");
  });

  it("never writes an API key to a file or a log", async () => {
    const input = join(work, "secret.jsonl");
    writeFileSync(input, questionLines(5));
    const out = join(work, "out-secret");
    const secret = "sk-test-DO-NOT-LEAK-4242";
    const result = await runCli(["run", chainFile, "-i", input, "-o", out, "--json-logs"], { env: { ...env, SIM_API_KEY_ENV: "SIM_KEY", SIM_KEY: secret } });
    expect(result.code).toBe(0);
    expect(result.stdout + result.stderr).not.toContain(secret);
    for (const file of ["graph.json", "summary.json", "ledger.sqlite"]) expect(readFileSync(join(out, file)).includes(secret)).toBe(false);
    expect(readFileSync(join(out, "graph.json"), "utf8")).toContain("SIM_KEY");
  });

  it("exits 2 with every problem of an invalid chain, before any request", async () => {
    const result = await runCli(["inspect-dag", "test/fixtures/chains/invalid-chain.ts"], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("{{qa.answr}}");
    expect(result.stderr).toContain("engine `nope` is not declared");
    const valid = await runCli(["inspect-dag", chainFile], { env });
    expect(valid.code).toBe(0);
    expect(valid.stdout).toContain("step qa [sim: sim-model]");
    expect(valid.stdout).toContain("branch words");
  });

  it("exits 2 on an unreadable input and on bad options", async () => {
    const missing = await runCli(["run", chainFile, "-i", join(work, "nope.jsonl"), "-o", join(work, "x")], { env });
    expect(missing.code).toBe(2);
    const bad = await runCli(["run", chainFile, "-i", "-", "-o", join(work, "y"), "--concurrency", "0"], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("Expected `--concurrency` to be an integer >= 1, got `0`");
  });
});

describe("engine preflight", () => {
  it("refuses a model the endpoint does not serve, before any row becomes an error record", async () => {
    const other = await startSimulator({ port: 0, profile: "instant", model: "another-model" });
    try {
      const input = join(work, "preflight.jsonl");
      writeFileSync(input, questionLines(3));
      const out = join(work, "out-preflight");
      const result = await runCli(["run", chainFile, "-i", input, "-o", out, "--quiet"], { env: { SIM_URL: other.url } });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("does not serve model `sim-model` (it serves: another-model)");
      expect(chatRequests(other)).toBe(0);
      expect(readShards(out, "errors")).toHaveLength(0);
    } finally {
      await other.close();
    }
  });
});

describe("row identity", () => {
  it("keeps an input column named row_id apart from the row's identity", async () => {
    const input = join(work, "ids.jsonl");
    writeFileSync(input, `${JSON.stringify({ text: "Question number 1: hi", row_id: "theirs-1" })}\n${JSON.stringify({ text: "Question number 2: hi", row_id: 99 })}\n`);
    const out = join(work, "out-ids");
    const result = await runCli(["run", chainFile, "-i", input, "-o", out, "--quiet"], { env });
    expect(result.code, result.stderr).toBe(0);
    const flattened = readShards(out, "flattened");
    expect(flattened.map((record) => String(record.row_id).split(".")[0]).sort()).toEqual(["0", "1"]);
    expect(flattened.find((record) => String(record.row_id).startsWith("0."))).toMatchObject({ "chain_input.row_id": "theirs-1" });
  });
});
