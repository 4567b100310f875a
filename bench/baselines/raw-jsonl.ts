/**
 * The raw Node baseline: split2 + JSON.parse + the same transform + JSON.stringify, one joined
 * write per chunk (the fastest honest way per MEASUREMENTS.md), no identity, no durability.
 *   node --import tsx bench/baselines/raw-jsonl.ts INPUT OUTPUT
 */
import { createReadStream, createWriteStream } from "node:fs";
import { once } from "node:events";
import split2 from "split2";

const [input, output] = process.argv.slice(2) as [string, string];
const out = createWriteStream(output);
let buffer = "";
let count = 0;
for await (const line of createReadStream(input).pipe(split2())) {
  if ((line as string).length === 0) continue;
  const row = JSON.parse(line as string) as { id: number; text: string; tags: string[]; score: number };
  buffer += JSON.stringify({ id: row.id, words: row.text.split(" ").length, tags: row.tags.length, high: row.score > 0.5 }) + "\n";
  if (++count % 256 === 0) {
    if (!out.write(buffer)) await once(out, "drain");
    buffer = "";
  }
}
out.end(buffer);
await once(out, "finish");
