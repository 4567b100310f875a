import { describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { apply } from "../../src/core/apply.js";

const NumberRow = z.object({ n: z.number() });

/** Compile-time checks (the type-check step fails on a broken one), plus what each node keeps. */
describe("apply's types", () => {
  it("types the function's parameter from inputModel", () => {
    const node = apply(
      (row) => {
        expectTypeOf(row).toEqualTypeOf<{ n: number }>();
        return row.n + 1;
      },
      { id: "inc", inputModel: NumberRow },
    );
    expect(node.inputModel).toBe(NumberRow);
    expect(node.usesContext).toBe(false);
  });

  it("accepts a parameter type the model satisfies, and refuses one it does not", () => {
    apply((row: { n: number }) => row.n, { id: "ok", inputModel: NumberRow });
    // @ts-expect-error: the model produces { n }, the function wants { m }
    apply((row: { m: number }) => row.m, { id: "bad", inputModel: NumberRow });
    expect(apply((row: { n: number }, context) => [row, context], { id: "ctx" }).usesContext).toBe(true);
  });
});
