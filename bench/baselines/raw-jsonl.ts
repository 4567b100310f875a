/**
 * The raw Node baseline: split2 + JSON.parse + the same transform + JSON.stringify, one joined
 * write per chunk of 256 rows (the fastest honest way per MEASUREMENTS.md; a synchronous write to
 * the page cache, as chainette-stream's shard writer does), no identity, no durability.
 *   node --import tsx bench/baselines/raw-jsonl.ts INPUT OUTPUT
 */
import { closeSync, createReadStream, openSync, writeSync } from "node:fs";
import split2 from "split2";

const [input, output] = process.argv.slice(2) as [string, string];
const out = openSync(output, "w");
let buffer = "";
let count = 0;
for await (const line of createReadStream(input).pipe(split2())) {
  if ((line as string).length === 0) continue;
  const row = JSON.parse(line as string) as { id: number; text: string; tags: string[]; score: number };
  buffer += JSON.stringify({ id: row.id, words: row.text.split(" ").length, tags: row.tags.length, high: row.score > 0.5 }) + "\n";
  if (++count % 256 === 0) {
    writeSync(out, buffer);
    buffer = "";
  }
}
writeSync(out, buffer);
closeSync(out);
