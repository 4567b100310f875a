/**
 * The first stage: source rows become pipeline rows. Rows the ledger has as done are skipped (a
 * resume starts at the watermark, so this only checks the few ranges above it), undecodable rows
 * become failed rows with their reason, and reading stops when a stop is asked.
 */
import type { SourcePosition, Source } from "../io/source.js";
import type { RunEvent } from "./events.js";
import { createRootRow, failRow, type Row } from "./row.js";

export interface SourceRowsOptions {
  from: SourcePosition;
  /** True for root indices already done. Called with increasing indices. */
  isDone: (index: number) => boolean;
  batchSize: number;
  /** Checked between batches: once it returns true, no more rows are read. */
  stopRequested: () => boolean;
  emit: (event: RunEvent) => void;
  /** Called once the source has yielded its last row (not when a stop ended the reading). */
  onExhausted?: () => void;
  signal?: AbortSignal;
}

export async function* sourceRows(source: Source, options: SourceRowsOptions): AsyncGenerator<Row[]> {
  const readOptions = options.signal ? { batchSize: options.batchSize, signal: options.signal } : { batchSize: options.batchSize };
  for await (const batch of source.read(options.from, readOptions)) {
    if (options.stopRequested()) return;
    const rows: Row[] = [];
    for (const sourceRow of batch) {
      if (options.isDone(sourceRow.index)) continue;
      const row = createRootRow(sourceRow.index, sourceRow.value, sourceRow.end, sourceRow.raw);
      if (sourceRow.error !== undefined) failRow(row, { node: "input", type: "INPUT_ROW", message: sourceRow.error, attempts: 0 });
      rows.push(row);
    }
    if (rows.length > 0) {
      options.emit({ type: "rows-read", count: rows.length });
      yield rows;
    }
  }
  options.onExhausted?.();
}
