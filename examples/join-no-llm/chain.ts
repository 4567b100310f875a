/**
 * The pure-TypeScript join demo (Chainette's `join/inc_dec_join.py`): each number goes through two
 * branches at once, `inc` (n + 1) and `dec` (n - 1); both are joined, a later apply reads them from
 * the row context, and a fan-out apply emits one child row per neighbour. No LLM, no server.
 */
import { z } from "zod";
import { apply, Branch, Chain } from "chainette-stream";

const Shifted = z.object({ value: z.number().int() });
const Combined = z.object({ n: z.number().int(), sum: z.number().int(), product: z.number().int(), spread: z.number().int() });
const Neighbour = z.object({ n: z.number().int(), neighbour: z.number().int(), offset: z.number().int() });

/** An input row: the first applies validate it, so a malformed row becomes an error record naming the field. */
const NumberRow = z.object({ n: z.number().int() });
type NumberRow = z.infer<typeof NumberRow>;
type Combined = z.infer<typeof Combined>;

const increment = apply((row: NumberRow) => ({ value: row.n + 1 }), { id: "increment", inputModel: NumberRow, outputModel: Shifted });
const decrement = apply((row: NumberRow) => ({ value: row.n - 1 }), { id: "decrement", inputModel: NumberRow, outputModel: Shifted });

/** Reads both joined branches from the context: `inc` and `dec` are the join aliases. */
const combine = apply(
  (row: NumberRow, context) => {
    const inc = Shifted.parse(context.inc);
    const dec = Shifted.parse(context.dec);
    return { n: row.n, sum: inc.value + dec.value, product: inc.value * dec.value, spread: inc.value - dec.value };
  },
  { id: "combine", outputModel: Combined },
);

/** One child row per neighbour of n: row 12 becomes rows "12.0" (n - 1), "12.1" (n) and "12.2" (n + 1). */
const neighbours = apply(
  (combined: Combined) => [-1, 0, 1].map((offset) => ({ n: combined.n, neighbour: combined.n + offset, offset })),
  { id: "neighbours", fanOut: true, outputModel: Neighbour },
);

export const chain = new Chain({
  name: "inc-dec-join",
  steps: [
    [
      new Branch({ name: "inc", steps: [increment] }).join("inc"),
      new Branch({ name: "dec", steps: [decrement] }).join("dec"),
    ],
    combine,
    neighbours,
  ],
});
