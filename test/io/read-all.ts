/** Test helper: every row a source yields from a position, flattened out of its batches. */
import type { Source, SourcePosition, SourceRow } from "../../src/io/source.js";

export async function readAll(source: Source, from: SourcePosition = { row: 0 }, batchSize = 256): Promise<SourceRow[]> {
  const rows: SourceRow[] = [];
  for await (const batch of source.read(from, { batchSize })) {
    if (batch.length > batchSize) throw new Error(`batch of ${batch.length} rows, more than ${batchSize}`);
    rows.push(...batch);
  }
  return rows;
}
