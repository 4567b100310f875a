/** `run --dry-run N` and `run --estimate N`: the real CLI against the simulator; OUTDIR never created. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEnginesYaml } from "../../src/engines/engines-yaml.js";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { questionLines, runCli } from "../helpers/cli.js";

const qaChain = "test/fixtures/chains/qa-chain.ts";
const twoSteps = "test/fixtures/chains/two-step-chain.ts";
let simulator: Simulator;
let work: string;
let input: string;
let env: Record<string, string>;

beforeAll(async () => {
  simulator = await startSimulator({ port: 0, profile: "instant", model: "sim-model" });
  work = mkdtempSync(join(tmpdir(), "preview-"));
  input = join(work, "questions.jsonl");
  writeFileSync(input, questionLines(40));
  env = { SIM_URL: simulator.url };
});
afterAll(async () => {
  await simulator.close();
  rmSync(work, { recursive: true, force: true });
});

function allRequests(): number {
  return Object.values(simulator.stats().requests).reduce((sum: number, count) => sum + (count ?? 0), 0);
}
function chatRequests(): number {
  return simulator.stats().requests["/v1/chat/completions"] ?? 0;
}

describe("run --dry-run", () => {
  it("prints row 0's messages and the step's response_format, sends nothing and creates no OUTDIR", async () => {
    const out = join(work, "dry");
    const before = allRequests();
    const result = await runCli(["run", qaChain, "-i", input, "-o", out, "--dry-run", "2"], { env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("== row 0\n-- qa system:\n    Answer briefly.\n-- qa user:\n    Question: Question number 0: why is 0 interesting?\n");
    expect(result.stdout).toContain("== row 1\n");
    expect(result.stdout).not.toContain("== row 2\n");
    expect(result.stdout).toContain('"type": "json_schema"');
    expect(result.stdout).toContain('"confidence"');
    expect(result.stdout).toContain('"max_tokens": 64');
    expect(allRequests()).toBe(before);
    expect(existsSync(out)).toBe(false);
  });

  it("names the step whose prompt needs an earlier output, and prints one JSON object with --json-logs", async () => {
    const out = join(work, "dry-two");
    const before = allRequests();
    const text = await runCli(["run", twoSteps, "-i", input, "-o", out, "--dry-run", "1"], { env });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain("-- qa user:\n    Question: Question number 0: why is 0 interesting?\n");
    expect(text.stdout).toContain("-- summarise: needs the output of `qa` (not rendered: that takes the model)");
    const json = await runCli(["run", twoSteps, "-i", input, "--dry-run", "1", "--json-logs"], { env });
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { type: string; steps: { id: string; after: string[] }[]; rows: { rowId: string; prompts: { step: string; messages?: { role: string; content: string }[] }[] }[] };
    expect(report.type).toBe("dry-run");
    expect(report.steps.map((step) => [step.id, step.after])).toEqual([["qa", []], ["summarise", ["qa"]]]);
    expect(report.rows[0]?.prompts[0]?.messages).toEqual([{ role: "user", content: "Question: Question number 0: why is 0 interesting?" }]);
    expect(report.rows[0]?.prompts[1]?.messages).toBeUndefined();
    expect(allRequests()).toBe(before);
    expect(existsSync(out)).toBe(false);
  });
});

describe("run --estimate", () => {
  it("sends exactly the sample's requests, projects tokens, time and cost for every row, writes nothing", async () => {
    const engines = join(work, "engines.yaml");
    writeFileSync(engines, `engines:\n  - name: sim\n    backend: vllm_api\n    model: sim-model\n    endpoint: ${simulator.url}/v1\n    price_per_million_input_tokens: 2000\n    price_per_million_output_tokens: 8000\n`);
    const out = join(work, "estimate");
    const before = chatRequests();
    const result = await runCli(["run", qaChain, "-i", input, "-o", out, "--engines", engines, "--estimate", "8", "--json-logs"], { env });
    expect(result.code, result.stderr).toBe(0);
    expect(chatRequests() - before).toBe(8);
    expect(existsSync(out)).toBe(false);
    const report = JSON.parse(result.stdout) as { sampleRows: number; totalRows: number; projectedSeconds: number; cost: number; engines: { engine: string; sample: { inputTokens: number; outputTokens: number }; projected: { inputTokens: number; outputTokens: number }; cost: number }[] };
    expect(report.sampleRows).toBe(8);
    expect(report.totalRows).toBe(40);
    const sim = report.engines[0];
    expect(sim?.engine).toBe("sim");
    expect(sim?.sample.inputTokens).toBeGreaterThan(0);
    expect(sim?.projected).toEqual({ inputTokens: Math.round((sim?.sample.inputTokens ?? 0) * 5), outputTokens: Math.round((sim?.sample.outputTokens ?? 0) * 5) });
    expect(report.cost).toBeCloseTo(((sim?.projected.inputTokens ?? 0) * 2000 + (sim?.projected.outputTokens ?? 0) * 8000) / 1e6, 6);
    expect(report.projectedSeconds).toBeGreaterThan(0);

    const text = await runCli(["run", qaChain, "-i", input, "-o", out, "--engines", engines, "--estimate", "4"], { env });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain("Estimate from a sample of 4 rows");
    expect(text.stdout).toContain("Input rows: 40");
    expect(text.stdout).toMatch(/sim \(sim-model\): \d+ input \+ \d+ output tokens, cost [\d.]+/);
    expect(text.stdout).toMatch(/Projected cost: [\d.]+/);
    expect(text.stdout).toMatch(/Projected time: .* rows\/s .*rough projection/);
    expect(existsSync(out)).toBe(false);
  });

  it("validates the price fields like the other engine fields", () => {
    const base = "engines:\n  - name: a\n    backend: openai\n    model: m\n";
    expect(parseEnginesYaml(`${base}    price_per_million_input_tokens: 0.15\n    price_per_million_output_tokens: 0.6\n`)[0]).toMatchObject({ pricePerMillionInputTokens: 0.15, pricePerMillionOutputTokens: 0.6 });
    expect(() => parseEnginesYaml(`${base}    price_per_million_input_tokens: -1\n`)).toThrow(/price_per_million_input_tokens.*>= 0/);
  });
});
