import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { apply, Branch, Chain, registerEngine, Step, type RowResult } from "../../src/index.js";
import { startSimulator, type Simulator } from "../../src/sim/index.js";

let simulator: Simulator;
const Question = z.object({ text: z.string() });
const Answer = z.object({ answer: z.string(), confidence: z.number().min(0).max(1) });

beforeAll(async () => {
  simulator = await startSimulator({ port: 0, profile: "instant", model: "sim-model" });
  registerEngine({ name: "sim", backend: "vllm_api", model: "sim-model", endpoint: `${simulator.url}/v1` });
});
afterAll(async () => simulator.close());

async function collect(chain: Chain, inputs: unknown[]): Promise<Map<string, RowResult>> {
  const results = new Map<string, RowResult>();
  for await (const result of chain.run(inputs, { concurrency: 8, batchSize: 4 })) {
    expect(results.has(result.rowId)).toBe(false);
    results.set(result.rowId, result);
  }
  return results;
}

describe("chain.run", () => {
  it("answers every row with schema-valid output through an LLM step", async () => {
    const qa = new Step({ id: "qa", inputModel: Question, outputModel: Answer, engineName: "sim", userPrompt: "Q: {{text}}" });
    const results = await collect(new Chain({ name: "qa", steps: [qa] }), Array.from({ length: 40 }, (_, i) => ({ text: `q${i}` })));
    expect(results.size).toBe(40);
    for (const result of results.values()) {
      expect(result.status).toBe("ok");
      if (result.status === "ok") expect(Answer.safeParse(result.output).success).toBe(true);
    }
  });

  it("keeps row identity through map, filter and fan-out, row by row", async () => {
    const double = apply((input: { n: number }) => ({ n: input.n * 2 }), { id: "double" });
    const dropOdd = apply((input: { n: number }, context) => ((context.chain_input as { n: number }).n % 3 === 0 ? null : input), { id: "drop" });
    const split = apply((input: { n: number }) => Array.from({ length: input.n % 4 }, (_, k) => ({ part: k, of: input.n })), { id: "split", fanOut: true });
    const results = await collect(new Chain({ name: "shapes", steps: [double, dropOdd, split] }), Array.from({ length: 12 }, (_, n) => ({ n })));
    for (let n = 0; n < 12; n++) {
      const doubled = n * 2;
      if (n % 3 === 0) {
        expect(results.get(String(n))).toEqual({ status: "filtered", rowId: String(n), input: { n }, node: "drop", usage: { inputTokens: 0, outputTokens: 0, latencyMs: expect.any(Number) as unknown } });
        continue;
      }
      const parts = doubled % 4;
      if (parts === 0) expect(results.get(String(n))).toMatchObject({ status: "filtered", node: "split" });
      for (let k = 0; k < parts; k++) {
        expect(results.get(`${n}.${k}`)).toMatchObject({ status: "ok", output: { part: k, of: doubled }, outputs: { double: { n: doubled } } });
      }
    }
  });

  it("runs branches on the same row and merges joins by alias", async () => {
    const seen: string[] = [];
    const upper = new Branch({ name: "upper", steps: [apply((input: { text: string }) => ({ value: input.text.toUpperCase() }), { id: "up" })] }).join("u");
    const length = new Branch({ name: "length", steps: [apply(async (input: { text: string }) => {
      await Promise.resolve();
      return { value: input.text.length };
    }, { id: "len" })] }).join("l");
    const side = new Branch({ name: "side", steps: [apply((input: { text: string }) => (seen.push(input.text), { logged: true }), { id: "log" })] });
    const merge = apply((_input: unknown, context) => ({ combined: `${(context.u as { value: string }).value}:${(context.l as { value: number }).value}` }), { id: "merge" });
    const results = await collect(new Chain({ name: "join", steps: [[upper, length, side], merge] }), [{ text: "ab" }, { text: "xyz" }]);
    expect(results.get("0")).toMatchObject({ status: "ok", output: { combined: "AB:2" }, outputs: { up: { value: "AB" }, len: { value: 2 } } });
    expect(results.get("1")).toMatchObject({ status: "ok", output: { combined: "XYZ:3" } });
    expect(seen.sort()).toEqual(["ab", "xyz"]);
  });

  it("turns a failing row into a result without disturbing its neighbours", async () => {
    const fragile = apply((input: { n: number }) => {
      if (input.n === 5) throw new Error("five is unlucky");
      return { n: input.n };
    }, { id: "fragile" });
    const qa = new Step({ id: "qa", outputModel: Answer, engineName: "sim", userPrompt: "{{fragile.n}}" });
    const inputs: unknown[] = Array.from({ length: 10 }, (_, n) => ({ n }));
    inputs[7] = "not an object";
    const results = await collect(new Chain({ name: "fragile", steps: [fragile, qa] }), inputs);
    expect(results.get("5")).toMatchObject({ status: "failed", node: "fragile", error: { type: "APPLY_FAILED", message: "Error: five is unlucky" } });
    expect(results.get("7")).toMatchObject({ status: "failed", node: "input", error: { type: "INPUT_ROW" } });
    for (const n of [0, 1, 2, 3, 4, 6, 8, 9]) expect(results.get(String(n))?.status).toBe("ok");
  });

  it("carries each row's id, input, typed output, usage and failure, as generateObject does for one call", async () => {
    const qa = new Step({ id: "qa", inputModel: Question, outputModel: Answer, engineName: "sim", userPrompt: "Q: {{text}}", maxRepairs: 0 });
    const chain = new Chain({ name: "carried", steps: [qa] }).pipe(apply((answer) => ({ words: answer.answer.split(" ").length }), { id: "words" }));
    const ok = [];
    for await (const result of chain.run([{ text: "first" }, { text: "second" }], { concurrency: 2 })) ok.push(result);
    expect(ok.map((result) => result.rowId).sort()).toEqual(["0", "1"]);
    for (const result of ok) {
      if (result.status !== "ok") throw new Error(`row ${result.rowId} did not succeed: ${JSON.stringify(result)}`);
      expect(result.input).toEqual({ text: result.rowId === "0" ? "first" : "second" });
      expect(result.output.words).toBeGreaterThan(0);
      expect(result.outputs.qa).toMatchObject({ answer: expect.any(String) as unknown });
      expect(result.usage.inputTokens).toBeGreaterThan(0);
      expect(result.usage.outputTokens).toBeGreaterThan(0);
      expect(result.usage.latencyMs).toBeGreaterThan(0);
    }

    simulator.setFaults({ invalidJson: 1 });
    try {
      const byId = new Map<string, RowResult>();
      // A row that is not an object is typed out (the chain takes { text }), yet fails as a value when it comes.
      const inputs = [{ text: "third" }, "no object" as unknown as { text: string }];
      for await (const result of new Chain({ name: "failing", steps: [qa] }).run(inputs, { batchSize: 2 })) byId.set(result.rowId, result);
      const bad = byId.get("0");
      if (bad?.status !== "failed") throw new Error(`expected row 0 to fail, got ${JSON.stringify(bad)}`);
      expect(bad).toMatchObject({ input: { text: "third" }, node: "qa", error: { type: "SCHEMA_MISMATCH", attempts: 1, rawText: expect.any(String) as unknown } });
      // The failing asking's tokens were spent: the result says so.
      expect(bad.usage.inputTokens).toBeGreaterThan(0);
      expect(bad.usage.outputTokens).toBeGreaterThan(0);
      expect(byId.get("1")).toMatchObject({ status: "failed", input: "no object", node: "input", error: { type: "INPUT_ROW" }, usage: { inputTokens: 0, outputTokens: 0 } });
    } finally {
      simulator.setFaults({});
    }
  });

  it("keeps what an apply's outputModel parsed (coercions, defaults, stripped keys)", async () => {
    const model = z.object({ n: z.coerce.number(), tag: z.string().default("none") });
    const parse = apply((input: { raw: string }) => ({ n: input.raw, extra: true }), { id: "parse", outputModel: model });
    const results = await collect(new Chain({ name: "parsed", steps: [parse] }), [{ raw: "41" }]);
    expect(results.get("0")).toMatchObject({ status: "ok", output: { n: 41, tag: "none" } });
    expect(results.get("0")?.status === "ok" && results.get("0")).not.toHaveProperty("output.extra");
  });

  it("validates an apply's inputModel, so a chain of applies can declare its input", async () => {
    const Numbers = z.object({ n: z.number().int() });
    const double = apply((input: z.infer<typeof Numbers>) => ({ doubled: input.n * 2 }), { id: "double", inputModel: Numbers });
    const chain = new Chain({ name: "typed-apply", steps: [double] });
    const results = await collect(chain, [{ n: 2 }, { n: "two" }, { n: 1.5 }]);
    expect(results.get("0")).toMatchObject({ status: "ok", output: { doubled: 4 } });
    expect(results.get("1")).toMatchObject({ status: "failed", node: "double", error: { type: "INPUT_ROW" } });
    const bad = results.get("2");
    expect(bad?.status === "failed" && bad.error.message).toContain("field `n`");
  });

  it("fails a row whose input does not match the inputModel, naming the field", async () => {
    const qa = new Step({ id: "qa", inputModel: Question, outputModel: Answer, engineName: "sim", userPrompt: "{{text}}" });
    const results = await collect(new Chain({ name: "typed", steps: [qa] }), [{ text: "fine" }, { text: 42 }]);
    expect(results.get("0")?.status).toBe("ok");
    const bad = results.get("1");
    expect(bad).toMatchObject({ status: "failed", node: "qa", error: { type: "INPUT_ROW" } });
    expect(bad?.status === "failed" && bad.error.message).toContain("field `text`");
  });

  it("re-asks when the reply is not valid JSON and records the raw text when it never is", async () => {
    simulator.setFaults({ invalidJson: 1 });
    try {
      const qa = new Step({ id: "qa", outputModel: Answer, engineName: "sim", userPrompt: "{{text}}", maxRepairs: 1 });
      const results = await collect(new Chain({ name: "repair", steps: [qa] }), [{ text: "a" }]);
      expect(results.get("0")).toMatchObject({ status: "failed", error: { type: "SCHEMA_MISMATCH", attempts: 2 } });
    } finally {
      simulator.setFaults({});
    }
  });
});
