/**
 * One shard's part of a source: the rows `[firstRow, endRow)` of the whole input, keeping their
 * global row_ids. A read that starts below `firstRow` starts there instead, at `byteStart` when the
 * format seeks by bytes (JSONL), so a shard never parses the lines before its range.
 */
import type { InputFingerprint, Source, SourcePosition, SourceRow } from "./source.js";

export interface RowRange {
  firstRow: number;
  endRow: number;
  /** Byte offset of `firstRow` in the file, for a JSONL input. */
  byteStart?: number;
}

export class RowRangeSource implements Source {
  readonly format: string;
  readonly #inner: Source;
  readonly #range: RowRange;

  constructor(inner: Source, range: RowRange) {
    this.#inner = inner;
    this.#range = range;
    this.format = inner.format;
  }

  totalRows(): Promise<number | undefined> {
    return Promise.resolve(this.#range.endRow - this.#range.firstRow);
  }

  fingerprint(): Promise<InputFingerprint> {
    return this.#inner.fingerprint();
  }

  async *read(from: SourcePosition, options: { batchSize: number; signal?: AbortSignal }): AsyncGenerator<SourceRow[]> {
    const { firstRow, endRow, byteStart } = this.#range;
    if (from.row >= endRow || firstRow >= endRow) return;
    const start: SourcePosition = from.row > firstRow ? from : { row: firstRow, ...(from.row === firstRow && from.offset !== undefined ? { offset: from.offset } : byteStart === undefined ? {} : { offset: byteStart }) };
    for await (const batch of this.#inner.read(start, options)) {
      const last = batch.at(-1);
      if (last === undefined || last.index < endRow) {
        yield batch;
        continue;
      }
      const rows = batch.filter((row) => row.index < endRow);
      if (rows.length > 0) yield rows;
      return;
    }
  }
}
