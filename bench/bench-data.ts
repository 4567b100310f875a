/** Generated benchmark inputs in `.bench-data/` (gitignored), written once and reused. */
import { createWriteStream, existsSync, mkdirSync, renameSync } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";

export const benchData = join(import.meta.dirname, "..", ".bench-data");

/** Writes `rows` lines made by `lineOf` to `.bench-data/<name>` unless it exists; returns the path. */
export async function generateLines(name: string, rows: number, lineOf: (index: number) => string): Promise<string> {
  const path = join(benchData, name);
  if (existsSync(path)) return path;
  mkdirSync(benchData, { recursive: true });
  // Written under a temporary name so an interrupted generation is never taken for a whole input.
  const out = createWriteStream(`${path}.tmp`);
  for (let index = 0; index < rows; index++) if (!out.write(`${lineOf(index)}\n`)) await once(out, "drain");
  out.end();
  await once(out, "finish");
  renameSync(`${path}.tmp`, path);
  return path;
}

export function questionInput(rows: number): Promise<string> {
  return generateLines(`questions-${rows}.jsonl`, rows, (index) => JSON.stringify({ text: `Question ${index}: what is ${index} squared?` }));
}
