/** The apply-only chain of the pipeline benchmark: the transform bench/baselines/raw-jsonl.ts also does. */
import { apply, Chain } from "chainette-stream";

interface BenchRow {
  id: number;
  text: string;
  tags: string[];
  score: number;
}

export const chain = new Chain({
  name: "apply-only",
  steps: [apply((row: BenchRow) => ({ id: row.id, words: row.text.split(" ").length, tags: row.tags.length, high: row.score > 0.5 }), { id: "features" })],
});
