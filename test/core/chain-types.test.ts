import { describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { apply } from "../../src/core/apply.js";
import { Branch } from "../../src/core/branch.js";
import { Chain, type RowResult, type RowUsage } from "../../src/core/chain.js";
import { Step } from "../../src/core/step.js";

const Question = z.object({ text: z.string() });
const Answer = z.object({ answer: z.string(), confidence: z.number() });
type Answer = z.infer<typeof Answer>;
const qa = new Step({ id: "qa", inputModel: Question, outputModel: Answer, engineName: "sim", userPrompt: "{{text}}" });

/** What `chain.run()` would yield for this chain (the run itself is in test/run/chain-run.test.ts). */
type ResultOf<C> = C extends Chain<infer Input, infer Output> ? RowResult<Input, Output> : never;

/**
 * Compile-time checks: `npx tsc -p tsconfig.json --noEmit` fails when a type below changes, and
 * when an error an `@ts-expect-error` line marks goes away.
 */
describe("Chain's types", () => {
  it("types results from the last node's schema and the input from the first node's model", () => {
    const chain = new Chain({ name: "qa", steps: [qa] });
    expectTypeOf(chain).toEqualTypeOf<Chain<{ text: string }, Answer>>();
    const result = {} as ResultOf<typeof chain>;
    if (result.status === "ok") {
      expectTypeOf(result.output.answer).toEqualTypeOf<string>();
      expectTypeOf(result.input).toEqualTypeOf<{ text: string }>();
      // @ts-expect-error: a typo in a field of the output model
      void result.output.answr;
    }
    if (result.status === "failed") expectTypeOf(result.error.rawText).toEqualTypeOf<string | undefined>();
    expectTypeOf(result.usage).toEqualTypeOf<RowUsage>();
    // @ts-expect-error: the input model wants `text`
    void chain.run([{ txt: "hello" }]);
    expect(chain.steps).toEqual([qa]);
  });

  it("types an apply's parameter from the Step before it, given to pipe, with no annotation", () => {
    const chain = new Chain({ name: "qa", steps: [qa] })
      .pipe(apply((answer) => ({ words: answer.answer.split(" ").length }), { id: "words" }))
      .pipe(apply((counted) => (counted.words > 1 ? counted : null), { id: "long" }));
    expectTypeOf(chain).toEqualTypeOf<Chain<{ text: string }, { words: number }>>();
    new Chain({ name: "qa", steps: [qa] }).pipe(apply((answer) => {
      // @ts-expect-error: the step's output has no `answr`
      void answer.answr;
      return answer;
    }, { id: "typo" }));
    expect(chain.steps.map((element) => ("id" in element ? element.id : "group"))).toEqual(["qa", "words", "long"]);
  });

  it("refuses an apply annotated with what the element before it does not pass on", () => {
    new Chain({ name: "ok", steps: [qa, apply((answer: { answer: string }) => answer.answer, { id: "ok" })] });
    // @ts-expect-error: qa passes on { answer, confidence }, the function wants { question }
    new Chain({ name: "bad", steps: [qa, apply((row: { question: string }) => row.question, { id: "bad" })] });
    // An inputModel types the parameter in place (and checks each row at run time).
    expectTypeOf(new Chain({ name: "model", steps: [qa, apply((answer) => answer.confidence, { id: "model", inputModel: Answer })] })).toEqualTypeOf<Chain<{ text: string }, number>>();
    const plain: Step = qa;
    // A Step declared as plain `Step` passes on `unknown`: what follows it is not checked.
    expectTypeOf(new Chain({ name: "untyped", steps: [plain, apply((row: { m: number }) => row.m, { id: "m" })] })).toEqualTypeOf<Chain<Record<string, unknown>, number>>();
  });

  it("types an apply's output from its outputModel, its fan-out element, its awaited return", () => {
    const parse = apply((row: { raw: string }) => ({ n: row.raw }), { id: "parse", outputModel: z.object({ n: z.coerce.number() }) });
    const split = apply((row: { n: number }) => Array.from({ length: row.n }, (_, part) => ({ part })), { id: "split", fanOut: true });
    const later = apply(async (row: { part: number }) => {
      await Promise.resolve();
      return row.part > 0 ? `part ${row.part}` : undefined;
    }, { id: "later" });
    const chain = new Chain({ name: "shapes", steps: [parse, split, later] });
    expectTypeOf(chain).toEqualTypeOf<Chain<{ raw: string }, string>>();
  });

  it("passes on what reached a parallel group: joins add aliases to the context, not to the output", () => {
    const words = new Branch({ name: "words", steps: [apply((answer: Answer) => answer.answer.length, { id: "count" })] }).join("words");
    const chain = new Chain({ name: "group", steps: [qa, [words]] });
    expectTypeOf(chain).toEqualTypeOf<Chain<{ text: string }, Answer>>();
    expectTypeOf(chain.pipe(apply((answer) => answer.confidence, { id: "confidence" }))).toEqualTypeOf<Chain<{ text: string }, number>>();
  });

  it("builds from no steps with pipe, each apply typed from the one before", () => {
    const chain = new Chain({ name: "built", steps: [] })
      .pipe(apply((row) => ({ text: String(row.text) }), { id: "text" }))
      .pipe(qa);
    expectTypeOf(chain).toEqualTypeOf<Chain<Record<string, unknown>, Answer>>();
    // In the steps array an unannotated parameter is `never` (TypeScript types the call before the
    // array), and the chain refuses it: annotate it, give an inputModel, or use pipe.
    // @ts-expect-error: qa passes on { answer, confidence }, not never
    new Chain({ name: "inline", steps: [qa, apply((answer) => String(answer), { id: "inline" })] });
  });

  it("falls back to any object in and unknown out when the steps are not a tuple", () => {
    // Every typed chain is a plain `Chain` (what buildPlan, runJob and helpers take).
    const typed: Chain = new Chain({ name: "typed", steps: [qa] }).pipe(apply((answer) => answer.confidence, { id: "c" }));
    expect(typed.name).toBe("typed");
    const steps: Step[] = [qa];
    expectTypeOf(new Chain({ name: "list", steps })).toEqualTypeOf<Chain<Record<string, unknown>, unknown>>();
  });
});
