/**
 * The set of done root rows, kept compact: every row below `watermark` is done, and above it a few
 * sorted half-open ranges `[start, end)` (rows finish out of order only within the in-flight window,
 * so there are rarely more than a handful; `--retry-errors` opens one gap per failed row). Ids are
 * integers: 2.8x faster and 5.5x smaller than text keys in SQLite (MEASUREMENTS.md).
 */
import { ChainetteError } from "../errors.js";

export type Range = [start: number, end: number, endOffset: number | null];

/** Root rows `[start, end)`, without input offsets. */
export type RootRange = readonly [start: number, end: number];

/** A root row that finished, with the byte offset just past it in the input when known. */
export interface DoneRow {
  index: number;
  end: number | undefined;
}

export class DoneRanges {
  watermark: number;
  /**
   * Byte offset of the watermark row in the input, or null when unknown (a source without offsets,
   * or `--retry-errors` dropped the watermark): never a guess, since a resume seeks there.
   */
  watermarkOffset: number | null;
  private ranges: Range[];

  /** A null `watermarkOffset` is unknown: a resume counts rows up to the watermark instead of seeking. Row 0 starts at byte 0. */
  constructor(watermark = 0, watermarkOffset: number | null = 0, ranges: readonly Range[] = []) {
    this.watermark = watermark;
    this.watermarkOffset = watermark === 0 ? 0 : watermarkOffset;
    this.ranges = ranges.map((range) => [...range] as Range).sort((a, b) => a[0] - b[0]);
    this.advance();
  }

  /** An independent copy: changing either leaves the other as it was. */
  copy(): DoneRanges {
    return new DoneRanges(this.watermark, this.watermarkOffset, this.ranges);
  }

  /** Marks root rows done; returns true when the watermark moved. */
  add(rows: readonly DoneRow[]): boolean {
    const batch = new DoneBatch();
    for (const row of [...rows].sort((a, b) => a.index - b.index)) batch.push(row.index, row.end);
    return this.addRanges(batch.ranges);
  }

  /** Marks the rows of these ranges done (they may overlap each other or rows already done). */
  addRanges(added: readonly Range[]): boolean {
    const before = this.watermark;
    const all = this.ranges.concat(added.filter((range) => range[1] > this.watermark)).sort((a, b) => a[0] - b[0]);
    const merged: Range[] = [];
    for (const range of all) {
      const last = merged.at(-1);
      if (last !== undefined && range[0] <= last[1]) {
        if (range[1] > last[1]) {
          last[1] = range[1];
          last[2] = range[2];
        }
      } else merged.push([range[0], range[1], range[2]]);
    }
    this.ranges = merged;
    this.advance();
    return this.watermark !== before;
  }

  /**
   * Marks root rows not done again (`--retry-errors`). The watermark drops to the first of them;
   * its byte offset becomes unknown (the next read counts lines up to it instead of seeking).
   */
  remove(indices: readonly number[]): void {
    const removed = new Set(indices.filter((index) => this.has(index)));
    if (removed.size === 0) return;
    const lowest = Math.min(...removed);
    const kept: Range[] = [];
    const keep = (start: number, end: number, endOffset: number | null): void => {
      let from = start;
      for (const index of [...removed].filter((i) => i >= start && i < end).sort((a, b) => a - b)) {
        if (index > from) kept.push([from, index, null]);
        from = index + 1;
      }
      if (from < end) kept.push([from, end, endOffset]);
    };
    if (lowest < this.watermark) keep(lowest, this.watermark, this.watermarkOffset);
    for (const [start, end, endOffset] of this.ranges) keep(start, end, endOffset);
    if (lowest < this.watermark) {
      this.watermark = lowest;
      this.watermarkOffset = lowest === 0 ? 0 : null;
    }
    this.ranges = kept.filter(([start]) => start >= this.watermark);
    this.advance();
  }

