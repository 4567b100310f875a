/** Assertions that a run's OUTDIR holds every row exactly once. */
import { expect } from "vitest";
import { readShards } from "./cli.js";

export interface OutputSets {
  /** Sorted JSON lines per folder: what two runs must agree on. */
  byFolder: Map<string, string[]>;
  rootIds: Set<string>;
}

/**
 * Checks: no torn line (readShards throws), no row twice in any node folder, every row of
 * `flattened/` + `errors/` once, and returns the outputs as sorted line lists for comparison.
 */
export function checkExactlyOnce(outDir: string, nodeFolders: readonly string[]): OutputSets {
  const byFolder = new Map<string, string[]>();
  for (const folder of [...nodeFolders, "flattened", "errors"]) {
    const records = readShards(outDir, folder);
    const ids = records.map((record) => String(record.row_id));
    expect(new Set(ids).size, `duplicate row_id in ${folder}/`).toBe(ids.length);
    byFolder.set(folder, records.map((record) => JSON.stringify(record)).sort());
  }
  const finished = [...readShards(outDir, "flattened"), ...readShards(outDir, "errors")].map((record) => String(record.row_id));
  expect(new Set(finished).size, "a row in both flattened/ and errors/").toBe(finished.length);
  return { byFolder, rootIds: new Set(finished.map((id) => id.split(".")[0] ?? id)) };
}

/** A folder's shards roll at exactly `maxLines`: every shard but the last is full, none is empty. */
export function checkShardSizes(linesPerShard: readonly number[], maxLines: number, folder: string): void {
  linesPerShard.forEach((lines, index) => {
    if (index < linesPerShard.length - 1) expect(lines, `${folder}/ shard ${index} of ${linesPerShard.length} is not full`).toBe(maxLines);
    else expect(lines, `${folder}/ last shard`).toBeGreaterThan(0);
    expect(lines, `${folder}/ shard ${index} is over --max-lines-per-file`).toBeLessThanOrEqual(maxLines);
  });
}
