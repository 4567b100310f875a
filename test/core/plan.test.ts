import { describe, expect, it } from "vitest";
import { z } from "zod";
import { apply, Branch, Chain, Step } from "../../src/index.js";
import { buildPlan } from "../../src/core/plan.js";
import { ChainetteError } from "../../src/errors.js";

const Question = z.object({ text: z.string() });
const Answer = z.object({ answer: z.string(), confidence: z.number() });
const engines = new Set(["llama3"]);

const step = (id: string, userPrompt: string, extra: Partial<ConstructorParameters<typeof Step>[0]> = {}) =>
  new Step({ id, outputModel: Answer, engineName: "llama3", userPrompt, ...extra });

function problemsOf(chain: Chain, engineNames = engines): string {
  try {
    buildPlan(chain, { engineNames });
  } catch (error) {
    expect(error).toBeInstanceOf(ChainetteError);
    expect((error as ChainetteError).code).toBe("CHAIN_INVALID");
    return (error as Error).message;
  }
  throw new Error("expected the chain to be invalid");
}

describe("buildPlan", () => {
  it("accepts a valid chain and exposes nodes in row order with fingerprints", () => {
    const chain = new Chain({ name: "ok", steps: [step("qa", "Q: {{text}}", { inputModel: Question }), apply((a: { answer: string }) => a, { id: "keep" })] });
    const plan = buildPlan(chain, { engineNames: engines });
    expect(plan.nodes.map((n) => n.id)).toEqual(["qa", "keep"]);
    expect(plan.nodes[0]?.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(plan.inputSchema).toMatchObject({ properties: { text: { type: "string" } } });
  });

  it("reports every problem at once", () => {
    const chain = new Chain({
      name: "bad",
      steps: [
        step("qa", "Q: {{txt}} {{chain_input.text}}", { inputModel: Question }),
        step("qa", "again"),
        step("flattened", "reserved"),
        step("judge", "{{qa.answr}}", { engineName: "gpt9" }),
        step("bad.id", "x"),
      ],
    });
    const message = problemsOf(chain);
    expect(message).toContain("{{txt}}");
    expect(message).not.toContain("{{chain_input.text}}");
    expect(message).toContain("id `qa` is used twice");
    expect(message).toContain("id `flattened` is reserved");
    expect(message).toContain("engine `gpt9` is not declared");
    expect(message).toContain("{{qa.answr}}");
    expect(message).toContain("id `bad.id` must match");
    expect(message.split("\n  - ").length - 1).toBe(6);
  });

  it("finds type mismatches between an inputModel and what reaches it", () => {
    const chain = new Chain({
      name: "types",
      steps: [
        step("qa", "{{text}}", { inputModel: Question }),
        step("next", "{{qa.answer}}", { inputModel: z.object({ answer: z.number(), missing: z.string() }) }),
      ],
    });
    const message = problemsOf(chain);
    expect(message).toContain("field `answer` (number), got string");
    expect(message).toContain("field `missing` (string)");
  });

  it("lets later nodes read join aliases but not side branches or siblings", () => {
    // A typed chain input (the first steps' inputModel) makes unknown top-level names provably wrong.
    const fr = new Branch({ name: "fr", steps: [step("to_fr", "{{text}}", { inputModel: Question })] }).join("fr");
    const es = new Branch({ name: "es", steps: [step("to_es", "{{text}} {{to_fr.answer}}", { inputModel: Question })] }).join("es");
    const side = new Branch({ name: "side", steps: [step("audit", "{{text}}", { inputModel: Question })] });
    const chain = new Chain({
      name: "branches",
      steps: [[fr, es, side], step("agg", "{{fr.answer}} {{es.confidence}} {{to_fr.answer}} {{audit.answer}}")],
    });
    const message = problemsOf(chain, engines);
    // A sibling's output is not visible inside a branch, a side branch's not after the group.
    expect(message).toContain("step `to_es` userPrompt names {{to_fr.answer}}");
    expect(message).toContain("step `agg` userPrompt names {{audit.answer}}");
    expect(message).not.toContain("{{fr.answer}}");
    expect(message).not.toContain("{{es.confidence}}");
  });

  it("reserves row_id in output models", () => {
    const chain = new Chain({ name: "ids", steps: [new Step({ id: "qa", outputModel: z.object({ row_id: z.string() }), engineName: "llama3", userPrompt: "x" })] });
    expect(problemsOf(chain)).toContain("outputModel has a field `row_id`");
  });

  it("rejects fan-out inside a branch and unknown elements", () => {
    const branch = new Branch({ name: "b", steps: [apply(() => [1, 2], { id: "split", fanOut: true })] }).join("b");
    const chain = new Chain({ name: "fan", steps: [[branch], "nonsense" as never] });
    const message = problemsOf(chain);
    expect(message).toContain("fanOut is not allowed inside branch `b`");
    expect(message).toContain("expected a Step, an apply node or an array of Branches, got string");
  });

  it("types the chain input from a first apply's inputModel", () => {
    const first = apply((row: { text: string }) => row, { id: "prep", inputModel: Question });
    const plan = buildPlan(new Chain({ name: "typed", steps: [first, step("qa", "{{text}}")] }), { engineNames: engines });
    expect(plan.inputSchema).toMatchObject({ properties: { text: { type: "string" } } });
    const wrong = new Chain({ name: "typo", steps: [first, step("qa", "{{txt}}")] });
    expect(problemsOf(wrong)).toContain("{{txt}}");
  });

  it("cannot check paths under an untyped apply, so it allows them", () => {
    const chain = new Chain({ name: "untyped", steps: [apply((row: object) => ({ ...row, n: 1 }), { id: "prep" }), step("qa", "{{prep.anything}} {{whatever}}")] });
    expect(() => buildPlan(chain, { engineNames: engines })).not.toThrow();
  });

  it("changes a node's fingerprint when its prompt changes, and only that node's", () => {
    const a = buildPlan(new Chain({ name: "c", steps: [step("qa", "{{text}}", { inputModel: Question }), step("j", "{{qa.answer}}")] }));
    const b = buildPlan(new Chain({ name: "c", steps: [step("qa", "Q: {{text}}", { inputModel: Question }), step("j", "{{qa.answer}}")] }));
    expect(a.nodes[0]?.fingerprint).not.toBe(b.nodes[0]?.fingerprint);
    expect(a.nodes[1]?.fingerprint).toBe(b.nodes[1]?.fingerprint);
    expect(a.fingerprint).not.toBe(b.fingerprint);
  });
});