  /**
   * Marks the root rows of sorted disjoint ranges not done again (`--retry-errors`, `--repair`). The
   * watermark drops to the first of them; a done range cut short loses its byte offset (the next
   * read counts lines up to it instead of seeking).
   */
  removeRanges(removed: readonly RootRange[]): void {
    const done: Range[] = this.watermark > 0 ? [[0, this.watermark, this.watermarkOffset], ...this.ranges] : [...this.ranges];
    const kept: Range[] = [];
    for (const [start, end, endOffset] of done) {
      let from = start;
      for (const [removedStart, removedEnd] of removed) {
        if (removedEnd <= from) continue;
        if (removedStart >= end) break;
        if (removedStart > from) kept.push([from, removedStart, null]);
        from = removedEnd;
      }
      if (from < end) kept.push([from, end, endOffset]);
    }
    this.watermark = 0;
    this.watermarkOffset = 0;
    this.ranges = kept;
    this.advance();
  }

  has(index: number): boolean {
    if (index < this.watermark) return true;
    for (const [start, end] of this.ranges) {
      if (index < start) return false;
      if (index < end) return true;
    }
    return false;
  }

  /** Rows done above the watermark, as ranges (what the ledger stores). */
  above(): readonly Range[] {
    return this.ranges;
  }

  /**
   * Where a read resumes when no row below `floor` belongs to the run (a shard's first row): the
   * watermark, or the end of the done range that starts the run's rows (a shard's rows never join
   * the watermark at 0), with its byte offset when known (null: count rows up to it).
   */
  resumePosition(floor = 0): { row: number; offset: number | null } {
    if (this.watermark >= floor) return { row: this.watermark, offset: this.watermarkOffset };
    const first = this.ranges[0];
    if (first !== undefined && first[0] <= floor) return { row: first[1], offset: first[2] };
    return { row: floor, offset: null };
  }

  /** Total done rows. */
  count(): number {
    return this.ranges.reduce((sum, [start, end]) => sum + end - start, this.watermark);
  }

  /**
   * A test for increasing indices, O(1) amortised per call, over the rows done *now*: it reads a
   * copy of the ranges, so later commits cannot move them under it. That is what the reader needs:
   * a row committed after reading started was read already, and is never asked about again.
   */
  cursor(): (index: number) => boolean {
    const watermark = this.watermark;
    const ranges: readonly (readonly [start: number, end: number])[] = this.ranges.map(([start, end]) => [start, end]);
    let position = 0;
    let last = -1;
    return (index) => {
      if (index < last) throw new ChainetteError("LEDGER", `the done-rows cursor takes increasing row indices; got ${index} after ${last}`);
      last = index;
      if (index < watermark) return true;
      while (position < ranges.length && (ranges[position]?.[1] ?? 0) <= index) position++;
      const range = ranges[position];
      return range !== undefined && index >= range[0];
    };
  }

  private advance(): void {
    while (this.ranges.length > 0 && (this.ranges[0] as Range)[0] <= this.watermark) {
      const [, end, endOffset] = this.ranges.shift() as Range;
      if (end > this.watermark) {
        this.watermark = end;
        this.watermarkOffset = endOffset;
      }
    }
  }
}

/**
 * Rows finished since the last commit, kept as ranges as they arrive: rows finish nearly in input
 * order, so a second of rows is a handful of ranges rather than an object per row.
 */
export class DoneBatch {
  readonly ranges: Range[] = [];
  count = 0;

  push(index: number, end: number | undefined): void {
    this.count++;
    const last = this.ranges.at(-1);
    if (last !== undefined && last[1] === index) {
      last[1] = index + 1;
      last[2] = end ?? null;
    } else this.ranges.push([index, index + 1, end ?? null]);
  }

  append(other: DoneBatch): void {
    for (const [start, end, endOffset] of other.ranges) {
      const last = this.ranges.at(-1);
      if (last !== undefined && last[1] === start) {
        last[1] = end;
        last[2] = endOffset;
      } else this.ranges.push([start, end, endOffset]);
    }
    this.count += other.count;
  }
}
