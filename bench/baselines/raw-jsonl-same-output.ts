/**
 * The raw Node baseline writing what chainette-stream writes for the apply-only chain: the node's
 * records and the flattened records (input columns + outputs), two files, one synchronous write per file per 256 rows.
 * No identity, no ledger, no fsync.
 *   node --import tsx bench/baselines/raw-jsonl-same-output.ts INPUT OUTDIR
 */
import { closeSync, createReadStream, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import split2 from "split2";

const [input, outDir] = process.argv.slice(2) as [string, string];
mkdirSync(outDir, { recursive: true });
const nodeOut = openSync(join(outDir, "features.jsonl"), "w");
const flatOut = openSync(join(outDir, "flattened.jsonl"), "w");
let nodeBuffer = "";
let flatBuffer = "";
let index = 0;
for await (const line of createReadStream(input).pipe(split2())) {
  if ((line as string).length === 0) continue;
  const row = JSON.parse(line as string) as Record<string, unknown> & { id: number; text: string; tags: string[]; score: number };
  const output = { id: row.id, words: row.text.split(" ").length, tags: row.tags.length, high: row.score > 0.5 };
  const rowId = String(index++);
  nodeBuffer += JSON.stringify({ row_id: rowId, ...output }) + "\n";
  const flat: Record<string, unknown> = { row_id: rowId, ...row };
  for (const [key, value] of Object.entries(output)) flat[`features.${key}`] = value;
  flatBuffer += JSON.stringify(flat) + "\n";
  if (index % 256 === 0) {
    writeSync(nodeOut, nodeBuffer);
    writeSync(flatOut, flatBuffer);
    nodeBuffer = "";
    flatBuffer = "";
  }
}
writeSync(nodeOut, nodeBuffer);
writeSync(flatOut, flatBuffer);
closeSync(nodeOut);
closeSync(flatOut);
